"""One settings object for every processor, read from INTENTCAST_* environment variables."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import SettingsConfigDict

from intentcast.kafkaio import KafkaConnection
from intentcast.schemas.crypto import b64d
from intentcast.schemas.errors import SchemaError
from intentcast.schemas.topics import sandbox_market

DEFAULT_APP_ID = "intentcast-processors"


def state_home() -> Path:
    """$XDG_STATE_HOME, else ~/.local/state: state that outlives a run but is no user data.

    The processors' folder and the local Kafka nodes live there, so a command behaves the same
    from any working directory. The XDG spec says to ignore a relative value.
    """
    state = os.environ.get("XDG_STATE_HOME", "")
    return Path(state) if os.path.isabs(state) else Path.home() / ".local" / "state"


def default_datadir(app_id: str) -> str:
    """One folder per app id, so a second deployment on the machine keeps its own quarantine."""
    return str(state_home() / "intentcast" / "processors" / app_id)


class BrokerSettings(KafkaConnection):
    """How the processors reach Kafka and the limits they enforce.

    `partitions` must be the same for every intent-keyed topic: it is what makes an intent, its
    offers and its acceptance meet on one partition number. The connection fields (bootstrap,
    SASL, CA file) and `kafka_kwargs` are `kafkaio.KafkaConnection`'s, shared with the SDK.
    """

    model_config = SettingsConfigDict(env_prefix="INTENTCAST_", extra="ignore")

    app_id: str = Field(default=DEFAULT_APP_ID, pattern=r"^[a-z0-9][a-z0-9.-]{1,62}$")
    partitions: int = Field(default=6, ge=1, le=1024)
    replication: int = Field(default=1, ge=1, le=5)
    min_insync_replicas: int = Field(default=1, ge=1, le=5)
    markets: tuple[str, ...] = ("bikes", "strollers", "groceries", "electronics")
    # vendors whose sandbox market (`sandbox-<vendor_id>`, docs/protocol.md "The sandbox
    # market") is added to `markets`, for `intentcast vendor conformance`
    sandbox_vendors: tuple[str, ...] = ()
    # faust's data folder and quarantine.json (INTENTCAST_DATADIR overrides; `broker run`
    # creates it with its parents): ~/.local/state/intentcast/processors/<app_id>
    datadir: str = Field(
        default_factory=lambda data: default_datadir(data.get("app_id", DEFAULT_APP_ID))
    )
    max_offers_per_vendor: int = Field(default=3, ge=1, le=100)
    # a customer may correct or add to what it disclosed, but not flood the vendor with it
    max_disclosures_per_agreement: int = Field(default=10, ge=1, le=100)
    expiry_tick_seconds: float = Field(default=1.0, gt=0, le=60)
    metrics_interval_seconds: float = Field(default=5.0, gt=0, le=3600)
    # how soon a crashed worker's partitions move to a live one (faust's default is 60 s)
    session_timeout_seconds: float = Field(default=10.0, ge=6, le=300)
    # an input partition with no progress this long is re-read (broker.runtime.stalls)
    stall_rewind_seconds: float = Field(default=15.0, ge=1, le=3600)
    max_clock_skew_seconds: float = Field(default=300.0, ge=0)
    # how long a batch is handled again while Kafka is away before the worker exits (status 1)
    retry_budget_seconds: float = Field(default=60.0, ge=1, le=3600)
    # how long the ledger remembers an agreement after its intent expired (broker.ledger)
    ledger_keep_after_expiry_seconds: float = Field(default=3600.0, ge=0)
    # a vendor topic found missing or not authorised is dead-lettered to at once for this long,
    # then tried again (broker.destinations)
    destination_retry_seconds: float = Field(default=30.0, gt=0, le=3600)
    max_expiry_days: int = Field(default=30, ge=1, le=365)
    # the processors' X25519 key pair for the agreement log (base64url of the 32 secret bytes):
    # every entry's content is sealed to it, so the processors can rebuild what they know from
    # the log. Unset: a key generated once into `log_key_file` (fine for one machine only)
    log_sealing_key: SecretStr | None = None
    log_key_file: str = Field(
        default_factory=lambda data: str(
            Path(
                data.get("datadir") or default_datadir(data.get("app_id", DEFAULT_APP_ID))
            ).parent.joinpath(f"{data.get('app_id', DEFAULT_APP_ID)}.log-key")
        )
    )
    # the auditor principal's X25519 public key: entries are also sealed to it (unset: no
    # auditor copy)
    auditor_public_key: str | None = None
    log_level: Literal["debug", "info", "warn", "error"] = "warn"

    @field_validator("datadir", "log_key_file")
    @classmethod
    def _expand_home(cls, value: str) -> str:
        """faust expands `~` itself but the quarantine file does not: both must agree."""
        return os.path.expanduser(value)

    @field_validator("auditor_public_key")
    @classmethod
    def _x25519_key(cls, value: str | None) -> str | None:
        """A mistyped auditor key would seal every entry to nobody: refuse it at start."""
        if value:
            try:
                raw = b64d(value)
            except SchemaError as exc:
                raise ValueError(f"auditor_public_key: {exc.detail}") from None
            if len(raw) != 32:
                raise ValueError("auditor_public_key must be 32 bytes of base64url")
        return value or None

    @model_validator(mode="after")
    def _add_sandbox_markets(self) -> BrokerSettings:
        """A sandbox market is a market like any other: accepted at intake, its topic created
        with the layout. Adding it here keeps every reader of `markets` unchanged."""
        try:
            sandboxes = [sandbox_market(vendor_id) for vendor_id in self.sandbox_vendors]
        except SchemaError as exc:
            raise ValueError(f"sandbox_vendors: {exc.detail}") from None
        self.markets = tuple(dict.fromkeys((*self.markets, *sandboxes)))
        return self

    def faust_credentials(self) -> Any:
        """The same SASL settings for faust's own clients (`broker_credentials`); None if off."""
        if self.security_protocol == "PLAINTEXT":
            return None
        import faust

        kwargs = self.kafka_kwargs()
        return faust.SASLCredentials(
            username=self.sasl_username,
            password=kwargs["sasl_plain_password"],
            ssl_context=kwargs.get("ssl_context"),
            mechanism=self.sasl_mechanism,
        )
