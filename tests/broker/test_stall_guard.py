"""The stall guard's decisions: when a partition counts as stuck, and when it must be left alone.

The guard reads faust's consumer bookkeeping and the processors' own record of the first
offset not done; these tests drive both directly (the end-to-end case, a worker killed with -9
and its partitions re-read, is the crash drill in tests/reliability/test_drills.py, on a real
broker).
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
    starts: dict[TP, int] = field(default_factory=dict)  # the log's first offset
    flow_active: bool = True
    _active_partitions: set[TP] = field(default_factory=set)
    _read_offset: dict[TP, int | None] = field(default_factory=dict)
    seeks: list[dict[TP, int]] = field(default_factory=list)

    def assignment(self) -> set[TP]:
        return set(self.ends)

    async def highwaters(self, *tps: TP) -> dict[TP, int]:
        return {tp: self.ends[tp] for tp in tps}

    async def earliest_offsets(self, *tps: TP) -> dict[TP, int]:
        return {tp: self.starts.get(tp, 0) for tp in tps}

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
    positions: dict[tuple[str, int], int]  # the first offset not done, per partition
    deleted: list[tuple[str, int, int]] = field(default_factory=list)
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
    end: int, position: int, barrier: ReplayBarrier | None = None
) -> tuple[StallGuard, App, Clock]:
    consumer = Consumer(ends={INTENTS: end})
    app = App(consumer, Topics({INTENTS.topic: [Channel(QUEUE)]}), {INTENTS: position})

    async def positions_of(keys: list[tuple[str, int]]) -> dict[tuple[str, int], int]:
        return {k: app.positions[k] for k in keys}

    clock = Clock()
    metrics = Metrics("test")
    handled = barrier or ReplayBarrier(BrokerSettings(bootstrap="127.0.0.1:1"))
    guard = StallGuard(
        app,
        frozenset({INTENTS.topic}),
        metrics,
        handled.handled_upto,
        positions_of,
        lambda t, p, start: app.deleted.append((t, p, start)),
        stuck_after_s=15.0,
        clock=clock,
    )
    return guard, app, clock


async def test_rewinds_a_partition_stuck_behind_unprocessed_records() -> None:
    guard, app, clock = _guard(end=37, position=31)
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
    guard, app, clock = _guard(end=37, position=31)
    await guard.check()
    clock.now = 10.0
    app.positions[INTENTS] = 33  # the agent is getting through them
    await guard.check()
    clock.now = 20.0
    assert await guard.check() == []
    clock.now = 25.5
    assert await guard.check() == [INTENTS]


async def test_a_hole_is_rewound_while_the_agent_keeps_working() -> None:
    """Records after the first offset not done were handled, the one at it never was."""
    barrier = ReplayBarrier(BrokerSettings(bootstrap="127.0.0.1:1"))
    guard, _app, clock = _guard(end=60, position=31, barrier=barrier)
    guard.working(INTENTS.topic)
    barrier.handled(INTENTS.topic, INTENTS.partition, 45)
    await guard.check()
    clock.now = 16.0
    assert await guard.check() == [INTENTS]


async def test_records_deleted_by_retention_are_not_re_read_forever() -> None:
    """A re-read from below the log's start would begin past the hole again: the record of
    done offsets is told instead, and nothing is rewound."""
    guard, app, clock = _guard(end=60, position=10)
    app.consumer.starts[INTENTS] = 50
    await guard.check()
    clock.now = 16.0
    assert await guard.check() == []
    assert app.deleted == [(INTENTS.topic, INTENTS.partition, 50)]
    assert app.consumer.seeks == []


async def test_a_backlog_is_not_a_hole() -> None:
    """A busy agent that has not reached the first offset not done yet is left alone."""
    barrier = ReplayBarrier(BrokerSettings(bootstrap="127.0.0.1:1"))
    guard, _app, clock = _guard(end=60, position=31, barrier=barrier)
    guard.working(INTENTS.topic)
    barrier.handled(INTENTS.topic, INTENTS.partition, 30)
    for now in (0.0, 16.0, 40.0):
        clock.now = now
        assert await guard.check() == []


@pytest.mark.parametrize(
    "busy",
    ["working", "recently_idle", "queued", "rebalancing", "recovery", "flow", "caught_up"],
)
async def test_leaves_busy_or_settled_partitions_alone(busy: str) -> None:
    guard, app, clock = _guard(end=37, position=31)
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
        app.positions[INTENTS] = 37
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
    """The guard, the input offsets and the task dump read or replace faust internals: fail
    here, not silently at runtime, when a faust upgrade renames one."""
    from broker.app import build_app

    app, _ = build_app(BrokerSettings(bootstrap="127.0.0.1:1", app_id="guard-contract"))
    assert isinstance(app.topics._topic_name_index, dict)
    assert callable(app.flow_control.is_active)
    assert isinstance(app.rebalancing, bool) and isinstance(app.in_recovery, bool)
    consumer = app.consumer
    for name in ("_committed_offset", "_read_offset", "_acked", "_acked_index"):
        assert hasattr(consumer, name), name
    assert hasattr(consumer, "_paused_partitions")
    for name in ("assignment", "highwaters", "earliest_offsets", "resume_partitions", "seek_wait"):
        assert callable(getattr(consumer, name)), name
    for name in ("_new_offset", "_add_gap"):
        assert callable(getattr(consumer, name)), name
    assert isinstance(consumer.flow_active, bool)
    assert hasattr(consumer, "_active_partitions") and hasattr(consumer, "_buffered_partitions")
