"""Kafka in memory, for unit tests of a vendor's handlers without a cluster.

Modelled on FastStream's ``TestKafkaBroker``: only the network is replaced. What a test
sends is encoded as a producer would encode it and decoded and validated by the vendor's
runtime as if read from Kafka; the offers the runtime builds and signs are encoded, and
decoded back through the contract and checked against the registered key before a test sees
them. Registration plays the processors' part: the profile must verify and keep its key.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import defaultdict
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from typing import Final, TypeVar

from intentcast.agents.declaration import Subscription
from intentcast.agents.errors import NotHandledError, VendorConfigError
from intentcast.agents.intents import DEFAULT_TERMS, build_intent
from intentcast.agents.transport import Outgoing, RecordsHandler
from intentcast.agents.wallet import IntentKeys
from intentcast.schemas.agreement import Agreement
from intentcast.schemas.canonical import decode, encode
from intentcast.schemas.crypto import verify_model
from intentcast.schemas.disclosure import Disclosure
from intentcast.schemas.events import OfferFeedback
from intentcast.schemas.intent import Intent
from intentcast.schemas.offer import Offer, VendorProfile
from intentcast.schemas.retention import RetentionAttestation
from intentcast.schemas.topics import (
    ATTESTATIONS,
    OFFERS_SUBMITTED,
    market_topic,
    vendor_agreements_topic,
    vendor_disclosures_topic,
    vendor_feedback_topic,
    vendor_profile_topic,
)

__all__ = ["InMemoryTransport", "MemoryRecord"]

S = TypeVar("S", Offer, RetentionAttestation)

POLL_S: Final = 0.5
HANDLED_TIMEOUT_S: Final = 5.0


@dataclass(frozen=True)
class MemoryRecord:
    """One record of an in-memory topic (one partition per topic, offsets from 0)."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None


class InMemoryTransport:
    """Topics as lists in memory; serve one vendor on it, then send it intents and read offers.

    ``send_intent``, ``send_feedback``, ``send_agreement`` and ``send_disclosure`` return once
    the vendor handled and committed the record, so a test can assert right after them.
    """

    def __init__(self) -> None:
        self.topics: defaultdict[str, list[MemoryRecord]] = defaultdict(list)
        self.registered: dict[str, VendorProfile] = {}
        self._subscription: Subscription | None = None
        self._next: dict[str, int] = {}
        self._committed: dict[str, int] = {}
        self._groups: defaultdict[str, dict[str, int]] = defaultdict(dict)
        """Committed offsets by consumer group, kept across servings as Kafka keeps them."""
        self._arrived = asyncio.Event()
        self._changed = asyncio.Condition()
        self._failure: Exception | None = None

    # -- the transport side (called by the vendor's runtime) --------------------------------

    async def register(self, profile: VendorProfile, stop: asyncio.Event) -> bool:
        """Accept the profile as the processors would: it verifies and keeps the first key."""
        value = encode(profile)
        received = decode(VendorProfile, value)
        received.verify()
        known = self.registered.get(received.vendor_id)
        if known is not None and known.signing_key != received.signing_key:
            raise VendorConfigError(
                f"vendor id {received.vendor_id!r} is registered with another key; choose "
                "another vendor id or run with the key it was registered with"
            )
        self.publish(vendor_profile_topic(received.vendor_id), received.vendor_id.encode(), value)
        self.registered[received.vendor_id] = received
        return True

    async def subscribe(self, subscription: Subscription) -> None:
        """Read on from the group's committed offsets (a group of its own: from the end)."""
        self._subscription = subscription
        self._failure = None
        if subscription.share_load:
            self._committed = self._groups[subscription.group_id]
        else:
            self._committed = {topic: len(self.topics[topic]) for topic in subscription.topics}
        self._next = {topic: self._committed.get(topic, 0) for topic in subscription.topics}

    async def consume(self, handle: RecordsHandler, stop: asyncio.Event) -> None:
        """Hand each batch of new records to ``handle``, then commit it, until ``stop``."""
        try:
            while not stop.is_set():
                self._arrived.clear()
                batch = self._take()
                if not batch:
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self._arrived.wait(), POLL_S)
                    continue
                await handle(batch)
                async with self._changed:
                    for record in batch:
                        self._committed[record.topic] = record.offset + 1
                    self._changed.notify_all()
        except Exception as exc:
            async with self._changed:
                self._failure = exc
                self._changed.notify_all()
            raise

    async def send(self, records: Sequence[Outgoing]) -> None:
        """Append each record to its topic: acknowledged at once."""
        for record in records:
            self.publish(record.topic, record.key, record.value)

    async def history(
        self, topics: Sequence[str], partitions: Collection[int] | None = None
    ) -> list[MemoryRecord]:
        """Every record of ``topics`` (of ``partitions``: 0 is the only one) from the start."""
        return [
            record for topic in topics for record in self.topics.get(topic, [])
            if partitions is None or record.partition in partitions
        ]  # fmt: skip

    def assignment(self) -> frozenset[tuple[str, int]]:
        """Partition 0 of every subscribed topic."""
        topics = self._subscription.topics if self._subscription is not None else ()
        return frozenset((topic, 0) for topic in topics)

    async def latest(self, topic: str, key: str) -> bytes | None:
        """The last record keyed ``key`` on ``topic``."""
        wanted = key.encode("utf-8")
        values = [record.value for record in self.topics[topic] if record.key == wanted]
        return values[-1] if values else None

    async def close(self) -> None:
        """Forget the subscription; the topics and what was registered stay readable."""
        self._subscription = None

    # -- the test's side -------------------------------------------------------------------

    def publish(self, topic: str, key: bytes | None, value: bytes | None) -> MemoryRecord:
        """Append a record to ``topic`` as any producer would (the vendor reads it soon)."""
        log = self.topics[topic]
        record = MemoryRecord(topic, 0, len(log), key, value)
        log.append(record)
        self._arrived.set()
        return record

    @staticmethod
    def new_intent(
        *,
        market: str,
        item: str = "test item",
        max_price: Decimal = Decimal("100"),
        currency: str = "EUR",
        terms: Sequence[str] = DEFAULT_TERMS,
        quantity: int = 1,
        expires_in: timedelta = timedelta(minutes=10),
    ) -> Intent:
        """A new intent signed with fresh keys, built as the customer client builds it."""
        return build_intent(
            IntentKeys.generate(), market=market, item=item, max_price=max_price,
            currency=currency, country="DE", quantity=quantity, terms=tuple(terms),
            expires_in=expires_in,
        )  # fmt: skip

    async def send_intent(self, intent: Intent, timeout: float = HANDLED_TIMEOUT_S) -> Offer | None:
        """Put ``intent`` on its market topic; return the vendor's offer for it, or None."""
        record = self.publish(
            market_topic(intent.market), intent.intent_id.encode("ascii"), encode(intent)
        )
        await self.handled(record, timeout)
        answers = [offer for offer in self.offers() if offer.intent_id == intent.intent_id]
        return answers[-1] if answers else None

    async def send_feedback(
        self, feedback: OfferFeedback, timeout: float = HANDLED_TIMEOUT_S
    ) -> None:
        """Put ``feedback`` on its vendor's feedback topic and wait until it was handled."""
        topic = vendor_feedback_topic(feedback.vendor_id)
        record = self.publish(topic, feedback.intent_id.encode("ascii"), encode(feedback))
        await self.handled(record, timeout)

    async def send_agreement(
        self, agreement: Agreement, timeout: float = HANDLED_TIMEOUT_S
    ) -> None:
        """Put a copy of ``agreement`` on its vendor's agreements topic and wait for it."""
        topic = vendor_agreements_topic(agreement.offer.vendor_id)
        key = agreement.intent.intent_id.encode("ascii")
        await self.handled(self.publish(topic, key, encode(agreement)), timeout)

    def attestations(self) -> list[RetentionAttestation]:
        """Every deletion attestation sent so far, verified against its vendor's key."""
        return self._signed(ATTESTATIONS, RetentionAttestation)

    async def send_disclosure(
        self, disclosure: Disclosure, timeout: float = HANDLED_TIMEOUT_S
    ) -> None:
        """Put ``disclosure`` on its vendor's disclosures topic (as the processors deliver it,
        once checked) and wait until the vendor handled it."""
        topic = vendor_disclosures_topic(disclosure.vendor_id)
        key = disclosure.intent_id.encode("ascii")
        await self.handled(self.publish(topic, key, encode(disclosure)), timeout)

    def offers(self) -> list[Offer]:
        """Every offer sent so far, decoded and verified against its vendor's registered key."""
        return self._signed(OFFERS_SUBMITTED, Offer)

    def _signed(self, topic: str, model: type[S]) -> list[S]:
        """Each record of ``topic`` decoded, keyed by its intent id and verified against its
        vendor's registered key."""
        found = []
        for record in self.topics[topic]:
            message = decode(model, record.value or b"")
            profile = self.registered.get(message.vendor_id)
            if profile is None:
                raise VendorConfigError(
                    f"a {message.kind} names the unregistered vendor {message.vendor_id!r}"
                )
            verify_model(message, profile.signing_key)
            if record.key != message.intent_id.encode("ascii"):
                raise VendorConfigError(f"a {message.kind} was not keyed by its intent_id")
            found.append(message)
        return found

    async def handled(self, record: MemoryRecord, timeout: float = HANDLED_TIMEOUT_S) -> None:
        """Wait until the serving vendor committed past ``record``; re-raise its failure."""
        if self._subscription is None or record.topic not in self._subscription.topics:
            raise NotHandledError(record.topic, None)

        def done() -> bool:
            return self._failure is not None or self._committed.get(record.topic, 0) > record.offset

        async with self._changed:
            try:
                await asyncio.wait_for(self._changed.wait_for(done), timeout)
            except TimeoutError:
                raise NotHandledError(record.topic, timeout) from None
        if self._failure is not None:
            raise self._failure

    def _take(self) -> list[MemoryRecord]:
        batch = []
        for topic, start in self._next.items():
            new = self.topics[topic][start:]
            batch.extend(new)
            self._next[topic] = start + len(new)
        return batch
