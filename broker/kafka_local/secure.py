"""Secure mode of the local node: a private CA, PEM certificates, SCRAM users and an authorizer.

Clients connect over SASL_SSL with SCRAM-SHA-512; the controller listener takes only TLS
clients holding a certificate of this node's own CA (the node itself), so no listener accepts
an anonymous peer. Every secret lives in the node's folder (mode 0700, files 0600) and is only
printed when the operator asks for it.
"""

from __future__ import annotations

import ipaddress
import os
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Final

import orjson

from intentcast.broker.kafka_local.errors import KafkaLaunchError
from intentcast.broker.kafka_local.probe import metadata_ready

ADMIN_USER: Final = "admin"
"""The super user: the node's own inter-broker identity and the one Kafka's tools run as."""
NODE_CN: Final = "intentcast-node"
NODE_PRINCIPAL: Final = f"User:CN={NODE_CN}"
"""The principal of the controller listener's TLS clients (mutual TLS, this CA only)."""
MECHANISM: Final = "SCRAM-SHA-512"
SCRAM_ITERATIONS: Final = 8192
"""Above Kafka's 4096 minimum; the cost is paid once per connection."""
CERT_DAYS: Final = 825


class SecurityError(KafkaLaunchError):
    """Secure mode could not be prepared or used."""

    hint = "Check the node folder's permissions, or delete its tls/ folder to issue new certs."


@dataclass(frozen=True)
class TlsFiles:
    """PEM files Kafka reads directly (no JKS keystores to convert)."""

    folder: Path

    @property
    def ca_cert(self) -> Path:
        """What every client trusts (`INTENTCAST_SSL_CAFILE`)."""
        return self.folder / "ca.pem"

    @property
    def ca_key(self) -> Path:
        return self.folder / "ca.key"

    @property
    def node_pem(self) -> Path:
        """The node's PKCS#8 key followed by its certificate chain (Kafka's PEM keystore)."""
        return self.folder / "node.pem"

    def exists(self) -> bool:
        return all(p.is_file() for p in (self.ca_cert, self.ca_key, self.node_pem))


def _write_secret(path: Path, data: bytes) -> None:
    """Create the file with mode 0600 from the start, so the secret is never world-readable."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)
    path.chmod(0o600)


def issue_ca(common_name: str, days: int = CERT_DAYS) -> tuple[bytes, bytes]:
    """A self-signed CA; returns (certificate PEM, PKCS#8 key PEM)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), False)
        .sign(key, hashes.SHA256())
    )
    return _pem(cert), key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def issue_node_cert(
    ca_cert_pem: bytes, ca_key_pem: bytes, hosts: tuple[str, ...], days: int = CERT_DAYS
) -> bytes:
    """A server+client certificate for the node; returns key PEM followed by the chain."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    ca_cert = x509.load_pem_x509_certificate(ca_cert_pem)
    ca_key = serialization.load_pem_private_key(ca_key_pem, password=None)
    if not isinstance(ca_key, ec.EllipticCurvePrivateKey):
        raise SecurityError("the CA key is not an EC key issued by this launcher")
    key = ec.generate_private_key(ec.SECP256R1())
    sans: list[x509.GeneralName] = []
    for host in hosts:
        try:
            sans.append(x509.IPAddress(ipaddress.ip_address(host)))
        except ValueError:
            sans.append(x509.DNSName(host))
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, NODE_CN)]))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.SubjectAlternativeName(sans), critical=False)
        .add_extension(
            x509.ExtendedKeyUsage(
                [ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]
            ),
            critical=False,
        )
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), False
        )
        .sign(ca_key, hashes.SHA256())
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return key_pem + _pem(cert) + ca_cert_pem


def _pem(cert: Any) -> bytes:
    from cryptography.hazmat.primitives import serialization

    data: bytes = cert.public_bytes(serialization.Encoding.PEM)
    return data


def ensure_tls(folder: Path, hosts: tuple[str, ...] = ("127.0.0.1", "localhost")) -> TlsFiles:
    """Issue the CA and node certificate once; later starts reuse them."""
    tls = TlsFiles(folder)
    if tls.exists():
        return tls
    folder.mkdir(parents=True, exist_ok=True)
    folder.chmod(0o700)
    ca_cert, ca_key = issue_ca("Intentcast local CA")
    _write_secret(tls.ca_key, ca_key)
    _write_secret(tls.node_pem, issue_node_cert(ca_cert, ca_key, hosts))
    tls.ca_cert.write_bytes(ca_cert)  # public: clients need it
    return tls


class CredentialStore:
    """SCRAM passwords by user name, in a JSON file of mode 0600 inside the node folder."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def load(self) -> dict[str, str]:
        try:
            data = orjson.loads(self.path.read_bytes())
        except FileNotFoundError:
            return {}
        except (OSError, orjson.JSONDecodeError) as exc:
            raise SecurityError(f"cannot read credentials {self.path}: {exc}") from exc
        users = data.get("users", {})
        return {str(k): str(v) for k, v in users.items()}

    def save(self, users: dict[str, str]) -> None:
        body = orjson.dumps({"mechanism": MECHANISM, "users": users}, option=orjson.OPT_SORT_KEYS)
        _write_secret(self.path, body)

    def password(self, user: str) -> str | None:
        return self.load().get(user)

    def ensure(self, user: str) -> str:
        """The user's password, generating and storing one if there is none yet."""
        users = self.load()
        if user not in users:
            users[user] = new_password()
            self.save(users)
        return users[user]

    def remove(self, user: str) -> bool:
        users = self.load()
        if users.pop(user, None) is None:
            return False
        self.save(users)
        return True


def is_secure_folder(folder: Path) -> bool:
    """Whether a node folder was prepared for secure mode (it holds the credentials file)."""
    return (folder / "credentials.json").is_file()


def new_password() -> str:
    """256 random bits, URL-safe: nothing in it needs quoting in JAAS or SCRAM configs."""
    return secrets.token_urlsafe(32)


def scram_config(password: str) -> str:
    """The value ConfigCommand and StorageTool expect for one SCRAM credential."""
    return f"{MECHANISM}=[iterations={SCRAM_ITERATIONS},password={password}]"


def _jaas(user: str, password: str) -> str:
    return (
        "org.apache.kafka.common.security.scram.ScramLoginModule required "
        f'username="{user}" password="{password}";'
    )


@dataclass
class NodeSecurity:
    """Everything secure mode adds to one node: files, server settings, bootstrap users."""

    folder: Path
    bootstrap_users: tuple[str, ...] = ()
    """Users whose SCRAM credentials are written at format time, besides the admin."""

    @property
    def tls(self) -> TlsFiles:
        return TlsFiles(self.folder / "tls")

    @property
    def credentials(self) -> CredentialStore:
        return CredentialStore(self.folder / "credentials.json")

    @property
    def admin_properties(self) -> Path:
        """Client properties for Kafka's own tools, authenticated as the super user."""
        return self.folder / "admin-client.properties"

    def prepare(self) -> None:
        """Create CA, certificate, admin password and tools' properties (idempotent)."""
        self.folder.mkdir(parents=True, exist_ok=True)
        self.folder.chmod(0o700)  # server.properties holds the inter-broker password
        ensure_tls(self.folder / "tls")
        password = self.credentials.ensure(ADMIN_USER)
        for user in self.bootstrap_users:
            self.credentials.ensure(user)
        props = {
            "security.protocol": "SASL_SSL",
            "sasl.mechanism": MECHANISM,
            "sasl.jaas.config": _jaas(ADMIN_USER, password),
            "ssl.truststore.type": "PEM",
            "ssl.truststore.location": str(self.tls.ca_cert),
        }
        _write_secret(
            self.admin_properties, "".join(f"{k}={v}\n" for k, v in props.items()).encode()
        )

    def server_config(self, port: int, controller_port: int) -> dict[str, str]:
        """Entries that replace the plaintext listeners of the node's server.properties."""
        admin_password = self.credentials.ensure(ADMIN_USER)
        return {
            "listeners": f"SASL_SSL://127.0.0.1:{port},CONTROLLER://127.0.0.1:{controller_port}",
            "advertised.listeners": f"SASL_SSL://127.0.0.1:{port}",
            "listener.security.protocol.map": "SASL_SSL:SASL_SSL,CONTROLLER:SSL",
            "inter.broker.listener.name": "SASL_SSL",
            "sasl.enabled.mechanisms": MECHANISM,
            "sasl.mechanism.inter.broker.protocol": MECHANISM,
            "listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config": _jaas(
                ADMIN_USER, admin_password
            ),
            "listener.name.controller.ssl.client.auth": "required",
            "ssl.keystore.type": "PEM",
            "ssl.keystore.location": str(self.tls.node_pem),
            "ssl.truststore.type": "PEM",
            "ssl.truststore.location": str(self.tls.ca_cert),
            "ssl.endpoint.identification.algorithm": "https",
            "authorizer.class.name": "org.apache.kafka.metadata.authorizer.StandardAuthorizer",
            "allow.everyone.if.no.acl.found": "false",
            "super.users": f"User:{ADMIN_USER};{NODE_PRINCIPAL}",
            # a 5 s quota window: a flooding client is slowed within seconds, not after 11 s
            "quota.window.num": "5",
            "quota.window.size.seconds": "1",
        }

    def format_args(self) -> list[str]:
        """`kafka-storage format --add-scram` for the users that must exist before first start."""
        users = self.credentials.load()
        args: list[str] = []
        for user in (ADMIN_USER, *self.bootstrap_users):
            password = users.get(user) or self.credentials.ensure(user)
            args += [
                "--add-scram",
                f"{MECHANISM}=[name={user},iterations={SCRAM_ITERATIONS},password={password}]",
            ]
        return args

    def client_kwargs(self, user: str = ADMIN_USER, password: str | None = None) -> dict[str, Any]:
        """aiokafka connection options for one user of this node."""
        from aiokafka.helpers import create_ssl_context

        secret = password if password is not None else self.credentials.password(user)
        if secret is None:
            raise SecurityError(
                f"no credentials for user {user!r} in {self.credentials.path}",
                hint=f"Create the principal first: `intentcast principals add ... {user}`.",
            )
        return {
            "security_protocol": "SASL_SSL",
            "sasl_mechanism": MECHANISM,
            "sasl_plain_username": user,
            "sasl_plain_password": secret,
            "ssl_context": create_ssl_context(cafile=str(self.tls.ca_cert)),
        }

    def ready(self, bootstrap: str, timeout: float = 3.0) -> bool:
        """Whether the super user can fetch cluster metadata over SASL_SSL (blocking)."""
        return metadata_ready(bootstrap, timeout, self.client_kwargs())
