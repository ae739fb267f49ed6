"""Builders shared by the agents tests: signed intents and agreements, made locally."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from intentcast.agents import IntentKeys, OfferDraft, build_offer
from intentcast.schemas.agreement import GENESIS_HASH, Agreement
from intentcast.schemas.canonical import content_hash
from intentcast.schemas.crypto import SigningKey, sign_model
from intentcast.schemas.fields import new_id
from intentcast.schemas.intent import Intent, Place, Want
from intentcast.schemas.offer import Acceptance
from intentcast.schemas.terms import refs_for
from intentcast.schemas.timeutil import utcnow


def make_intent(
    *,
    market: str = "bikes",
    terms: tuple[str, ...] = ("SD-BASE", "P2B1"),
    max_price: str = "200",
    currency: str = "EUR",
    expires_in: timedelta = timedelta(minutes=10),
    item: str = "city bike",
    keys: IntentKeys | None = None,
) -> Intent:
    """A signed intent, as a customer would send it."""
    keys = keys or IntentKeys.generate()
    now = utcnow()
    created = now if expires_in > timedelta(0) else now + expires_in - timedelta(seconds=1)
    intent = Intent(
        intent_id=new_id(),
        market=market,
        want=Want(item=item),
        max_price=Decimal(max_price),
        currency=currency,
        place=Place(country="DE", city="Berlin"),
        expires_at=now + expires_in,
        terms=refs_for(terms),
        signing_key=keys.signing.public_key,
        sealing_key=keys.sealing.public_key,
        created_at=created,
    )
    return sign_model(intent, keys.signing)


def make_agreement(
    vendor_key: SigningKey | None = None,
    vendor_id: str = "acme-bikes",
    market: str = "bikes",
    keys: IntentKeys | None = None,
) -> Agreement:
    """A complete, valid agreement record (seq 0) between a fresh intent and a vendor."""
    keys = keys or IntentKeys.generate()
    vendor_key = vendor_key or SigningKey.generate()
    intent = make_intent(keys=keys, market=market)
    offer = build_offer(
        OfferDraft(price=Decimal("150")), intent, vendor_id=vendor_id, key=vendor_key
    )
    acceptance = sign_model(
        Acceptance(
            intent_id=intent.intent_id,
            offer_id=offer.offer_id,
            offer_hash=content_hash(offer),
            accepted_at=utcnow(),
        ),
        keys.signing,
    )
    return Agreement.build(
        partition=0, seq=0, prev_hash=GENESIS_HASH, intent=intent, offer=offer,
        acceptance=acceptance, vendor_key=vendor_key.public_key, recorded_at=utcnow(),
    )  # fmt: skip
