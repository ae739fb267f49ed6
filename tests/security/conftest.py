"""One secure Kafka node per session (SASL_SSL, SCRAM, StandardAuthorizer) and its principals.

The node runs on free ports in a temporary folder; the principals get their SCRAM credentials
at format time and their ACLs and quotas from `broker.principals` through Kafka's own tools,
exactly as `intentcast principals add` does. Processors run as the `processors` principal.
"""

from __future__ import annotations

import asyncio
import json
import secrets
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from intentcast.agents import ClientSettings, Vendor
from intentcast.broker.kafka_local import KafkaNode, resolve_distribution
from intentcast.broker.kafka_local.node import free_port
from intentcast.broker.kafka_local.secure import ADMIN_USER, NodeSecurity
from intentcast.broker.kafka_local.secure_admin import SecureAdmin
from intentcast.broker.principals import Kind, Principal, Quota
from intentcast.broker.settings import BrokerSettings
from intentcast.broker.topic_admin import create_all
from intentcast.examples import acme
from intentcast.processes import Processors
from intentcast.schemas.crypto import SealingKey, b64e
from intentcast.schemas.terms import ROSTER
from intentcast.schemas.topics import sandbox_market

VENDOR = "alpha"
"""The vendor whose row the ACL matrix checks."""
OTHER_VENDOR = "alpha-two"
"""Another vendor; its name starts with VENDOR's, to catch prefix collisions."""
FLOODER, STEADY = "flooder", "steady"
"""The quota test's vendors: one floods at ten times its quota, one sends steadily."""
FLOW_VENDOR = "acme-bikes"
QUOTA_BYTES = 100 * 1024
"""Producer quota of the quota test's vendors (bytes per second)."""
APP_ID = f"intentcast-processors-{secrets.token_hex(3)}"

AUDITOR_KEY = SealingKey.generate()
"""The auditor's X25519 key pair: the processors seal every log entry to its public half."""
PROCESSORS_LOG_KEY = SealingKey.generate()
"""The processors' own key for the log, configured as an operator would."""

PRINCIPALS = (
    Principal(Kind.PROCESSORS),
    Principal(Kind.CUSTOMER),
    Principal(Kind.MONITOR),
    Principal(Kind.AUDITOR),
    # OTHER_VENDOR never connects: its topics and groups are only targets of the matrix
    *(Principal(Kind.VENDOR, v) for v in (VENDOR, FLOODER, STEADY, FLOW_VENDOR)),
)


@dataclass
class SecureKafka:
    """The session's secure node: where it is and how each principal connects."""

    node: KafkaNode
    security: NodeSecurity
    admin: SecureAdmin

    @property
    def bootstrap(self) -> str:
        return self.node.bootstrap

    @property
    def cafile(self) -> Path:
        return self.security.tls.ca_cert

    def password(self, user: str) -> str:
        password = self.security.credentials.password(user)
        assert password is not None, f"no password for {user}"
        return password

    def kwargs(self, user: str) -> dict[str, Any]:
        """aiokafka options for one principal (a fresh SSL context each time)."""
        return {"bootstrap_servers": self.bootstrap, **self.security.client_kwargs(user)}

    def client_settings(self, user: str) -> ClientSettings:
        return ClientSettings(
            bootstrap=self.bootstrap,
            security_protocol="SASL_SSL",
            sasl_username=user,
            sasl_password=self.password(user),
            ssl_cafile=self.cafile,
        )

    def broker_settings(self, user: str = "processors") -> BrokerSettings:
        return BrokerSettings(
            bootstrap=self.bootstrap,
            app_id=APP_ID,
            security_protocol="SASL_SSL",
            sasl_username=user,
            sasl_password=self.password(user),
            ssl_cafile=str(self.cafile),
        )

    def env(self, user: str) -> dict[str, str]:
        """INTENTCAST_* variables as `intentcast principals add` prints them."""
        return {
            "INTENTCAST_BOOTSTRAP": self.bootstrap,
            "INTENTCAST_SECURITY_PROTOCOL": "SASL_SSL",
            "INTENTCAST_SASL_MECHANISM": "SCRAM-SHA-512",
            "INTENTCAST_SASL_USERNAME": user,
            "INTENTCAST_SASL_PASSWORD": self.password(user),
            "INTENTCAST_SSL_CAFILE": str(self.cafile),
        }


@pytest.fixture(scope="session")
async def secure_kafka(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[SecureKafka]:
    """A secure node with every test principal provisioned and the topic layout created."""
    folder = tmp_path_factory.mktemp("secure-kafka")
    users = tuple(p.username for p in PRINCIPALS)
    security = NodeSecurity(folder, bootstrap_users=users)
    dist = resolve_distribution()
    node = KafkaNode(
        dist=dist, data_dir=folder, port=free_port(), controller_port=free_port(), security=security
    )
    node.start(timeout=120)
    try:
        admin = SecureAdmin(dist, security, node.bootstrap)
        # quotas only where a test measures them: each one costs a JVM start
        tight = Quota(producer_byte_rate=QUOTA_BYTES, consumer_byte_rate=4 * QUOTA_BYTES)
        quotas = {p.username: Quota() for p in PRINCIPALS}
        quotas.update({f"vendor-{FLOODER}": tight, f"vendor-{STEADY}": tight})
        admin.provision(PRINCIPALS, quotas=quotas, with_passwords=False)  # SCRAM: at format
        kafka = SecureKafka(node, security, admin)
        await create_all(
            kafka.broker_settings(),
            vendors=[VENDOR, OTHER_VENDOR, FLOODER, STEADY, FLOW_VENDOR],
            markets=[sandbox_market(FLOW_VENDOR)],  # for test_secure_conformance.py
        )
        yield kafka
    finally:
        node.stop()


@pytest.fixture(scope="session")
def secure_processors(
    secure_kafka: SecureKafka, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Processors]:
    """The real processors, authenticated as the `processors` principal."""
    folder = tmp_path_factory.mktemp("secure-processors")
    env = {
        **secure_kafka.env("processors"),
        "INTENTCAST_APP_ID": APP_ID,
        "INTENTCAST_EXPIRY_TICK_SECONDS": "0.5",
        "INTENTCAST_SANDBOX_VENDORS": json.dumps([FLOW_VENDOR]),
        "INTENTCAST_LOG_SEALING_KEY": b64e(PROCESSORS_LOG_KEY.raw),
        "INTENTCAST_AUDITOR_PUBLIC_KEY": AUDITOR_KEY.public_key,
    }
    procs = Processors(secure_kafka.bootstrap, folder / "data", folder / "processors.log", env=env)
    procs.start()
    try:
        yield procs
    finally:
        procs.stop()


@pytest.fixture(scope="module")
async def acme_vendor(
    secure_kafka: SecureKafka, secure_processors: Processors
) -> AsyncIterator[Vendor]:
    """ACME's example handler on a Vendor of our own, authenticated as vendor-acme-bikes."""
    vendor = Vendor(
        FLOW_VENDOR, key=acme.KEY, markets=["bikes"], accepts=sorted(ROSTER),
        settings=secure_kafka.client_settings(f"vendor-{FLOW_VENDOR}"),
    )  # fmt: skip
    vendor.on_intent("bikes")(acme.quote)
    task = asyncio.create_task(vendor.run())
    yield vendor
    vendor.stop()
    await asyncio.gather(task, return_exceptions=True)


__all__ = ["ADMIN_USER", "AUDITOR_KEY", "PROCESSORS_LOG_KEY", "SecureKafka"]
