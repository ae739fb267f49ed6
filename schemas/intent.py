"""What a customer broadcasts (Intent), how they withdraw it (Cancel), and its lifecycle."""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from types import MappingProxyType
from typing import Annotated, Final, Literal

from pydantic import ConfigDict, Field, StringConstraints, model_validator

from intentcast.schemas.base import SignedModel, WireModel
from intentcast.schemas.crypto import verify_model
from intentcast.schemas.fields import (
    CountryCode,
    Currency,
    MessageId,
    Money,
    PublicKey,
    Slug,
    Text,
    check_precision,
    minor_unit_rules,
)
from intentcast.schemas.terms import TermRefs
from intentcast.schemas.timeutil import UtcDateTime

__all__ = [
    "TRANSITIONS",
    "Cancel",
    "Intent",
    "IntentState",
    "Place",
    "Want",
    "can_transition",
]

AttributeKey = Annotated[str, StringConstraints(pattern=r"^[a-z0-9_][a-z0-9_.-]{0,31}$")]
# ASCII keys only: sorted-key canonical JSON then sorts the same in every language.


class Place(WireModel):
    """Where the customer wants the thing: a country, perhaps a region and city.

    Never a street address, postcode or coordinates: an intent must reveal only what it
    takes to attract offers, and a precise place identifies a person.
    """

    country: CountryCode
    region: Annotated[str, Text(64, 1)] | None = None
    city: Annotated[str, Text(64, 1)] | None = None


class Want(WireModel):
    """The thing wanted, in the customer's words, with a few optional attributes."""

    item: Annotated[str, Text(200, 1)]
    quantity: int = Field(default=1, ge=1, le=1000)
    attributes: dict[AttributeKey, Annotated[str, Text(64)]] = Field(
        default_factory=dict, max_length=16
    )


class Intent(SignedModel):
    """An anonymous purchase intent, broadcast to a market on the customer's own terms.

    Both keys are fresh for each intent, so two intents of one person cannot be linked. The
    intent is signed by its own ``signing_key`` so no one can alter it in transit; offers
    come back sealed to ``sealing_key`` so only the customer can read them.
    """

    model_config = ConfigDict(json_schema_extra={"allOf": minor_unit_rules("max_price")})

    kind: Literal["intent"] = "intent"
    intent_id: MessageId
    market: Slug
    want: Want
    max_price: Money
    currency: Currency
    place: Place
    needed_by: UtcDateTime | None = None
    expires_at: UtcDateTime
    terms: TermRefs
    signing_key: PublicKey = Field(description="Per-intent Ed25519 key; signs the intent.")
    sealing_key: PublicKey = Field(description="Per-intent X25519 key; offers are sealed to it.")
    created_at: UtcDateTime

    @model_validator(mode="after")
    def _coherent(self) -> Intent:
        if self.expires_at <= self.created_at:
            raise ValueError("expires_at must be after created_at")
        if self.needed_by is not None and self.needed_by <= self.created_at:
            raise ValueError("needed_by must be after created_at")
        check_precision(self.max_price, self.currency, "max_price")
        return self

    def verify(self) -> None:
        """Check the self-signature (raises :class:`~schemas.errors.SignatureError`)."""
        verify_model(self, self.signing_key)


class Cancel(SignedModel):
    """The customer withdraws an open intent; signed with the intent's key to prove ownership."""

    kind: Literal["cancel"] = "cancel"
    intent_id: MessageId
    cancelled_at: UtcDateTime


class IntentState(StrEnum):
    """Lifecycle of an intent as the processor tracks it."""

    OPEN = "open"
    AGREED = "agreed"
    EXPIRED = "expired"
    CANCELLED = "cancelled"


TRANSITIONS: Final[Mapping[IntentState, frozenset[IntentState]]] = MappingProxyType(
    {
        IntentState.OPEN: frozenset(
            {IntentState.AGREED, IntentState.EXPIRED, IntentState.CANCELLED}
        ),
        IntentState.AGREED: frozenset(),
        IntentState.EXPIRED: frozenset(),
        IntentState.CANCELLED: frozenset(),
    }
)
"""Allowed moves: only an open intent moves, and every other state is final."""


def can_transition(current: IntentState, target: IntentState) -> bool:
    """Whether ``current`` may become ``target`` (see :data:`TRANSITIONS`)."""
    return target in TRANSITIONS[current]
