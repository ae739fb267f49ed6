"""The stall watch's decisions, on an app that answers the public calls the watch makes."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest
from faust.types import TP

from intentcast.broker.metrics import Metrics
from intentcast.broker.runtime.stalls import StallWatch

TOPIC = "in"
KEY = (TOPIC, 0)


@dataclass
class Consumer:
    end: int = 10
    start: int = 0
    flow_active: bool = True
    resumed: list[set[Any]] = field(default_factory=list)
    seeks: list[dict[Any, int]] = field(default_factory=list)

    def assignment(self) -> set[TP]:
        return {TP(TOPIC, 0)}

    async def highwaters(self, *tps: TP) -> dict[TP, int]:
        return dict.fromkeys(tps, self.end)

    async def earliest_offsets(self, *tps: TP) -> dict[TP, int]:
        return dict.fromkeys(tps, self.start)

    async def seek(self, tp: TP, offset: int) -> None:
        self.seeks.append({tp: offset})

    def resume_partitions(self, tps: set[Any]) -> None:
        assert all(isinstance(tp, TP) for tp in tps)  # faust's fetcher asserts the same
        self.resumed.append(tps)


class FlowControl:
    def __init__(self) -> None:
        self.active = True

    def is_active(self) -> bool:
        return self.active


@dataclass
class App:
    consumer: Consumer = field(default_factory=Consumer)
    flow_control: FlowControl = field(default_factory=FlowControl)
    rebalancing: bool = False
    in_recovery: bool = False


@dataclass
class World:
    """Positions, holes, idleness and the clock the watch reads; the re-reads it asks for."""

    position: int = 3
    hole: int | None = None  # the first done offset past the hole
    idle_s: float = 0.0
    now: float = 0.0
    deleted: list[tuple[str, int, int]] = field(default_factory=list)
    reread: list[tuple[str, int, int, int]] = field(default_factory=list)

    def watch(self, app: App) -> StallWatch:
        async def positions(keys: list[tuple[str, int]]) -> dict[tuple[str, int], int]:
            return {k: self.position for k in keys}

        async def reread(topic: str, partition: int, start: int, end: int) -> int:
            self.reread.append((topic, partition, start, end))
            return end - start

        return StallWatch(
            app, frozenset({TOPIC}), Metrics("t"),
            done_beyond=lambda t, p: self.hole,
            positions_of=positions,
            deleted_below=lambda t, p, s: self.deleted.append((t, p, s)),
            idle_for=lambda topic: self.idle_s,
            reread=reread, stuck_after_s=15.0, clock=lambda: self.now,
        )  # fmt: skip


async def _after(world: World, watch: StallWatch, seconds: float) -> list[tuple[str, int]]:
    await watch.check()  # first sight of the position starts its clock
    world.now += seconds
    return await watch.check()


async def test_a_hole_is_read_even_while_the_agent_works() -> None:
    world, app = World(hole=2506), App()
    app.consumer.end = 4500
    assert await _after(world, world.watch(app), 16) == [KEY]
    assert world.reread == [(TOPIC, 0, 3, 2003), (TOPIC, 0, 2003, 2506)]  # the hole, in chunks
    assert app.consumer.resumed == [{TP(TOPIC, 0)}]
    assert app.consumer.seeks == []


async def test_a_starved_partition_is_rewound_for_faust_to_hand_over_again() -> None:
    world, app = World(idle_s=20.0), App()
    assert await _after(world, world.watch(app), 16) == [KEY]
    assert app.consumer.seeks == [{TP(TOPIC, 0): 3}]
    assert app.consumer.resumed == [{TP(TOPIC, 0)}]
    assert world.reread == []


async def test_a_busy_agent_without_a_hole_is_only_behind() -> None:
    """A slow batch in flight (its records handled, not yet done) is no hole."""
    world = World(idle_s=0.0)
    assert await _after(world, world.watch(App()), 60) == []
    assert world.reread == []


async def test_progress_restarts_the_clock() -> None:
    world = World(hole=6)
    watch = world.watch(App())
    await watch.check()
    world.now, world.position = 10.0, 4
    assert await watch.check() == []
    world.now = 20.0  # 10 s since the position last moved
    assert await watch.check() == []


@pytest.mark.parametrize("state", ["rebalancing", "in_recovery", "flow_stopped", "paused"])
async def test_a_rebalance_recovery_or_paused_flow_holds_records_legitimately(state: str) -> None:
    world, app = World(hole=6, idle_s=99), App()
    if state == "flow_stopped":
        app.consumer.flow_active = False
    elif state == "paused":
        app.flow_control.active = False
    else:
        setattr(app, state, True)
    assert await _after(world, world.watch(app), 60) == []


async def test_records_deleted_by_retention_are_told_not_re_read_forever() -> None:
    world, app = World(hole=6), App()
    app.consumer.start = 7  # the log now starts past the first offset not done
    assert await _after(world, world.watch(app), 16) == [KEY]
    assert world.deleted == [(TOPIC, 0, 7)] and world.reread == []


async def test_nothing_past_the_position_is_no_stall() -> None:
    world, app = World(hole=6, idle_s=99), App()
    app.consumer.end = 3
    assert await _after(world, world.watch(app), 60) == []
