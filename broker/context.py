"""What every processor shares: settings, outputs, registry, ledger, metrics and intent state.

Table writes are staged and applied only after the batch's outputs are acknowledged, and the
checkpoint flushes the table's changelog before it commits input offsets
(`broker.runtime.checkpoint`), so a crash at any point replays the input rather than leaving
state that claims an output which never reached Kafka.

The table is any mutable mapping of bytes to bytes: faust's table in a worker, a dict in a
handler's unit test.
"""

from __future__ import annotations

import heapq
from collections import OrderedDict
from collections.abc import Callable, MutableMapping
from dataclasses import dataclass, field
from datetime import datetime

from aiokafka.errors import KafkaError

from broker.ledger import Ledger
from broker.metrics import Metrics
from broker.outputs import Outputs, key_partition
from broker.records import IntentRecord
from broker.registry import VendorRegistry
from broker.settings import BrokerSettings
from schemas import utcnow


class OutputsResetError(KafkaError):  # type: ignore[misc]  # aiokafka ships no hints
    """A batch's queued outputs were dropped by another batch's retry: handle it again."""

    retriable = True


def partition_of(intent_id: str, partitions: int) -> int:
    return key_partition(intent_id.encode(), partitions)


@dataclass
class IntentStore:
    """The faust table of intent records, with staged writes and per-partition expiry heaps."""

    table: MutableMapping[bytes, bytes]  # faust's Table in a worker, a dict in unit tests
    partitions: int
    staged: dict[bytes, IntentRecord | None] = field(default_factory=dict)
    expiries: dict[int, list[tuple[int, str]]] = field(default_factory=dict)
    heaps_built: bool = False
    # decoded records of the table, so an intent's offers do not each re-parse its record
    decoded: OrderedDict[bytes, IntentRecord] = field(default_factory=OrderedDict)
    decoded_max: int = 50_000

    def get(self, intent_id: str) -> IntentRecord | None:
        key = intent_id.encode()
        if key in self.staged:
            return self.staged[key]
        record = self.decoded.get(key)
        if record is not None:
            return record
        raw = self.table.get(key)
        if raw is None:
            return None
        record = IntentRecord.from_bytes(raw)
        self._remember(key, record)
        return record

    def put(self, intent_id: str, record: IntentRecord) -> None:
        self.staged[intent_id.encode()] = record

    def drop(self, intent_id: str) -> None:
        self.staged[intent_id.encode()] = None

    def _remember(self, key: bytes, record: IntentRecord) -> None:
        self.decoded[key] = record
        if len(self.decoded) > self.decoded_max:
            self.decoded.popitem(last=False)

    def forget_decoded(self) -> None:
        """After a rebalance the table may hold other partitions' records: start afresh."""
        self.decoded.clear()

    def apply(self) -> None:
        """Write staged changes to the table (call after outputs are acknowledged)."""
        for key, record in self.staged.items():
            if record is None:
                self.decoded.pop(key, None)
                if key in self.table:
                    del self.table[key]
            else:
                self.table[key] = record.to_bytes()
                self._remember(key, record)
        self.staged.clear()

    def schedule(self, intent_id: str, expires_at_ms: int) -> None:
        heap = self.expiries.setdefault(partition_of(intent_id, self.partitions), [])
        heapq.heappush(heap, (expires_at_ms, intent_id))

    def rebuild_heaps(self) -> None:
        self.expiries.clear()
        for key, raw in list(self.table.items()):
            record = IntentRecord.from_bytes(raw)
            self.schedule(key.decode(), record.expires_at_ms)
        for key, staged in self.staged.items():  # taken in, awaiting its batch's acks
            if staged is not None:
                self.schedule(key.decode(), staged.expires_at_ms)
        self.heaps_built = True

    def due(self, partition: int, now_ms: int) -> list[str]:
        heap = self.expiries.get(partition, [])
        out: list[str] = []
        while heap and heap[0][0] <= now_ms:
            out.append(heapq.heappop(heap)[1])
        return out

    def open_count(self) -> int:
        return len(self.table)


@dataclass
class Context:
    settings: BrokerSettings
    outputs: Outputs
    registry: VendorRegistry
    ledger: Ledger
    metrics: Metrics
    store: IntentStore
    clock: Callable[[], datetime] = utcnow

    async def commit_batch(self, resets_at_start: int | None = None) -> None:
        """Outputs acknowledged first, then state: the order that makes replays safe.

        `resets_at_start` is `outputs.resets` when the batch began: if another agent's retry
        reset the shared outputs since, records this batch queued were dropped, so the batch
        is not committed and is handled again.
        """
        try:
            await self.outputs.flush()
            if resets_at_start is not None and self.outputs.resets != resets_at_start:
                raise OutputsResetError("the outputs were reset while this batch was queued")
        except BaseException:
            self.abandon_batch()
            raise
        self.store.apply()

    def abandon_batch(self) -> None:
        """A batch will not be committed: forget what it staged and what it cached."""
        self.ledger.forget()  # chain heads advanced for records that may not exist
        self.store.staged.clear()

    async def reset_after_failure(self) -> None:
        """Before a batch is handled again after a Kafka fault."""
        self.abandon_batch()
        await self.outputs.reset()
