"""What a customer can see about retention: each agreement's end, whether the vendor attested
deletion, and when an intent's private keys are due to be dropped.

Pure functions over what the wallet holds, so the CLI, the app and a test agree on one rule.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Final

from intentcast.agents.errors import WalletError
from intentcast.schemas.agreement import Agreement
from intentcast.schemas.errors import SchemaError
from intentcast.schemas.retention import RetentionAttestation, agreement_retention_end

__all__ = [
    "CLOSE_MARGIN",
    "AgreementRetention",
    "DroppedKeys",
    "RetentionState",
    "check_attestation",
    "drop_reason",
]

CLOSE_MARGIN: Final = timedelta(minutes=10)
"""How long after its expiry an intent without an agreement keeps its keys: the processors
may record an acceptance sent just before the expiry, and clocks differ by minutes."""


class RetentionState(StrEnum):
    """Where an agreement stands on retention, from the customer's side."""

    KEPT_UNTIL_REVOKED = "until_revoked"  # the terms set no end
    RUNNING = "running"  # the end has not come
    AWAITING_ATTESTATION = "awaiting_attestation"  # the end has come, no attestation yet
    ATTESTED = "attested"  # the vendor's signed statement is in the log (and in the wallet)


@dataclass(frozen=True)
class AgreementRetention:
    """One agreement's retention as the customer sees it."""

    agreement: Agreement
    retention_end: datetime | None
    attestation: RetentionAttestation | None
    attested_entry: str | None  # the log entry id of the attestation, when seen in the log
    keys_held: bool
    keep_keys: bool

    @property
    def agreement_id(self) -> str:
        return self.agreement.agreement_id

    @property
    def intent_id(self) -> str:
        return self.agreement.intent.intent_id

    @property
    def vendor_id(self) -> str:
        return self.agreement.offer.vendor_id

    @property
    def attested(self) -> bool:
        """The log holds the vendor's attestation (opened and checked, or seen after the keys
        that open it were dropped)."""
        return self.attestation is not None or self.attested_entry is not None

    def state(self, now: datetime) -> RetentionState:
        if self.attested:
            return RetentionState.ATTESTED
        if self.retention_end is None:
            return RetentionState.KEPT_UNTIL_REVOKED
        if now < self.retention_end:
            return RetentionState.RUNNING
        return RetentionState.AWAITING_ATTESTATION


@dataclass(frozen=True)
class DroppedKeys:
    """An intent whose private keys the wallet dropped, and why (for the CLI and the app)."""

    intent_id: str
    reason: str
    at: datetime


def check_attestation(attestation: RetentionAttestation, agreement: Agreement) -> None:
    """Raise :class:`WalletError` unless ``attestation`` is the agreement's vendor's, bound to
    that agreement and restating its retention end."""
    try:
        attestation.verify(agreement.vendor_key)
    except SchemaError as exc:
        raise WalletError(f"an attestation does not verify: {exc}") from None
    bound = (
        attestation.agreement_id == agreement.agreement_id
        and attestation.intent_id == agreement.intent.intent_id
        and attestation.vendor_id == agreement.offer.vendor_id
        and attestation.retention_end == agreement_retention_end(agreement)
    )
    if not bound:
        raise WalletError(f"an attestation is not bound to agreement {agreement.agreement_id}")


def drop_reason(
    *,
    agreement: Agreement | None,
    expires_at: datetime | None,
    closed: str | None,
    keep: bool,
    now: datetime,
) -> str | None:
    """Why an intent's keys are due to be dropped now, or None while they are still needed.

    Without an agreement they are dropped once the intent closed (cancelled, expired); with
    one, once its retention end has come: the customer holds the receipt, which needs no key
    to verify. ``keep`` (the customer's choice) keeps them whatever the rule says.
    """
    if keep:
        return None
    if agreement is not None:
        end = agreement_retention_end(agreement)
        if end is None or now < end:
            return None
        return f"the retention end of agreement {agreement.agreement_id[:12]} has come"
    if closed is not None:
        return f"the intent was {closed} without an agreement"
    if expires_at is not None and now >= expires_at + CLOSE_MARGIN:
        return "the intent expired without an agreement"
    return None
