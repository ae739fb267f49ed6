"""How far each input partition is done, and the only commits of the processors' inputs.

faust-streaming's own commit bookkeeping can commit past input records it never handed to an
agent (upstream faust-streaming #606; docs/reliability.md shows the mechanism), so the input
topics are declared with `acks=False`: faust then neither tracks nor commits them, and this
module does, through one supported switch and one call.

Per input partition it keeps the first offset not yet done. It is seeded from the group's
committed offset read from Kafka after every assignment (never from the first record
delivered: faust has handed over offsets far past the committed one right after a rebalance).
A record counts as done once it was handled and its batch's outputs were acknowledged and its
state applied (`broker.runtime.batch_loop`); a batch that spans a rebalance is not counted.

A commit, on a timer and at revoke, goes in this order: outputs flushed, staged state applied
(both per batch, before `done`), then faust's producer flushed (the table's changelog), then
the contiguous done prefix committed, filtered by the assignment right before the call.

This is the only file of the project that touches a private name of faust or aiokafka:
`Consumer._thread` (faust's consumer thread, whose `commit` sends exactly the offsets given).
`tests/broker/test_runtime_contract.py` pins it; `tests/broker/test_no_private_access.py`
fails when any other file reaches into either library's private attributes.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from aiokafka import TopicPartition
from aiokafka.errors import KafkaError

from intentcast.broker.kafka_meta import group_positions
from intentcast.broker.metrics import Metrics
from intentcast.broker.processors.incoming import Incoming
from intentcast.broker.runtime.faults import ThrottledLog
from intentcast.broker.settings import BrokerSettings

log = logging.getLogger("intentcast.broker.runtime.checkpoint")
Key = tuple[str, int]
LOAD_TIMEOUT_S = 10.0


@dataclass
class Progress:
    next: int  # the first offset not done; every offset below it is
    ahead: set[int] = field(default_factory=set)  # done offsets beyond `next`
    committed: int = -1  # the last offset this worker committed for the partition

    def mark(self, offset: int) -> None:
        if offset < self.next:
            return  # a replay of a done record
        self.ahead.add(offset)
        self.advance()

    def advance(self) -> None:
        while self.next in self.ahead:
            self.ahead.remove(self.next)
            self.next += 1


def commit_through_faust(consumer: Any, offsets: Mapping[Any, int]) -> Any:
    """The one private access: faust's consumer thread commits exactly what it is given.

    faust's public `Consumer.commit` computes offsets from its acknowledgements, which
    `acks=False` topics do not have. The thread's `commit` runs aiokafka's commit in the
    consumer's own thread with the group's current generation.
    """
    return consumer._thread.commit(dict(offsets))


class Checkpoint:
    """Per input partition since the last assignment: the first offset not yet done."""

    def __init__(
        self,
        settings: BrokerSettings,
        topics: frozenset[str],
        metrics: Metrics,
        consumer: Callable[[], Any],
        flush_state: Callable[[], Any],
    ) -> None:
        self._settings = settings
        self.topics = topics
        self._metrics = metrics
        self._consumer = consumer  # faust's consumer, asked at each use (it is recreated)
        self._flush_state = flush_state  # awaits faust's producer flush (the changelog)
        self._progress: dict[Key, Progress] = {}
        self._loading = asyncio.Lock()
        self._committing = asyncio.Lock()
        self.generation = 0  # rebalances seen; work that spans one is thrown away
        self._throttled = ThrottledLog(log, metrics)

    # -- the assignment --

    def assigned(self) -> set[Key]:
        """The worker's input partitions right now (empty between assignments)."""
        try:
            assignment = self._consumer().assignment()
        except Exception:  # no consumer yet, or one being replaced
            return set()
        return {(tp.topic, tp.partition) for tp in assignment if tp.topic in self.topics}

    def forget(self) -> None:
        """On every rebalance: another worker may have committed meanwhile."""
        self._progress.clear()
        self.generation += 1

    async def ensure(self, keys: Iterable[Key] = ()) -> None:
        """Read the group's committed offsets for the partitions not known yet (one request).

        If Kafka does not answer, they stay unknown and are asked again at the next need:
        meanwhile nothing of them is committed, which only means more to replay later.
        """
        async with self._loading:
            wanted = set(keys) | self.assigned()
            missing = sorted(k for k in wanted if k not in self._progress)
            if not missing:
                return
            generation = self.generation
            try:
                positions = await asyncio.wait_for(
                    group_positions(
                        self._settings.kafka_kwargs(),
                        self._settings.app_id,
                        [TopicPartition(t, p) for t, p in missing],
                    ),
                    LOAD_TIMEOUT_S,
                )
            except (TimeoutError, KafkaError) as exc:
                self._throttled.warning("offsets_unread", "committed offsets not read (%r)", exc)
                return
            if generation != self.generation:
                return  # read across a rebalance: the next need reads again
            for tp, offset in positions.items():
                self._progress.setdefault(
                    (tp.topic, tp.partition), Progress(offset, committed=offset)
                )

    async def positions(self, keys: list[Key]) -> dict[Key, int]:
        """Per partition, the first offset whose record is not done yet (known ones only)."""
        await self.ensure(keys)
        return {k: self._progress[k].next for k in keys if k in self._progress}

    # -- progress --

    def done(self, records: Iterable[Incoming], generation: int) -> None:
        """The records were handled, their outputs acknowledged and their state applied."""
        if generation != self.generation:
            self._metrics.count("consumer.batches_across_rebalance")
            return  # the partition may be another worker's now; it replays there
        for rec in records:
            progress = self._progress.get((rec.topic, rec.partition))
            if progress is not None:
                progress.mark(rec.offset)

    def deleted_below(self, topic: str, partition: int, start: int) -> None:
        """Retention deleted the log before `start`: unhandled records below it never will be
        handled, so they stop holding the commit back. Loud: those inputs are lost."""
        progress = self._progress.get((topic, partition))
        if progress is None or start <= progress.next:
            return
        lost = start - progress.next - sum(1 for o in progress.ahead if o < start)
        log.error(
            "%s[%d]: offsets %d..%d were deleted by retention before they were handled (%d"
            " records); going on from %d", topic, partition, progress.next, start - 1, lost,
            start,
        )  # fmt: skip
        self._metrics.count("consumer.deleted_unhandled", lost)
        progress.ahead = {o for o in progress.ahead if o >= start}
        progress.next = start
        progress.advance()

    def skip(self, topic: str, partition: int, start: int, end: int) -> int:
        """Offsets [start, end) hold a batch nothing can decode, dead-lettered once
        (`broker.runtime.quarantine`): no handler will ever mark them done, so without this
        they would hold the commit back forever. Returns how many offsets were newly skipped
        (0 for a partition not known since the last assignment)."""
        progress = self._progress.get((topic, partition))
        if progress is None:
            return 0
        fresh = [o for o in range(max(start, progress.next), end) if o not in progress.ahead]
        progress.ahead.update(fresh)
        progress.advance()
        self._metrics.count("consumer.undecodable_skipped", len(fresh))
        return len(fresh)

    def done_beyond(self, topic: str, partition: int) -> int | None:
        """The first done offset past the first offset not done, if any: the ones between
        were skipped (records of one batch are done together, and batches come in order)."""
        progress = self._progress.get((topic, partition))
        return min(progress.ahead) if progress is not None and progress.ahead else None

    def commit_offset(self, topic: str, partition: int) -> int | None:
        """The offset the group may commit: everything before it is done. None if unknown."""
        progress = self._progress.get((topic, partition))
        return None if progress is None else progress.next

    def describe(self) -> list[str]:
        """For the task dump and logs: each partition's first offset not done."""
        return [
            f"  {t}[{p}] next={pr.next} committed={pr.committed} done-ahead={len(pr.ahead)}"
            for (t, p), pr in sorted(self._progress.items())
        ]

    # -- commits --

    async def commit(self, only: set[Key] | None = None) -> dict[Key, int]:
        """Commit the done prefix of every partition that moved; return what was committed.

        Never raises: a commit that cannot be made now (a rebalance landing between the
        assignment check and the call, Kafka away) is logged and made at the next one.
        """
        async with self._committing:
            try:
                await self._flush_state()
            except Exception as exc:
                self._throttled.warning(
                    "state_unflushed", "commit skipped: state not flushed (%r)", exc
                )
                return {}
            assigned = self.assigned()
            moved = {
                key: progress.next
                for key, progress in self._progress.items()
                if progress.next > progress.committed
                and key in assigned
                and (only is None or key in only)
            }
            if not moved:
                return {}
            offsets = {TopicPartition(t, p): offset for (t, p), offset in moved.items()}
            try:
                ok = await commit_through_faust(self._consumer(), offsets)
            except Exception as exc:
                self._throttled.warning(
                    "commit_failed", "commit of %d partitions failed (%r)", len(moved), exc
                )
                return {}
            if not ok:  # faust's thread says the group already rebalanced
                self._metrics.count("consumer.commits_refused")
                return {}
            for key, offset in moved.items():
                progress = self._progress.get(key)
                if progress is not None:
                    progress.committed = max(progress.committed, offset)
            self._metrics.count("consumer.commits")
            return moved
