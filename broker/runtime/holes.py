"""Hand the agent any input record faust skipped, before the record that reveals the skip.

Around the rebalance that follows a crashed worker, faust-streaming can move a partition's
position past records it never hands to an agent (docs/reliability.md). Input topics are
neither compacted nor transactional, so their offsets are contiguous: when the agent sees
offset N on a partition whose first offset not done is M < N, records M..N-1 were skipped.
They are read straight from the log with a plain, group-less aiokafka consumer and handled
first, in order, in the same batch; handlers recognise replays, so a record read twice costs
time, never a duplicate.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from intentcast.broker.metrics import Metrics
from intentcast.broker.partition_reader import read_partition
from intentcast.broker.processors.incoming import Incoming
from intentcast.broker.settings import BrokerSettings

log = logging.getLogger("intentcast.broker.runtime.holes")
Key = tuple[str, int]
PositionsOf = Callable[[list[Key]], Awaitable[dict[Key, int]]]


async def read_range(
    settings: BrokerSettings, topic: str, partition: int, start: int, end: int
) -> list[Incoming]:
    """The records of `topic[partition]` in [start, end), as far as the log still has them."""
    return [
        Incoming.from_record(r, r.timestamp)
        async for r in read_partition(
            settings,
            topic,
            partition,
            client_id=f"{settings.app_id}-holes",
            from_offset=start,
            until_offset=end,
        )
    ]


@dataclass
class HoleFiller:
    settings: BrokerSettings
    metrics: Metrics
    positions_of: PositionsOf  # the first offset not done, per partition (the checkpoint)
    deleted_below: Callable[[str, int, int], None]  # the log starts later than expected
    _next: dict[Key, int] = field(default_factory=dict)

    def forget(self) -> None:
        """On rebalance: the next record of each partition sets a new baseline."""
        self._next.clear()

    def skip_to(self, topic: str, partition: int, offset: int) -> None:
        """The offsets before `offset` were dealt with outside the agent (an undecodable batch,
        dead-lettered): a record at `offset` is next in line, not behind a hole to read."""
        key = (topic, partition)
        self._next[key] = max(self._next.get(key, offset), offset)

    async def complete(self, records: list[Incoming]) -> list[Incoming]:
        """`records` with whatever was skipped in front of each of them, in order."""
        batch: list[Incoming] = []
        for rec in records:
            batch += await self.missed_before(rec)
            batch.append(rec)
        return batch

    async def missed_before(self, rec: Incoming) -> list[Incoming]:
        """The records of `rec`'s partition between the last one handed over and `rec`."""
        key = (rec.topic, rec.partition)
        expected = self._next.get(key)
        if expected is None:  # unknown if Kafka did not answer: then only later jumps count
            expected = (await self.positions_of([key])).get(key)
        self._next[key] = rec.offset + 1
        if expected is None or rec.offset <= expected:
            return []  # in order, or read again from an earlier offset (a replay)
        missed = await read_range(self.settings, rec.topic, rec.partition, expected, rec.offset)
        log.warning(
            "%s[%d]: offsets %d..%d were never handed to the agent; read %d of them from the"
            " log and handled them first", rec.topic, rec.partition, expected, rec.offset - 1,
            len(missed),
        )  # fmt: skip
        first = missed[0].offset if missed else rec.offset
        if first > expected:  # retention removed the oldest of them from the log
            self.deleted_below(rec.topic, rec.partition, first)
        self.metrics.count("consumer.skips_filled", len(missed))
        return missed
