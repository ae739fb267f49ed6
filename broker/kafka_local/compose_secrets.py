"""Secrets and scripts for docker-compose's `secure` profile, made on the host once.

The same secure setup as `intentcast kafka start --secure` (a private CA, a PEM node
certificate, SCRAM-SHA-512 over SASL_SSL, StandardAuthorizer denying by default), rendered
for the official apache/kafka image: the folder is mounted read-only at `/etc/intentcast/
secrets`; `kafka-start.sh` formats the node with the admin's SCRAM credential (inter-broker
traffic needs it before the first start) and runs it; `provision.sh` creates every
principal's SCRAM credential, ACLs and quotas from `broker.principals` with Kafka's own tools;
`passwords/<user>` is what the Intentcast containers read their SASL password from.
"""

from __future__ import annotations

import shlex
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from intentcast.broker.kafka_local.cluster_id import new_cluster_id
from intentcast.broker.kafka_local.distribution import KafkaDistribution
from intentcast.broker.kafka_local.secure import (
    ADMIN_USER,
    MECHANISM,
    NODE_PRINCIPAL,
    SCRAM_ITERATIONS,
    CredentialStore,
    NodeSecurity,
    _write_secret,
    ensure_tls,
)
from intentcast.broker.kafka_local.secure_admin import SecureAdmin, _merge_principals
from intentcast.broker.principals import DEFAULT_APP_PREFIX, Kind, Principal

MOUNT: Final = "/etc/intentcast/secrets"
"""Where every container of the profile sees the folder (read-only)."""
HOSTNAME: Final = "kafka-secure"
INTERNAL_PORT: Final = 19094
"""SASL_SSL listener for the other containers (and inter-broker traffic as `admin`)."""
EXTERNAL_PORT: Final = 9094
"""SASL_SSL listener published on the host as localhost:9094."""
CONTROLLER_PORT: Final = 9093
DEFAULT_HOSTS: Final = (HOSTNAME, "localhost", "127.0.0.1")
EXAMPLE_VENDORS: Final = ("acme-bikes", "careful-cycles", "premium-wheels")
_KAFKA_BIN: Final = "/opt/kafka/bin"


@dataclass(frozen=True)
class ComposeSecrets:
    """What to render: the folder, certificate names, and the principals to provision."""

    out: Path
    hosts: tuple[str, ...] = DEFAULT_HOSTS
    vendors: tuple[str, ...] = EXAMPLE_VENDORS
    app_prefix: str = DEFAULT_APP_PREFIX
    mount: str = MOUNT
    """Where the containers see `out`; a test may render for a local folder instead."""
    data_dir: str = "/var/lib/kafka/data"
    hostname: str = HOSTNAME
    internal_port: int = INTERNAL_PORT
    external_port: int = EXTERNAL_PORT
    controller_port: int = CONTROLLER_PORT
    kafka_bin: str = _KAFKA_BIN

    @property
    def principals(self) -> tuple[Principal, ...]:
        return (
            Principal(Kind.PROCESSORS, app_prefix=self.app_prefix),
            Principal(Kind.CUSTOMER),
            Principal(Kind.MONITOR),
            Principal(Kind.AUDITOR),
            *(Principal(Kind.VENDOR, v) for v in self.vendors),
        )

    def _in(self, *parts: str) -> str:
        return "/".join((self.mount.rstrip("/"), *parts))

    def write(self) -> list[Path]:
        """Create or refresh the folder; existing CA, certificate and passwords are kept."""
        self.out.mkdir(parents=True, exist_ok=True)
        self.out.chmod(0o700)
        ensure_tls(self.out / "tls", self.hosts)
        store = CredentialStore(self.out / "credentials.json")
        admin_password = store.ensure(ADMIN_USER)
        written = [self.out / "tls" / name for name in ("ca.pem", "ca.key", "node.pem")]
        for principal in self.principals:
            path = self.out / "passwords" / principal.username
            _write_secret(path, store.ensure(principal.username).encode())
            written.append(path)
        (self.out / "passwords").chmod(0o700)
        files = {
            "server.properties": _properties(self.server_config(admin_password)),
            "admin-client.properties": _properties(self.admin_client_config(admin_password)),
            "kafka-start.sh": self.start_script(admin_password),
            "provision.sh": self.provision_script(store),
        }
        for name, text in files.items():
            _write_secret(self.out / name, text.encode())
            written.append(self.out / name)
        return written

    def server_config(self, admin_password: str) -> dict[str, str]:
        """The node's server.properties: what `NodeSecurity.server_config` sets, for compose."""
        host, internal, external = self.hostname, self.internal_port, self.external_port
        return {
            "process.roles": "broker,controller",
            "node.id": "1",
            "controller.quorum.voters": f"1@{host}:{self.controller_port}",
            "listeners": f"INTERNAL://:{internal},EXTERNAL://:{external},"
            f"CONTROLLER://:{self.controller_port}",
            "advertised.listeners": f"INTERNAL://{host}:{internal},EXTERNAL://localhost:{external}",
            "listener.security.protocol.map": "INTERNAL:SASL_SSL,EXTERNAL:SASL_SSL,CONTROLLER:SSL",
            "inter.broker.listener.name": "INTERNAL",
            "controller.listener.names": "CONTROLLER",
            "sasl.enabled.mechanisms": MECHANISM,
            "sasl.mechanism.inter.broker.protocol": MECHANISM,
            "listener.name.internal.scram-sha-512.sasl.jaas.config": _jaas(admin_password),
            "listener.name.external.scram-sha-512.sasl.jaas.config": _jaas(None),
            "listener.name.controller.ssl.client.auth": "required",
            "ssl.keystore.type": "PEM",
            "ssl.keystore.location": self._in("tls", "node.pem"),
            "ssl.truststore.type": "PEM",
            "ssl.truststore.location": self._in("tls", "ca.pem"),
            "ssl.endpoint.identification.algorithm": "https",
            "authorizer.class.name": "org.apache.kafka.metadata.authorizer.StandardAuthorizer",
            "allow.everyone.if.no.acl.found": "false",
            "super.users": f"User:{ADMIN_USER};{NODE_PRINCIPAL}",
            "log.dirs": self.data_dir,
            "num.partitions": "1",
            "offsets.topic.replication.factor": "1",
            "transaction.state.log.replication.factor": "1",
            "transaction.state.log.min.isr": "1",
            "share.coordinator.state.topic.replication.factor": "1",
            "share.coordinator.state.topic.min.isr": "1",
            "min.insync.replicas": "1",
            "group.initial.rebalance.delay.ms": "0",
            "auto.create.topics.enable": "false",
            "unclean.leader.election.enable": "false",
            "quota.window.num": "5",
            "quota.window.size.seconds": "1",
        }

    def admin_client_config(self, admin_password: str) -> dict[str, str]:
        """Kafka's tools (provisioning, the healthcheck) as the super user, over SASL_SSL."""
        return {
            "security.protocol": "SASL_SSL",
            "sasl.mechanism": MECHANISM,
            "sasl.jaas.config": _jaas(admin_password, ADMIN_USER),
            "ssl.truststore.type": "PEM",
            "ssl.truststore.location": self._in("tls", "ca.pem"),
        }

    def cluster_id(self) -> str:
        """Chosen once and kept in the folder, so a rerun renders the same start script."""
        path = self.out / "cluster-id"
        if not path.is_file():
            path.write_text(new_cluster_id())
        return path.read_text().strip()

    def start_script(self, admin_password: str) -> str:
        cluster_id = self.cluster_id()
        user = f"name={ADMIN_USER},iterations={SCRAM_ITERATIONS}"
        scram = f"{MECHANISM}=[{user},password={admin_password}]"
        config = shlex.quote(self._in("server.properties"))
        return (
            "#!/usr/bin/env bash\n"
            "# Generated by `intentcast kafka certs`. Format once with the admin's SCRAM\n"
            "# credential (inter-broker traffic authenticates with it), then run the node.\n"
            "set -euo pipefail\n"
            f"{self.kafka_bin}/kafka-storage.sh format --ignore-formatted "
            f"--cluster-id={cluster_id} --config {config} --add-scram {shlex.quote(scram)}\n"
            f"exec {self.kafka_bin}/kafka-server-start.sh {config}\n"
        )

    def provision_script(self, store: CredentialStore) -> str:
        """SCRAM users, ACLs and quotas of every principal: `SecureAdmin`'s calls, as a script."""
        dist = KafkaDistribution(Path(self.kafka_bin).parent / "libs", Path("java"), "image")
        admin = SecureAdmin(dist, NodeSecurity(self.out), f"{self.hostname}:{self.internal_port}")
        calls: list[tuple[str, ...]] = []
        for principal in self.principals:
            calls.append(
                admin.set_password_call(principal.username, store.ensure(principal.username))
            )
            quota = admin.quota_call(principal.username, principal.quota)
            if quota is not None:
                calls.append(quota)
            calls += admin.acl_calls(principal.kafka_principal, principal.rules())
        common = ["--bootstrap-server", admin.bootstrap, "--command-config"]
        common.append(self._in("admin-client.properties"))
        lines = [
            "#!/usr/bin/env bash",
            "# Generated by `intentcast kafka certs` from broker/principals.py: every principal's",
            "# SCRAM credential, ACLs and quotas, set as the super user. Idempotent.",
            "set -euo pipefail",
            *(_tool_line(self.kafka_bin, call, common) for call in _merge_principals(calls)),
            f'echo "provisioned: {" ".join(p.username for p in self.principals)}"',
        ]
        return "\n".join(lines) + "\n"


def _tool_line(kafka_bin: str, call: Sequence[str], common: Sequence[str]) -> str:
    main_class, *args = call
    words = [f"{kafka_bin}/kafka-run-class.sh", main_class, *common, *args]
    return " ".join(shlex.quote(w) for w in words)


def _jaas(password: str | None, user: str = ADMIN_USER) -> str:
    if password is None:  # a listener that only authenticates others needs the module, no user
        return "org.apache.kafka.common.security.scram.ScramLoginModule required;"
    return (
        "org.apache.kafka.common.security.scram.ScramLoginModule required "
        f'username="{user}" password="{password}";'
    )


def _properties(config: dict[str, str]) -> str:
    return "# Generated by `intentcast kafka certs`.\n" + "".join(
        f"{k}={v}\n" for k, v in config.items()
    )
