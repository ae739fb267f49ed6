"""What the kit reads from Kafka: the vendor's registry record, and raw offers as sent.

Both are read without a consumer group (partitions assigned by hand), so the kit commits
nothing and disturbs no group; in secure mode that needs Read on the registry (every
principal) and on `intentcast.offers.submitted` (only the processors and the operator).
"""

from __future__ import annotations

import contextlib
from collections.abc import Collection

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.errors import KafkaError

from intentcast.agents.conformance.checks import ObservedOffer, intent_id_of
from intentcast.agents.errors import TopicMissingError
from intentcast.agents.kafka import kafka_errors, make_consumer, random_client_id
from intentcast.agents.settings import ClientSettings
from intentcast.schemas.partitioning import record_key
from intentcast.schemas.topics import OFFERS_SUBMITTED, VENDOR_REGISTRY

__all__ = ["OfferReader", "RegistryReader", "TopicReader"]

POLL_MS = 300


class TopicReader:
    """Every partition of one topic, from the start or from its end at :meth:`start`."""

    def __init__(self, settings: ClientSettings, topic: str, *, from_end: bool) -> None:
        self.topic = topic
        self._from_end = from_end
        self._settings = settings
        self._consumer: AIOKafkaConsumer = make_consumer(settings, random_client_id("conformance"))
        self.partitions = 0

    async def _partitions(self) -> set[int]:
        """The topic's partitions; a consumer's metadata lists only topics it consumes."""
        probe = AIOKafkaProducer(
            client_id=random_client_id("conformance"), **self._settings.kafka_kwargs()
        )
        await probe.start()
        try:
            parts: set[int] = await probe.partitions_for(self.topic)
        finally:
            await probe.stop()
        if not parts:
            raise TopicMissingError(self.topic)
        return parts

    async def start(self) -> None:
        consumer = self._consumer
        with kafka_errors(f"reading {self.topic}", topic=self.topic):
            parts = await self._partitions()
            await consumer.start()
            tps = [TopicPartition(self.topic, p) for p in sorted(parts)]
            consumer.assign(tps)
            if self._from_end:
                for tp, end in (await consumer.end_offsets(tps)).items():
                    consumer.seek(tp, end)
            else:
                await consumer.seek_to_beginning(*tps)
        self.partitions = len(tps)

    async def poll(self) -> list[tuple[bytes | None, bytes, int, int]]:
        """New records as (key, value, partition, timestamp in ms)."""
        with kafka_errors(f"reading {self.topic}", topic=self.topic):
            batch = await self._consumer.getmany(timeout_ms=POLL_MS)
        return [
            (r.key, r.value or b"", r.partition, r.timestamp)
            for records in batch.values()
            for r in records
        ]

    async def close(self) -> None:
        with contextlib.suppress(KafkaError):
            await self._consumer.stop()


class RegistryReader(TopicReader):
    """The latest registry record of one vendor (the processors re-encode accepted profiles)."""

    def __init__(self, settings: ClientSettings, vendor_id: str) -> None:
        super().__init__(settings, VENDOR_REGISTRY, from_end=False)
        self._key = record_key(vendor_id)
        self.latest: bytes | None = None

    async def read(self) -> bytes | None:
        for key, value, _, _ in await self.poll():
            if key == self._key:
                self.latest = value
        return self.latest


class OfferReader(TopicReader):
    """Offers sent after :meth:`start` that name one of the kit's intents, as raw records."""

    def __init__(self, settings: ClientSettings) -> None:
        super().__init__(settings, OFFERS_SUBMITTED, from_end=True)
        self.intent_ids: Collection[str] = ()
        self.seen: list[ObservedOffer] = []

    async def read(self) -> list[ObservedOffer]:
        new = [
            ObservedOffer(key, value, partition, timestamp)
            for key, value, partition, timestamp in await self.poll()
            if intent_id_of(key, value) in self.intent_ids
        ]
        self.seen += new
        return new
