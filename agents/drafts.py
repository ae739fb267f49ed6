"""What a vendor's handler returns (OfferDraft), and how the SDK turns it into a signed Offer."""

from __future__ import annotations

import hashlib
import hmac
from datetime import datetime, timedelta
from decimal import Decimal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from intentcast.schemas.canonical import schema_error_from
from intentcast.schemas.crypto import SigningKey, sign_model
from intentcast.schemas.fields import new_id
from intentcast.schemas.intent import Intent
from intentcast.schemas.offer import Offer
from intentcast.schemas.timeutil import utcnow

__all__ = ["OfferDraft", "build_offer", "offer_id_for"]


class OfferDraft(BaseModel):
    """The business part of an offer; the SDK adds ids, terms, timestamps and the signature.

    ``valid_until``, when given, wins over ``valid_for``; ``currency`` defaults to the
    intent's (an offer in another currency is refused by the processors).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    price: Decimal = Field(gt=0)
    description: str = Field(default="", max_length=500)
    valid_for: timedelta = timedelta(minutes=15)
    valid_until: datetime | None = None
    currency: str | None = None

    @model_validator(mode="after")
    def _positive_validity(self) -> OfferDraft:
        if self.valid_for <= timedelta(0):
            raise ValueError("valid_for must be positive")
        if self.valid_until is not None and self.valid_until.tzinfo is None:
            raise ValueError("valid_until must carry a time zone")
        return self


def offer_id_for(key: SigningKey, intent_id: str) -> str:
    """The id every instance of one vendor gives its offer for ``intent_id``.

    When an instance dies after answering but before committing, the survivor answers the same
    intent again; with the same id the processors refuse the second offer (`duplicate_offer`)
    instead of delivering two. Keyed with the vendor's signing key, so nobody else can compute
    it: the offer-id tag on the delivered topic must not reveal which vendor answered which
    intent.
    """
    mac = hmac.new(key.seed, b"intentcast offer id\n" + intent_id.encode(), hashlib.sha256)
    return mac.hexdigest()[:32]


def build_offer(
    draft: OfferDraft,
    intent: Intent,
    *,
    vendor_id: str,
    key: SigningKey,
    now: datetime | None = None,
    offer_id: str | None = None,
) -> Offer:
    """The signed offer for ``intent``: exactly the intent's term references, a fresh id unless
    ``offer_id`` is given (the vendor SDK passes `offer_id_for`), valid until the draft says
    or the intent expires, whichever is first.

    The terms are copied (ids, versions and hashes) rather than rebuilt from the roster, so an
    offer accepts precisely what the customer proffered. Raises ``SchemaError`` when the draft
    cannot make a valid offer (e.g. more decimals than the currency allows).
    """
    created = now or utcnow()
    try:
        offer = Offer(
            offer_id=offer_id or new_id(),
            intent_id=intent.intent_id,
            vendor_id=vendor_id,
            price=draft.price,
            currency=draft.currency or intent.currency,
            description=draft.description,
            # never past the intent's expiry: the offer cannot be accepted after it anyway
            # (docs/protocol.md, "Offer validity")
            valid_until=min(draft.valid_until or created + draft.valid_for, intent.expires_at),
            terms=intent.terms,
            created_at=created,
        )
    except ValidationError as exc:
        raise schema_error_from(exc) from None
    return sign_model(offer, key)
