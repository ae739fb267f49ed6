"""The processors' shared parts, and the batch lifecycle the runtime drives over them.

Handlers see these parts only through the narrow views of `broker.handler_context`; the
runtime alone starts them, forgets their caches on a rebalance, waits for replays
(`replay`), and commits or abandons batches here.

Table writes are staged per batch and applied only after that batch's outputs are acknowledged
(`broker.intent_store`: the agents' batches run concurrently against one table), and the
checkpoint flushes the table's changelog before it commits input offsets
(`broker.runtime.checkpoint`), so a crash at any point replays the input rather than leaving
state that claims an output which never reached Kafka.

The table is any mutable mapping of bytes to bytes: faust's table in a worker, a dict in a
handler's unit test.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from aiokafka.errors import KafkaError

from intentcast.broker.delivered import DeliveredOffers
from intentcast.broker.intent_store import IntentStore, StateBatch, partition_of
from intentcast.broker.ledger import Ledger
from intentcast.broker.metrics import Metrics
from intentcast.broker.outputs import Outputs
from intentcast.broker.registry import VendorRegistry
from intentcast.broker.replay import ReplayBarrier
from intentcast.broker.settings import BrokerSettings
from intentcast.schemas import utcnow


class OutputsResetError(KafkaError):  # type: ignore[misc]  # aiokafka ships no hints
    """A batch's queued outputs were dropped by another batch's retry: handle it again."""

    retriable = True


@dataclass
class Context:
    settings: BrokerSettings
    outputs: Outputs
    registry: VendorRegistry
    ledger: Ledger
    metrics: Metrics
    store: IntentStore
    delivered: DeliveredOffers  # the ledger's recovery, for offers delivered before a crash
    replay: ReplayBarrier  # dependent inputs wait for their upstream's replay (runtime only)
    clock: Callable[[], datetime] = utcnow

    @classmethod
    def build(
        cls,
        settings: BrokerSettings,
        store: IntentStore,
        *,
        outputs: Outputs | None = None,
        metrics: Metrics | None = None,
        clock: Callable[[], datetime] = utcnow,
    ) -> Context:
        """The parts wired to one settings object (a worker, or a handler's unit test)."""
        metrics = metrics or Metrics(settings.app_id)
        outputs = outputs or Outputs(settings, metrics=metrics)
        return cls(
            settings=settings,
            outputs=outputs,
            registry=VendorRegistry(settings),
            ledger=Ledger(settings, outputs, clock),
            metrics=metrics,
            store=store,
            delivered=DeliveredOffers(settings),
            replay=ReplayBarrier(settings),
            clock=clock,
        )

    def forget_partitions(self) -> None:
        """On a rebalance: what was cached about partitions is re-read from Kafka when next
        needed (chain heads, delivered tails, replay progress, decoded records, heaps)."""
        self.ledger.forget()
        self.delivered.forget()
        self.replay.forget()
        self.store.heaps_built = False
        self.store.forget_decoded()

    def begin_batch(self) -> StateBatch:
        """Start one attempt of a batch in the calling task (its state writes are its own)."""
        return self.store.begin()

    async def commit_batch(
        self, batch: StateBatch | None = None, resets_at_start: int | None = None
    ) -> None:
        """Outputs acknowledged first, then state: the order that makes replays safe.

        `resets_at_start` is `outputs.resets` when the batch began: if another agent's retry
        reset the shared outputs since, records this batch queued were dropped, so the batch
        is not committed and is handled again. The state it built on from other batches is
        applied before its own, or it is not applied at all (`broker.intent_store`).
        """
        try:
            await self.outputs.flush()
            if resets_at_start is not None and self.outputs.resets != resets_at_start:
                raise OutputsResetError("the outputs were reset while this batch was queued")
            await self.store.commit(batch)
        except BaseException:
            self.abandon_batch(batch)
            raise

    def abandon_batch(self, batch: StateBatch | None = None) -> None:
        """A batch will not be committed: forget what it staged and what it cached."""
        # chain heads it advanced may name records that never reached Kafka, and deliveries
        # it made are not in the cached tail; the replay barrier is kept (what the upstream
        # agents handled is still handled)
        self.ledger.forget()
        self.delivered.forget()
        self.store.abandon(batch)

    async def reset_after_failure(self, batch: StateBatch | None = None) -> None:
        """Before a batch is handled again after a Kafka fault."""
        self.abandon_batch(batch)
        await self.outputs.reset()


__all__ = [
    "Context",
    "IntentStore",
    "OutputsResetError",
    "StateBatch",
    "partition_of",
]
