"""How long a vendor may keep what it learned from an agreement, and its statement that it did not.

The roster's terms promise retention in words (``RETENTION_TEXT``); :func:`retention_end` turns
them into one instant, so the vendor SDK, the customer's client, the processors and the docs
all agree on the same end without talking. A :class:`RetentionAttestation` is the vendor's
signed statement that it deleted the agreement's data by then: something it can be held to,
never a proof that the bytes are gone.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta
from types import MappingProxyType
from typing import Annotated, Final, Literal

from intentcast.schemas.agreement import Agreement
from intentcast.schemas.base import SignedModel
from intentcast.schemas.crypto import verify_model
from intentcast.schemas.fields import Hex64, MessageId, Slug, Text
from intentcast.schemas.terms import Term, resolve_terms
from intentcast.schemas.timeutil import UtcDateTime

__all__ = [
    "ATTESTATION_STATEMENT",
    "ATTESTED_FEEDBACK",
    "KEPT_AFTER_DELIVERY",
    "Retention",
    "RetentionAttestation",
    "agreement_retention_end",
    "delivery_end",
    "retention_end",
]

Retention = Literal["session", "agreement", "until_revoked"]

KEPT_AFTER_DELIVERY: Final[Mapping[str, timedelta | None]] = MappingProxyType(
    {
        # "right after the transaction completes": a day for the hand-over to be confirmed
        "session": timedelta(days=1),
        # "while the agreement is in force": the delivery, then a 30-day window for returns
        # and complaints (longer than the EU's 14-day withdrawal period)
        "agreement": timedelta(days=30),
        # no end the vendor can compute: the customer's revocation ends it
        "until_revoked": None,
    }
)
"""How long after the delivery window each retention choice lets a vendor keep the data."""

ATTESTATION_STATEMENT: Final = (
    "The vendor states that it deleted the customer data it held under this agreement, "
    "as the agreed terms require."
)
"""The statement an attestation carries unless the vendor words its own."""

ATTESTED_FEEDBACK: Final = "retention attested"
"""The ``detail`` of the vendor feedback (reason None) that says its attestation is logged."""


def delivery_end(
    *, recorded_at: datetime, needed_by: datetime | None, expires_at: datetime
) -> datetime:
    """When the transaction is due to be complete: the intent's ``needed_by`` if it has one,
    else its ``expires_at``, and never before the agreement was recorded."""
    return max(needed_by or expires_at, recorded_at)


def retention_end(
    terms: Iterable[Term],
    *,
    recorded_at: datetime,
    needed_by: datetime | None,
    expires_at: datetime,
) -> datetime | None:
    """The instant by which the vendor must have deleted the data, or None (kept until revoked).

    Every agreed term binds the vendor, so the strictest one governs: the earliest end among
    the terms that set one. None only when no term sets an end.
    """
    after = [KEPT_AFTER_DELIVERY[term.clauses.retention] for term in terms]
    bounded = [kept for kept in after if kept is not None]
    if not bounded:
        return None
    end = delivery_end(recorded_at=recorded_at, needed_by=needed_by, expires_at=expires_at)
    return end + min(bounded)


def agreement_retention_end(agreement: Agreement) -> datetime | None:
    """:func:`retention_end` of one recorded agreement (its terms must be roster terms)."""
    intent = agreement.intent
    return retention_end(
        resolve_terms(agreement.terms),
        recorded_at=agreement.recorded_at,
        needed_by=intent.needed_by,
        expires_at=intent.expires_at,
    )


class RetentionAttestation(SignedModel):
    """A vendor's signed statement that it deleted what one agreement let it keep.

    Bound to the agreement by ``agreement_id`` and ``intent_id`` (the record key), signed with
    the vendor's registered Ed25519 key. ``retention_end`` is :func:`agreement_retention_end`
    of that agreement, restated so the statement stands on its own; deleting earlier than the
    end keeps the promise, so ``deleted_at`` may come before it.
    """

    kind: Literal["retention_attestation"] = "retention_attestation"
    agreement_id: Hex64
    intent_id: MessageId
    vendor_id: Slug
    retention_end: UtcDateTime
    deleted_at: UtcDateTime
    statement: Annotated[str, Text(500, 1)] = ATTESTATION_STATEMENT

    def verify(self, vendor_key: str) -> None:
        """Check the vendor's signature (raises :class:`~schemas.errors.SignatureError`)."""
        verify_model(self, vendor_key)
