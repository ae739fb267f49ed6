"""One agent's loop: take a batch, handle it, hand its outputs over, and take the next one
while they are in flight; each batch is acknowledged, applied and marked done in order.

The order that makes replays safe (docs/reliability.md) holds per batch:

1. holes in front of the batch are read from the log (`broker.runtime.holes`);
2. each record goes to its handler; a bug on one record dead-letters that record;
3. the batch's outputs are handed to the producer, and the loop goes on with the next batch
   (at most MAX_IN_FLIGHT batches await their acknowledgements);
4. in the order they were handled, each batch's outputs are awaited, then its staged state is
   applied, and only then do its offsets count as done for the checkpoint, so the commit
   advances only over a prefix whose outputs were all acknowledged.

Batches are handled one at a time per agent, so a partition's records stay in order, the
ledger's chain heads advance batch after batch, and the idempotent producer keeps each
partition's records in the order they were handed over (a later batch's record to a partition
is never written before an earlier batch's record that failed: its sequence number is refused).
A later batch may build on an earlier one's pending state (`broker.intent_store`).

A Kafka failure anywhere throws away the batch it hit and every batch handled after it (staged
state, cached chain heads, the producer), with no batch handled meanwhile; they are handled
again in order, one at a time, after a backoff, for up to the retry budget; past it the worker
stops (exit 1) and its supervisor restarts it. Their records are not done meanwhile, so nothing
past them is committed.

A rebalance may land while batches run: the revoke handler waits for them (`drain`), and any
that does not finish in time is cancelled, its work is thrown away, and it replays wherever
its partitions go.
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
import time
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Final

from aiokafka.errors import KafkaError

from intentcast.broker.context import Context, StateBatch
from intentcast.broker.outputs import InFlight
from intentcast.broker.processors.incoming import Incoming, dead_letter
from intentcast.broker.runtime.checkpoint import Checkpoint
from intentcast.broker.runtime.faults import Fault, ThrottledLog, classify
from intentcast.broker.runtime.holes import HoleFiller
from intentcast.broker.runtime.supervision import KafkaLiveness, Supervision
from intentcast.schemas import ACCEPTANCES, ReasonCode

log = logging.getLogger("intentcast.broker.runtime.batch_loop")
Handler = Callable[[Context, Incoming], Awaitable[None]]
BATCH = 200
BATCH_WINDOW_S = 0.005
MAX_IN_FLIGHT = 4  # batches handed over and awaiting their acknowledgements, per agent
CHAINED: Final = frozenset({ACCEPTANCES})
"""Inputs whose handlers chain their outputs on heads read back from Kafka (the agreement log):
their next batch waits for the last one's acknowledgements. Any agent's thrown-away batch drops
the cached chain heads (`Context.abandon_batch`); a batch handled while the last one's records
were still in flight would then re-read a head without them, and fork the chain."""
BACKOFF_S = (0.2, 0.5, 1.0, 2.0, 5.0)


@dataclass
class Runtime:
    """What every agent loop of a worker shares."""

    ctx: Context
    checkpoint: Checkpoint
    holes: HoleFiller
    supervision: Supervision
    throttled: ThrottledLog
    retry_budget_s: float
    liveness: KafkaLiveness


@dataclass(eq=False)
class _HandedOver:
    """A batch whose outputs are in flight: what finishing it, or handling it again, needs."""

    records: list[Incoming]  # with the holes read in front of them
    generation: int
    state: StateBatch | None  # None once thrown away
    resets: int
    in_flight: InFlight | None  # None: its handling failed with `error`
    error: Exception | None = None
    # set once it is done, handled again, or thrown away for good (a rebalance, a fatal fault)
    settled: asyncio.Event = field(default_factory=asyncio.Event)


class AgentLoop:
    """The loop of one input topic (concurrency 1: a partition's records stay in order)."""

    def __init__(
        self, name: str, topic: str, handler: Handler, rt: Runtime, upstream: tuple[str, ...] = ()
    ) -> None:
        self.name, self.topic, self.handler, self.rt = name, topic, handler, rt
        self.upstream = upstream  # inputs whose replay this one waits for (runtime.upstream)
        # one batch handled at a time (the stream's or a re-read's), and none while batches
        # that failed are thrown away and handled again
        self._lock = asyncio.Lock()
        self._current: asyncio.Task[_HandedOver] | None = None  # the batch being handled
        self._handed: deque[_HandedOver] = deque()  # oldest first
        self._finisher: asyncio.Task[None] | None = None
        self._changed = asyncio.Event()  # a batch finished or was thrown away
        self._recovering = False  # failed batches are being handled again
        self._broken: Exception | None = None  # the worker is stopping on this fault
        self.max_in_flight = 1 if topic in CHAINED else MAX_IN_FLIGHT
        self.idle_since: float | None = time.monotonic()

    async def run(self, stream: Any) -> AsyncIterator[None]:
        """The faust agent body (faust's stream, `acks=False`: nothing of ours to ack)."""
        try:
            async for events in stream.take_events(BATCH, within=BATCH_WINDOW_S):
                records = [
                    Incoming.from_record(e.message, int(e.message.timestamp * 1000)) for e in events
                ]
                await self.submit(records)
                yield None
        except asyncio.CancelledError:
            raise  # the worker is stopping
        except Exception as exc:
            await self.rt.supervision.fatal(f"agent {self.name} failed", exc)
            raise

    async def process(self, records: list[Incoming]) -> None:
        """Handle one batch to the end: its outputs acknowledged and its state applied (or
        until a rebalance abandons it). For re-reads, which count what they handed over."""
        entry = await self.submit(records)
        if entry is not None:  # not just every batch so far: the stream's keep coming
            await entry.settled.wait()

    async def submit(self, records: list[Incoming]) -> _HandedOver | None:
        """Handle one batch and hand its outputs over; returns while they are in flight."""
        if self._broken is not None:
            raise self._broken  # no more batches once the finisher gave up
        await self._acquire_with_room()
        try:
            self.idle_since = None
            generation = self.rt.checkpoint.generation
            self._current = asyncio.ensure_future(self._handle(records, generation))
            try:
                return await asyncio.shield(self._current)
            except asyncio.CancelledError:
                if not self._current.cancelled():
                    self._current.cancel()  # we are cancelled ourselves: stop the batch too
                    raise
                log.info("%s: a batch abandoned at a rebalance replays elsewhere", self.name)
                return None
            finally:
                self._current = None
                self._mark_idle()
        finally:
            self._lock.release()

    async def _acquire_with_room(self) -> None:
        """The lock, once there is room for one more batch (checked under the lock, so two
        callers, the stream and a re-read, never both take the last place)."""
        while True:
            self._changed.clear()
            if self._has_room():
                await self._lock.acquire()
                if self._has_room():
                    return
                self._lock.release()
                continue
            await self._changed.wait()

    async def drain(self, timeout: float) -> bool:
        """Wait for the batches handled and in flight; cancel them after `timeout`. True if
        they all finished."""
        deadline = time.monotonic() + timeout
        while busy := {
            t for t in (self._current, self._finisher) if t is not None and not t.done()
        }:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                for task in busy:  # each throws its state away as the cancellation lands
                    task.cancel()
                await asyncio.wait(busy)
                self.rt.ctx.metrics.count("consumer.batches_abandoned")
                return False
            await asyncio.wait(busy, timeout=remaining)
        return True

    def _has_room(self) -> bool:
        """Room for one more batch, and no failed handling waiting to be handled again: a batch
        handled now would build on the chain heads and state its failure dropped."""
        return (
            not self._recovering
            and len(self._handed) < self.max_in_flight
            and not any(entry.error is not None for entry in self._handed)
        )

    def _mark_idle(self) -> None:
        if self._current is None and not self._handed:
            self.idle_since = time.monotonic()

    async def _handle(self, records: list[Incoming], generation: int) -> _HandedOver:
        """Handle the batch and hand its outputs over; a failure is left to the finisher, in
        order behind the batches handed over before it."""
        ctx = self.rt.ctx
        state = ctx.begin_batch()  # this task's state writes, apart from other agents'
        resets = ctx.outputs.resets
        try:
            batch = await self.rt.holes.complete(records)
            records = batch  # a retry handles the holes again, too
            await self._wait_for_upstream(batch)
            for rec in batch:
                await self._dispatch(rec)
            in_flight = await ctx.outputs.hand_over()
        except asyncio.CancelledError:
            ctx.abandon_batch(state)  # a rebalance gave up on it: it replays elsewhere
            raise
        except Exception as exc:
            ctx.abandon_batch(state)
            entry = _HandedOver(records, generation, None, resets, None, exc)
        else:
            entry = _HandedOver(batch, generation, state, resets, in_flight)
        self._handed.append(entry)
        if self._finisher is None or self._finisher.done():
            # a context of its own: this task's current state batch is not the finisher's
            self._finisher = asyncio.get_running_loop().create_task(
                self._finish_in_order(), context=contextvars.Context()
            )
        return entry

    async def _finish_in_order(self) -> None:
        """Acknowledge, apply and mark done each batch handed over, oldest first."""
        ctx = self.rt.ctx
        try:
            while self._handed:
                head = self._handed[0]
                try:
                    if head.error is not None:
                        raise head.error
                    assert head.in_flight is not None
                    await ctx.finish_batch(head.state, head.in_flight, head.resets)
                except asyncio.CancelledError:
                    raise
                except Exception as exc:
                    # thrown away at once: batches of other agents that built on their state
                    # fail now instead of waiting for it
                    self._recovering = True
                    entries = self._throw_away()
                    try:
                        await self._handle_again(exc, entries)
                    finally:
                        self._settle(entries)
                        self._recovering = False
                        self._changed.set()
                    continue
                self._handed.popleft()
                head.settled.set()
                self.rt.liveness.ok()
                self.rt.checkpoint.done(head.records, head.generation)
                ctx.metrics.count("consumer.batches")  # with the next: the batches' size
                ctx.metrics.count("consumer.batch_records", len(head.records))
                self._changed.set()
        except asyncio.CancelledError:
            self._settle(self._throw_away())  # a rebalance gave up on them: they replay elsewhere
            self._changed.set()
            raise
        except Exception as exc:
            self._broken = exc
            self._settle(self._throw_away())
            self._changed.set()
            await self.rt.supervision.fatal(f"agent {self.name} failed", exc)
        finally:
            self._mark_idle()

    def _throw_away(self) -> list[_HandedOver]:
        """Drop the state of every batch handed over, newest first (later ones built on the
        earlier ones' pending writes and chain heads); return them, oldest first."""
        ctx = self.rt.ctx
        entries = list(self._handed)
        while self._handed:
            entry = self._handed.pop()
            if entry.state is not None:  # a failed handling threw its own away at once
                ctx.abandon_batch(entry.state)
                entry.state = None
        return entries

    @staticmethod
    def _settle(entries: list[_HandedOver]) -> None:
        for entry in entries:
            entry.settled.set()

    async def _handle_again(self, first: Exception, entries: list[_HandedOver]) -> None:
        """The oldest batch handed over failed: throw it away with every batch handled after
        it, and handle them again in order, one at a time, with no other batch handled
        meanwhile (a batch handled now would build on chain heads and state being dropped)."""
        async with self._lock:
            ctx = self.rt.ctx
            await ctx.outputs.reset()
            started = time.monotonic()
            if classify(first, in_record=False) is not Fault.TRANSIENT:
                raise first
            self._warn_retry(first, BACKOFF_S[0], 0.0)
            await asyncio.sleep(BACKOFF_S[0])
            for entry in entries:
                await self._attempts(entry.records, entry.generation, started, attempt=1)

    async def _attempts(
        self, records: list[Incoming], generation: int, started: float, attempt: int = 0
    ) -> None:
        """Handle the batch to the end; on a transient Kafka fault, again after a backoff."""
        ctx = self.rt.ctx
        while True:
            state = ctx.begin_batch()  # this task's state writes, apart from other agents'
            try:
                resets = ctx.outputs.resets
                batch = await self.rt.holes.complete(records)
                records = batch
                await self._wait_for_upstream(batch)
                for rec in batch:
                    await self._dispatch(rec)
                await ctx.commit_batch(state, resets)
                self.rt.liveness.ok()
                self.rt.checkpoint.done(batch, generation)
                return
            except asyncio.CancelledError:
                ctx.abandon_batch(state)  # a rebalance gave up on it: it replays elsewhere
                raise
            except Exception as exc:
                fault = classify(exc, in_record=False)
                await ctx.reset_after_failure(state)
                spent = time.monotonic() - started
                if fault is not Fault.TRANSIENT or spent > self.rt.retry_budget_s:
                    raise
                delay = BACKOFF_S[min(attempt, len(BACKOFF_S) - 1)]
                attempt += 1
                self._warn_retry(exc, delay, spent)
                await asyncio.sleep(delay)

    def _warn_retry(self, exc: Exception, delay: float, spent: float) -> None:
        self.rt.throttled.warning(
            f"transient.{self.name}.{type(exc).__name__}",
            "%s: Kafka fault (%s: %s); handling the batch again in %.1f s (%.0f of %.0f s"
            " of the retry budget spent)", self.name, type(exc).__name__, exc, delay,
            spent, self.rt.retry_budget_s,
        )  # fmt: skip

    async def _wait_for_upstream(self, batch: list[Incoming]) -> None:
        """After a restart, the upstream inputs' replay first (once per partition: see
        `broker.replay`); steady-state batches pass at once."""
        for partition in sorted({rec.partition for rec in batch}):
            for topic in self.upstream:
                await self.rt.ctx.replay.wait_for(topic, partition)

    async def _dispatch(self, rec: Incoming) -> None:
        """A bug on one odd record must not stall the stream: dead-letter it as internal_error.

        Kafka failures are not the record's fault: they go up to `_attempts`.
        """
        ctx = self.rt.ctx
        try:
            await self.handler(ctx, rec)
        except KafkaError:
            raise
        except Exception as exc:
            if classify(exc, in_record=True) is not Fault.BUG:
                raise
            log.exception("processing %s[%d]@%d failed", rec.topic, rec.partition, rec.offset)
            ctx.metrics.count("internal_errors")
            await dead_letter(ctx, rec, ReasonCode.INTERNAL_ERROR, f"{type(exc).__name__}: {exc}")
        # what the replay barrier waits for and the stall watch compares with
        ctx.replay.handled(rec.topic, rec.partition, rec.offset)
