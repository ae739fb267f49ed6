"""The faust-streaming application: topics, the intent table and one agent per processor.

Agents run with concurrency 1 and process small batches: outputs of a batch are acknowledged
before its state is applied (see `Context`) and before its input offsets count as done and may
be committed (see `broker.input_offsets`).
"""

from __future__ import annotations

import logging
import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import faust
from aiokafka.errors import KafkaError

from broker import task_dump
from broker.context import Context, IntentStore
from broker.input_offsets import InputOffsets
from broker.ledger import Ledger
from broker.metrics import Metrics
from broker.outputs import Outputs
from broker.processors.decisions import handle_acceptance, handle_cancel
from broker.processors.expiry import handle_tick
from broker.processors.incoming import Incoming, dead_letter
from broker.processors.intake import handle_intent
from broker.processors.offers import handle_offer
from broker.profile_gate import ProfileGate
from broker.registry import VendorRegistry
from broker.settings import BrokerSettings
from broker.skip_filler import SkipFiller
from broker.stall_guard import StallGuard
from broker.topic_admin import TICKS_TOPIC_SUFFIX
from schemas import (
    ACCEPTANCES,
    CANCELS,
    INTENTS_SUBMITTED,
    METRICS,
    OFFERS_SUBMITTED,
    ReasonCode,
    encode,
)

log = logging.getLogger("intentcast.broker")
Handler = Callable[[Context, Incoming], Awaitable[None]]
BATCH = 200
BATCH_WINDOW_S = 0.005


def build_app(settings: BrokerSettings) -> tuple[Any, Context]:
    """Return the faust app (typed Any: faust ships partial hints) and its shared context."""
    app: Any = faust.App(
        settings.app_id,
        broker=f"kafka://{settings.bootstrap}",
        store="memory://",
        datadir=settings.datadir,
        topic_partitions=settings.partitions,
        topic_replication_factor=settings.replication,
        topic_allow_declare=True,
        web_enabled=False,
        producer_acks=-1,
        # the changelog of the intent table: a batch's writes go out in one request, not one each
        producer_linger=0.005,
        key_serializer="raw",
        value_serializer="raw",
        consumer_auto_offset_reset="earliest",
        broker_commit_interval=1.0,
        broker_session_timeout=settings.session_timeout_seconds,
        broker_heartbeat_interval=min(3.0, settings.session_timeout_seconds / 3),
        stream_wait_empty=True,
        table_cleanup_interval=30.0,
        broker_credentials=settings.faust_credentials(),  # SASL_SSL in secure mode
    )
    metrics = Metrics(f"processor:{socket.gethostname()}:{settings.app_id}")
    outputs = Outputs(settings, metrics=metrics)
    ctx = Context(
        settings=settings,
        outputs=outputs,
        registry=VendorRegistry(settings),
        ledger=Ledger(settings, outputs),
        metrics=metrics,
        store=IntentStore(
            table=app.Table(
                "intents",
                default=None,
                partitions=settings.partitions,
                key_type=bytes,
                value_type=bytes,
                use_partitioner=True,
            ),
            partitions=settings.partitions,
        ),
    )

    def topic(*names: str) -> Any:
        return app.topic(
            *names, key_serializer="raw", value_serializer="raw", partitions=settings.partitions
        )

    async def stop_worker(agent: str, exc: Exception) -> None:
        """An error outside `_guarded` (Kafka away beyond the retries, a failed flush): faust
        would restart only the agent, in a worker whose outputs refuse every later flush, so
        the whole worker stops (exit status 1) before the batch is marked done; its supervisor
        (systemd, Kubernetes, docker compose's restart policy) starts it again and it replays
        from the committed offsets."""
        log.critical("agent %s failed (%r); stopping the worker", agent, exc)
        await app.crash(exc)

    def agent(source_topic: str, handler: Handler, name: str) -> None:
        async def handle(rec: Incoming) -> None:
            await _guarded(ctx, handler, rec)
            # what the replay barrier waits for and the stall guard compares with
            ctx.ledger.replay.handled(rec.topic, rec.partition, rec.offset)

        async def process(stream: Any) -> AsyncIterator[None]:
            try:
                async for events in stream.take_events(BATCH, within=BATCH_WINDOW_S):
                    guard.working(source_topic)
                    batch: list[Incoming] = []
                    for event in events:
                        message = event.message
                        rec = Incoming.from_record(message, int(message.timestamp * 1000))
                        batch += await skips.missed_before(rec)
                        batch.append(rec)
                    for rec in batch:
                        await handle(rec)
                    await ctx.commit_batch()
                    offsets.done(batch)  # outputs acknowledged: these offsets may be committed
                    guard.idle(source_topic)
                    yield None
            except Exception as exc:
                await stop_worker(name, exc)
                raise

        process.__name__ = name
        app.agent(topic(source_topic), name=name, concurrency=1)(process)

    ticks = settings.app_id + TICKS_TOPIC_SUFFIX
    sources = {INTENTS_SUBMITTED, OFFERS_SUBMITTED, ACCEPTANCES, CANCELS}
    # faust can skip input records and commit past them after a crash's rebalance: commits
    # come from our own record (input_offsets), skipped records are read from the log
    # (skip_filler), partitions faust stopped fetching are re-read (stall_guard)
    offsets = InputOffsets(settings, frozenset(sources | {ticks}), ctx.metrics)
    guard = StallGuard(
        app,
        offsets.topics,
        ctx.metrics,
        ctx.ledger.replay.handled_upto,
        offsets.positions,
        offsets.deleted_below,
        settings.stall_rewind_seconds,
    )
    skips = SkipFiller(settings, ctx.metrics, offsets.positions, offsets.deleted_below)
    agent(INTENTS_SUBMITTED, handle_intent, "intake")
    agent(OFFERS_SUBMITTED, handle_offer, "offers")
    agent(ACCEPTANCES, handle_acceptance, "acceptances")
    agent(CANCELS, handle_cancel, "cancels")
    agent(ticks, handle_tick, "expiry")
    # vendor profiles come from one topic per vendor, found by pattern: see broker.profile_gate
    gate = ProfileGate(ctx)

    async def start_components() -> None:
        _quiet_client_logs(settings.log_level)
        task_dump.install(app, guard.describe)
        offsets.install(app.consumer)
        await ctx.registry.start()
        await gate.start()
        await ctx.outputs.producer()

    async def tick() -> None:
        for p in range(settings.partitions):
            await ctx.outputs.send(ticks, b"", None, partition=p)
        await ctx.outputs.flush()

    async def publish_metrics() -> None:
        ctx.metrics.gauges.update(await _consumer_lag(app, sources))
        source = ctx.metrics.source.encode()  # keyed by source: one partition, in order
        await ctx.outputs.send(METRICS, encode(ctx.metrics.snapshot()), source)
        await ctx.outputs.flush()

    async def on_assigned(sender: Any, assigned: Any, **kwargs: Any) -> None:
        offsets.forget()  # committed offsets are read again, after every commit of the revoke
        skips.forget()

    async def on_revoked(sender: Any, revoked: Any, **kwargs: Any) -> None:
        offsets.forget()
        skips.forget()
        ctx.ledger.forget()
        ctx.store.heaps_built = False
        ctx.store.forget_decoded()

    async def on_shutdown(sender: Any, **kwargs: Any) -> None:
        await gate.stop()
        await ctx.registry.stop()
        await ctx.outputs.stop()

    # faust's decorators are untyped, so they are applied as plain calls
    app.task(start_components)
    app.timer(interval=settings.expiry_tick_seconds, on_leader=True)(tick)
    app.timer(interval=settings.metrics_interval_seconds)(publish_metrics)
    app.timer(interval=max(1.0, settings.stall_rewind_seconds / 3))(guard.tick)
    app.on_partitions_revoked.connect(on_revoked)
    app.on_partitions_assigned.connect(on_assigned)
    app.on_before_shutdown.connect(on_shutdown)
    return app, ctx


async def _consumer_lag(app: Any, sources: set[str]) -> dict[str, float]:
    """Records on the broker this worker has not fetched yet, per input topic (`lag.<topic>`).

    Cheap: the high watermark comes with every fetch response and the position is local.
    """
    lag: dict[str, float] = {f"lag.{t}": 0.0 for t in sources}
    try:
        for tp in app.consumer.assignment():
            if tp.topic in sources:
                high, position = app.consumer.highwater(tp), await app.consumer.position(tp)
                if high is not None and position is not None:
                    lag[f"lag.{tp.topic}"] += float(max(0, high - position))
    except Exception as exc:  # a worker that is (re)joining its group has no consumer yet
        log.debug("consumer lag unavailable: %s", exc)
    lag["lag.total"] = sum(lag.values())
    return lag


def _quiet_client_logs(level: str) -> None:
    """The worker's log setup leaves the Kafka client loggers at DEBUG: every send then builds
    a log record nobody reads, about a tenth of the processors' CPU under load."""
    numeric = logging.getLevelName(level.upper().replace("WARN", "WARNING"))
    for name in ("aiokafka", "kafka", "faust", "mode"):
        logger = logging.getLogger(name)
        if logger.getEffectiveLevel() < numeric:
            logger.setLevel(numeric)


async def _guarded(ctx: Context, handler: Handler, rec: Incoming) -> None:
    """A bug on one odd record must not stall the stream: dead-letter it as internal_error.

    Kafka failures are not the record's fault and are not caught here: a read that still fails
    after its retries (`broker.partition_reader`), like a send that fails at `commit_batch`,
    stops the worker (`stop_worker` in `build_app`) before anything of the batch is committed,
    so the batch is replayed after a restart.
    """
    try:
        await handler(ctx, rec)
    except KafkaError:
        raise
    except Exception as exc:
        log.exception("processing %s[%d]@%d failed", rec.topic, rec.partition, rec.offset)
        ctx.metrics.count("internal_errors")
        await dead_letter(ctx, rec, ReasonCode.INTERNAL_ERROR, f"{type(exc).__name__}: {exc}")
