"""The JSON the page draws: an intent with its offers, refusals, agreement and data promises.

Built from the customer's own records only (the history file and the wallet). A refusal is
shown with its reason's plain meaning; the processors send the customer only refusals whose
reason is meant for them (`ReasonCode.audience`), so a vendor's private feedback never shows.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

from intentcast.agents import (
    AgreementRetention,
    DroppedKeys,
    Offer,
    Receipt,
    RetentionState,
    Wallet,
    WalletError,
)
from intentcast.customer_app.promises import terms_view
from intentcast.customer_app.records import IntentRecord
from intentcast.schemas.canonical import decode
from intentcast.schemas.disclosure import Disclosure
from intentcast.schemas.errors import SchemaError
from intentcast.schemas.events import IntentStatus, StatusKind
from intentcast.schemas.timeutil import format_utc

__all__ = ["Kept", "intent_view", "receipt_check"]


def _offer_view(offer: Offer) -> dict[str, Any]:
    return {
        "offer_id": offer.offer_id,
        "vendor_id": offer.vendor_id,
        "price": str(offer.price),
        "currency": offer.currency,
        "description": offer.description,
        "valid_until": format_utc(offer.valid_until),
        "created_at": format_utc(offer.created_at),
    }


def _refusal_view(status: IntentStatus, offers: dict[str, Offer]) -> dict[str, Any]:
    offer = offers.get(status.offer_id or "")
    return {
        "reason": status.reason.value if status.reason else None,
        "meaning": status.reason.description if status.reason else "No reason was given.",
        "detail": status.detail,
        "offer_id": status.offer_id,
        "vendor_id": offer.vendor_id if offer else None,
        "at": format_utc(status.at),
    }


def _state(record: IntentRecord, now: datetime) -> str:
    for status in reversed(record.statuses):
        if status.status in (StatusKind.AGREED, StatusKind.EXPIRED, StatusKind.CANCELLED):
            return status.status.value
    return "expired" if record.intent.expires_at <= now else "open"


ATTESTATION_NOTE: Final = (
    "An attestation is the vendor's signed statement that it deleted your data: a statement "
    "it can be held to, not a proof of deletion."
)
STATE_TEXT: Final = {
    RetentionState.KEPT_UNTIL_REVOKED: "kept until you revoke the agreement",
    RetentionState.RUNNING: "not due yet",
    RetentionState.AWAITING_ATTESTATION: "due, not attested: the vendor owes its statement",
    RetentionState.ATTESTED: "attested: the vendor says it deleted your data",
}


def _retention_view(row: AgreementRetention | None, now: datetime) -> dict[str, Any] | None:
    if row is None:
        return None
    state = row.state(now)
    attestation = row.attestation
    return {
        "end": format_utc(row.retention_end) if row.retention_end else None,
        "state": state.value,
        "state_text": STATE_TEXT[state],
        "attested": row.attested,
        "attestation": None if attestation is None else {
            "deleted_at": format_utc(attestation.deleted_at),
            "statement": attestation.statement,
            "vendor_id": attestation.vendor_id,
        },
        "attested_entry": row.attested_entry,
        "note": ATTESTATION_NOTE,
    }  # fmt: skip


def _keys_view(has_keys: bool, keep: bool, dropped: DroppedKeys | None) -> dict[str, Any]:
    return {
        "held": has_keys,
        "keep": keep,
        "dropped": None if dropped is None else {
            "reason": dropped.reason, "at": format_utc(dropped.at),
        },
    }  # fmt: skip


def _disclosure_view(stored: dict[str, Any]) -> dict[str, Any]:
    """One disclosure as kept in the wallet: whom, when, which fields and what they said."""
    try:
        sent = decode(Disclosure, stored["disclosure"])
    except (KeyError, SchemaError) as exc:
        raise WalletError(f"a stored disclosure is unreadable ({exc})") from None
    return {
        "disclosure_id": sent.disclosure_id,
        "vendor_id": sent.vendor_id,
        "fields": list(sent.fields),
        "disclosed_at": format_utc(sent.disclosed_at),
        "values": stored.get("values", {}),
    }


def _agreement_view(kept: Kept, now: datetime) -> dict[str, Any]:
    receipt, retention = kept.receipt, kept.retention
    assert receipt is not None
    agreement = receipt.agreement
    return {
        "agreement_id": agreement.agreement_id,
        "vendor_id": agreement.offer.vendor_id,
        "vendor_key": agreement.vendor_key,
        "price": str(agreement.offer.price),
        "currency": agreement.offer.currency,
        "description": agreement.offer.description,
        "recorded_at": format_utc(agreement.recorded_at),
        "log_position": {"partition": agreement.partition, "seq": agreement.seq},
        "promises": terms_view(ref.id for ref in agreement.terms),
        "receipt": receipt.consent.to_kantara(),
        "retention": _retention_view(retention, now),
        "disclosures": [
            _disclosure_view(d)
            for d in kept.disclosures
            if d.get("agreement_id") == receipt.agreement_id
        ],
    }


@dataclass(frozen=True)
class Kept:
    """What the wallet holds of one intent besides its history record."""

    receipt: Receipt | None = None
    retention: AgreementRetention | None = None
    has_keys: bool = False
    keep_keys: bool = False
    dropped: DroppedKeys | None = None
    disclosures: tuple[dict[str, Any], ...] = ()


def intent_view(record: IntentRecord, kept: Kept, live: bool, now: datetime) -> dict[str, Any]:
    """One intent as the page shows it in the live view and in the history."""
    intent = record.intent
    offers = {o.offer_id: o for o in record.offers}
    receipt = kept.receipt
    state = "agreed" if receipt is not None else _state(record, now)
    return {
        "intent_id": intent.intent_id,
        "market": intent.market,
        "item": intent.want.item,
        "quantity": intent.want.quantity,
        "attributes": dict(intent.want.attributes),
        "max_price": str(intent.max_price),
        "currency": intent.currency,
        "place": intent.place.model_dump(exclude_none=True),
        "needed_by": format_utc(intent.needed_by) if intent.needed_by else None,
        "created_at": format_utc(intent.created_at),
        "expires_at": format_utc(intent.expires_at),
        "terms": [ref.id for ref in intent.terms],
        "state": state,
        "live": live and state == "open",
        "closed": state != "open",
        "has_keys": kept.has_keys,
        "keys": _keys_view(kept.has_keys, kept.keep_keys, kept.dropped),
        "offers": [_offer_view(o) for o in sorted(record.offers, key=lambda o: o.price)],
        "refusals": [
            _refusal_view(s, offers) for s in record.statuses if s.status is StatusKind.REJECTED
        ],
        "agreement": None if receipt is None else _agreement_view(kept, now),
    }


def _check(name: str, ok: bool, passed: str, failed: str) -> dict[str, Any]:
    return {"check": name, "ok": ok, "detail": passed if ok else failed}


def receipt_check(stored: dict[str, Any], wallet: Wallet) -> dict[str, Any]:
    """Verify a kept agreement offline: the record with its signatures, the receipt derived
    from it (as `intentcast audit receipt` derives it), and that it is bound to our key."""
    try:
        receipt = Receipt.from_json(stored)  # decodes and runs Agreement.verify()
    except WalletError as exc:
        failed = _check("agreement record and signatures", False, "", str(exc))
        return {"valid": False, "agreement_id": stored.get("agreement_id"), "checks": [failed]}
    agreement = receipt.agreement
    checks = [
        _check(
            "agreement record and signatures", True,
            "its id matches its content; your intent and acceptance and the vendor's offer "
            "are signed; the terms, currency and price ceiling agree", "",
        ),
        _check(
            "consent receipt", receipt.consent.to_kantara() == stored.get("receipt"),
            "the kept receipt is the one the agreement gives",
            "the kept receipt differs from the one the agreement gives",
        ),
    ]  # fmt: skip
    keys = wallet.keys(agreement.intent.intent_id)
    if keys is not None:
        checks.append(_check(
            "bound to your key", keys.signing.public_key == agreement.intent.signing_key,
            "the intent was signed with the key in your wallet",
            "the intent's key is not the one in your wallet",
        ))  # fmt: skip
    return {
        "valid": all(c["ok"] for c in checks),
        "agreement_id": agreement.agreement_id,
        "checks": checks,
    }
