"""Input batches nothing can decode: located after the crash they cause, skipped on restart.

aiokafka decodes a fetched batch lazily, inside faust's fetch loop. A batch whose CRC fails
(bytes corrupted on a broker's disk: brokers serve stored bytes without checking them again),
in a codec the client lacks, or whose compressed payload its codec rejects raises there, out of
reach of any handler: faust crashes the worker. The position does not move on that exception, so
a restarted worker fetches the same batch and crashes again, for ever. Instead, with public API
of faust and aiokafka only:

1. After the crash (`scan_after_crash`, called by `broker.worker` when the app's crash reason is
   `Fault.UNDECODABLE`): a plain, group-less consumer reads every input partition from the
   group's committed offset to its end. Where a read raises, it reads again one record at a time
   (the position then stops exactly at the bad batch), and seeks one offset further until a read
   succeeds: the broker returns the whole batch that holds an offset, so that read is the first
   one past the batch. The ranges [first, end) go to `<datadir>/quarantine.json`; the worker
   still exits 1.
2. On restart (`Quarantine.skip_assigned`, on faust's `on_rebalance_complete`): for each
   assigned partition the file names, the records from the committed offset to the end of its
   last range are read with the same plain reads and handed to the topic's agent loop as
   batches, like any batch (outputs acknowledged before they count as done); each undecodable
   range becomes one dead letter (`undecodable_batch`, the offsets in its detail) and is marked
   done in the checkpoint; the done prefix is committed past the range, faust's consumer is
   sought there, and the range leaves the file.

Why `on_rebalance_complete` and not the assignment hook: faust pauses every assigned partition
at an assignment and, once its table recovery is over, sends `on_rebalance_complete`, then
resumes them all and seeks each to its committed offset. A pause or a seek made at the
assignment would be undone; during this signal the partitions are still paused, and a commit
past the range is what faust's own seek then lands on.

The handlers of offers, acceptances and cancels wait until the same partition of the topics
they read from has been replayed (`broker.replay`), and faust's streams are paused while this
runs: those partitions are read and handed to their agents alongside
(`broker.runtime.upstream`).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition

from intentcast.broker.context import Context, OutputsResetError
from intentcast.broker.kafka_meta import committed_offsets, group_positions, topic_partitions
from intentcast.broker.processors.incoming import Incoming, dead_letter
from intentcast.broker.runtime.batch_loop import BACKOFF_S, BATCH, AgentLoop
from intentcast.broker.runtime.checkpoint import Checkpoint
from intentcast.broker.runtime.faults import Fault, classify
from intentcast.broker.runtime.holes import HoleFiller
from intentcast.broker.runtime.upstream import ORDER as _ORDER
from intentcast.broker.runtime.upstream import UPSTREAM
from intentcast.broker.settings import BrokerSettings
from intentcast.schemas import ReasonCode

log = logging.getLogger("intentcast.broker.runtime.quarantine")
Key = tuple[str, int]
FILE_NAME = "quarantine.json"
SCAN_BUDGET_S = 30.0  # the exit scan, all partitions together
POLL_MS = 500
CATCH_UP_S = 0.2  # how often the partitions a skip waits for are read again


@dataclass(frozen=True)
class BadRange:
    """Offsets [first, end) of one partition that no read decodes (a batch, or several)."""

    topic: str
    partition: int
    first: int
    end: int
    error: str

    @property
    def key(self) -> Key:
        return (self.topic, self.partition)

    def offsets(self) -> str:
        return f"offsets {self.first}..{self.end - 1}"

    def __str__(self) -> str:
        return f"{self.topic}[{self.partition}] {self.offsets()}"


def quarantine_path(settings: BrokerSettings) -> Path:
    return Path(settings.datadir) / FILE_NAME


def load_ranges(path: Path) -> list[BadRange]:
    """The ranges a worker wrote before; none if there is no file. A file that cannot be read
    is reported and ignored: the next crash on the batch writes a fresh one."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return [BadRange(**entry) for entry in data["ranges"]]
    except FileNotFoundError:
        return []
    except (OSError, ValueError, KeyError, TypeError) as exc:
        log.error("%s could not be read (%r); ignoring it", path, exc)
        return []


def save_ranges(path: Path, ranges: Iterable[BadRange]) -> None:
    """Written whole and renamed into place: a worker killed meanwhile leaves the old file."""
    unique = sorted(set(ranges), key=lambda r: (r.topic, r.partition, r.first, r.end))
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps({"ranges": [asdict(r) for r in unique]}, indent=1) + "\n")
    os.replace(tmp, path)


# -- reading past what cannot be decoded ------------------------------------------------------


def _undecodable(exc: BaseException) -> bool:
    """Decided by `faults.classify`: connection errors stay transient and are raised."""
    return classify(exc, in_record=False) is Fault.UNDECODABLE


def describe(exc: BaseException) -> str:
    """The exception in one line, its class named once (aiokafka's errors name it already)."""
    text = str(exc)
    name = type(exc).__name__
    return text if name in text else f"{name}: {text}"


def plain_consumer(settings: BrokerSettings, purpose: str) -> AIOKafkaConsumer:
    return AIOKafkaConsumer(
        **settings.kafka_kwargs(),
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        client_id=f"{settings.app_id}-{purpose}",
    )


def _check(deadline: float, tp: TopicPartition, position: int) -> None:
    if asyncio.get_running_loop().time() > deadline:
        raise TimeoutError(f"{tp.topic}[{tp.partition}]: time budget spent at offset {position}")


async def walk(
    consumer: AIOKafkaConsumer, tp: TopicPartition, start: int, stop: int, deadline: float
) -> AsyncIterator[ConsumerRecord[bytes, bytes] | BadRange]:
    """The records of `tp` in [start, stop), in order, with a `BadRange` where none decodes.

    `consumer` is started and assigned `tp`. Whole fetches are read while they decode; a fetch
    that raises returned nothing and left the position where it was, so it is read again one
    record at a time: the position then stops right at the batch that raises.
    """
    consumer.seek(tp, start)
    one_by_one = False
    while (position := await consumer.position(tp)) < stop:
        _check(deadline, tp, position)
        try:
            got = await consumer.getmany(
                tp, timeout_ms=POLL_MS, max_records=1 if one_by_one else None
            )
        except Exception as exc:
            if not _undecodable(exc):
                raise
            if not one_by_one:
                one_by_one = True
                consumer.seek(tp, position)
                continue
            end = await _end_of_bad(consumer, tp, position, stop, deadline)
            yield BadRange(tp.topic, tp.partition, position, end, describe(exc))
            consumer.seek(tp, end)
            one_by_one = False
            continue
        for record in got.get(tp, []):
            if record.offset < stop:
                yield record


async def _end_of_bad(
    consumer: AIOKafkaConsumer, tp: TopicPartition, first: int, stop: int, deadline: float
) -> int:
    """The first offset after `first` from which a read decodes (or `stop`)."""
    offset = first + 1
    while offset < stop:
        _check(deadline, tp, offset)
        consumer.seek(tp, offset)
        try:
            got = await consumer.getmany(tp, timeout_ms=POLL_MS, max_records=1)
        except Exception as exc:
            if not _undecodable(exc):
                raise
            offset += 1
            continue
        if got.get(tp):
            return offset
    return stop


async def locate_undecodable(
    settings: BrokerSettings, tps_from: Mapping[TopicPartition, int], budget_s: float
) -> list[BadRange]:
    """Every undecodable range of these partitions from the given offsets to their ends now.

    One line per partition read; past `budget_s` the scan stops and returns what it found.
    """
    loop = asyncio.get_running_loop()
    deadline = loop.time() + budget_s
    found: list[BadRange] = []
    consumer = plain_consumer(settings, "quarantine")
    await consumer.start()
    try:
        ends = await consumer.end_offsets(list(tps_from))
        todo = sorted(
            (tp for tp, start in tps_from.items() if start < ends[tp]),
            key=lambda tp: (tp.topic, tp.partition),
        )
        for n, tp in enumerate(todo):
            start, end, began = tps_from[tp], ends[tp], loop.time()
            consumer.assign([tp])
            here: list[BadRange] = []
            try:
                async for item in walk(consumer, tp, start, end, deadline):
                    if isinstance(item, BadRange):
                        here.append(item)
            except TimeoutError:
                found += here
                log.error(
                    "scan for undecodable input stopped after %.0f s in %s[%d]; %d partitions"
                    " not read", budget_s, tp.topic, tp.partition, len(todo) - n - 1,
                )  # fmt: skip
                break
            found += here
            log.log(
                logging.WARNING if here else logging.INFO,
                "%s[%d]: read offsets %d..%d in %.1f s: %s", tp.topic, tp.partition, start,
                end - 1, loop.time() - began,
                ", ".join(r.offsets() for r in here) + " undecodable" if here else "all decode",
            )  # fmt: skip
    finally:
        await consumer.stop()
    return found


async def scan_after_crash(
    settings: BrokerSettings, topics: Iterable[str], budget_s: float = SCAN_BUDGET_S
) -> list[BadRange]:
    """After a crash on undecodable input: locate it from the group's committed offsets and
    add it to the quarantine file the restarted worker reads."""
    kwargs = settings.kafka_kwargs()
    tps = await topic_partitions(kwargs, topics, wait_s=5.0, missing_ok=True)
    positions = await group_positions(kwargs, settings.app_id, tps)
    found = await locate_undecodable(settings, positions, budget_s)
    path = quarantine_path(settings)
    if found:
        save_ranges(path, [*load_ranges(path), *found])
    return found


# -- on restart ------------------------------------------------------------------------------


class _RebalancedError(Exception):
    """The assignment changed while a range was skipped: the next one skips it again."""


class Quarantine:
    """The ranges of the file, skipped on this worker's partitions at every assignment."""

    def __init__(
        self,
        settings: BrokerSettings,
        app: Any,  # faust.App
        ctx: Context,
        checkpoint: Checkpoint,
        holes: HoleFiller,
        loops: Mapping[str, AgentLoop],
    ) -> None:
        self.settings, self.app, self.ctx = settings, app, ctx
        self.checkpoint, self.holes, self.loops = checkpoint, holes, loops
        self.path = quarantine_path(settings)
        self.ranges = load_ranges(self.path)
        self.budget_s = settings.retry_budget_seconds + SCAN_BUDGET_S
        if self.ranges:
            log.warning(
                "%d undecodable input ranges to skip: %s",
                len(self.ranges), "; ".join(str(r) for r in self.ranges),
            )  # fmt: skip

    async def skip_assigned(self) -> None:
        """faust calls this with every input partition still paused, just before it resumes
        them and seeks each to its committed offset."""
        if not self.ranges:
            return
        assigned = self.checkpoint.assigned()
        todo: dict[Key, list[BadRange]] = {}
        for r in self.ranges:
            if r.key in assigned:
                todo.setdefault(r.key, []).append(r)
        if not todo:
            return
        # faust paused them at the assignment; said again so nothing here depends on it
        self.app.consumer.pause_partitions({TopicPartition(*key) for key in todo})
        generation = self.checkpoint.generation
        deadline = asyncio.get_running_loop().time() + self.budget_s
        try:
            for key in sorted(todo, key=lambda k: (_rank(k[0]), k[1])):
                await self._skip(key, max(r.end for r in todo[key]), generation, deadline)
        except _RebalancedError:
            log.info("a rebalance landed while undecodable input was skipped; skipped again next")

    async def _skip(self, key: Key, stop: int, generation: int, deadline: float) -> None:
        topic, partition = key
        tp = TopicPartition(topic, partition)
        start = (await self.checkpoint.positions([key])).get(key)
        if start is None:
            raise TimeoutError(f"{topic}[{partition}]: the committed offset could not be read")
        if start < stop:
            work = self._handle(key, start, stop, generation, deadline)
            bad, handled = await self._alongside_upstream(key, work, generation, deadline)
            await self._commit_past(tp, stop, generation, deadline)
            # faust seeks there itself when it resumes the partition; this holds meanwhile
            await self.app.consumer.seek_wait({tp: stop})
            log.warning(
                "%s[%d]: offsets %d..%d read past what cannot be decoded: %d records handled,"
                " %d undecodable ranges dead-lettered (%s); going on from %d", topic, partition,
                start, stop - 1, handled, len(bad), ", ".join(r.offsets() for r in bad), stop,
            )  # fmt: skip
        self.ranges = [r for r in self.ranges if not (r.key == key and r.end <= stop)]
        save_ranges(self.path, self.ranges)

    async def _alongside_upstream(
        self,
        key: Key,
        work: Awaitable[tuple[list[BadRange], int]],
        generation: int,
        deadline: float,
    ) -> tuple[list[BadRange], int]:
        """Run `work` while the partitions its handlers wait for are read and handed to their
        agents too, up to their end each round: faust's streams are paused meanwhile."""
        topic, partition = key
        assigned = self.checkpoint.assigned()
        upstream = [(u, partition) for u in UPSTREAM.get(topic, ()) if (u, partition) in assigned]
        task = asyncio.ensure_future(work)
        try:
            while not task.done():
                for up in upstream:
                    start = (await self.checkpoint.positions([up])).get(up)
                    if start is not None:
                        await self._handle(up, start, None, generation, deadline)
                await asyncio.wait({task}, timeout=CATCH_UP_S)
            return task.result()
        finally:
            if not task.done():
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task

    async def _handle(
        self, key: Key, start: int, stop: int | None, generation: int, deadline: float
    ) -> tuple[list[BadRange], int]:
        """Records of [start, stop or the end now) to the agent loop, in batches; each
        undecodable range dead-lettered and marked done. Returns the ranges and the count."""
        topic, partition = key
        tp = TopicPartition(topic, partition)
        loop = self.loops[topic]
        consumer = plain_consumer(self.settings, "quarantine")
        await consumer.start()
        bad: list[BadRange] = []
        handled = 0
        batch: list[Incoming] = []

        async def flush() -> None:
            nonlocal batch, handled
            if batch:
                await loop.process(batch)
                self._same(generation)
                handled += len(batch)
                batch = []

        try:
            consumer.assign([tp])
            log_start = (await consumer.beginning_offsets([tp]))[tp]
            if stop is None:
                stop = (await consumer.end_offsets([tp]))[tp]
            if log_start > start:  # retention deleted them meanwhile
                self.checkpoint.deleted_below(topic, partition, log_start)
                start = log_start
            async for item in walk(consumer, tp, start, stop, deadline):
                if isinstance(item, BadRange):
                    await flush()
                    await self._dead_letter(item, generation, deadline)
                    bad.append(item)
                else:
                    batch.append(Incoming.from_record(item, item.timestamp))
                    if len(batch) >= BATCH:
                        await flush()
            await flush()
        finally:
            await consumer.stop()
        return bad, handled

    async def _dead_letter(self, bad: BadRange, generation: int, deadline: float) -> None:
        """One dead letter per range, acknowledged before its offsets count as done."""
        ctx = self.ctx
        rec = Incoming(bad.topic, bad.partition, bad.first, None, None)
        detail = f"{bad.offsets()} could not be decoded: {bad.error}"
        await _retrying(ctx, deadline, lambda: self._send_dead_letter(rec, detail))
        self._same(generation)
        self.checkpoint.skip(bad.topic, bad.partition, bad.first, bad.end)
        self.holes.skip_to(bad.topic, bad.partition, bad.end)
        ctx.replay.handled(bad.topic, bad.partition, bad.end - 1)
        ctx.metrics.count("consumer.undecodable_batches")
        log.warning("%s dead-lettered as %s (%s)", bad, ReasonCode.UNDECODABLE_BATCH, bad.error)

    async def _send_dead_letter(self, rec: Incoming, detail: str) -> None:
        outputs = self.ctx.outputs
        resets = outputs.resets
        await dead_letter(self.ctx, rec, ReasonCode.UNDECODABLE_BATCH, detail)
        await outputs.flush()
        if outputs.resets != resets:  # another agent's retry dropped it with the queue
            raise OutputsResetError("the outputs were reset while the dead letter was queued")

    async def _commit_past(
        self, tp: TopicPartition, stop: int, generation: int, deadline: float
    ) -> None:
        """Until the group's committed offset, read back from Kafka, is past the range: faust
        seeks the partition there when it resumes it."""
        kwargs, group = self.settings.kafka_kwargs(), self.settings.app_id
        while True:
            self._same(generation)
            await self.checkpoint.commit()
            if (await committed_offsets(kwargs, group, [tp])).get(tp, -1) >= stop:
                return
            _check(deadline, tp, stop)
            await asyncio.sleep(BACKOFF_S[0])

    def _same(self, generation: int) -> None:
        if self.checkpoint.generation != generation:
            raise _RebalancedError()


async def _retrying(ctx: Context, deadline: float, send: Callable[[], Awaitable[None]]) -> None:
    """`send` again after a transient Kafka fault, like an agent's batch, until `deadline`."""
    attempt = 0
    while True:
        try:
            return await send()
        except OutputsResetError:
            pass  # dropped with another agent's queue: queued again, nothing else to reset
        except Exception as exc:
            if classify(exc, in_record=False) is not Fault.TRANSIENT:
                raise
            if asyncio.get_running_loop().time() > deadline:
                raise
            await ctx.outputs.reset()
        await asyncio.sleep(BACKOFF_S[min(attempt, len(BACKOFF_S) - 1)])
        attempt += 1


def _rank(topic: str) -> int:
    return _ORDER.index(topic) if topic in _ORDER else len(_ORDER)
