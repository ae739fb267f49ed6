"""Read the records of an input partition that faust has stopped handing to its agent.

faust-streaming can lose track of a partition around the rebalance that follows a crashed
worker: its position moves past records that never reach the agent, or the partition drops
out of what it fetches. Commits cannot pass such records (the checkpoint holds them at the
first offset not done), so they are not lost, but nothing reads them either.

Each tick, for every assigned input partition, the watch compares the first offset not done
with the log's end (`highwaters`). When it has not moved for `stuck_after_s` while records
exist past it, and either
- records of the partition beyond it are done (a hole: the records between were skipped;
  a batch in flight, however slow, does not count: its records are not done yet), or
- the agent has been idle all that time (nothing is handed to it at all),
with no rebalance, recovery or paused flow under way, the watch resumes the partition
(`resume_partitions`). A hole it reads itself with a plain aiokafka read, handing the records to
the agent's loop as one more batch; a starved partition it rewinds with faust's `seek`, which
also resets the offset below which faust drops what it fetches. A log that now starts past
the offset (retention) is told to the checkpoint instead. Only public API of faust and aiokafka
is used; partitions handed to faust are faust's own `TP` (its `resume_partitions` keeps what it
is given, and its fetcher asserts that every active partition is a `TP`).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from faust.types import TP

from intentcast.broker.metrics import Metrics

log = logging.getLogger("intentcast.broker.runtime.stalls")
Key = tuple[str, int]
REREAD_MAX = 2000  # records read per stuck partition and tick


@dataclass
class _Seen:
    position: int
    since: float


@dataclass
class StallWatch:
    app: Any  # faust.App; faust ships partial hints
    topics: frozenset[str]
    metrics: Metrics
    # the first done offset beyond a partition's first offset not done (a hole), if any
    done_beyond: Callable[[str, int], int | None]
    # per partition, the first offset not done yet (the checkpoint)
    positions_of: Callable[[list[Key]], Awaitable[dict[Key, int]]]
    deleted_below: Callable[[str, int, int], None]
    # how long the agent of a topic has been idle (0 while it works)
    idle_for: Callable[[str], float]
    # reads [start, end) of a partition and hands it to its agent's loop; returns the count
    reread: Callable[[str, int, int, int], Awaitable[int]]
    stuck_after_s: float = 15.0
    clock: Callable[[], float] = time.monotonic
    _seen: dict[Key, _Seen] = field(default_factory=dict)

    def _quiet(self) -> bool:
        """A rebalance, a recovery or a paused flow legitimately holds records back."""
        app = self.app
        return bool(
            app.rebalancing
            or app.in_recovery
            or not app.consumer.flow_active
            or not app.flow_control.is_active()
        )

    def describe(self) -> list[str]:
        now = self.clock()
        return [
            f"  {t}[{p}] first offset not done {seen.position}, unchanged for"
            f" {now - seen.since:.0f} s"
            for (t, p), seen in sorted(self._seen.items())
        ]

    async def tick(self) -> None:
        """Timer entry point: a worker between assignments has no consumer to ask yet."""
        try:
            await self.check()
        except Exception as exc:
            log.warning("stall check skipped: %r", exc)

    async def check(self) -> list[Key]:
        """Re-read every partition stuck long enough; return the ones re-read."""
        if self._quiet():
            self._seen.clear()
            return []
        consumer = self.app.consumer
        assigned = sorted(
            (tp.topic, tp.partition) for tp in consumer.assignment() if tp.topic in self.topics
        )
        for key in set(self._seen) - set(assigned):
            del self._seen[key]
        if not assigned:
            return []
        tps = [TP(t, p) for t, p in assigned]
        ends = {
            (tp.topic, tp.partition): end for tp, end in (await consumer.highwaters(*tps)).items()
        }
        positions = await self.positions_of(assigned)
        now = self.clock()
        reread: list[Key] = []
        for key in assigned:
            position, end = positions.get(key), ends.get(key)
            if position is None or end is None or end <= position:
                self._seen.pop(key, None)
                continue
            seen = self._seen.get(key)
            if seen is None or seen.position != position:
                self._seen[key] = _Seen(position, now)
                continue
            stuck_for = now - seen.since
            if stuck_for < self.stuck_after_s:
                continue
            hole_end = self.done_beyond(*key)
            if hole_end is None and self.idle_for(key[0]) < self.stuck_after_s:
                continue  # no hole, and the agent is busy: it is only behind
            await self._reread(key, position, end, hole_end, stuck_for)
            del self._seen[key]
            reread.append(key)
        return reread

    async def _reread(
        self, key: Key, position: int, end: int, hole_end: int | None, stuck: float
    ) -> None:
        """A hole: read just the hole with a plain read (faust is past it). Idle: rewind faust
        to the first offset not done with its public `seek`, which also resets the offset
        below which faust drops what it fetches, so faust hands the partition over again."""
        topic, partition = key
        tp = TP(topic, partition)
        start = (await self.app.consumer.earliest_offsets(tp)).get(tp)
        if start is not None and start > position:
            # deleted by retention: a re-read would start past them again, forever
            self.deleted_below(topic, partition, start)
            return
        log.warning(
            "%s[%d] stuck: first offset not done %d, log end %d, %s, no progress for %.0f s;"
            " reading from %d", topic, partition, position, end,
            "later records done (a hole)" if hole_end is not None else "agent idle", stuck,
            position,
        )  # fmt: skip
        consumer = self.app.consumer
        consumer.resume_partitions({tp})
        self.metrics.count("consumer.rereads")
        if hole_end is None:
            await consumer.seek(tp, position)
            return
        count, at = 0, position
        while at < hole_end:
            chunk_end = min(hole_end, at + REREAD_MAX)
            count += await self.reread(topic, partition, at, chunk_end)
            at = chunk_end
        self.metrics.count("consumer.reread_records", count)
