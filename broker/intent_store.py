"""The intent table as the processors' agents share it: each batch's writes are its own.

A worker runs one agent per input topic, and their batches run concurrently against one table
(an offer and an acceptance of the same intent arrive on different topics). A batch's writes
are staged in a `StateBatch` and reach the table only once that batch's outputs are
acknowledged. Until then they are *pending*: other batches read them (an acceptance must see
the offer delivered a moment ago), and a batch that read or overwrote another's pending write
depends on it. Its writes reach the table only after that batch's did, and not at all if that
batch is thrown away: its handling assumed state that never became true.

Without this, one agent's commit applied another agent's staged writes before that agent's
outputs were acknowledged; when those outputs then failed, the retry found the state claiming
them and sent nothing (an offer's feedback to its vendor was lost that way in a broker-restart
drill).

Which batch a handler runs in is a `ContextVar`: every agent's batch is an asyncio task of its
own, so the handlers keep calling `ctx.store.get/put` and cannot pick the wrong batch.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
from collections import OrderedDict
from collections.abc import MutableMapping
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Final

from aiokafka.errors import KafkaError

from intentcast.broker.records import IntentRecord
from intentcast.schemas.partitioning import key_partition


class StateConflictError(KafkaError):  # type: ignore[misc]  # aiokafka ships no hints
    """A batch's state depends on a batch that was thrown away (or on one that depends on it):
    handle it again. Retriable like a Kafka fault, so the batch loop retries it within budget."""

    retriable = True


def partition_of(intent_id: str, partitions: int) -> int:
    return key_partition(intent_id.encode(), partitions)


_ids = itertools.count(1)
# how long a commit waits for a batch it built on: a wait past this is a cycle the read-time
# check could not see (a batch waiting for another agent's batch inside its own handling), and
# retrying, within the retry budget, beats hanging alive
DEPENDENCY_WAIT_S: Final = 15.0


@dataclass(eq=False)
class StateBatch:
    """One attempt of one batch: what it wrote, and whose pending writes it built on."""

    writes: dict[bytes, IntentRecord | None] = field(default_factory=dict)
    after: set[StateBatch] = field(default_factory=set)
    id: int = field(default_factory=lambda: next(_ids))
    # None while open; True once applied, False once thrown away
    outcome: bool | None = None
    finished: asyncio.Event = field(default_factory=asyncio.Event)

    def depends_on(self, other: StateBatch) -> bool:
        """Whether this batch built, directly or through others, on `other`'s pending writes."""
        seen: set[StateBatch] = set()
        todo = [self]
        while todo:
            batch = todo.pop()
            if batch is other:
                return True
            if batch not in seen:
                seen.add(batch)
                todo.extend(b for b in batch.after if b.outcome is None)
        return False


_current: ContextVar[StateBatch | None] = ContextVar("intentcast_state_batch", default=None)


@dataclass
class IntentStore:
    """The faust table of intent records, with per-batch staged writes and expiry heaps."""

    table: MutableMapping[bytes, bytes]  # faust's Table in a worker, a dict in unit tests
    partitions: int
    expiries: dict[int, list[tuple[int, str]]] = field(default_factory=dict)
    heaps_built: bool = False
    # decoded records of the table, so an intent's offers do not each re-parse its record
    decoded: OrderedDict[bytes, IntentRecord] = field(default_factory=OrderedDict)
    decoded_max: int = 50_000
    # per key, the open batches that wrote it, oldest first: the last one's value is current
    pending: dict[bytes, list[StateBatch]] = field(default_factory=dict)
    # the batch of code that runs outside any agent's batch (a handler in a unit test)
    _loose: StateBatch | None = None

    # -- batches --

    def begin(self) -> StateBatch:
        """Start a batch in the calling task: its reads and writes are its own from now on."""
        batch = StateBatch()
        _current.set(batch)
        return batch

    def current(self) -> StateBatch:
        batch = _current.get()
        if batch is not None and batch.outcome is None:
            return batch
        if self._loose is None or self._loose.outcome is not None:
            self._loose = StateBatch()
        return self._loose

    async def commit(self, batch: StateBatch | None = None) -> None:
        """Apply a batch's writes (call once its outputs are acknowledged).

        Waits until every batch it built on is applied; raises StateConflictError if one of
        them was thrown away instead (the caller then abandons this batch too).
        """
        batch = batch or self.current()
        # the edges stay until this batch closes: the cycle check in `_build_on` follows them
        for earlier in list(batch.after):
            if earlier.outcome is None:
                try:
                    await asyncio.wait_for(earlier.finished.wait(), DEPENDENCY_WAIT_S)
                except TimeoutError:
                    raise StateConflictError(
                        f"the batch this one built on did not finish in {DEPENDENCY_WAIT_S:.0f} s"
                    ) from None
            if earlier.outcome is False:
                raise StateConflictError(
                    "the state this batch built on was thrown away with another batch"
                )
        self._write(batch)
        self._close(batch, applied=True)

    def apply(self) -> None:
        """Apply the loose batch at once (a handler's unit test, where nothing is concurrent)."""
        batch = self.current()
        if batch.after:
            raise RuntimeError("a batch that built on others' writes is applied with commit()")
        self._write(batch)
        self._close(batch, applied=True)

    def abandon(self, batch: StateBatch | None = None) -> None:
        """Throw a batch's writes away; batches that built on them fail at their commit.

        Expiry heaps are rebuilt at the next tick: the batch may have taken due entries off
        them, and those intents must still expire.
        """
        batch = batch or self.current()
        if batch.outcome is None:
            self._close(batch, applied=False)
            self.heaps_built = False

    # -- what handlers call --

    def get(self, intent_id: str) -> IntentRecord | None:
        key = intent_id.encode()
        batch = self.current()
        if key in batch.writes:
            return batch.writes[key]
        writer = self._pending_writer(key)
        if writer is not None:
            self._build_on(batch, writer)
            return writer.writes[key]
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
        self._stage(intent_id.encode(), record)

    def drop(self, intent_id: str) -> None:
        self._stage(intent_id.encode(), None)

    def schedule(self, intent_id: str, expires_at_ms: int) -> None:
        heap = self.expiries.setdefault(partition_of(intent_id, self.partitions), [])
        heapq.heappush(heap, (expires_at_ms, intent_id))

    def rebuild_heaps(self) -> None:
        self.expiries.clear()
        for key, raw in list(self.table.items()):
            record = IntentRecord.from_bytes(raw)
            self.schedule(key.decode(), record.expires_at_ms)
        for key, writers in self.pending.items():  # taken in, awaiting their batches' acks
            staged = writers[-1].writes[key]
            if staged is not None:
                self.schedule(key.decode(), staged.expires_at_ms)
        self.heaps_built = True

    def due(self, partition: int, now_ms: int) -> list[str]:
        """The intents of `partition` whose time is up, taken off its heap (the heaps are
        rebuilt from the table first after a start, a rebalance or a thrown-away batch)."""
        if not self.heaps_built:
            self.rebuild_heaps()
        heap = self.expiries.get(partition, [])
        out: list[str] = []
        while heap and heap[0][0] <= now_ms:
            out.append(heapq.heappop(heap)[1])
        return out

    def open_count(self) -> int:
        return len(self.table)

    def forget_decoded(self) -> None:
        """After a rebalance the table may hold other partitions' records: start afresh."""
        self.decoded.clear()

    # -- inside --

    def _pending_writer(self, key: bytes) -> StateBatch | None:
        writers = self.pending.get(key)
        return writers[-1] if writers else None

    def _build_on(self, batch: StateBatch, writer: StateBatch) -> None:
        if writer is batch:
            return
        if writer.depends_on(batch):
            # each would wait for the other at commit: the later reader starts over
            raise StateConflictError("two batches built on each other's pending state")
        batch.after.add(writer)

    def _stage(self, key: bytes, record: IntentRecord | None) -> None:
        batch = self.current()
        writer = self._pending_writer(key)
        if writer is not None and writer is not batch:
            self._build_on(batch, writer)  # its value is overwritten: apply it first
        if key not in batch.writes:
            self.pending.setdefault(key, []).append(batch)
        batch.writes[key] = record

    def _write(self, batch: StateBatch) -> None:
        for key, record in batch.writes.items():
            if record is None:
                self.decoded.pop(key, None)
                if key in self.table:
                    del self.table[key]
            else:
                self.table[key] = record.to_bytes()
                self._remember(key, record)

    def _close(self, batch: StateBatch, *, applied: bool) -> None:
        for key in batch.writes:
            writers = self.pending.get(key)
            if writers is not None:
                writers[:] = [w for w in writers if w is not batch]
                if not writers:
                    del self.pending[key]
        batch.outcome = applied
        batch.after.clear()
        batch.finished.set()

    def _remember(self, key: bytes, record: IntentRecord) -> None:
        self.decoded[key] = record
        if len(self.decoded) > self.decoded_max:
            self.decoded.popitem(last=False)


__all__ = ["IntentStore", "StateBatch", "StateConflictError", "partition_of"]
