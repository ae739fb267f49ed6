"""The rules of the flow as pure functions: no Kafka, so each rule is unit-testable.

Each check raises :class:`~broker.refusal.Refused` with the ReasonCode the sender will see.
Schema-level problems were already caught by `schemas.decode`; these are the business rules.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime, timedelta

from intentcast.broker.pii import find_pii
from intentcast.broker.records import IntentRecord
from intentcast.broker.refusal import Refused
from intentcast.schemas import (
    Acceptance,
    Cancel,
    Intent,
    IntentState,
    Offer,
    ReasonCode,
    SchemaError,
    VendorProfile,
    content_hash,
    resolve_terms,
    verify_model,
)


def _check_signature(model: Intent | Offer | Acceptance | Cancel | VendorProfile, key: str) -> None:
    try:
        verify_model(model, key)
    except SchemaError as exc:
        raise Refused(ReasonCode.BAD_SIGNATURE, exc.detail) from exc


def _check_key(record_key: bytes | None, intent_id: str) -> None:
    if record_key != intent_id.encode():
        raise Refused(
            ReasonCode.SCHEMA_INVALID, "the record key must be the intent_id of the message"
        )


def check_intent(
    intent: Intent,
    *,
    record_key: bytes | None,
    now: datetime,
    markets: Collection[str],
    max_skew: timedelta,
    max_lifetime: timedelta,
) -> None:
    """Intake rules: key, self-signature, roster terms, times, market, no personal data."""
    _check_key(record_key, intent.intent_id)
    _check_signature(intent, intent.signing_key)
    try:
        resolve_terms(intent.terms)
    except SchemaError as exc:
        raise Refused(exc.reason, exc.detail) from exc
    if intent.expires_at <= now:
        raise Refused(ReasonCode.INTENT_EXPIRED, "expires_at is already in the past")
    if intent.created_at > now + max_skew:
        raise Refused(ReasonCode.SCHEMA_INVALID, "created_at is in the future")
    if intent.created_at < now - max_lifetime:
        raise Refused(ReasonCode.SCHEMA_INVALID, "created_at is too far in the past")
    if intent.expires_at > now + max_lifetime:
        raise Refused(ReasonCode.SCHEMA_INVALID, f"expires_at is more than {max_lifetime} away")
    if intent.market not in markets:
        raise Refused(ReasonCode.MARKET_UNKNOWN, f"no market named {intent.market!r}")
    place = intent.place
    texts = [
        intent.want.item,
        *intent.want.attributes.values(),
        place.region or "",
        place.city or "",
    ]
    kind = find_pii(texts)
    if kind is not None:
        raise Refused(
            ReasonCode.PII_DETECTED,
            f"the intent contains what looks like a {kind}; "
            "remove it: vendors must not learn who you are",
        )


def check_open(record: IntentRecord | None, now: datetime) -> IntentRecord:
    if record is None:
        raise Refused(ReasonCode.INTENT_UNKNOWN, "no open intent with this id")
    if record.state is IntentState.AGREED:
        raise Refused(ReasonCode.ALREADY_AGREED, "the intent already has an agreement")
    if record.state is not IntentState.OPEN:
        raise Refused(ReasonCode.INTENT_NOT_OPEN, f"the intent is {record.state.value}")
    if record.expires_at_ms <= int(now.timestamp() * 1000):
        raise Refused(ReasonCode.INTENT_EXPIRED, "the intent has expired")
    return record


def check_offer(
    offer: Offer,
    *,
    record_key: bytes | None,
    vendor_key: str | None,
    record: IntentRecord | None,
    now: datetime,
    max_per_vendor: int,
) -> Intent:
    """Offer rules: registered vendor, signature, open intent, exact terms, price, validity."""
    _check_key(record_key, offer.intent_id)
    if vendor_key is None:
        raise Refused(ReasonCode.VENDOR_UNKNOWN, f"vendor {offer.vendor_id!r} is not registered")
    _check_signature(offer, vendor_key)
    record = check_open(record, now)
    intent = record.intent()
    if offer.offer_id in record.delivered:
        raise Refused(ReasonCode.DUPLICATE_OFFER, "an offer with this id was already delivered")
    if sorted(offer.terms, key=lambda t: t.id) != sorted(intent.terms, key=lambda t: t.id):
        raise Refused(
            ReasonCode.TERMS_NOT_ACCEPTED,
            "the offer must accept exactly the terms the intent proffers (ids, versions, hashes)",
        )
    if offer.currency != intent.currency:
        raise Refused(
            ReasonCode.CURRENCY_MISMATCH, f"offer in {offer.currency}, intent in {intent.currency}"
        )
    if offer.price > intent.max_price:
        raise Refused(
            ReasonCode.PRICE_OVER_MAX, f"price {offer.price} is over the maximum {intent.max_price}"
        )
    if offer.valid_until <= now:
        raise Refused(ReasonCode.OFFER_EXPIRED, "valid_until is already in the past")
    if record.offers_per_vendor.get(offer.vendor_id, 0) >= max_per_vendor:
        raise Refused(
            ReasonCode.TOO_MANY_OFFERS, f"at most {max_per_vendor} offers per vendor per intent"
        )
    return intent


def check_acceptance(
    acceptance: Acceptance, *, record_key: bytes | None, record: IntentRecord | None, now: datetime
) -> tuple[Intent, Offer]:
    """Acceptance rules: intent's signature, open intent, a delivered and still valid offer."""
    _check_key(record_key, acceptance.intent_id)
    if record is None:
        raise Refused(ReasonCode.INTENT_UNKNOWN, "no open intent with this id")
    intent = record.intent()
    _check_signature(acceptance, intent.signing_key)
    record = check_open(record, now)
    offer = record.delivered_offer(acceptance.offer_id)
    if offer is None:
        raise Refused(ReasonCode.OFFER_NOT_DELIVERED, "this offer was never delivered")
    if content_hash(offer) != acceptance.offer_hash:
        raise Refused(
            ReasonCode.OFFER_HASH_MISMATCH, "offer_hash does not match the offer as delivered"
        )
    if offer.valid_until <= now:
        raise Refused(ReasonCode.OFFER_EXPIRED, "the offer is no longer valid")
    return intent, offer


def check_cancel(
    cancel: Cancel, *, record_key: bytes | None, record: IntentRecord | None, now: datetime
) -> None:
    _check_key(record_key, cancel.intent_id)
    if record is None:
        raise Refused(ReasonCode.INTENT_UNKNOWN, "no open intent with this id")
    _check_signature(cancel, record.intent().signing_key)
    check_open(record, now)


def check_profile(profile: VendorProfile, known_key: str | None) -> None:
    """Self-signed, and the first key seen for a vendor id stays bound to it."""
    _check_signature(profile, profile.signing_key)
    if known_key is not None and known_key != profile.signing_key:
        raise Refused(ReasonCode.VENDOR_MISMATCH, "this vendor id is registered with another key")
    try:
        resolve_terms(profile.accepts)
    except SchemaError as exc:
        raise Refused(exc.reason, exc.detail) from exc
