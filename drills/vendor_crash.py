"""Drill 3: SIGKILL one of two instances of a vendor mid-run; the survivor must answer everything.

    python -m drills.vendor_crash --intents 3000 --rate 50

Both instances share the vendor's consumer group; after the kill the group rebalances (within
the session timeout) and the survivor re-reads what the dead one had not committed.
"""

from __future__ import annotations

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

TWIN = "drill-a"


async def kill_twin(stack: Stack, flow: Flow, at: float) -> dict[str, Any]:
    await until(lambda: flow.published >= at * flow.plan.intents)
    victim = stack.vendor_procs[TWIN][0]
    at_intent = flow.published
    victim.kill()
    victim.wait()
    console.log(f"[red]kill -9[/] vendor {TWIN} instance pid {victim.pid} at intent {at_intent}")
    return {"vendor_killed": TWIN, "vendor_killed_pid": victim.pid, "killed_at_intent": at_intent}


async def drill(
    intents: int, rate: float, expires_s: float, work: Path, accept_every: int = 2
) -> dict[str, Any]:
    async with Stack(work) as stack:
        stack.start_vendor(TWIN)  # the second instance of the same vendor id
        plan = FlowPlan.for_drill(stack.vendors, intents, rate, expires_s, accept_every)
        started = time.monotonic()

        async def fault(flow: Flow) -> dict[str, Any]:
            return await kill_twin(stack, flow, 0.4)

        result = await run_flow(stack.bootstrap, stack.settings(), plan, fault)
        result["faust_faults"] = await stack.faust_faults()
        survivor = stack.vendor_procs[TWIN][1]
        result["survivor_alive"] = survivor.poll() is None
    result.update(rate_planned=rate, workdir=str(work), wall_s=round(time.monotonic() - started))
    result["passed"] = bool(result["passed"] and result["survivor_alive"])
    return result


def main(
    intents: int = typer.Option(3000, help="Intents to publish."),
    rate: float = typer.Option(50.0, help="Intents per second."),
    expires_s: float = typer.Option(90.0, help="Intent lifetime; unaccepted intents expire."),
    workdir: Path = WORKDIR_OPTION,
    out: Path = OUT_OPTION,
) -> None:
    """Vendor crash drill: no intent is left without an offer from the crashed vendor's id."""
    work = workdir_for("vendor-crash", workdir)
    result = run_drill(drill(intents, rate, expires_s, work))
    report("vendor_crash", result, out)
    raise typer.Exit(0 if result["passed"] else 1)


if __name__ == "__main__":
    typer.run(main)
