"""Re-read an input partition that holds records no agent will ever be handed.

faust-streaming can lose records around the rebalance that follows a crashed worker: the
consumer's position moves past records that never reach the agent, or the partition drops out
of the set faust fetches from. Commits cannot pass such records (`broker.input_offsets` holds
them at the first record not done), so they are not lost, but nothing reads them either. The
guard watches each input partition's first offset not done; when it has not moved for
`stuck_after_s` while records exist past it, and either
- the agent has handled records of that partition beyond it (a hole: the records in between
  were skipped), or
- the agent has been idle all that time (nothing is handed to it at all),
with no rebalance or recovery under way, it makes the partition fetchable again and seeks it
back to that offset; if the re-read races faust's fetch loop, the next check retries. If the
log now starts past that offset (retention deleted the records), a re-read would begin past
them again, so the guard tells the record of done offsets instead (`deleted_below`).
Every step recognises replays (intent table, delivered-offer tail, agreement log), so re-reading
records that were handled costs time, never a duplicate.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from broker.metrics import Metrics

log = logging.getLogger("intentcast.broker.stall_guard")


@dataclass
class _Seen:
    position: int
    since: float


@dataclass
class StallGuard:
    """Agents report `working`/`idle` per batch; a timer calls `tick()`."""

    app: Any  # faust.App; faust ships partial hints
    topics: frozenset[str]
    metrics: Metrics
    # the highest offset of a partition its agent handled (the replay barrier keeps it)
    handled_upto: Callable[[str, int], int]
    # per partition, the first offset not done yet (broker.input_offsets)
    positions_of: Callable[[list[tuple[str, int]]], Awaitable[dict[tuple[str, int], int]]]
    # tells that record the log now starts past unhandled offsets (retention)
    deleted_below: Callable[[str, int, int], None]
    stuck_after_s: float = 15.0
    clock: Callable[[], float] = time.monotonic
    _seen: dict[Any, _Seen] = field(default_factory=dict)
    _idle_since: dict[str, float | None] = field(default_factory=dict)

    def working(self, topic: str) -> None:
        self._idle_since[topic] = None

    def idle(self, topic: str) -> None:
        self._idle_since[topic] = self.clock()

    def _agent_idle_for(self, topic: str, now: float) -> float:
        since = self._idle_since.get(topic, 0.0)  # an agent never handed a batch is idle
        return 0.0 if since is None else now - since

    def _quiet(self) -> bool:
        """A rebalance, a recovery or a paused flow legitimately holds records back."""
        app = self.app
        return bool(
            app.rebalancing
            or app.in_recovery
            or not app.consumer.flow_active
            or not app.flow_control.is_active()
        )

    def _queued(self, topic: str) -> bool:
        return any(
            channel.queue.qsize() for channel in self.app.topics._topic_name_index.get(topic, ())
        )

    def describe(self) -> str:
        """For the task dump: what the guard is timing and since when."""
        now = self.clock()
        lines = ["--- stall guard"]
        for tp, seen in sorted(self._seen.items()):
            lines.append(
                f"  {tp.topic}[{tp.partition}] first offset not done {seen.position}, unchanged for"
                f" {now - seen.since:.0f} s"
            )
        for topic, since in sorted(self._idle_since.items()):
            state = "working" if since is None else f"idle for {now - since:.0f} s"
            lines.append(f"  agent of {topic}: {state}")
        return "\n".join(lines) + "\n"

    async def tick(self) -> None:
        """Timer entry point: a worker between assignments has no consumer to ask yet."""
        try:
            await self.check()
        except Exception as exc:
            log.warning("stall check skipped: %r", exc)

    async def check(self) -> list[Any]:
        """Rewind every partition that has been stuck long enough; return the ones rewound."""
        if self._quiet():
            self._seen.clear()
            return []
        consumer = self.app.consumer
        assigned = sorted(tp for tp in consumer.assignment() if tp.topic in self.topics)
        for tp in set(self._seen) - set(assigned):
            del self._seen[tp]
        if not assigned:
            return []
        ends = await consumer.highwaters(*assigned)  # the log's end, fetched or not
        now = self.clock()
        positions = await self.positions_of([(tp.topic, tp.partition) for tp in assigned])
        rewound = []
        for tp in assigned:
            position, end = positions.get((tp.topic, tp.partition)), ends.get(tp)
            if position is None or end is None or end <= position or self._queued(tp.topic):
                self._seen.pop(tp, None)
                continue
            seen = self._seen.get(tp)
            if seen is None or seen.position != position:
                self._seen[tp] = _Seen(position, now)
                continue
            stuck_for = now - seen.since
            if stuck_for < self.stuck_after_s:
                continue
            handled = self.handled_upto(tp.topic, tp.partition)
            hole = handled >= position
            if not hole and self._agent_idle_for(tp.topic, now) < self.stuck_after_s:
                continue
            start = (await consumer.earliest_offsets(tp)).get(tp)
            if start is not None and start > position:
                # deleted by retention: a re-read would start past them again, forever
                self.deleted_below(tp.topic, tp.partition, start)
                del self._seen[tp]
                continue
            why = (
                f"first offset not done {position}, log end {end}, handled up to {handled},"
                f" no progress for {stuck_for:.0f} s"
            )
            await self._rewind(tp, position, why)
            del self._seen[tp]
            rewound.append(tp)
        return rewound

    async def _rewind(self, tp: Any, offset: int, why: str) -> None:
        consumer = self.app.consumer
        fetching = tp in (consumer._active_partitions or set())
        log.warning(
            "%s[%d] stuck: %s (was %sfetched); re-reading from %d",
            tp.topic, tp.partition, why, "" if fetching else "not ", offset,
        )  # fmt: skip
        consumer.resume_partitions({tp})
        await consumer.seek_wait({tp: offset})  # in the consumer thread, as faust does
        # faust drops fetched records below its read offset; from here on they are wanted
        consumer._read_offset[tp] = None
        self.metrics.count("consumer.rewinds")
