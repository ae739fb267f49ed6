"""Run the processors as a faust worker in this process (`intentcast broker run`)."""

from __future__ import annotations

import asyncio

import faust
from aiokafka.admin import AIOKafkaAdminClient

from broker.app import build_app
from broker.settings import BrokerSettings
from broker.topic_admin import ensure_topics, ticks_topic


async def ensure_internal_topics(settings: BrokerSettings) -> None:
    admin = AIOKafkaAdminClient(**settings.kafka_kwargs())
    await admin.start()
    try:
        await ensure_topics(admin, [ticks_topic(settings)], settings.replication)
    finally:
        await admin.close()


def run_worker(settings: BrokerSettings) -> None:
    """Block until SIGINT/SIGTERM; faust handles the signals and a clean shutdown."""
    # faust ignores a subscribed topic that is missing at start, so the clock topic of this
    # app id (tests and second deployments bring their own) must exist first
    asyncio.run(ensure_internal_topics(settings))
    app, _ = build_app(settings)
    worker = faust.Worker(app, loglevel=settings.log_level, quiet=True)
    worker.execute_from_commandline()
