"""What vendors send: their profile, offers, and offers as delivered (sealed) to a customer."""

from __future__ import annotations

from typing import Annotated, Final, Literal

from pydantic import ConfigDict, Field, StringConstraints, model_validator

from intentcast.schemas.base import Message, SignedModel
from intentcast.schemas.canonical import decode, encode
from intentcast.schemas.crypto import SealingKey, seal, verify_model
from intentcast.schemas.errors import SchemaError
from intentcast.schemas.fields import (
    B64URL_PATTERN,
    Currency,
    Hex64,
    MessageId,
    Money,
    PublicKey,
    Slug,
    Text,
    check_precision,
    minor_unit_rules,
)
from intentcast.schemas.reasons import ReasonCode
from intentcast.schemas.terms import AcceptedTermRefs, TermRefs
from intentcast.schemas.timeutil import UtcDateTime

__all__ = [
    "Acceptance",
    "DeliveredOffer",
    "Offer",
    "VendorProfile",
    "open_offer",
    "seal_offer",
]

MAX_SEALED_CHARS: Final = 8000


class VendorProfile(SignedModel):
    """A vendor's public registration: its key, the markets it serves, the terms it accepts.

    Signed by its own key; the processor pins the first key it sees for a vendor_id.
    """

    kind: Literal["vendor_profile"] = "vendor_profile"
    vendor_id: Slug
    display_name: Annotated[str, Text(80, 1)]
    signing_key: PublicKey
    sealing_key: PublicKey | None = Field(
        default=None,
        description="The vendor's X25519 key: what a customer seals a disclosure to. A vendor "
        "without one cannot be disclosed to.",
    )
    markets: tuple[Slug, ...] = Field(min_length=1, max_length=32)
    accepts: AcceptedTermRefs = ()
    updated_at: UtcDateTime

    @model_validator(mode="after")
    def _unique_markets(self) -> VendorProfile:
        if len(set(self.markets)) != len(self.markets):
            raise ValueError("a market appears more than once")
        return self

    def verify(self) -> None:
        """Check the self-signature (raises :class:`~schemas.errors.SignatureError`)."""
        verify_model(self, self.signing_key)


class Offer(SignedModel):
    """A vendor's answer to one intent; must accept exactly the terms the customer proffered."""

    model_config = ConfigDict(json_schema_extra={"allOf": minor_unit_rules("price")})

    kind: Literal["offer"] = "offer"
    offer_id: MessageId
    intent_id: MessageId
    vendor_id: Slug
    price: Money
    currency: Currency
    description: Annotated[str, Text(500)] = ""
    valid_until: UtcDateTime
    terms: TermRefs
    created_at: UtcDateTime

    @model_validator(mode="after")
    def _coherent(self) -> Offer:
        if self.valid_until <= self.created_at:
            raise ValueError("valid_until must be after created_at")
        check_precision(self.price, self.currency, "price")
        return self


class DeliveredOffer(Message):
    """An offer as the customer receives it: sealed to the intent's X25519 key.

    Sealing means the broker's consumers, and anyone reading the topic, see only which intent
    got an offer, never from whom or at what price.
    """

    kind: Literal["delivered_offer"] = "delivered_offer"
    intent_id: MessageId
    sealed: Annotated[
        str,
        StringConstraints(pattern=f"^{B64URL_PATTERN}$", min_length=1, max_length=MAX_SEALED_CHARS),
    ]


def seal_offer(offer: Offer, sealing_public_key: str) -> DeliveredOffer:
    """Seal ``offer``'s canonical bytes (signature included) to the intent's sealing key."""
    sealed = seal(sealing_public_key, encode(offer))
    if len(sealed) > MAX_SEALED_CHARS:
        raise SchemaError(ReasonCode.MESSAGE_TOO_LARGE, "sealed offer exceeds 8000 characters")
    return DeliveredOffer(intent_id=offer.intent_id, sealed=sealed)


def open_offer(delivered: DeliveredOffer, key: SealingKey) -> Offer:
    """Open and decode a delivered offer; raises :class:`SchemaError` if it is not for us."""
    offer = decode(Offer, key.open(delivered.sealed))
    if offer.intent_id != delivered.intent_id:
        raise SchemaError(ReasonCode.SCHEMA_INVALID, "sealed offer names another intent")
    return offer


class Acceptance(SignedModel):
    """The customer accepts one delivered offer, signed with the intent's key.

    ``offer_hash`` is the content hash of the offer exactly as delivered (signature included),
    so the vendor cannot later claim a different offer was accepted.
    """

    kind: Literal["acceptance"] = "acceptance"
    intent_id: MessageId
    offer_id: MessageId
    offer_hash: Hex64
    accepted_at: UtcDateTime
