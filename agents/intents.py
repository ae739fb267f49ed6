"""A new signed intent, built as the customer client builds it (fresh keys, fresh id).

The customer client publishes what this builds; the in-memory transport uses the same
builder, so a vendor's unit test gets exactly the intents real customers send.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal

from pydantic import ValidationError

from intentcast.agents.wallet import IntentKeys
from intentcast.schemas.canonical import schema_error_from
from intentcast.schemas.crypto import sign_model
from intentcast.schemas.fields import new_id
from intentcast.schemas.intent import Intent, Place, Want
from intentcast.schemas.terms import refs_for
from intentcast.schemas.timeutil import utcnow

__all__ = ["DEFAULT_TERMS", "build_intent"]

DEFAULT_TERMS = ("P2B1", "SD-BASE")
"""Service delivery only, and #NoStalking: what a customer proffers unless told otherwise."""


def build_intent(
    keys: IntentKeys,
    *,
    market: str,
    item: str,
    max_price: Decimal,
    currency: str,
    country: str,
    region: str | None = None,
    city: str | None = None,
    quantity: int = 1,
    attributes: dict[str, str] | None = None,
    terms: list[str] | tuple[str, ...] = DEFAULT_TERMS,
    needed_by: datetime | None = None,
    expires_in: timedelta = timedelta(minutes=10),
) -> Intent:
    """The intent signed with ``keys``; raises `SchemaError` for an invalid one."""
    now = utcnow()
    try:
        intent = Intent(
            intent_id=new_id(),
            market=market,
            want=Want(item=item, quantity=quantity, attributes=attributes or {}),
            max_price=max_price,
            currency=currency,
            place=Place(country=country, region=region, city=city),
            needed_by=needed_by,
            expires_at=now + expires_in,
            terms=refs_for(terms),
            signing_key=keys.signing.public_key,
            sealing_key=keys.sealing.public_key,
            created_at=now,
        )
    except ValidationError as exc:
        raise schema_error_from(exc) from None
    return sign_model(intent, keys.signing)
