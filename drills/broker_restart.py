"""Drill 2: stop Kafka (SIGTERM) in the middle of a run, start it again, judge the run.

    python -m drills.broker_restart --intents 5000 --rate 50 --down-s 10

Clients reconnect by themselves (aiokafka retries; the load generator resends what was not
acknowledged). The processors may exit when the broker is gone; the harness then restarts
them, as a process supervisor (systemd, Kubernetes) would, and reports how often.
"""

from __future__ import annotations

import asyncio
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


async def restart_broker(stack: Stack, flow: Flow, at: float, down_s: float) -> dict[str, Any]:
    """SIGTERM every node at `at` of the publishing phase, start them again after `down_s`."""
    await until(lambda: flow.published >= at * flow.plan.intents)
    started, at_intent = time.monotonic(), flow.published
    if stack.cluster is not None:
        await asyncio.to_thread(stack.cluster.stop)
    else:
        assert stack.node is not None
        await asyncio.to_thread(stack.node.stop)
    stopped_s = time.monotonic() - started
    console.log(f"[red]Kafka stopped[/] (SIGTERM) at intent {flow.published}")
    await asyncio.sleep(down_s)
    if stack.cluster is not None:
        await asyncio.to_thread(stack.cluster.start)
    else:
        assert stack.node is not None
        await asyncio.to_thread(stack.node.start, 120)
    console.log(f"[green]Kafka started again[/] after {time.monotonic() - started:.1f}s")
    return {
        "broker_stopped_at_intent": at_intent,
        "broker_shutdown_s": round(stopped_s, 1),
        "broker_down_s": round(time.monotonic() - started, 1),
    }


async def drill(
    intents: int,
    rate: float,
    down_s: float,
    expires_s: float,
    work: Path,
    accept_every: int = 2,
    processor_env: dict[str, str] | None = None,
) -> Any:
    """`processor_env` e.g. a retry budget shorter than `down_s`, so the processors exit."""
    async with Stack(work, processor_env=dict(processor_env or {})) as stack:
        plan = FlowPlan.for_drill(stack.vendors, intents, rate, expires_s, accept_every)
        stop = asyncio.Event()
        supervisor = asyncio.create_task(stack.supervise(stop, lambda: False))

        async def fault(flow: Flow) -> dict[str, Any]:
            return await restart_broker(stack, flow, 0.4, down_s)

        try:
            result = await run_flow(stack.bootstrap, stack.settings(), plan, fault)
            result["faust_faults"] = await stack.faust_faults()
        finally:
            stop.set()
            await supervisor
        result["processor_restarts_by_supervisor"] = stack.processor_restarts
        result["processor_exit_statuses"] = stack.processor_exit_statuses
        dead = [v for v, procs in stack.vendor_procs.items() if procs[-1].poll() is not None]
        result["vendors_exited"] = dead
    result.update(rate_planned=rate, workdir=str(work))
    return result


def main(
    intents: int = typer.Option(5000, help="Intents to publish."),
    rate: float = typer.Option(50.0, help="Intents per second."),
    down_s: float = typer.Option(10.0, help="Seconds Kafka stays down."),
    expires_s: float = typer.Option(120.0, help="Intent lifetime; unaccepted intents expire."),
    workdir: Path = WORKDIR_OPTION,
    out: Path = OUT_OPTION,
) -> None:
    """Broker restart drill: every intent final, one agreement per acceptance, audit ok."""
    work = workdir_for("broker-restart", workdir)
    result = run_drill(drill(intents, rate, down_s, expires_s, work))
    report("broker_restart", result, out)
    raise typer.Exit(0 if result["passed"] else 1)


if __name__ == "__main__":
    typer.run(main)
