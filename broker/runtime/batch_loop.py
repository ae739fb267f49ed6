"""One agent's loop: take a batch, complete it, handle it, acknowledge it, mark it done.

The order inside a batch is what makes replays safe (docs/reliability.md):

1. holes in front of the batch are read from the log (`broker.runtime.holes`);
2. each record goes to its handler; a bug on one record dead-letters that record;
3. the batch's outputs are flushed and acknowledged, then its staged state is applied;
4. only then do its offsets count as done for the checkpoint.

A Kafka failure anywhere in 1-3 throws the whole attempt away (staged state, cached chain
heads, the producer) and handles the same batch again after a backoff, for up to the retry
budget; past it the worker stops (exit 1) and its supervisor restarts it. The records are not
acknowledged meanwhile, so nothing past them is committed.

A rebalance may land while a batch runs: the revoke handler waits for it (`drain`), and one
that does not finish in time is cancelled, its work is thrown away, and it replays wherever
its partitions go.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from aiokafka.errors import KafkaError

from intentcast.broker.context import Context
from intentcast.broker.processors.incoming import Incoming, dead_letter
from intentcast.broker.runtime.checkpoint import Checkpoint
from intentcast.broker.runtime.faults import Fault, ThrottledLog, classify
from intentcast.broker.runtime.holes import HoleFiller
from intentcast.broker.runtime.supervision import KafkaLiveness, Supervision
from intentcast.schemas import ReasonCode

log = logging.getLogger("intentcast.broker.runtime.batch_loop")
Handler = Callable[[Context, Incoming], Awaitable[None]]
BATCH = 200
BATCH_WINDOW_S = 0.005
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


class AgentLoop:
    """The loop of one input topic (concurrency 1: a partition's records stay in order)."""

    def __init__(
        self, name: str, topic: str, handler: Handler, rt: Runtime, upstream: tuple[str, ...] = ()
    ) -> None:
        self.name, self.topic, self.handler, self.rt = name, topic, handler, rt
        self.upstream = upstream  # inputs whose replay this one waits for (runtime.upstream)
        self._lock = asyncio.Lock()  # one batch at a time: the stream's or a re-read's
        self._current: asyncio.Task[None] | None = None
        self.idle_since: float | None = time.monotonic()

    async def run(self, stream: Any) -> AsyncIterator[None]:
        """The faust agent body (faust's stream, `acks=False`: nothing of ours to ack)."""
        try:
            async for events in stream.take_events(BATCH, within=BATCH_WINDOW_S):
                records = [
                    Incoming.from_record(e.message, int(e.message.timestamp * 1000)) for e in events
                ]
                await self.process(records)
                yield None
        except asyncio.CancelledError:
            raise  # the worker is stopping
        except Exception as exc:
            await self.rt.supervision.fatal(f"agent {self.name} failed", exc)
            raise

    async def process(self, records: list[Incoming]) -> None:
        """Handle one batch to the end (or until a rebalance abandons it)."""
        async with self._lock:
            self.idle_since = None
            generation = self.rt.checkpoint.generation
            self._current = asyncio.ensure_future(self._attempts(records, generation))
            try:
                await asyncio.shield(self._current)
            except asyncio.CancelledError:
                if not self._current.cancelled():
                    self._current.cancel()  # we are cancelled ourselves: stop the batch too
                    raise
                log.info("%s: a batch abandoned at a rebalance replays elsewhere", self.name)
            finally:
                self._current = None
                self.idle_since = time.monotonic()

    async def drain(self, timeout: float) -> bool:
        """Wait for the batch in flight; cancel it after `timeout`. True if it finished."""
        current = self._current
        if current is None or current.done():
            return True
        done, _ = await asyncio.wait({current}, timeout=timeout)
        if done:
            return True
        current.cancel()  # `_attempts` throws its state away as the cancellation lands
        self.rt.ctx.metrics.count("consumer.batches_abandoned")
        return False

    async def _attempts(self, records: list[Incoming], generation: int) -> None:
        """Handle the batch; on a transient Kafka fault, handle it again after a backoff."""
        started, attempt = time.monotonic(), 0
        ctx = self.rt.ctx
        while True:
            state = ctx.begin_batch()  # this task's state writes, apart from other agents'
            try:
                resets = ctx.outputs.resets
                batch = await self.rt.holes.complete(records)
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
                self.rt.throttled.warning(
                    f"transient.{self.name}.{type(exc).__name__}",
                    "%s: Kafka fault (%s: %s); handling the batch again in %.1f s (%.0f of %.0f s"
                    " of the retry budget spent)", self.name, type(exc).__name__, exc, delay,
                    spent, self.rt.retry_budget_s,
                )  # fmt: skip
                await asyncio.sleep(delay)

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
