"""Everything the processors write goes through one idempotent, acks=all producer.

faust's own producer is neither idempotent nor acks=all outside transactions, so processors
write their outputs here and await the acknowledgements before the input offset is committed:
at-least-once delivery with duplicates removed downstream by deterministic ids.

Records are queued per partition and handed to the producer as whole batches at `flush()`:
one `send()` per record costs more CPU than the rest of the producer's work together, and a
batch of a processor's outputs is acknowledged as one anyway.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError, MessageSizeTooLargeError
from aiokafka.partitioner import murmur2

from broker.metrics import Metrics
from broker.settings import BrokerSettings
from schemas import (
    DEAD_LETTERS,
    INTENT_STATUS,
    DeadLetter,
    IntentStatus,
    OfferFeedback,
    ReasonCode,
    StatusKind,
    encode,
    utcnow,
    vendor_feedback_topic,
)

Headers = Sequence[tuple[str, bytes]]
Queued = tuple[bytes | None, bytes, list[tuple[str, bytes]]]
BATCH_BYTES = 256 * 1024


def key_partition(key: bytes, partitions: int) -> int:
    """Kafka's default partitioner (murmur2), as every producer of intent-keyed topics uses."""
    return int(murmur2(key) & 0x7FFFFFFF) % partitions


class Outputs:
    """A lazily started producer plus helpers for the messages every processor sends.

    Shared by every agent of a worker: a `flush()` waits for everything queued before it,
    including records another agent's flush already handed over, so no agent commits input
    whose outputs are still unacknowledged.
    """

    def __init__(self, settings: BrokerSettings, metrics: Metrics | None = None) -> None:
        self._settings = settings
        self._metrics = metrics  # counters and per-destination health, when a worker owns it
        self._producer: AIOKafkaProducer | None = None
        self._lock = asyncio.Lock()
        self._submit_lock = asyncio.Lock()
        self._queued: defaultdict[tuple[str, int], list[Queued]] = defaultdict(list)
        self._in_flight: list[asyncio.Future[Any]] = []
        self._partition_counts: dict[str, int] = {}
        # one intent's outputs (statuses, feedback, the delivered offer) share its key, and
        # murmur2 is pure Python: remember recent keys' partitions
        self._key_partitions: dict[tuple[bytes, int], int] = {}
        self._spread = itertools.count()
        # once a batch failed, every later flush fails: a failed flush may have taken another
        # agent's queued records with it, and that agent must not apply state or commit
        self._failed: BaseException | None = None
        self.resets = 0  # how many times `reset` dropped the queue (see Context.commit_batch)

    async def producer(self) -> AIOKafkaProducer:
        if self._producer is None:
            async with self._lock:
                if self._producer is None:
                    producer = AIOKafkaProducer(
                        **self._settings.kafka_kwargs(),
                        acks="all",
                        enable_idempotence=True,
                        linger_ms=1,
                        max_batch_size=BATCH_BYTES,
                        request_timeout_ms=30000,
                        client_id=f"{self._settings.app_id}-outputs",
                    )
                    await producer.start()
                    self._producer = producer
        return self._producer

    async def stop(self) -> None:
        if self._producer is not None:
            try:
                await self.flush()
            finally:
                await self._producer.stop()
                self._producer = None

    async def reset(self, stop_timeout_s: float = 5.0) -> None:
        """After a failed flush, before the batch is handled again: drop what was queued and
        in flight (the retry queues it again) and start a fresh producer at the next send,
        as Kafka advises after an indefinite error. The old producer is given a short while
        to stop; a broker that is away must not hold the retry."""
        old, self._producer = self._producer, None
        self.resets += 1  # batches of other agents queued into what is dropped: they retry too
        self._queued = defaultdict(list)
        self._in_flight = []
        self._failed = None
        self._partition_counts.clear()
        if old is not None:
            with contextlib.suppress(Exception):  # the producer is abandoned either way
                await asyncio.wait_for(old.stop(), stop_timeout_s)

    async def send(
        self,
        topic: str,
        value: bytes,
        key: bytes | None,
        *,
        partition: int | None = None,
        headers: Headers | None = None,
    ) -> None:
        """Queue a record; `flush()` sends the queue and waits until Kafka acknowledged it.

        The partition is Kafka's default for the key (murmur2), so intent-keyed outputs land on
        the intent's partition number exactly as a plain `send()` would place them.
        """
        if partition is None:
            partition = await self._default_partition(topic, key)
        self._queued[(topic, partition)].append((key, value, list(headers or ())))

    async def _default_partition(self, topic: str, key: bytes | None) -> int:
        count = self._partition_counts.get(topic)
        if count is None:
            producer = await self.producer()
            count = len(await producer.partitions_for(topic))
            self._partition_counts[topic] = count
        if key is None:  # no key, no affinity: spread like the default partitioner
            return next(self._spread) % count
        cached = self._key_partitions.get((key, count))
        if cached is None:
            if len(self._key_partitions) >= 100_000:
                self._key_partitions.clear()
            cached = self._key_partitions[(key, count)] = key_partition(key, count)
        return cached

    async def flush(self) -> None:
        """Send everything queued; wait for it and for anything sent before; raise on failure.

        On failure the input is not acknowledged, so the worker replays it after a restart.
        """
        if self._failed is not None:
            raise self._failed
        async with self._submit_lock:
            queued, self._queued = self._queued, defaultdict(list)
            try:
                if queued:
                    producer = await self.producer()
                    for (topic, partition), records in queued.items():
                        await self._submit(producer, topic, partition, records)
            except BaseException as exc:
                # records of other agents were in this queue too: none of them may commit now
                self._failed = exc
                raise
            waiting = list(self._in_flight)
        if waiting:
            # asyncio.wait, not gather: other flushes wait on the same futures, and a cancelled
            # waiter (a timer stopped by a rebalance) must not cancel them for everyone
            done, _ = await asyncio.wait(waiting)
            self._in_flight = [f for f in self._in_flight if not f.done()]
            for future in done:
                if future.cancelled():
                    self._failed = KafkaError("a batch of outputs was cancelled before its ack")
                elif future.exception() is not None:
                    self._failed = future.exception()
            if self._failed is not None:
                raise self._failed

    async def _submit(
        self, producer: AIOKafkaProducer, topic: str, partition: int, records: list[Queued]
    ) -> None:
        batch = producer.create_batch()
        for key, value, headers in records:
            if batch.append(key=key, value=value, timestamp=None, headers=headers) is None:
                if batch.record_count() == 0:
                    raise MessageSizeTooLargeError(f"a record for {topic} exceeds one batch")
                self._in_flight.append(await producer.send_batch(batch, topic, partition=partition))
                batch = producer.create_batch()
                if batch.append(key=key, value=value, timestamp=None, headers=headers) is None:
                    raise MessageSizeTooLargeError(f"a record for {topic} exceeds one batch")
        if batch.record_count():
            self._in_flight.append(await producer.send_batch(batch, topic, partition=partition))

    async def status(
        self,
        intent_id: str,
        status: StatusKind,
        *,
        reason: ReasonCode | None = None,
        detail: str = "",
        agreement_id: str | None = None,
    ) -> None:
        event = IntentStatus(
            intent_id=intent_id,
            status=status,
            reason=reason,
            detail=detail[:300],
            agreement_id=agreement_id,
            at=utcnow(),
        )
        await self.send(INTENT_STATUS, encode(event), intent_id.encode())

    async def dead_letter(
        self,
        *,
        topic: str,
        partition: int,
        offset: int,
        key: bytes | None,
        value: bytes | None,
        reason: ReasonCode,
        detail: str,
    ) -> None:
        """Kafka Connect style: the record, plus headers naming its origin and the reason."""
        letter = DeadLetter.from_record(
            topic=topic,
            partition=partition,
            offset=offset,
            value=value,
            key=key,
            reason=reason,
            detail=detail,
        )
        headers = [
            ("intentcast.dlq.topic", topic.encode()),
            ("intentcast.dlq.partition", str(partition).encode()),
            ("intentcast.dlq.offset", str(offset).encode()),
            ("intentcast.dlq.reason", reason.value.encode()),
            ("intentcast.dlq.detail", detail[:500].encode()),
        ]
        await self.send(DEAD_LETTERS, encode(letter), key, headers=headers)

    async def feedback(
        self,
        *,
        vendor_id: str,
        offer_id: str,
        intent_id: str,
        reason: ReasonCode | None,
        detail: str = "",
    ) -> None:
        event = OfferFeedback(
            offer_id=offer_id[:64],
            intent_id=intent_id[:64],
            vendor_id=vendor_id,
            reason=reason,
            detail=detail[:300],
            at=utcnow(),
        )
        await self.send(vendor_feedback_topic(vendor_id), encode(event), intent_id.encode())
