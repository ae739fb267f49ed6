"""Authentication on the secure node: only the right password over TLS to the right CA gets in."""

from __future__ import annotations

import asyncio
import ssl
from pathlib import Path
from typing import Any

import pytest
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.conn import create_conn
from aiokafka.errors import KafkaConnectionError, SaslAuthenticationFailed
from aiokafka.helpers import create_ssl_context

from intentcast.broker.kafka_local.secure import issue_ca
from tests.security.conftest import SecureKafka

pytestmark = pytest.mark.kafka


def _host_port(kafka: SecureKafka) -> tuple[str, int]:
    host, port = kafka.bootstrap.rsplit(":", 1)
    return host, int(port)


async def _connect(kafka: SecureKafka, **overrides: Any) -> None:
    """One authenticated connection, as every client makes first; raises what the broker says."""
    options = {**kafka.security.client_kwargs("customer"), **overrides}
    host, port = _host_port(kafka)
    conn = await create_conn(host, port, request_timeout_ms=10_000, **options)
    conn.close()


async def test_right_password_is_accepted(secure_kafka: SecureKafka) -> None:
    await _connect(secure_kafka)  # the control for the refusals below


async def test_wrong_password_is_refused(secure_kafka: SecureKafka) -> None:
    with pytest.raises(SaslAuthenticationFailed, match=r"[Aa]uthentication failed"):
        await _connect(secure_kafka, sasl_plain_password="not-the-password")


async def test_unknown_user_is_refused(secure_kafka: SecureKafka) -> None:
    with pytest.raises(SaslAuthenticationFailed):
        await _connect(secure_kafka, sasl_plain_username="vendor-nobody")


async def test_a_client_with_a_wrong_password_cannot_bootstrap(secure_kafka: SecureKafka) -> None:
    kwargs = {**secure_kafka.kwargs("customer"), "sasl_plain_password": "guess"}
    admin = AIOKafkaAdminClient(request_timeout_ms=10_000, **kwargs)
    with pytest.raises(KafkaConnectionError):
        await admin.start()
    await admin.close()


async def test_untrusted_certificate_is_refused(secure_kafka: SecureKafka, tmp_path: Path) -> None:
    """A client that trusts another CA aborts the TLS handshake: the node's cert does not verify."""
    other_ca, _ = issue_ca("Some other CA")
    (tmp_path / "other-ca.pem").write_bytes(other_ca)
    host, port = _host_port(secure_kafka)
    wrong = create_ssl_context(cafile=str(tmp_path / "other-ca.pem"))
    with pytest.raises(ssl.SSLCertVerificationError):
        await asyncio.open_connection(host, port, ssl=wrong, server_hostname=host)
    right = create_ssl_context(cafile=str(secure_kafka.cafile))
    _, writer = await asyncio.open_connection(host, port, ssl=right, server_hostname=host)
    writer.close()
    await writer.wait_closed()
    kwargs = {**secure_kafka.kwargs("customer"), "ssl_context": wrong}
    admin = AIOKafkaAdminClient(request_timeout_ms=10_000, **kwargs)
    with pytest.raises(KafkaConnectionError):
        await admin.start()
    await admin.close()


async def test_plaintext_and_tls_without_sasl_are_refused(secure_kafka: SecureKafka) -> None:
    """No listener speaks PLAINTEXT or anonymous TLS to clients."""
    for options in (
        {"security_protocol": "PLAINTEXT", "ssl_context": None},
        {"security_protocol": "SSL"},
    ):
        admin = AIOKafkaAdminClient(
            bootstrap_servers=secure_kafka.bootstrap,
            request_timeout_ms=5_000,
            **{"ssl_context": create_ssl_context(cafile=str(secure_kafka.cafile)), **options},
        )
        with pytest.raises(KafkaConnectionError):
            await admin.start()
        await admin.close()


async def test_controller_listener_wants_a_client_certificate(secure_kafka: SecureKafka) -> None:
    """The controller port takes only peers holding a certificate of the node's own CA."""
    context = create_ssl_context(cafile=str(secure_kafka.cafile))
    with pytest.raises((ssl.SSLError, ConnectionError, asyncio.IncompleteReadError)):
        await _talk_tls("127.0.0.1", secure_kafka.node.controller_port, context)


async def _talk_tls(host: str, port: int, context: ssl.SSLContext) -> None:
    """Handshake, send a few bytes and wait for one back (or for the peer to hang up)."""
    reader, writer = await asyncio.open_connection(host, port, ssl=context)
    try:
        # TLS 1.3 reports a missing client certificate after the handshake, on the first read
        writer.write(b"\x00\x00\x00\x01\x00")
        await writer.drain()
        await asyncio.wait_for(reader.readexactly(1), 10)
    finally:
        writer.close()
