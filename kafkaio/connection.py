"""How any Kafka client of the project connects: one set of fields, one SASL check.

The customer client, the vendor SDK and the processors read the same ``INTENTCAST_*``
variables; their settings classes extend :class:`KafkaConnection`, so a SASL deployment
configured wrongly is refused the same way everywhere, when the settings are built.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar, Literal

from aiokafka.helpers import create_ssl_context
from pydantic import SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from intentcast.schemas.errors import IntentcastError

__all__ = ["ConnectionSettingsError", "KafkaConnection", "SecurityProtocol"]

SecurityProtocol = Literal["PLAINTEXT", "SASL_SSL", "SASL_PLAINTEXT"]
SaslMechanism = Literal["SCRAM-SHA-512", "SCRAM-SHA-256", "PLAIN"]


class ConnectionSettingsError(IntentcastError):
    """The connection settings cannot work (SASL without credentials, a missing CA file)."""


class KafkaConnection(BaseSettings):
    """Where Kafka is and how to authenticate, and the aiokafka options that follow from it.

    ``settings_error`` is the exception a subclass raises for incoherent settings, so each
    package reports them in its own exception tree (the SDK's ``SettingsError``, ...).
    """

    model_config = SettingsConfigDict(env_prefix="INTENTCAST_", extra="ignore")
    settings_error: ClassVar[type[IntentcastError]] = ConnectionSettingsError

    bootstrap: str = "127.0.0.1:9092"
    security_protocol: SecurityProtocol = "PLAINTEXT"
    sasl_mechanism: SaslMechanism = "SCRAM-SHA-512"
    sasl_username: str | None = None
    sasl_password: SecretStr | None = None
    ssl_cafile: Path | None = None
    request_timeout_ms: int | None = None
    """aiokafka's own default (40 s) unless set."""

    @model_validator(mode="after")
    def _coherent_connection(self) -> KafkaConnection:
        # an IntentcastError is no ValueError, so pydantic lets it through unchanged
        if self.security_protocol.startswith("SASL") and not (
            self.sasl_username and self.sasl_password
        ):
            raise self.settings_error(
                f"security_protocol {self.security_protocol} needs INTENTCAST_SASL_USERNAME "
                "and INTENTCAST_SASL_PASSWORD; set both or use PLAINTEXT"
            )
        if self.ssl_cafile is not None and not self.ssl_cafile.is_file():
            raise self.settings_error(
                f"ssl_cafile {self.ssl_cafile} is not a readable file; give the CA's PEM file"
            )
        return self

    def kafka_kwargs(self) -> dict[str, Any]:
        """Connection options for any aiokafka client (producer, consumer or admin)."""
        kwargs: dict[str, Any] = {
            "bootstrap_servers": self.bootstrap,
            "security_protocol": self.security_protocol,
        }
        if self.request_timeout_ms is not None:
            kwargs["request_timeout_ms"] = self.request_timeout_ms
        if self.security_protocol.startswith("SASL") and self.sasl_password is not None:
            kwargs["sasl_mechanism"] = self.sasl_mechanism
            kwargs["sasl_plain_username"] = self.sasl_username
            kwargs["sasl_plain_password"] = self.sasl_password.get_secret_value()
        if self.security_protocol == "SASL_SSL":
            cafile = str(self.ssl_cafile) if self.ssl_cafile is not None else None
            kwargs["ssl_context"] = create_ssl_context(cafile=cafile)
        return kwargs
