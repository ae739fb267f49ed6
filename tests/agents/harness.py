"""One test, two transports: the SDK's behaviour must not depend on what carries the records.

`MemoryHarness` serves a vendor on the SDK's `InMemoryTransport`; `KafkaHarness` on the
real session broker, with the real processors registering it. Both answer the same three
questions a test asks: the offer for an intent (or None), and "was this feedback / agreement
handled", each returning only once the vendor committed the record.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any, Protocol

from aiokafka import AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from intentcast.agents import (
    Agreement,
    ClientSettings,
    InMemoryTransport,
    Intent,
    KafkaTransport,
    Offer,
    OfferFeedback,
    Vendor,
    VendorRuntime,
)
from intentcast.schemas.canonical import decode, encode
from intentcast.schemas.crypto import verify_model
from intentcast.schemas.topics import OFFERS_SUBMITTED, market_topic
from tests.conftest import wait_for
from tests.watchers import TopicWatcher

MakeTopics = Callable[..., Awaitable[None]]


class Harness(Protocol):
    def serving(self, vendor: Vendor) -> AbstractAsyncContextManager[VendorRuntime]: ...
    async def send_intent(self, intent: Intent) -> Offer | None: ...
    async def send_feedback(self, feedback: OfferFeedback) -> None: ...
    async def send_agreement(self, agreement: Agreement) -> None: ...


class MemoryHarness:
    def __init__(self) -> None:
        self.transport = InMemoryTransport()

    def serving(self, vendor: Vendor) -> AbstractAsyncContextManager[VendorRuntime]:
        return vendor.serving(self.transport)

    async def send_intent(self, intent: Intent) -> Offer | None:
        return await self.transport.send_intent(intent)

    async def send_feedback(self, feedback: OfferFeedback) -> None:
        await self.transport.send_feedback(feedback)

    async def send_agreement(self, agreement: Agreement) -> None:
        await self.transport.send_agreement(agreement)


class KafkaHarness:
    """Sends with a plain producer and waits for the vendor group's commit, read by admin."""

    def __init__(
        self,
        bootstrap: str,
        make_topics: MakeTopics,
        producer: AIOKafkaProducer,
        admin: AIOKafkaAdminClient,
        tail: Callable[[str], Awaitable[TopicWatcher]],
        partitions: int,
    ) -> None:
        self._partitions = partitions
        self._bootstrap, self._make_topics = bootstrap, make_topics
        self._producer, self._admin, self._tail = producer, admin, tail
        self._offers: TopicWatcher | None = None
        self._vendor: Vendor | None = None

    @asynccontextmanager
    async def serving(self, vendor: Vendor) -> AsyncIterator[VendorRuntime]:
        topics = [*vendor.topics_for_markets, vendor.feedback_topic, vendor.agreements_topic]
        await self._make_topics(*topics, partitions=self._partitions)
        await self._make_topics(vendor.profile_topic, partitions=1)
        self._vendor = vendor
        self._offers = await self._tail(OFFERS_SUBMITTED)
        transport = KafkaTransport(ClientSettings(bootstrap=self._bootstrap))
        async with vendor.serving(transport) as runtime:
            yield runtime

    async def send_intent(self, intent: Intent) -> Offer | None:
        vendor = self._serving()
        await self._send(market_topic(intent.market), intent.intent_id, encode(intent))
        found = [
            decode(Offer, record.value)
            for record in await self._read_all_offers()
            if record.key == intent.intent_id.encode()
        ]
        for offer in found:
            verify_model(offer, vendor.key.public_key)
        return found[-1] if found else None

    async def send_feedback(self, feedback: OfferFeedback) -> None:
        await self._send(self._serving().feedback_topic, feedback.intent_id, encode(feedback))

    async def send_agreement(self, agreement: Agreement) -> None:
        topic = self._serving().agreements_topic
        await self._send(topic, agreement.intent.intent_id, encode(agreement))

    def _serving(self) -> Vendor:
        assert self._vendor is not None, "serve a vendor first"
        return self._vendor

    async def _send(self, topic: str, key: str, value: bytes) -> None:
        """Produce, then wait until the vendor's group committed past the record."""
        meta = await self._producer.send_and_wait(topic, value, key=key.encode())
        tp = TopicPartition(topic, meta.partition)
        group = self._serving().group_id

        async def committed() -> bool:
            offsets = await self._admin.list_consumer_group_offsets(group, partitions=[tp])
            return tp in offsets and offsets[tp].offset > meta.offset

        await wait_for(committed, timeout=60, interval=0.2, what=f"the commit past {topic}")

    async def _read_all_offers(self) -> list[Any]:
        """Read the offers topic up to its end: the offers were acknowledged before the commit."""
        offers = self._offers
        assert offers is not None, "serve a vendor first"
        consumer = offers.consumer
        tps = list(consumer.assignment())
        ends = await consumer.end_offsets(tps)

        async def at_end() -> bool:
            await offers.poll()
            positions = [await consumer.position(tp) for tp in ends]
            return all(pos >= end for pos, end in zip(positions, ends.values(), strict=True))

        await wait_for(at_end, what="the end of the offers topic")
        return offers.records
