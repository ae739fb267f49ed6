"""Connection settings shared by the customer client and the vendor SDK (``INTENTCAST_*``)."""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from intentcast.agents.errors import SettingsError
from intentcast.kafkaio import KafkaConnection
from intentcast.schemas.errors import IntentcastError

__all__ = ["ClientSettings"]


class ClientSettings(KafkaConnection):
    """Where Kafka is and how to authenticate; read from ``INTENTCAST_*`` environment variables.

    The connection fields and their one SASL check are `kafkaio.KafkaConnection`'s, shared
    with the processors; incoherent settings raise :class:`SettingsError` when built.
    """

    model_config = SettingsConfigDict(env_prefix="INTENTCAST_", frozen=True, extra="ignore")
    settings_error: ClassVar[type[IntentcastError]] = SettingsError

    bootstrap: str = Field(default="127.0.0.1:9092", min_length=1)
    partitions: int = Field(
        default=6,
        ge=1,
        description="Partitions of the intent-keyed topics in the deployment; only a fallback, "
        "the client asks the cluster.",
    )
    request_timeout_ms: int | None = Field(default=30_000, ge=1_000)
