"""Connection settings shared by the customer client and the vendor SDK (``INTENTCAST_*``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from intentcast.agents.errors import SettingsError

__all__ = ["ClientSettings"]


class ClientSettings(BaseSettings):
    """Where Kafka is and how to authenticate; read from ``INTENTCAST_*`` environment variables.

    Every Kafka client of :mod:`agents` gets its connection options from :meth:`kafka_kwargs`,
    so security is configured in exactly one place.
    """

    model_config = SettingsConfigDict(env_prefix="INTENTCAST_", frozen=True, extra="ignore")

    bootstrap: str = Field(default="127.0.0.1:9092", min_length=1)
    partitions: int = Field(
        default=6,
        ge=1,
        description="Partitions of the intent-keyed topics in the deployment; only a fallback, "
        "the client asks the cluster.",
    )
    security_protocol: Literal["PLAINTEXT", "SASL_SSL", "SASL_PLAINTEXT"] = "PLAINTEXT"
    sasl_mechanism: Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"] = "SCRAM-SHA-512"
    sasl_username: str | None = None
    sasl_password: SecretStr | None = None
    ssl_cafile: Path | None = None
    request_timeout_ms: int = Field(default=30_000, ge=1_000)

    @model_validator(mode="after")
    def _coherent(self) -> ClientSettings:
        # SettingsError escapes pydantic unchanged, so the caller sees our error at once.
        if self.security_protocol.startswith("SASL") and not (
            self.sasl_username and self.sasl_password
        ):
            raise SettingsError(
                f"security_protocol {self.security_protocol} needs INTENTCAST_SASL_USERNAME "
                "and INTENTCAST_SASL_PASSWORD"
            )
        if self.ssl_cafile is not None and not self.ssl_cafile.is_file():
            raise SettingsError(f"ssl_cafile {self.ssl_cafile} is not a readable file")
        return self

    def kafka_kwargs(self) -> dict[str, Any]:
        """Connection options for any aiokafka client (producer, consumer or admin)."""
        kwargs: dict[str, Any] = {
            "bootstrap_servers": self.bootstrap,
            "security_protocol": self.security_protocol,
            "request_timeout_ms": self.request_timeout_ms,
        }
        if self.security_protocol.startswith("SASL") and self.sasl_password is not None:
            kwargs["sasl_mechanism"] = self.sasl_mechanism
            kwargs["sasl_plain_username"] = self.sasl_username
            kwargs["sasl_plain_password"] = self.sasl_password.get_secret_value()
        if self.security_protocol == "SASL_SSL":
            from aiokafka.helpers import create_ssl_context

            cafile = str(self.ssl_cafile) if self.ssl_cafile is not None else None
            kwargs["ssl_context"] = create_ssl_context(cafile=cafile)
        return kwargs
