"""Vendors that break one rule each, built from raw aiokafka clients.

The SDK refuses to produce most of these records (it copies terms, checks decimals, signs
with its key, keys by intent id), so each vendor here writes its own: a valid profile on its
profile topic, then, for every intent of its sandbox market, an offer that is right but for
the one mistake it is named after. The conformance kit must report exactly that mistake.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import timedelta
from decimal import ROUND_DOWN, Decimal

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from intentcast.agents.drafts import OfferDraft, build_offer
from intentcast.schemas.canonical import canonical_json, decode, encode, signing_bytes
from intentcast.schemas.crypto import SigningKey, sign_model
from intentcast.schemas.intent import Intent
from intentcast.schemas.iso import minor_units
from intentcast.schemas.offer import Offer, VendorProfile
from intentcast.schemas.partitioning import key_partition, record_key
from intentcast.schemas.terms import ROSTER, term_ref
from intentcast.schemas.timeutil import utcnow
from intentcast.schemas.topics import (
    OFFERS_SUBMITTED,
    market_topic,
    sandbox_market,
    vendor_profile_topic,
)


@dataclass(frozen=True)
class Record:
    """What a broken vendor produces for one intent."""

    key: bytes
    value: bytes
    partition: int | None = None


Mistake = Callable[[Intent, Offer, SigningKey, int], Record]
"""(intent, the right signed offer, the vendor's key, partitions) -> the record to send."""


def _right(offer: Offer) -> Record:
    return Record(record_key(offer.intent_id), encode(offer))


def altered_terms(intent: Intent, offer: Offer, key: SigningKey, partitions: int) -> Record:
    """Drops a term (or swaps the only one): signed correctly, but not the intent's terms."""
    others = sorted(set(ROSTER) - {ref.id for ref in offer.terms})
    terms = offer.terms[1:] if len(offer.terms) > 1 else (term_ref(others[0]),)
    return _right(sign_model(offer.model_copy(update={"terms": terms}), key))


def wrong_decimals(intent: Intent, offer: Offer, key: SigningKey, partitions: int) -> Record:
    """One decimal more than the currency has (the model refuses it, so the JSON is built
    and signed by hand, exactly as a vendor in another language would get it wrong)."""
    data = json.loads(signing_bytes(offer))
    step = Decimal(1).scaleb(-(minor_units(intent.currency) + 1))
    price = (offer.price * Decimal("0.99")).quantize(step, rounding=ROUND_DOWN)
    if price == price.quantize(step * 10):  # the last digit must not be 0
        price += step
    data["price"] = format(price, "f")
    data["signature"] = key.sign(canonical_json(data))
    return Record(record_key(offer.intent_id), canonical_json(data))


def wrong_key(intent: Intent, offer: Offer, key: SigningKey, partitions: int) -> Record:
    """Keyed by the upper-case intent id, but sent to the right partition."""
    right = key_partition(record_key(offer.intent_id), partitions)
    return Record(offer.intent_id.upper().encode(), encode(offer), right)


def wrong_partition(intent: Intent, offer: Offer, key: SigningKey, partitions: int) -> Record:
    """The right key, sent to the next partition (as a CRC32 or FNV partitioner might)."""
    right = key_partition(record_key(offer.intent_id), partitions)
    return Record(record_key(offer.intent_id), encode(offer), (right + 1) % partitions)


def valid_past_expiry(intent: Intent, offer: Offer, key: SigningKey, partitions: int) -> Record:
    """valid_until an hour after the intent expires."""
    later = intent.expires_at + timedelta(hours=1)
    return _right(sign_model(offer.model_copy(update={"valid_until": later}), key))


def bad_signature(intent: Intent, offer: Offer, key: SigningKey, partitions: int) -> Record:
    """Signed with a key that is not the registered one."""
    return _right(sign_model(offer, SigningKey.generate()))


def answers_everything(intent: Intent, offer: Offer, key: SigningKey, partitions: int) -> Record:
    """A correct offer; the mistake is that it is sent for terms the profile does not accept."""
    return _right(offer)


@dataclass
class BrokenVendor:
    """A live vendor on its sandbox market whose offers all carry one mistake."""

    vendor_id: str
    mistake: Mistake
    accepts: tuple[str, ...] = tuple(sorted(ROSTER))
    canonical_only: bool = False
    """Read only intents in their canonical spelling, as a decoder built on the canonical
    encoder alone would (the market carries intents byte for byte as their customers sent)."""
    answered: list[str] = field(default_factory=list)

    @property
    def key(self) -> SigningKey:
        return SigningKey.from_seed(hashlib.sha256(f"test:{self.vendor_id}".encode()).digest())

    def profile(self) -> VendorProfile:
        profile = VendorProfile(
            vendor_id=self.vendor_id,
            display_name=f"{self.vendor_id} (breaks one rule)",
            signing_key=self.key.public_key,
            markets=(sandbox_market(self.vendor_id),),
            accepts=tuple(term_ref(t) for t in sorted(self.accepts)),
            updated_at=utcnow(),
        )
        return sign_model(profile, self.key)

    @contextlib.asynccontextmanager
    async def running(self, bootstrap: str) -> AsyncIterator[BrokenVendor]:
        producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
        consumer = AIOKafkaConsumer(
            market_topic(sandbox_market(self.vendor_id)),
            bootstrap_servers=bootstrap,
            group_id=f"intentcast.vendor.{self.vendor_id}",
            auto_offset_reset="earliest",
        )
        await producer.start()
        await consumer.start()
        try:
            await producer.send_and_wait(
                vendor_profile_topic(self.vendor_id),
                encode(self.profile()),
                key=record_key(self.vendor_id),
            )
            partitions = len(await producer.partitions_for(OFFERS_SUBMITTED))
            task = asyncio.create_task(self._answer(consumer, producer, partitions))
            try:
                yield self
            finally:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        finally:
            await consumer.stop()
            await producer.stop()

    async def _answer(
        self, consumer: AIOKafkaConsumer, producer: AIOKafkaProducer, partitions: int
    ) -> None:
        async for message in consumer:
            intent = decode(Intent, message.value or b"")
            if intent.expires_at <= utcnow():
                continue
            if self.canonical_only and message.value != encode(intent):
                continue
            draft = OfferDraft(price=(intent.max_price * Decimal("0.9")).quantize(Decimal(1)))
            offer = build_offer(draft, intent, vendor_id=self.vendor_id, key=self.key)
            record = self.mistake(intent, offer, self.key, partitions)
            partition = record.partition
            if partition is None:  # what Kafka's default partitioner picks
                partition = key_partition(record.key, partitions)
            await producer.send_and_wait(
                OFFERS_SUBMITTED, record.value, key=record.key, partition=partition
            )
            self.answered.append(intent.intent_id)
