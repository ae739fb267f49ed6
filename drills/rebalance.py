"""Drill 5: a second worker joins and leaves the group in a loop under load (SIGTERM).

    python -m drills.rebalance --intents 3000 --rate 50 --cycles 6

Every join and every leave is a rebalance, so commits race revokes over and over: the
processors must never crash on a commit (a commit for partitions no longer assigned is
filtered out, a batch that spans a rebalance is not counted), nothing may be lost or
duplicated, and every SIGTERM must end the leaving worker within 10 s while it is busy.
"""

from __future__ import annotations

import asyncio
import json
import signal
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
from intentcast.processes import Processors

SIGTERM_BUDGET_S = 10.0


def crashes_in(log: Path) -> list[str]:
    """Lines of a processors' log that show a crash of faust's services or of the worker."""
    found = []
    for line in log.read_text(errors="replace").splitlines() if log.exists() else []:
        try:
            msg = str(json.loads(line[line.find("{") :]).get("msg", ""))
        except ValueError:
            continue
        if (
            "Crashed reason" in msg
            or "We experienced a crash" in msg
            or "stopping the worker" in msg
        ):
            found.append(msg[:300])
    return found


def handles_sigterm(pid: int) -> bool:
    """Whether the process has installed its SIGTERM handler (faust's worker does at start);
    before that, a SIGTERM ends it by the default action, which is no test of the orderly stop."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return False
    for line in status.splitlines():
        if line.startswith("SigCgt:"):
            return bool(int(line.split()[1], 16) & (1 << (signal.SIGTERM - 1)))
    return False


def _ready_or_gone(worker: Processors) -> bool:
    proc = worker.proc
    return proc is None or not worker.alive() or handles_sigterm(proc.pid)


async def join_leave_loop(
    stack: Stack, flow: Flow, cycles: int, up_s: float, down_s: float
) -> dict[str, Any]:
    """Start a second worker, let it take partitions, SIGTERM it; `cycles` times."""
    second = Processors(
        stack.bootstrap,
        stack.workdir / "second",
        stack.workdir / "second.log",
        env=dict(stack.processors.env) if stack.processors is not None else None,
    )
    stops: list[float] = []
    statuses: list[int | None] = []
    await until(lambda: flow.published >= 0.05 * flow.plan.intents)
    for cycle in range(cycles):
        second.start()
        # a loaded machine may take seconds to import the worker: up_s counts from its start
        await asyncio.wait_for(until(lambda: _ready_or_gone(second)), 120)
        await asyncio.sleep(up_s)
        started = time.monotonic()
        await asyncio.to_thread(second.stop, 60.0)
        stops.append(round(time.monotonic() - started, 2))
        statuses.append(second.proc.returncode if second.proc is not None else None)
        console.log(f"cycle {cycle + 1}: second worker stopped in {stops[-1]:.1f}s under load")
        await asyncio.sleep(down_s)
    return {
        "cycles": cycles,
        "sigterm_stop_s": stops,
        "sigterm_stop_max_s": max(stops, default=0.0),
        "second_exit_statuses": statuses,
    }


async def drill(
    intents: int,
    rate: float,
    cycles: int,
    up_s: float,
    down_s: float,
    expires_s: float,
    work: Path,
    accept_every: int = 2,
) -> dict[str, Any]:
    async with Stack(work) as stack:
        plan = FlowPlan.for_drill(stack.vendors, intents, rate, expires_s, accept_every)

        async def fault(flow: Flow) -> dict[str, Any]:
            return await join_leave_loop(stack, flow, cycles, up_s, down_s)

        result = await run_flow(stack.bootstrap, stack.settings(), plan, fault)
        result["first_worker_alive"] = stack.processors is not None and stack.processors.alive()
        result["faust_faults"] = await stack.faust_faults()
    result["crashes"] = crashes_in(work / "processors.log") + crashes_in(work / "second.log")
    result.update(rate_planned=rate, workdir=str(work))
    result["passed"] = bool(
        result["passed"]
        and result["first_worker_alive"]
        and not result["crashes"]
        and result["sigterm_stop_max_s"] <= SIGTERM_BUDGET_S
        and all(status == 0 for status in result["second_exit_statuses"])
    )
    return result


def main(
    intents: int = typer.Option(3000, help="Intents to publish."),
    rate: float = typer.Option(50.0, help="Intents per second."),
    cycles: int = typer.Option(6, help="How many times the second worker joins and leaves."),
    up_s: float = typer.Option(12.0, help="Seconds the second worker stays in the group."),
    down_s: float = typer.Option(3.0, help="Seconds between its leave and its next join."),
    expires_s: float = typer.Option(120.0, help="Intent lifetime; unaccepted intents expire."),
    workdir: Path = WORKDIR_OPTION,
    out: Path = OUT_OPTION,
) -> None:
    """Rebalance drill: commits racing revokes, no crash, nothing lost, SIGTERM within 10 s."""
    work = workdir_for("rebalance", workdir)
    result = run_drill(drill(intents, rate, cycles, up_s, down_s, expires_s, work))
    report("rebalance", result, out)
    raise typer.Exit(0 if result["passed"] else 1)


if __name__ == "__main__":
    typer.run(main)
