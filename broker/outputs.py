"""Everything the processors write goes through one idempotent, acks=all producer.

faust's own producer is neither idempotent nor acks=all outside transactions, so processors
write their outputs here and await the acknowledgements before the input offset is committed:
at-least-once delivery with duplicates removed downstream by deterministic ids.

Records are queued per partition and handed to the producer as whole batches at `flush()`:
one `send()` per record costs more CPU than the rest of the producer's work together, and a
batch of a processor's outputs is acknowledged as one anyway.

A vendor's own topic (`intentcast.vendor.<id>.*`) that is missing, not authorised or refuses
a record's size fails nobody's flush: its records are dead-lettered (`destination_unavailable`,
`destination_too_large`) and acknowledged there, every other record of the flush goes on as
usual, and the topic is skipped for a while (`broker.destinations`). Transient faults (Kafka
away, a leader moving) still fail the flush, as before.

Vendor topics have a producer of their own (same settings, but a 5 s request timeout). aiokafka
has no call to take back a batch queued for a topic that has since been deleted: the batch
stays until the request timeout expires it, the producer refreshes its metadata in a tight loop
meanwhile (measured: about 1,200 requests a second), and `stop()` waits for it. With the system
topics' 30 s that was half a core for 30 s and a 30 s shutdown; with 5 s it is little, and a
producer replaced after a refusal (see `_diagnose`) never holds a batch of the system's topics,
whose partitions must keep their order (the agreement log's hash chain).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import itertools
import time
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final

from aiokafka import AIOKafkaProducer
from aiokafka.errors import (
    KafkaError,
    MessageSizeTooLargeError,
    OutOfOrderSequenceNumber,
)

from intentcast.broker.destinations import (
    Cause,
    DestinationFault,
    DestinationHealth,
    Probe,
    is_vendor_scoped,
    needs_probe,
    probe,
    quiet_client_logs,
    refused,
)
from intentcast.broker.metrics import Metrics
from intentcast.broker.settings import BrokerSettings
from intentcast.schemas import (
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
from intentcast.schemas.partitioning import key_partition  # the contract's, used once

Headers = Sequence[tuple[str, bytes]]
Queued = tuple[bytes | None, bytes, list[tuple[str, bytes]]]
BATCH_BYTES = 256 * 1024
SUSPECT_AFTER_S: Final = 1.0
"""A vendor topic's batch not acknowledged by then has its topic checked (one metadata request):
a batch queued for a deleted topic would otherwise fail only after aiokafka's 30 s timeout."""
SEND_WAIT_S: Final = 2.0
"""How long handing a batch for a vendor topic may take before that topic is checked: aiokafka
waits 30 s for the metadata of a missing topic, or for a stuck batch of the same partition."""
VENDOR_REQUEST_TIMEOUT_MS: Final = 5_000
MISSING_CONFIRM_S: Final = (0.25, 0.5, 1.0, 1.5)
"""Pauses before asking again about a topic the cluster called missing: a topic created a
moment ago was still unknown to the secure test node's broker a second after its creation had
returned (a loaded 2-core machine), so a fault is declared only after 3 s of "missing"."""


def _cancelled() -> KafkaError:
    return KafkaError("a batch of outputs was cancelled before its ack")


def _retrieve(future: asyncio.Future[None]) -> None:
    """Nobody may be left to wait for a settled batch (a reset dropped it): no asyncio warning."""
    if not future.cancelled():
        future.exception()


@dataclass(eq=False)
class _Sent:
    """One batch handed to a producer, until its records are acknowledged somewhere.

    `settled` is what flushes wait for: done when the records are acknowledged on their topic,
    or on the dead-letter topic (or resent) instead; failed on a fault no dead letter covers.
    """

    topic: str
    partition: int
    records: list[Queued]
    producer: AIOKafkaProducer
    delivery: asyncio.Future[Any]
    settled: asyncio.Future[None]
    at: float
    vendor: bool
    resend: bool = False  # already the second try after an out-of-order sequence
    given_up: bool = False  # its records went elsewhere: its own acknowledgement no longer counts
    checking: bool = False  # a diagnosis is running


class _Resend:
    """The batch failed only because an earlier refused batch left its producer's sequence
    numbers for that partition ahead of the broker's."""


_RESEND: Final = _Resend()


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
        self._vendor_producer: AIOKafkaProducer | None = None  # for vendor topics only
        self._lock = asyncio.Lock()
        self._submit_lock = asyncio.Lock()
        self._queued: defaultdict[tuple[str, int], list[Queued]] = defaultdict(list)
        self._in_flight: list[_Sent] = []
        self._partition_counts: dict[str, int] = {}
        # one intent's outputs (statuses, feedback, the delivered offer) share its key, and
        # murmur2 is pure Python: remember recent keys' partitions
        self._key_partitions: dict[tuple[bytes, int], int] = {}
        self._spread = itertools.count()
        # once a batch failed, every later flush fails: a failed flush may have taken another
        # agent's queued records with it, and that agent must not apply state or commit
        self._failed: BaseException | None = None
        self.resets = 0  # how many times `reset` dropped the queue (see Context.commit_batch)
        self.health = DestinationHealth(metrics, settings.destination_retry_seconds)
        self._checks: dict[str, asyncio.Task[Probe]] = {}  # one metadata request per topic
        self._found: dict[str, float] = {}  # vendor topic -> when a check last found it
        self._tasks: set[asyncio.Task[None]] = set()  # diagnoses of vendor batches
        self._stopping: set[asyncio.Task[None]] = set()  # replaced producers, stopping

    async def producer(self) -> AIOKafkaProducer:
        """The producer of the system's own topics (and of dead letters)."""
        if self._producer is None:
            async with self._lock:
                if self._producer is None:
                    self._producer = await self._start_producer(30_000, "outputs")
        return self._producer

    async def _producer_for(self, topic: str) -> AIOKafkaProducer:
        if not is_vendor_scoped(topic):
            return await self.producer()
        if self._vendor_producer is None:
            async with self._lock:
                if self._vendor_producer is None:
                    self._vendor_producer = await self._start_producer(
                        VENDOR_REQUEST_TIMEOUT_MS, "outputs-vendors"
                    )
        return self._vendor_producer

    async def _start_producer(self, request_timeout_ms: int, role: str) -> AIOKafkaProducer:
        producer = AIOKafkaProducer(
            **self._settings.kafka_kwargs(),
            acks="all",
            enable_idempotence=True,
            linger_ms=1,
            max_batch_size=BATCH_BYTES,
            request_timeout_ms=request_timeout_ms,
            client_id=f"{self._settings.app_id}-{role}",
        )
        await producer.start()
        quiet_client_logs(self.health.retry_s)
        return producer

    async def stop(self) -> None:
        try:
            if self._producer is not None or self._vendor_producer is not None:
                await self.flush()
        finally:
            for producer in (self._producer, self._vendor_producer):
                if producer is not None:
                    await producer.stop()
            self._producer = self._vendor_producer = None
            await self._finish_background(timeout_s=5.0)

    async def reset(self, stop_timeout_s: float = 5.0) -> None:
        """After a failed flush, before the batch is handled again: drop what was queued and
        in flight (the retry queues it again) and start a fresh producer at the next send,
        as Kafka advises after an indefinite error. The old producer is given a short while
        to stop; a broker that is away must not hold the retry."""
        old = [p for p in (self._producer, self._vendor_producer) if p is not None]
        self._producer = self._vendor_producer = None
        self.resets += 1  # batches of other agents queued into what is dropped: they retry too
        self._queued = defaultdict(list)
        self._in_flight = []
        self._failed = None
        self._partition_counts.clear()
        for producer in old:
            with contextlib.suppress(Exception):  # the producer is abandoned either way
                await asyncio.wait_for(producer.stop(), stop_timeout_s)

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
        the intent's partition number exactly as a plain `send()` would place them. A record
        for a vendor topic known to be unhealthy is queued as a dead letter instead.
        """
        if is_vendor_scoped(topic):
            fault = self.health.blocked(topic)
            if fault is None and partition is None and topic not in self._partition_counts:
                fault = await self._learn(topic)
            if fault is not None:
                if partition is None:
                    partition = self._known_partition(topic, key)
                await self._queue_letters(topic, partition, [(key, value, [])], fault)
                return
        if partition is None:
            partition = await self._default_partition(topic, key)
        self._queued[(topic, partition)].append((key, value, list(headers or ())))

    def assume_partitions(self, counts: dict[str, int]) -> None:
        """Partition counts known beforehand, so `send` asks Kafka for none of them: what lets
        a handler run in a unit test with no broker (nothing reaches Kafka before `flush`)."""
        self._partition_counts.update(counts)

    def pending(self) -> list[tuple[str, int, bytes | None, bytes]]:
        """What is queued and not yet flushed, as (topic, partition, key, value), in order."""
        return [
            (topic, partition, key, value)
            for (topic, partition), records in self._queued.items()
            for key, value, _ in records
        ]

    async def _learn(self, topic: str) -> DestinationFault | None:
        """A vendor topic's partition count, from one metadata request rather than
        `partitions_for` (30 s for a missing topic); no answer falls back to the latter."""
        result = await self._check(topic)
        if result.fault is not None:
            self.health.failed(result.fault)
        return result.fault

    def _known_partition(self, topic: str, key: bytes | None) -> int:
        """Where a dead-lettered record was meant to go, as far as is known (0 if unknown)."""
        count = self._partition_counts.get(topic)
        return key_partition(key, count) if count and key is not None else 0

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
        A vendor topic's destination fault is not a failure: those records are acknowledged
        as dead letters instead.
        """
        if self._failed is not None:
            raise self._failed
        async with self._submit_lock:
            queued, self._queued = self._queued, defaultdict(list)
            try:
                for (topic, partition), records in queued.items():
                    await self._submit(topic, partition, records)
            except BaseException as exc:
                # records of other agents were in this queue too: none of them may commit now
                self._failed = exc
                raise
            waiting = list(self._in_flight)
        if waiting:
            await self._wait(waiting)

    async def _wait(self, waiting: list[_Sent]) -> None:
        pending = {sent.settled for sent in waiting}
        while pending:
            vendor = any(s.vendor and not s.settled.done() for s in waiting)
            # asyncio.wait, not gather: other flushes wait on the same futures, and a cancelled
            # waiter (a timer stopped by a rebalance) must not cancel them for everyone
            _, pending = await asyncio.wait(pending, timeout=SUSPECT_AFTER_S if vendor else None)
            if pending:
                self._suspect()
        self._in_flight = [s for s in self._in_flight if not s.settled.done()]
        for sent in waiting:
            if sent.settled.cancelled():
                self._failed = _cancelled()
            elif sent.settled.exception() is not None:
                self._failed = sent.settled.exception()
        if self._failed is not None:
            raise self._failed

    async def _submit(self, topic: str, partition: int, records: list[Queued]) -> list[_Sent]:
        """Hand records to the producer as batches (call with `_submit_lock` held)."""
        vendor = is_vendor_scoped(topic)
        if vendor and (fault := self.health.blocked(topic)) is not None:
            return await self._submit_letters(topic, partition, records, fault)
        producer = await self._producer_for(topic)
        out: list[_Sent] = []
        batch, first = producer.create_batch(), 0
        for i, (key, value, headers) in enumerate(records):
            if batch.append(key=key, value=value, timestamp=None, headers=headers) is not None:
                continue
            if batch.record_count():
                out += await self._hand_over(producer, topic, partition, batch, records[first:i])
                batch, first = producer.create_batch(), i
                if batch.append(key=key, value=value, timestamp=None, headers=headers) is not None:
                    continue
            # this record alone is larger than a whole batch
            if not vendor:
                raise MessageSizeTooLargeError(f"a record for {topic} exceeds one batch")
            fault = DestinationFault(topic, Cause.TOO_LARGE, MessageSizeTooLargeError.__name__)
            self.health.failed(fault)
            out += await self._submit_letters(topic, partition, [records[i]], fault)
            first = i + 1
        if batch.record_count():
            out += await self._hand_over(producer, topic, partition, batch, records[first:])
        return out

    async def _hand_over(
        self,
        producer: AIOKafkaProducer,
        topic: str,
        partition: int,
        batch: Any,
        records: list[Queued],
        resend: bool = False,
    ) -> list[_Sent]:
        vendor = is_vendor_scoped(topic)
        if not vendor:
            delivery = await producer.send_batch(batch, topic, partition=partition)
        else:
            handed = await self._hand_over_vendor(producer, topic, partition, batch)
            if isinstance(handed, DestinationFault):
                self.health.failed(handed)
                return await self._submit_letters(topic, partition, records, handed)
            delivery = handed
        settled: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        settled.add_done_callback(_retrieve)
        sent = _Sent(
            topic, partition, records, producer, delivery, settled, time.monotonic(), vendor, resend
        )
        self._in_flight.append(sent)
        delivery.add_done_callback(functools.partial(self._delivered, sent))
        return [sent]

    async def _hand_over_vendor(
        self, producer: AIOKafkaProducer, topic: str, partition: int, batch: Any
    ) -> asyncio.Future[Any] | DestinationFault:
        """`send_batch` for a vendor topic, without waiting 30 s for a missing one."""
        recently = time.monotonic() - self._found.get(topic, -1e9) < SUSPECT_AFTER_S
        if producer.client.cluster.partitions_for_topic(topic) is None and not recently:
            # the producer does not know the topic (any more): send_batch would poll for it
            result = await self._check(topic)
            if result.fault is not None:
                return result.fault
        task = asyncio.ensure_future(producer.send_batch(batch, topic, partition=partition))
        done, _ = await asyncio.wait({task}, timeout=SEND_WAIT_S)
        if not done:
            result = await self._check(topic)
            # cancelling is safe until the batch is in the accumulator, and once it is the
            # task is done (nothing awaits between the two)
            if result.fault is not None and task.cancel():
                with contextlib.suppress(asyncio.CancelledError):
                    await task
                return result.fault
        try:
            delivery: asyncio.Future[Any] = await task
        except KafkaError as exc:
            fault = refused(topic, exc)
            if fault is None and needs_probe(exc):
                fault = (await self._check(topic)).fault
            if fault is None:
                raise
            return fault
        return delivery

    async def _submit_letters(
        self, topic: str, partition: int, records: list[Queued], fault: DestinationFault
    ) -> list[_Sent]:
        """Hand the dead letters of records a destination refused to the producer."""
        by_partition: defaultdict[int, list[Queued]] = defaultdict(list)
        for key, value, _ in records:
            letter, headers = self._letter(
                topic, partition, 0, key, value, fault.reason, fault.detail
            )
            by_partition[await self._default_partition(DEAD_LETTERS, key)].append(
                (key, letter, headers)
            )
        self.health.dead_lettered(fault, len(records))
        out: list[_Sent] = []
        for dead_letters_partition, letters in by_partition.items():
            out += await self._submit(DEAD_LETTERS, dead_letters_partition, letters)
        return out

    async def _queue_letters(
        self, topic: str, partition: int, records: list[Queued], fault: DestinationFault
    ) -> None:
        for key, value, _ in records:
            await self.dead_letter(
                topic=topic,
                partition=partition,
                offset=0,
                key=key,
                value=value,
                reason=fault.reason,
                detail=fault.detail,
            )
        self.health.dead_lettered(fault, len(records))

    # -- what a vendor batch's failure means ---------------------------------------------------

    def _delivered(self, sent: _Sent, future: asyncio.Future[Any]) -> None:
        """The producer's verdict on a batch (a callback: nothing may await here)."""
        exc = None if future.cancelled() else future.exception()  # retrieved in any case
        if sent.given_up or sent.settled.done():
            return
        if future.cancelled():
            sent.settled.set_exception(_cancelled())
            return
        if exc is None:
            sent.settled.set_result(None)
            if sent.vendor:
                self.health.recovered(sent.topic)
            return
        if not sent.vendor:
            sent.settled.set_exception(exc)
            return
        if refused(sent.topic, exc) is not None:
            # at once, before another flush hands this producer a batch for the same partition
            self._replace_producer(sent.producer)
        if not sent.checking:
            self._spawn(self._diagnose(sent))

    def _suspect(self) -> None:
        """Check the topics of vendor batches that take suspiciously long."""
        now = time.monotonic()
        for sent in self._in_flight:
            if (
                sent.vendor
                and not (sent.checking or sent.given_up or sent.delivery.done())
                and now - sent.at >= SUSPECT_AFTER_S
            ):
                self._spawn(self._diagnose(sent))

    def _spawn(self, coroutine: Any) -> None:
        task = asyncio.ensure_future(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _diagnose(self, sent: _Sent) -> None:
        """Settle a vendor batch that failed or takes too long: dead letters for a destination
        fault, a resend after an out-of-order sequence, the error itself for anything else;
        nothing yet if its topic exists and it is merely slow."""
        sent.checking = True
        try:
            verdict = await self._verdict(sent)
            if verdict is None or sent.settled.done():
                return
            sent.given_up = True
            if isinstance(verdict, _Resend):
                self._replace_producer(sent.producer)
                async with self._submit_lock:
                    producer = await self._producer_for(sent.topic)
                    batch = producer.create_batch()
                    for key, value, headers in sent.records:
                        batch.append(key=key, value=value, timestamp=None, headers=headers)
                    instead = await self._hand_over(
                        producer, sent.topic, sent.partition, batch, sent.records, resend=True
                    )
            else:
                # the producer counted a refused batch's sequence numbers, the broker did not:
                # every later batch of this producer to the partition would fail
                # OutOfOrderSequenceNumber (measured with aiokafka 0.14 and Kafka 4.1), and only
                # a new producer id starts the partition's sequence afresh. A producer that sent
                # to a deleted topic keeps asking for it at every metadata refresh (and logs an
                # error each time): replaced too, once its given-up batch has expired
                self._replace_producer(sent.producer)
                self.health.failed(verdict)
                instead = await self._instead(sent, verdict)
            if instead:
                await asyncio.wait([s.settled for s in instead])
            failed = [s.settled for s in instead if s.settled.cancelled() or s.settled.exception()]
            if failed:
                error = None if failed[0].cancelled() else failed[0].exception()
                sent.settled.set_exception(error or KafkaError("a dead letter was cancelled"))
            else:
                sent.settled.set_result(None)
        except Exception as exc:
            if not sent.settled.done():
                sent.settled.set_exception(exc)
        finally:
            sent.checking = False

    async def _verdict(self, sent: _Sent) -> DestinationFault | _Resend | None:
        """None: keep waiting, or `settled` already says what happened."""
        while not sent.settled.done():
            if sent.delivery.cancelled():
                return None  # settled by `_delivered`
            error = sent.delivery.exception() if sent.delivery.done() else None
            if error is not None:
                fault = refused(sent.topic, error)
                if fault is not None:
                    return fault
                if isinstance(error, OutOfOrderSequenceNumber) and not sent.resend:
                    return _RESEND
                if needs_probe(error):
                    fault = (await self._check(sent.topic)).fault
                    if fault is not None:
                        return fault
                sent.settled.set_exception(error)  # transient: the flush fails, as always
                return None
            # still waiting for its acknowledgement
            fault = (await self._check(sent.topic)).fault
            if fault is not None:
                # given up here: the batch stays queued in aiokafka until its request timeout
                # expires it (5 s after it was handed over), as aiokafka has no call to take it
                # back. Should the topic be re-created meanwhile, its records arrive there as
                # well as in the dead letters (at least once).
                return fault
            if not sent.delivery.done():
                return None  # the topic exists: a slow acknowledgement, not a fault
        return None

    async def _instead(self, sent: _Sent, fault: DestinationFault) -> list[_Sent]:
        if fault.cause is Cause.TOO_LARGE and len(sent.records) > 1:
            # the broker measures the whole batch against the topic's max.message.bytes: one
            # record a batch, so only the records that are too large are dead-lettered. One
            # after the other: each refusal replaces the producer, and a record already handed
            # to the replaced one would fail on its sequence number
            out: list[_Sent] = []
            for record in sent.records:
                async with self._submit_lock:
                    single = await self._submit(sent.topic, sent.partition, [record])
                if single:
                    await asyncio.wait([s.settled for s in single])
                out += single
            return out
        async with self._submit_lock:
            return await self._submit_letters(sent.topic, sent.partition, sent.records, fault)

    async def _check(self, topic: str) -> Probe:
        """What the cluster says about a topic now (concurrent checks of one topic share one
        metadata request)."""
        task = self._checks.get(topic)
        if task is None:
            task = asyncio.ensure_future(self._probe(topic))
            self._checks[topic] = task
            task.add_done_callback(lambda _: self._checks.pop(topic, None))
        return await asyncio.shield(task)

    async def _probe(self, topic: str) -> Probe:
        producer = await self.producer()
        result = await probe(producer, topic)
        for pause in MISSING_CONFIRM_S:
            if result.fault is None or result.fault.cause is not Cause.TOPIC_MISSING:
                break
            # a topic created a moment ago (a vendor registering) is briefly unknown to the
            # broker that answers: only a topic that stays missing is a destination fault
            await asyncio.sleep(pause)
            result = await probe(producer, topic)
        if result.exists:
            self._found[topic] = time.monotonic()
            self._partition_counts[topic] = result.partitions  # a re-created topic: anew
        return result

    def _replace_producer(self, producer: AIOKafkaProducer) -> None:
        """The next vendor batch goes to a fresh producer; this one stops once its batches are
        done (all of them for vendor topics: no partition whose order matters)."""
        if self._vendor_producer is not producer:
            return  # replaced already
        self._vendor_producer = None
        if self._metrics is not None:
            self._metrics.count("outputs.producers_replaced")
        task = asyncio.ensure_future(self._stop_quietly(producer))
        self._stopping.add(task)
        task.add_done_callback(self._stopping.discard)

    @staticmethod
    async def _stop_quietly(producer: AIOKafkaProducer) -> None:
        # stop() waits for every batch still queued in the producer, then closes it
        with contextlib.suppress(Exception):
            await producer.stop()

    async def _finish_background(self, timeout_s: float) -> None:
        for task in list(self._tasks):
            task.cancel()
        background = self._tasks | self._stopping
        if background:
            _, late = await asyncio.wait(background, timeout=timeout_s)
            for task in late:
                task.cancel()

    # -- the messages every processor sends ----------------------------------------------------

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
        letter, headers = self._letter(topic, partition, offset, key, value, reason, detail)
        await self.send(DEAD_LETTERS, letter, key, headers=headers)

    @staticmethod
    def _letter(
        topic: str,
        partition: int,
        offset: int,
        key: bytes | None,
        value: bytes | None,
        reason: ReasonCode,
        detail: str,
    ) -> tuple[bytes, list[tuple[str, bytes]]]:
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
        return encode(letter), headers

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
