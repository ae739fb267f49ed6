"""The processors' own record of how far each input partition is done, and the only commits.

faust-streaming decides its commits from the offsets its streams acknowledged, and around the
rebalance that follows a crashed worker it commits past input records it never handed to an
agent (docs/reliability.md): its check for a hole in front of the acknowledged offsets is
skipped when the committed offset is 0 (stored as "none") and is one short otherwise
(`min(acked) - committed > 1`), and it records offset jumps as "gaps" to commit over. Once
committed past, a record is lost for good: no later worker reads it again.

Input topics are neither compacted nor transactional, so their offsets have no holes. For them
the processors keep their own record instead: each partition starts at the group's committed
offset (read from Kafka at the first need after an assignment), an offset counts as done once
its record was handled and the batch's outputs were acknowledged (`Context.commit_batch`), and
the offset faust may commit is the first one not done. A skipped record therefore holds the
commit back until it is read again (the skip filler and the stall guard see to that), across
any number of crashes. faust still runs the commits (its timer, its producer flush); it only
asks this record for the offset, through `install`.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from aiokafka import TopicPartition
from aiokafka.errors import KafkaError

from broker.kafka_meta import group_positions
from broker.metrics import Metrics
from broker.processors.incoming import Incoming
from broker.settings import BrokerSettings

log = logging.getLogger("intentcast.broker.input_offsets")
Key = tuple[str, int]
LOAD_TIMEOUT_S = 10.0


@dataclass
class _Progress:
    next: int  # the first offset not done; every offset below it is
    ahead: set[int] = field(default_factory=set)  # done offsets beyond `next`

    def advance(self) -> None:
        while self.next in self.ahead:
            self.ahead.remove(self.next)
            self.next += 1


class InputOffsets:
    """Per input partition since the last assignment: the first offset not yet done."""

    def __init__(self, settings: BrokerSettings, topics: frozenset[str], metrics: Metrics) -> None:
        self._settings = settings
        self.topics = topics
        self._metrics = metrics
        self._progress: dict[Key, _Progress] = {}
        self._loading = asyncio.Lock()
        self._consumer: Any = None  # faust's consumer, from `install`
        self._generation = 0  # rebalances seen; a read that spans one is thrown away

    def _assigned(self) -> set[Key]:
        """The worker's input partitions, once `install` has the consumer (empty before)."""
        try:
            assignment = self._consumer.assignment() if self._consumer is not None else ()
        except Exception:  # a worker between assignments has no consumer to ask yet
            return set()
        return {(tp.topic, tp.partition) for tp in assignment if tp.topic in self.topics}

    def forget(self) -> None:
        """On every rebalance: another worker may have committed meanwhile; start again from
        the group's committed offsets."""
        self._progress.clear()
        self._generation += 1

    async def ensure(self, keys: Iterable[Key]) -> None:
        """Read the group's committed offsets for the partitions not known yet (one request).

        If Kafka does not answer, the partitions stay unknown and are tried again at the next
        need: meanwhile nothing of them is committed, which only means more to replay later.
        """
        async with self._loading:
            wanted = set(keys) | self._assigned()  # one request after a rebalance, not one each
            missing = sorted(k for k in wanted if k not in self._progress)
            if not missing:
                return
            generation = self._generation
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
                log.warning("committed offsets not read (%r); commits wait for them", exc)
                return
            if generation != self._generation:
                return  # read before a rebalance: the next need reads again
            for tp, offset in positions.items():
                self._progress.setdefault((tp.topic, tp.partition), _Progress(offset))

    async def positions(self, keys: list[Key]) -> dict[Key, int]:
        """Per partition, the first offset whose record is not done yet (known ones only)."""
        await self.ensure(keys)
        return {k: self._progress[k].next for k in keys if k in self._progress}

    def done(self, records: Iterable[Incoming]) -> None:
        """Call once the records were handled and their batch's outputs acknowledged."""
        for rec in records:
            progress = self._progress.get((rec.topic, rec.partition))
            if progress is None or rec.offset < progress.next:
                continue  # from before the last rebalance, or a replay of a done record
            progress.ahead.add(rec.offset)
            progress.advance()

    def deleted_below(self, topic: str, partition: int, start: int) -> None:
        """The log now starts at `start` (retention deleted what was before): records below it
        that were not handled never will be, so they stop holding the commit back. Loud,
        because those inputs are lost with the log."""
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

    def commit_offset(self, topic: str, partition: int) -> int | None:
        """The offset the group may commit: everything before it is done. None if unknown."""
        progress = self._progress.get((topic, partition))
        return None if progress is None else progress.next

    def install(self, consumer: Any) -> None:
        """Make faust's consumer take its input-topic commits from this record.

        `_new_offset` is where faust picks the offset to commit for a partition; for input
        topics it gets this record's offset (its own acknowledgement list is emptied, so it
        cannot grow). `_add_gap` is where faust notes an offset jump to commit over later; for
        input topics the jump is only logged and counted.
        """
        self._consumer = consumer
        new_offset, add_gap, topics = consumer._new_offset, consumer._add_gap, self.topics

        def _new_offset(tp: Any) -> int | None:
            if tp.topic not in topics:
                return new_offset(tp)  # type: ignore[no-any-return]
            consumer._acked[tp].clear()
            consumer._acked_index[tp].clear()
            return self.commit_offset(tp.topic, tp.partition)

        async def _add_gap(tp: Any, offset_from: int, offset_to: int) -> None:
            if tp.topic not in topics:
                await add_gap(tp, offset_from, offset_to)
                return
            log.warning(
                "%s[%d]: offsets %d..%d were never handed to the agent; the commit stays"
                " before them until they are read", tp.topic, tp.partition, offset_from,
                offset_to - 1,
            )  # fmt: skip
            self._metrics.count("consumer.skips_held")

        consumer._new_offset = _new_offset
        consumer._add_gap = _add_gap
