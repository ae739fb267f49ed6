"""Drill 1: `kill -9` the processor worker at random moments under load, restart it, judge.

python -m drills.processor_crash --intents 20000 --rate 100 --kills 5
"""

from __future__ import annotations

import asyncio
import random
import time
from pathlib import Path
from typing import Any

import typer

from drills.flow import Flow, FlowPlan
from drills.harness import (
    OUT_OPTION,
    WORKDIR_OPTION,
    Stack,
    console,
    report,
    run_drill,
    until,
    workdir_for,
)
from drills.verdict import run_flow


async def crash_loop(
    stack: Stack, flow: Flow, kills: int, down_s: float, seed: int, min_gap_s: float = 10.0
) -> dict[str, Any]:
    """Kill at random moments spread over the publishing phase; restart after `down_s`.

    A kill waits until the previous restart is at least `min_gap_s` old: a worker killed
    again while it is still starting can leave faust stuck (see docs/reliability.md, gaps).
    """
    rng = random.Random(seed)
    restarted_at = 0.0
    total = flow.plan.intents
    marks = sorted(rng.uniform(0.05, 0.9) * total for _ in range(kills))
    done: list[dict[str, Any]] = []
    for mark in marks:
        await until(lambda m=mark: flow.published >= m)  # type: ignore[misc]
        await asyncio.sleep(max(0.0, restarted_at + min_gap_s - time.monotonic()))
        procs = stack.processors
        assert procs is not None and procs.proc is not None
        pid = procs.proc.pid
        procs.kill()
        killed_at = time.monotonic()
        await asyncio.sleep(down_s * rng.uniform(0.5, 1.5))
        procs.start()
        restarted_at = time.monotonic()
        done.append(
            {
                "at_intent": flow.published,
                "pid": pid,
                "down_s": round(time.monotonic() - killed_at, 1),
            }
        )
        console.log(f"[red]kill -9[/] processors pid {pid} at intent {flow.published}; restarted")
    return {"kills": len(done), "kill_log": done}


async def drill(
    intents: int,
    rate: float,
    kills: int,
    down_s: float,
    expires_s: float,
    seed: int,
    work: Path,
    accept_every: int = 2,
    min_gap_s: float = 10.0,
) -> dict[str, Any]:
    async with Stack(work) as stack:
        plan = FlowPlan.for_drill(stack.vendors, intents, rate, expires_s, accept_every)

        async def fault(flow: Flow) -> dict[str, Any]:
            return await crash_loop(stack, flow, kills, down_s, seed, min_gap_s)

        result = await run_flow(stack.bootstrap, stack.settings(), plan, fault)
        result["faust_faults"] = await stack.faust_faults()
        result["rss_kib_end"] = stack.rss_kib()
    result.update(rate_planned=rate, seed=seed, workdir=str(work))
    result["passed"] = bool(result["passed"] and result["kills"] == kills)
    return result


def main(
    intents: int = typer.Option(20_000, help="Intents to publish (the issue asks for >= 20,000)."),
    rate: float = typer.Option(100.0, help="Intents per second."),
    kills: int = typer.Option(5, help="How many times to kill -9 the processors."),
    down_s: float = typer.Option(3.0, help="Mean seconds the processors stay dead."),
    expires_s: float = typer.Option(90.0, help="Intent lifetime; unaccepted intents expire."),
    seed: int = typer.Option(7, help="Random seed for the kill moments."),
    min_gap_s: float = typer.Option(
        10.0, help="Seconds a restarted worker gets before the next kill (0: kill at once)."
    ),
    workdir: Path = WORKDIR_OPTION,
    out: Path = OUT_OPTION,
) -> None:
    """Processor crash drill: every intent final, one agreement per acceptance, audit ok."""
    work = workdir_for("processor-crash", workdir)
    result = run_drill(
        drill(intents, rate, kills, down_s, expires_s, seed, work, min_gap_s=min_gap_s)
    )
    report("processor_crash", result, out)
    raise typer.Exit(0 if result["passed"] else 1)


if __name__ == "__main__":
    typer.run(main)
