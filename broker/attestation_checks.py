"""The rules a deletion attestation must pass before it is logged: pure, so each is unit-testable.

An attestation is only a statement, so the processors check what can be checked: who signed
it, that it names an agreement this vendor is party to in this intent's log, that it restates
the retention end the agreement's terms give, and that its deletion time is plausible.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from intentcast.broker.refusal import Refused
from intentcast.schemas import (
    Agreement,
    ReasonCode,
    RetentionAttestation,
    SchemaError,
    agreement_retention_end,
    verify_model,
)
from intentcast.schemas.timeutil import format_utc


def check_attestation_signature(
    attestation: RetentionAttestation, *, record_key: bytes | None, vendor_key: str | None
) -> None:
    """Record key, registered vendor and signature: what needs no log."""
    if record_key != attestation.intent_id.encode():
        raise Refused(
            ReasonCode.SCHEMA_INVALID, "the record key must be the intent_id of the attestation"
        )
    if vendor_key is None:
        raise Refused(
            ReasonCode.VENDOR_UNKNOWN, f"vendor {attestation.vendor_id} is not registered"
        )
    try:
        verify_model(attestation, vendor_key)
    except SchemaError as exc:
        raise Refused(ReasonCode.BAD_SIGNATURE, exc.detail) from exc


def check_attestation_binding(
    attestation: RetentionAttestation,
    agreement: Agreement | None,
    *,
    already_attested: bool,
    now: datetime,
    max_skew: timedelta,
) -> None:
    """The attestation against the agreement the log holds for its intent (None: none)."""
    if (
        agreement is None
        or agreement.agreement_id != attestation.agreement_id
        or agreement.offer.vendor_id != attestation.vendor_id
    ):
        raise Refused(
            ReasonCode.AGREEMENT_UNKNOWN,
            f"no agreement {attestation.agreement_id[:12]} of vendor {attestation.vendor_id} "
            f"for intent {attestation.intent_id}",
        )
    if already_attested:
        raise Refused(
            ReasonCode.ALREADY_ATTESTED,
            f"agreement {attestation.agreement_id[:12]} is already attested",
        )
    end = agreement_retention_end(agreement)
    if end is None or end != attestation.retention_end:
        expected = "none (kept until revoked)" if end is None else format_utc(end)
        raise Refused(
            ReasonCode.RETENTION_END_MISMATCH,
            f"retention_end {format_utc(attestation.retention_end)}; the terms give {expected}",
        )
    if attestation.deleted_at > now + max_skew:
        raise Refused(ReasonCode.DELETION_TIME_INVALID, "deleted_at is in the future")
    if attestation.deleted_at < agreement.recorded_at - max_skew:
        raise Refused(
            ReasonCode.DELETION_TIME_INVALID, "deleted_at is before the agreement was recorded"
        )
