"""Run the processors as a faust worker in this process (`intentcast broker run`)."""

from __future__ import annotations

import asyncio
import logging
import sys
from typing import Any

import faust
from aiokafka.admin import AIOKafkaAdminClient

from intentcast.broker.runtime.app import ProcessorsRuntime
from intentcast.broker.runtime.faults import Fault, classify
from intentcast.broker.runtime.quarantine import (
    SCAN_BUDGET_S,
    describe,
    quarantine_path,
    scan_after_crash,
)
from intentcast.broker.settings import BrokerSettings
from intentcast.broker.topic_admin import ensure_topics, ticks_topic

log = logging.getLogger("intentcast.broker.runtime")


async def ensure_internal_topics(settings: BrokerSettings) -> None:
    admin = AIOKafkaAdminClient(**settings.kafka_kwargs())
    await admin.start()
    try:
        await ensure_topics(admin, [ticks_topic(settings)], settings.replication)
    finally:
        await admin.close()


def _use_uvloop() -> None:
    """uvloop makes the event loop's socket and scheduling work cheaper (where available)."""
    try:
        import uvloop
    except ImportError:  # e.g. Windows: the standard loop works, only slower
        return
    asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())


def run_worker(settings: BrokerSettings, logging_config: dict[str, Any] | None = None) -> None:
    """Block until SIGINT/SIGTERM (faust handles the signals and the orderly stop).

    `logging_config` is a `logging.config.dictConfig` mapping that faust's worker applies (the
    CLI passes its JSON-lines format, `intentcast.logs`): how a process logs is the process's
    choice, not the processors'.

    Exits 1 after a fault of the whole worker, so a supervisor (systemd, Kubernetes, docker
    compose's restart policy) starts it again; the watchdog of `broker.runtime.supervision`
    makes sure the process does end.
    """
    # faust ignores a subscribed topic that is missing at start, so the clock topic of this
    # app id (tests and second deployments bring their own) must exist first
    asyncio.run(ensure_internal_topics(settings))
    _use_uvloop()
    runtime = ProcessorsRuntime(settings)
    worker = faust.Worker(
        runtime.app, loglevel=settings.log_level, quiet=True, logging_config=logging_config
    )
    try:
        worker.execute_from_commandline()
    except SystemExit as done:
        _leave_if_undecodable(runtime, worker)
        if runtime.supervision.fault is not None:
            sys.exit(1)
        raise done from None
    except Exception:  # mode raises the crash's reason again once its loop is closed
        _leave_if_undecodable(runtime, worker)
        raise
    _leave_if_undecodable(runtime, worker)
    sys.exit(runtime.supervision.exit_status())


def _leave_if_undecodable(runtime: ProcessorsRuntime, worker: Any) -> None:
    """A crash on input the client cannot decode recurs on every restart at the same batch:
    before leaving, locate it so the restarted worker dead-letters and skips it
    (`broker.runtime.quarantine`). Then exit 1 like any fault of the whole worker."""
    reason = runtime.app.crash_reason or worker.crash_reason
    if reason is None or classify(reason, in_record=False) is not Fault.UNDECODABLE:
        return
    settings = runtime.settings
    runtime.supervision.extend(SCAN_BUDGET_S + 20.0, "the scan for undecodable input")
    scan = scan_after_crash(settings, runtime.checkpoint.topics)
    try:  # the reads stop at their budget; this bounds the rest (metadata, offsets) too
        found = asyncio.run(asyncio.wait_for(scan, SCAN_BUDGET_S + 10.0))
    except Exception as exc:
        outcome = f"the scan for it failed ({describe(exc)}); the restart reads again"
    else:
        ranges = "; ".join(str(r) for r in found)
        outcome = (
            f"{ranges}, written to {quarantine_path(settings)}: the restart dead-letters and"
            " skips them"
            if found
            else "no undecodable range found from the committed offsets; the restart reads again"
        )
    log.critical(
        "input the processors cannot decode (%s); %s; exiting 1", describe(reason), outcome
    )
    sys.exit(1)
