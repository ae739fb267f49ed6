"""Run the processors as a faust worker in this process (`intentcast broker run`)."""

from __future__ import annotations

import asyncio
import sys

import faust
from aiokafka.admin import AIOKafkaAdminClient

from broker.runtime.app import ProcessorsRuntime
from broker.settings import BrokerSettings
from broker.topic_admin import ensure_topics, ticks_topic
from schemas.logfmt import logging_config


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


def run_worker(settings: BrokerSettings) -> None:
    """Block until SIGINT/SIGTERM (faust handles the signals and the orderly stop).

    Exits 1 after a fault of the whole worker, so a supervisor (systemd, Kubernetes, docker
    compose's restart policy) starts it again; the watchdog of `broker.runtime.supervision`
    makes sure the process does end.
    """
    # faust ignores a subscribed topic that is missing at start, so the clock topic of this
    # app id (tests and second deployments bring their own) must exist first
    asyncio.run(ensure_internal_topics(settings))
    _use_uvloop()
    runtime = ProcessorsRuntime(settings)
    # structured logs: one JSON object per line on stderr (schemas/logfmt.py)
    config = logging_config(settings.log_level)
    worker = faust.Worker(
        runtime.app, loglevel=settings.log_level, quiet=True, logging_config=config
    )
    try:
        worker.execute_from_commandline()
    except SystemExit as done:
        if runtime.supervision.fault is not None:
            sys.exit(1)
        raise done from None
    sys.exit(runtime.supervision.exit_status())
