"""Re-read a partition whose committed offset is stuck behind records nobody is processing.

faust-streaming can lose track of fetched records around a rebalance (the one after a worker
was killed, for instance): the consumer's position is past them, they were never handed to the
agent, and the committed offset can no longer advance past the first of them. The group then
shows a steady lag and those inputs never get an answer. The guard watches every input
partition; when one has records fetched but unacknowledged, none of them waiting in a stream or
being processed, and neither its position nor its committed offset moved for `stuck_after_s`,
it seeks the partition back to the committed offset. The processors are idempotent (replays are
recognised by the intent table, the delivered-offer tail and the agreement log), so re-reading
records that were already handled costs time, never a duplicate.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from typing import Any

from broker.metrics import Metrics

log = logging.getLogger("intentcast.broker.stall_guard")


@dataclass
class _Seen:
    position: int
    committed: int
    since: float


@dataclass
class StallGuard:
    """Call `check()` from a timer; it is cheap (local state and one position per partition)."""

    app: Any  # faust.App; faust ships partial hints
    topics: frozenset[str]
    metrics: Metrics
    stuck_after_s: float = 15.0
    clock: Any = time.monotonic
    _seen: dict[Any, _Seen] = field(default_factory=dict)

    def _quiet(self) -> bool:
        """A rebalance, a recovery or a paused flow legitimately holds records back."""
        app = self.app
        consumer = app.consumer
        return bool(
            app.rebalancing
            or app.in_recovery
            or not consumer.flow_active
            or not app.flow_control.is_active()
        )

    def _busy(self, tp: Any) -> bool:
        """Records of `tp` handed to an agent and not acknowledged yet, or still queued."""
        if any(m.tp == tp for m in list(self.app.consumer._unacked_messages)):
            return True
        return any(channel.queue.qsize() for channel in self.app.topics._topicmap.get(tp.topic, ()))

    async def tick(self) -> None:
        """Timer entry point: a worker between assignments has no consumer to ask yet."""
        try:
            await self.check()
        except Exception as exc:
            log.debug("stall check skipped: %s", exc)

    async def check(self) -> list[Any]:
        """Rewind every partition that has been stuck long enough; return the ones rewound."""
        if self._quiet():
            self._seen.clear()
            return []
        consumer = self.app.consumer
        now = self.clock()
        rewound = []
        assigned = {tp for tp in consumer.assignment() if tp.topic in self.topics}
        for tp in list(self._seen):
            if tp not in assigned:
                del self._seen[tp]
        for tp in assigned:
            committed = consumer._committed_offset.get(tp)
            position = await consumer.position(tp)
            if committed is None or position is None or position <= committed or self._busy(tp):
                self._seen.pop(tp, None)
                continue
            seen = self._seen.get(tp)
            if seen is None or (seen.position, seen.committed) != (position, committed):
                self._seen[tp] = _Seen(position, committed, now)
                continue
            if now - seen.since < self.stuck_after_s:
                continue
            log.warning(
                "%s[%d] stuck: committed %d, fetched up to %d, nothing in flight for %.0f s;"
                " re-reading from %d",
                tp.topic, tp.partition, committed, position, now - seen.since, committed,
            )  # fmt: skip
            await consumer.seek_wait({tp: committed})  # in the consumer thread, as faust does
            self.metrics.count("consumer.rewinds")
            del self._seen[tp]
            rewound.append(tp)
        return rewound
