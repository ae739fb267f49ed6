"""What the processors remember per intent, and how it is stored in the faust table.

The record holds only what the flow still needs: the intent, the offers delivered (to check an
acceptance against them) and per-vendor counts. It is deleted when the intent expires, which
is how "session" retention terms are honoured by the broker itself.
"""

from __future__ import annotations

from functools import cached_property
from typing import Any

from pydantic import BaseModel, ConfigDict

from intentcast.schemas import Intent, IntentState, Offer, can_transition, decode
from intentcast.schemas.errors import IntentcastError


class IllegalTransitionError(IntentcastError):
    """A handler tried a state change the lifecycle table forbids: a bug, not bad input."""


class IntentRecord(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    intent_json: str
    intent_hash: str
    state: IntentState = IntentState.OPEN
    expires_at_ms: int
    partition: int
    delivered: dict[str, str] = {}  # offer_id -> canonical offer JSON
    offers_per_vendor: dict[str, int] = {}
    agreement_id: str | None = None
    # SHA-256 of the acceptance that made the agreement: its replay is recognised, not refused
    acceptance_digest: str | None = None
    # the vendor of the agreement: the one party a disclosure may go to
    agreed_vendor: str | None = None
    disclosures: dict[str, str] = {}  # disclosure_id -> content hash, delivered and logged

    @cached_property
    def _intent(self) -> Intent:
        return decode(Intent, self.intent_json)

    def intent(self) -> Intent:
        """The intent, decoded once per record object (each offer for it would otherwise)."""
        return self._intent

    def delivered_offer(self, offer_id: str) -> Offer | None:
        raw = self.delivered.get(offer_id)
        return None if raw is None else decode(Offer, raw)

    def transition(self, target: IntentState, **update: Any) -> IntentRecord:
        """The record in state `target`, if `schemas.intent.TRANSITIONS` allows it from here.

        The one way a handler changes an intent's state, so the lifecycle table is enforced
        rather than documented. Expiry has no stored EXPIRED record: once an intent is over its
        record is dropped ("session" retention), after `transition(EXPIRED)` checked the move.
        """
        if not can_transition(self.state, target):
            raise IllegalTransitionError(
                f"an intent in state {self.state.value} cannot become {target.value}"
            )
        return self.model_copy(update={**update, "state": target})

    def to_bytes(self) -> bytes:
        return self.model_dump_json().encode()

    @classmethod
    def from_bytes(cls, raw: bytes) -> IntentRecord:
        return cls.model_validate_json(raw)
