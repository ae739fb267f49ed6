"""The stall guard's decisions: when a partition counts as stuck, and when it must be left alone.

The guard reads faust's consumer bookkeeping; these tests drive that bookkeeping directly (the
end-to-end case, a worker killed with -9 and its partitions re-read, is the crash drill in
tests/reliability/test_drills.py, on a real broker).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import NamedTuple

import pytest

from broker.metrics import Metrics
from broker.replay import ReplayBarrier
from broker.settings import BrokerSettings
from broker.stall_guard import StallGuard


class TP(NamedTuple):
    topic: str
    partition: int


@dataclass
class Queue:
    size: int = 0

    def qsize(self) -> int:
        return self.size


@dataclass
class Channel:
    queue: Queue


@dataclass
class Consumer:
    ends: dict[TP, int]
    _committed_offset: dict[TP, int]
    flow_active: bool = True
    _active_partitions: set[TP] = field(default_factory=set)
    _read_offset: dict[TP, int | None] = field(default_factory=dict)
    seeks: list[dict[TP, int]] = field(default_factory=list)
    gaps: list[tuple[TP, int, int]] = field(default_factory=list)

    async def _add_gap(self, tp: TP, offset_from: int, offset_to: int) -> None:
        self.gaps.append((tp, offset_from, offset_to))

    def assignment(self) -> set[TP]:
        return set(self.ends)

    async def highwaters(self, *tps: TP) -> dict[TP, int]:
        return {tp: self.ends[tp] for tp in tps}

    def resume_partitions(self, tps: set[TP]) -> None:
        self._active_partitions |= tps

    async def seek_wait(self, offsets: dict[TP, int]) -> None:
        self.seeks.append(offsets)


@dataclass
class FlowControl:
    active: bool = True

    def is_active(self) -> bool:
        return self.active


@dataclass
class Topics:
    _topic_name_index: dict[str, list[Channel]]


@dataclass
class App:
    consumer: Consumer
    topics: Topics
    flow_control: FlowControl = field(default_factory=FlowControl)
    rebalancing: bool = False
    in_recovery: bool = False


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


INTENTS = TP("intentcast.intents.submitted", 2)
QUEUE = Queue()


def _guard(
    end: int, committed: int, barrier: ReplayBarrier | None = None
) -> tuple[StallGuard, App, Clock]:
    consumer = Consumer(ends={INTENTS: end}, _committed_offset={INTENTS: committed})
    app = App(consumer, Topics({INTENTS.topic: [Channel(QUEUE)]}))
    clock = Clock()
    metrics = Metrics("test")
    handled = barrier or ReplayBarrier(BrokerSettings(bootstrap="127.0.0.1:1"))
    guard = StallGuard(
        app,
        frozenset({INTENTS.topic}),
        metrics,
        handled.handled_upto,
        stuck_after_s=15.0,
        clock=clock,
    )
    return guard, app, clock


async def test_rewinds_a_partition_stuck_behind_unprocessed_records() -> None:
    guard, app, clock = _guard(end=37, committed=31)
    assert await guard.check() == []  # first sight starts the clock
    clock.now = 14.0
    assert await guard.check() == []
    clock.now = 15.5
    assert await guard.check() == [INTENTS]
    assert app.consumer.seeks == [{INTENTS: 31}]
    assert INTENTS in app.consumer._active_partitions  # fetchable again
    assert app.consumer._read_offset[INTENTS] is None  # re-fetched records are not dropped
    assert guard.metrics.counters["consumer.rewinds"] == 1


async def test_progress_restarts_the_clock() -> None:
    guard, app, clock = _guard(end=37, committed=31)
    await guard.check()
    clock.now = 10.0
    app.consumer._committed_offset[INTENTS] = 33  # the agent is getting through them
    await guard.check()
    clock.now = 20.0
    assert await guard.check() == []
    clock.now = 25.5
    assert await guard.check() == [INTENTS]


async def test_a_hole_is_rewound_while_the_agent_keeps_working() -> None:
    """Records after the committed offset were handled, the one at it never was: a skip."""
    barrier = ReplayBarrier(BrokerSettings(bootstrap="127.0.0.1:1"))
    guard, _app, clock = _guard(end=60, committed=31, barrier=barrier)
    guard.working(INTENTS.topic)
    barrier.handled(INTENTS.topic, INTENTS.partition, 45)
    await guard.check()
    clock.now = 16.0
    assert await guard.check() == [INTENTS]


async def test_a_commit_past_the_last_handled_record_is_re_read_at_once() -> None:
    """faust acknowledges only handed records: committed 31 with 25 the highest handled means
    26..30 were skipped at a partition's tail, where no later record reveals it."""
    barrier = ReplayBarrier(BrokerSettings(bootstrap="127.0.0.1:1"))
    guard, app, _clock = _guard(end=31, committed=31, barrier=barrier)
    barrier.handled(INTENTS.topic, INTENTS.partition, 25)
    assert await guard.check() == [INTENTS]
    assert app.consumer.seeks == [{INTENTS: 26}]
    barrier.handled(INTENTS.topic, INTENTS.partition, 30)  # read again: nothing left to do
    assert await guard.check() == []


async def test_a_backlog_is_not_a_hole() -> None:
    """A busy agent that has not reached the partition's committed offset yet is left alone."""
    barrier = ReplayBarrier(BrokerSettings(bootstrap="127.0.0.1:1"))
    guard, _app, clock = _guard(end=60, committed=31, barrier=barrier)
    guard.working(INTENTS.topic)
    barrier.handled(INTENTS.topic, INTENTS.partition, 30)
    for now in (0.0, 16.0, 40.0):
        clock.now = now
        assert await guard.check() == []


async def test_faust_may_not_commit_over_skipped_input_offsets() -> None:
    guard, app, _clock = _guard(end=60, committed=31)
    guard.keep_holes()
    await app.consumer._add_gap(INTENTS, 32, 36)  # an input topic: held, not recorded
    changelog = TP("processors-intents-changelog", 2)
    await app.consumer._add_gap(changelog, 7, 9)  # compacted: faust's own rule stands
    assert app.consumer.gaps == [(changelog, 7, 9)]
    assert guard.metrics.counters["consumer.skips_held"] == 1


@pytest.mark.parametrize(
    "busy",
    ["working", "recently_idle", "queued", "rebalancing", "recovery", "flow", "caught_up"],
)
async def test_leaves_busy_or_settled_partitions_alone(busy: str) -> None:
    guard, app, clock = _guard(end=37, committed=31)
    if busy == "working":  # inside a batch (e.g. behind the replay barrier)
        guard.working(INTENTS.topic)
    elif busy == "queued":
        QUEUE.size = 3
    elif busy == "rebalancing":
        app.rebalancing = True
    elif busy == "recovery":
        app.in_recovery = True
    elif busy == "flow":
        app.flow_control.active = False
    else:
        app.consumer._committed_offset[INTENTS] = 37
    try:
        for now in (0.0, 10.0, 20.0, 30.0, 60.0):
            clock.now = now
            if busy == "recently_idle":  # finished a batch a moment ago
                guard.idle(INTENTS.topic)
            assert await guard.check() == []
        assert app.consumer.seeks == []
    finally:
        QUEUE.size = 0


def test_reads_only_what_the_installed_faust_has() -> None:
    """The guard and the task dump read faust internals: fail here, not silently at runtime,
    when a faust upgrade renames one."""
    from broker.app import build_app

    app, _ = build_app(BrokerSettings(bootstrap="127.0.0.1:1", app_id="guard-contract"))
    assert isinstance(app.topics._topic_name_index, dict)
    assert callable(app.flow_control.is_active)
    assert isinstance(app.rebalancing, bool) and isinstance(app.in_recovery, bool)
    consumer = app.consumer
    for name in ("_committed_offset", "_read_offset", "_acked", "_paused_partitions"):
        assert hasattr(consumer, name), name
    for name in ("assignment", "highwaters", "resume_partitions", "seek_wait", "_add_gap"):
        assert callable(getattr(consumer, name)), name
    assert isinstance(consumer.flow_active, bool)
    assert hasattr(consumer, "_active_partitions") and hasattr(consumer, "_buffered_partitions")
