"""Hand the agent any input record faust skipped, before the record that reveals the skip.

Around the rebalance that follows a crashed worker, faust-streaming can move a partition's
position past records it never hands to the agent and then commit past them (docs/reliability.md
shows offsets 51-58 of one offers partition lost that way). Input topics are neither compacted
nor transactional, so their offsets are contiguous: when the agent sees offset N on a partition
whose next expected offset is M < N, records M..N-1 were skipped. The filler reads them
directly from the log (a group-less consumer, like the ledger's reads) so the agent handles them
first, in order, in the same batch; handlers recognise replays, so a record that reappears
later costs nothing but time.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from broker.metrics import Metrics
from broker.partition_reader import read_partition
from broker.processors.incoming import Incoming
from broker.settings import BrokerSettings

log = logging.getLogger("intentcast.broker.skip_filler")
Key = tuple[str, int]
PositionsOf = Callable[[list[Key]], Awaitable[dict[Key, int]]]


@dataclass
class SkipFiller:
    settings: BrokerSettings
    metrics: Metrics
    positions_of: PositionsOf  # the first offset not done, per partition (input_offsets)
    deleted_below: Callable[[str, int, int], None]  # the log starts later than expected
    _next: dict[Key, int] = field(default_factory=dict)

    def forget(self) -> None:
        """On rebalance: the next record of each partition sets a new baseline."""
        self._next.clear()

    async def missed_before(self, rec: Incoming) -> list[Incoming]:
        """The records of `rec`'s partition between the last one handed over and `rec`."""
        key = (rec.topic, rec.partition)
        expected = self._next.get(key)
        if expected is None:  # unknown if Kafka did not answer: then only later jumps count
            expected = (await self.positions_of([key])).get(key)
        self._next[key] = rec.offset + 1
        if expected is None or rec.offset <= expected:
            return []  # in order, or read again from an earlier offset (a replay)
        missed = [
            Incoming.from_record(r, r.timestamp)
            async for r in read_partition(
                self.settings,
                rec.topic,
                rec.partition,
                client_id=f"{self.settings.app_id}-skips",
                from_offset=expected,
                until_offset=rec.offset,
            )
        ]
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
