"""Several vendors in one process all stop on one SIGTERM (one shared handler, not one each)."""

from __future__ import annotations

import asyncio
import os
import signal
from collections.abc import Awaitable, Callable

import pytest

from intentcast.agents import OfferDraft
from intentcast.schemas import market_topic
from intentcast.schemas.intent import Intent
from tests.agents.test_agents_vendor_kafka import new_vendor
from tests.conftest import wait_for

pytestmark = [pytest.mark.kafka, pytest.mark.usefixtures("processors")]  # registers vendors


async def test_one_sigterm_stops_every_vendor_of_the_process(
    kafka_bootstrap: str, unique: Callable[[str], str], make_topics: Callable[..., Awaitable[None]]
) -> None:
    market = unique("m")
    await make_topics(market_topic(market), partitions=3)
    vendors = [new_vendor(unique(f"v{i}"), market, kafka_bootstrap) for i in range(3)]
    for vendor in vendors:
        await make_topics(vendor.profile_topic, partitions=1)

        @vendor.on_intent(market)
        async def quote(intent: Intent) -> OfferDraft | None:
            return None

    tasks = [asyncio.create_task(v.run()) for v in vendors]
    await wait_for(lambda: all(v.assignment for v in vendors), timeout=60, what="all assigned")
    os.kill(os.getpid(), signal.SIGTERM)
    done, pending = await asyncio.wait(tasks, timeout=60)
    for task in pending:
        task.cancel()
    assert not pending, "a vendor kept running after SIGTERM"
    for task in done:
        assert task.exception() is None
