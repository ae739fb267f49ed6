"""Run the processors as a faust worker in this process (`intentcast broker run`)."""

from __future__ import annotations

import asyncio

import faust
from aiokafka.admin import AIOKafkaAdminClient

from broker.app import build_app
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
    """Block until SIGINT/SIGTERM; faust handles the signals and a clean shutdown."""
    # faust ignores a subscribed topic that is missing at start, so the clock topic of this
    # app id (tests and second deployments bring their own) must exist first
    asyncio.run(ensure_internal_topics(settings))
    _use_uvloop()
    app, _ = build_app(settings)
    # structured logs: one JSON object per line on stderr (schemas/logfmt.py)
    config = logging_config(settings.log_level)
    worker = faust.Worker(app, loglevel=settings.log_level, quiet=True, logging_config=config)
    worker.execute_from_commandline()
