"""What every processor shares: settings, outputs, registry, ledger, metrics and intent state.

Table writes are staged and applied only after the batch's outputs are acknowledged. faust
flushes the changelog before it commits input offsets, so a crash at any point replays the
input rather than leaving state that claims an output which never reached Kafka.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from aiokafka.partitioner import murmur2

from broker.ledger import Ledger
from broker.metrics import Metrics
from broker.outputs import Outputs
from broker.records import IntentRecord
from broker.registry import VendorRegistry
from broker.settings import BrokerSettings
from schemas import utcnow


def partition_of(intent_id: str, partitions: int) -> int:
    """Kafka's default partitioner (murmur2), as every producer of intent-keyed topics uses."""
    return int(murmur2(intent_id.encode()) & 0x7FFFFFFF) % partitions


@dataclass
class IntentStore:
    """The faust table of intent records, with staged writes and per-partition expiry heaps."""

    table: Any  # faust.Table[bytes, bytes]; faust ships no type hints
    partitions: int
    staged: dict[bytes, bytes | None] = field(default_factory=dict)
    expiries: dict[int, list[tuple[int, str]]] = field(default_factory=dict)
    heaps_built: bool = False

    def get(self, intent_id: str) -> IntentRecord | None:
        key = intent_id.encode()
        raw = self.staged[key] if key in self.staged else self.table.get(key)
        return None if raw is None else IntentRecord.from_bytes(raw)

    def put(self, intent_id: str, record: IntentRecord) -> None:
        self.staged[intent_id.encode()] = record.to_bytes()

    def drop(self, intent_id: str) -> None:
        self.staged[intent_id.encode()] = None

    def apply(self) -> None:
        """Write staged changes to the table (call after outputs are acknowledged)."""
        for key, value in self.staged.items():
            if value is None:
                if key in self.table:
                    del self.table[key]
            else:
                self.table[key] = value
        self.staged.clear()

    def schedule(self, intent_id: str, expires_at_ms: int) -> None:
        heap = self.expiries.setdefault(partition_of(intent_id, self.partitions), [])
        heapq.heappush(heap, (expires_at_ms, intent_id))

    def rebuild_heaps(self) -> None:
        self.expiries.clear()
        for key, raw in list(self.table.items()):
            record = IntentRecord.from_bytes(raw)
            self.schedule(key.decode(), record.expires_at_ms)
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

    async def commit_batch(self) -> None:
        """Outputs acknowledged first, then state: the order that makes replays safe."""
        await self.outputs.flush()
        self.store.apply()
