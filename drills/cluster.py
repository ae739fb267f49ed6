"""Drill 4: the flow on a 3-node KRaft cluster (RF 3, min ISR 2); one node stops mid-run.

    python -m drills.cluster --intents 5000 --rate 50 --node 1

The same cluster as `intentcast kafka start --nodes 3`; topics are created with replication 3
and `min.insync.replicas=2`, so with one node down every acks=all write still needs (and gets)
two replicas, and nothing acknowledged can be lost.
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
    topic_config,
    until,
    workdir_for,
)
from drills.verdict import run_flow
from intentcast.schemas import AGREEMENTS


async def stop_node(
    stack: Stack, flow: Flow, node_id: int, at: float, kill: bool
) -> dict[str, Any]:
    await until(lambda: flow.published >= at * flow.plan.intents)
    assert stack.cluster is not None
    at_intent, started = flow.published, time.monotonic()
    if kill:
        await asyncio.to_thread(stack.cluster.kill_node, node_id)
    else:
        await asyncio.to_thread(stack.cluster.stop_node, node_id)
    how = "SIGKILL" if kill else "SIGTERM"
    console.log(f"[red]node {node_id} stopped[/] ({how}) at intent {at_intent}")
    return {
        "node_stopped": node_id,
        "node_stop_signal": how,
        "node_stopped_at_intent": at_intent,
        "node_stop_s": round(time.monotonic() - started, 1),
    }


async def drill(
    intents: int,
    rate: float,
    node_id: int,
    kill: bool,
    expires_s: float,
    work: Path,
    accept_every: int = 2,
) -> dict[str, Any]:
    async with Stack(work, nodes=3) as stack:
        plan = FlowPlan.for_drill(stack.vendors, intents, rate, expires_s, accept_every)
        config = await topic_config(stack.bootstrap, AGREEMENTS)

        async def fault(flow: Flow) -> dict[str, Any]:
            return await stop_node(stack, flow, node_id, 0.4, kill)

        result = await run_flow(stack.bootstrap, stack.settings(), plan, fault)
        result["faust_faults"] = await stack.faust_faults()
        result["replication_factor"] = config["replicas"]
        result["min_insync_replicas"] = config.get("min.insync.replicas")
        result["processors_alive"] = stack.processors is not None and stack.processors.alive()
    result.update(rate_planned=rate, workdir=str(work))
    result["passed"] = bool(
        result["passed"] and result["replication_factor"] == [3]
        and result["min_insync_replicas"] == "2"
    )  # fmt: skip
    return result


def main(
    intents: int = typer.Option(5000, help="Intents to publish."),
    rate: float = typer.Option(50.0, help="Intents per second."),
    node: int = typer.Option(1, help="Which node (1-3) to stop at 40% of the run."),
    kill: bool = typer.Option(False, help="SIGKILL the node instead of SIGTERM."),
    expires_s: float = typer.Option(120.0, help="Intent lifetime; unaccepted intents expire."),
    workdir: Path = WORKDIR_OPTION,
    out: Path = OUT_OPTION,
) -> None:
    """Cluster drill: one of three nodes stops mid-run; nothing is lost, the run finishes."""
    work = workdir_for("cluster", workdir)
    result = run_drill(drill(intents, rate, node, kill, expires_s, work))
    report("cluster", result, out)
    raise typer.Exit(0 if result["passed"] else 1)


if __name__ == "__main__":
    typer.run(main)
