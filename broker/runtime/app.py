"""The faust wiring of the processors: topics, the intent table, one agent loop per input.

faust is used for what it does well here (the group membership, the fetch loop, the intent
table and its changelog, timers and signals); input progress, commits and the fault policy
are the runtime's own (`checkpoint`, `batch_loop`, `faults`, `supervision`).
"""

from __future__ import annotations

import asyncio
import logging
import socket
import time
from collections.abc import Awaitable, Callable
from typing import Any

import faust

from intentcast.broker.context import Context, IntentStore
from intentcast.broker.metrics import Metrics
from intentcast.broker.outputs import Outputs
from intentcast.broker.processors.attestations import handle_attestation
from intentcast.broker.processors.decisions import handle_acceptance, handle_cancel
from intentcast.broker.processors.disclosures import handle_disclosure
from intentcast.broker.processors.expiry import handle_tick
from intentcast.broker.processors.intake import handle_intent
from intentcast.broker.processors.offers import handle_offer
from intentcast.broker.profile_gate import ProfileGate
from intentcast.broker.runtime import task_dump
from intentcast.broker.runtime.batch_loop import AgentLoop, Handler, Runtime
from intentcast.broker.runtime.changelog_metadata import learn_changelog
from intentcast.broker.runtime.checkpoint import Checkpoint
from intentcast.broker.runtime.faults import Fault, ThrottledLog, classify
from intentcast.broker.runtime.holes import HoleFiller, read_range
from intentcast.broker.runtime.quarantine import Quarantine
from intentcast.broker.runtime.stalls import StallWatch
from intentcast.broker.runtime.supervision import KafkaLiveness, Supervision
from intentcast.broker.runtime.upstream import UPSTREAM
from intentcast.broker.settings import BrokerSettings
from intentcast.broker.topic_admin import TICKS_TOPIC_SUFFIX
from intentcast.schemas import (
    ACCEPTANCES,
    ATTESTATIONS,
    CANCELS,
    DISCLOSURES,
    INTENTS_SUBMITTED,
    METRICS,
    OFFERS_SUBMITTED,
    encode,
)

log = logging.getLogger("intentcast.broker.runtime")
COMMIT_INTERVAL_S = 1.0
DRAIN_TIMEOUT_S = 5.0  # at revoke, how long a batch in flight may take to finish

HANDLERS: dict[str, tuple[str, Handler]] = {
    INTENTS_SUBMITTED: ("intake", handle_intent),
    OFFERS_SUBMITTED: ("offers", handle_offer),
    ACCEPTANCES: ("acceptances", handle_acceptance),
    CANCELS: ("cancels", handle_cancel),
    DISCLOSURES: ("disclosures", handle_disclosure),
    ATTESTATIONS: ("attestations", handle_attestation),
}


def faust_app(settings: BrokerSettings) -> Any:
    """The faust app (typed Any: faust ships partial hints), with the client settings the
    processors need: acks=-1 for the changelog, earliest resets, our session timeout."""
    return faust.App(
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
        # faust's own commit timer has nothing to commit: inputs are acks=False
        broker_commit_interval=COMMIT_INTERVAL_S,
        broker_session_timeout=settings.session_timeout_seconds,
        broker_heartbeat_interval=min(3.0, settings.session_timeout_seconds / 3),
        stream_wait_empty=False,
        table_cleanup_interval=30.0,
        broker_credentials=settings.faust_credentials(),  # SASL_SSL in secure mode
    )


INTENT_TABLE = "intents"


def context_for(app: Any, settings: BrokerSettings) -> Context:
    metrics = Metrics(f"processor:{socket.gethostname()}:{settings.app_id}")
    outputs = Outputs(settings, metrics=metrics)
    table = app.Table(
        INTENT_TABLE,
        default=None,
        partitions=settings.partitions,
        key_type=bytes,
        value_type=bytes,
        use_partitioner=True,
    )
    store = IntentStore(table=table, partitions=settings.partitions)
    return Context.build(settings, store, outputs=outputs, metrics=metrics)


class ProcessorsRuntime:
    """One worker's processors: the agents, their shared runtime, timers and rebalance hooks."""

    def __init__(self, settings: BrokerSettings) -> None:
        self.settings = settings
        self.app = app = faust_app(settings)
        self.ctx = ctx = context_for(app, settings)
        self.ticks = settings.app_id + TICKS_TOPIC_SUFFIX
        # set once the components every handler relies on are up: faust starts the agents and
        # timers as soon as partitions are assigned, which can be before `_start_components`
        # has taught its producer the changelog (a table write would then fail)
        self.started = asyncio.Event()
        handlers = {**HANDLERS, self.ticks: ("expiry", handle_tick)}
        self.checkpoint = Checkpoint(
            settings,
            frozenset(handlers),
            ctx.metrics,
            lambda: app.consumer,
            lambda: app.producer.flush(),
        )
        self.supervision = Supervision(app)
        self.throttled = throttled = ThrottledLog(log, ctx.metrics)
        holes = HoleFiller(
            settings, ctx.metrics, self.checkpoint.positions, self.checkpoint.deleted_below
        )
        self.holes = holes
        # the metrics timer acknowledges something every interval even on an idle worker
        self.liveness = KafkaLiveness(
            max(settings.retry_budget_seconds, 3 * settings.metrics_interval_seconds)
        )
        rt = Runtime(
            ctx,
            self.checkpoint,
            holes,
            self.supervision,
            throttled,
            settings.retry_budget_seconds,
            self.liveness,
        )
        self.loops = {
            topic: AgentLoop(name, topic, handler, rt, UPSTREAM.get(topic, ()))
            for topic, (name, handler) in handlers.items()
        }
        # undecodable input a crashed worker located: skipped when its partitions are assigned
        self.quarantine = Quarantine(settings, app, ctx, self.checkpoint, holes, self.loops)
        self.stalls = StallWatch(
            app,
            self.checkpoint.topics,
            ctx.metrics,
            self.checkpoint.done_beyond,
            self.checkpoint.positions,
            self.checkpoint.deleted_below,
            self._idle_for,
            self._reread,
            settings.stall_rewind_seconds,
        )
        # dependents waiting for an upstream replay read it themselves (broker.replay)
        ctx.replay.pull = self._reread
        self.gate = ProfileGate(ctx)  # vendor profiles, one topic per vendor, by pattern
        for loop in self.loops.values():
            self._declare_agent(loop)
        self._declare_timers_and_hooks()

    # -- agents --

    def _declare_agent(self, loop: AgentLoop) -> None:
        topic = self.app.topic(
            loop.topic,
            key_serializer="raw",
            value_serializer="raw",
            partitions=self.settings.partitions,
            acks=False,  # faust neither tracks nor commits these: the checkpoint does
        )

        async def agent(stream: Any) -> Any:
            await self.started.wait()
            async for _ in loop.run(stream):
                yield None

        agent.__name__ = loop.name
        self.app.agent(topic, name=loop.name, concurrency=1)(agent)

    def _idle_for(self, topic: str) -> float:
        since = self.loops[topic].idle_since
        return 0.0 if since is None else time.monotonic() - since

    async def _reread(self, topic: str, partition: int, start: int, end: int) -> int:
        records = await read_range(self.settings, topic, partition, start, end)
        if records:
            await self.loops[topic].process(records)
        return len(records)

    # -- timers and hooks (faust's decorators are untyped: applied as plain calls) --

    def _declare_timers_and_hooks(self) -> None:
        app, settings = self.app, self.settings
        app.task(self._start_components)
        app.timer(interval=settings.expiry_tick_seconds, on_leader=True)(self._timer(self._tick))
        app.timer(interval=settings.metrics_interval_seconds)(self._timer(self._publish_metrics))
        app.timer(interval=max(1.0, settings.stall_rewind_seconds / 3))(self.stalls.tick)
        app.timer(interval=COMMIT_INTERVAL_S)(self._commit)
        app.timer(interval=1.0)(self._watch_kafka)
        app.on_partitions_revoked.connect(self._on_revoked)
        app.on_partitions_assigned.connect(self._on_assigned)
        app.on_rebalance_complete.connect(self._on_rebalance_complete)
        app.on_before_shutdown.connect(self._on_shutdown)

    async def _start_components(self) -> None:
        try:
            _quiet_client_logs(self.settings.log_level)
            task_dump.install(self.app, self._describe)
            await self.ctx.registry.start()
            await self.gate.start()
            await self.ctx.outputs.producer()
            await learn_changelog(self.app, INTENT_TABLE)  # before the first table write
            self.started.set()
            self.liveness.ok()  # started: the budget counts from here
        except Exception as exc:
            await self.supervision.fatal("the processors could not start", exc)

    def _describe(self) -> str:
        lines = ["--- checkpoint", *self.checkpoint.describe(), "--- stall watch"]
        lines += self.stalls.describe()
        for loop in self.loops.values():
            state = (
                "working" if loop.idle_since is None else f"idle {self._idle_for(loop.topic):.0f} s"
            )
            lines.append(f"  agent {loop.name}: {state}")
        return "\n".join(lines) + "\n"

    def _timer(self, body: Callable[[], Awaitable[None]]) -> Callable[[], Awaitable[None]]:
        """A timer's Kafka fault is transient for it (the next tick sends again, and an agent's
        next flush sees the failure and retries its batch); anything else stops the worker."""

        async def run() -> None:
            if not self.started.is_set():
                return  # the next tick, once started, does the work
            try:
                await body()
                self.liveness.ok()
            except Exception as exc:
                if classify(exc, in_record=False) is not Fault.TRANSIENT:
                    await self.supervision.fatal(f"timer {body.__name__} failed", exc)
                    return
                self.throttled.warning(
                    f"timer.{type(exc).__name__}", "timer %s: Kafka fault (%s: %s); next tick"
                    " tries again", body.__name__, type(exc).__name__, exc,
                )  # fmt: skip

        run.__name__ = body.__name__.lstrip("_")
        return run

    async def _tick(self) -> None:
        for p in range(self.settings.partitions):
            await self.ctx.outputs.send(self.ticks, b"", None, partition=p)
        await self.ctx.outputs.flush()

    async def _publish_metrics(self) -> None:
        ctx = self.ctx
        ctx.metrics.gauges.update(await _consumer_lag(self.app, set(HANDLERS)))
        source = ctx.metrics.source.encode()  # keyed by source: one partition, in order
        await ctx.outputs.send(METRICS, encode(ctx.metrics.snapshot()), source)
        await ctx.outputs.flush()

    async def _watch_kafka(self) -> None:
        if self.liveness.gone():
            silent = self.liveness.silent_for()
            await self.supervision.fatal(
                f"Kafka acknowledged nothing for {silent:.0f} s (budget"
                f" {self.liveness.budget_s:.0f} s)",
                ConnectionError(f"no acknowledgement from {self.settings.bootstrap}"),
            )

    async def _commit(self) -> None:
        await self.checkpoint.commit()

    async def _on_assigned(self, sender: Any, assigned: Any, **kwargs: Any) -> None:
        self.checkpoint.forget()  # seeded again from the group's committed offsets
        self.holes.forget()
        await self.checkpoint.ensure()

    async def _on_rebalance_complete(self, sender: Any, **kwargs: Any) -> None:
        """Right after this faust resumes the input partitions, paused since the assignment:
        an undecodable batch must be past their committed offsets by then, or faust crashes
        on it again (`broker.runtime.quarantine`)."""
        try:
            await self.quarantine.skip_assigned()
        except Exception as exc:
            await self.supervision.fatal("undecodable input could not be skipped", exc)

    async def _on_revoked(self, sender: Any, revoked: Any, **kwargs: Any) -> None:
        """faust no longer waits for events in flight (acks=False), so this does: each batch
        finishes or is abandoned, then what is done is committed while still assigned."""
        for loop in self.loops.values():
            await loop.drain(DRAIN_TIMEOUT_S)
        await self.checkpoint.commit()
        self.checkpoint.forget()
        self.holes.forget()
        self.ctx.forget_partitions()

    async def _on_shutdown(self, sender: Any, **kwargs: Any) -> None:
        self.supervision.stopping()  # the process ends within the budget, stop or no stop
        for loop in self.loops.values():
            await loop.drain(DRAIN_TIMEOUT_S / 2)
        await self.checkpoint.commit()
        await self.gate.stop()
        await self.ctx.registry.stop()
        await self.ctx.outputs.stop()


def build_app(settings: BrokerSettings) -> tuple[Any, Context]:
    """The faust app of the processors and their shared context."""
    runtime = ProcessorsRuntime(settings)
    return runtime.app, runtime.ctx


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
