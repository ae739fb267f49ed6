"""The conformance kit on a secure cluster: the vendor runs as its own principal, the kit as the
operator's `admin` (the only client principal that may both write intents and read the raw
offers topic), and ACME passes."""

from __future__ import annotations

import asyncio

import pytest

from intentcast.agents import Vendor
from intentcast.agents.conformance import Status, run_conformance
from intentcast.examples import acme
from intentcast.processes import Processors
from intentcast.schemas.terms import ROSTER
from intentcast.schemas.topics import sandbox_market
from tests.conftest import until_processors_ready
from tests.security.conftest import ADMIN_USER, FLOW_VENDOR, SecureKafka

pytestmark = pytest.mark.kafka


async def test_acme_passes_the_kit_run_as_admin(
    secure_kafka: SecureKafka, secure_processors: Processors
) -> None:
    await until_processors_ready(secure_processors, **secure_kafka.kwargs(ADMIN_USER))
    vendor = Vendor(
        FLOW_VENDOR, key=acme.KEY, markets=["bikes", sandbox_market(FLOW_VENDOR)],
        accepts=sorted(ROSTER), settings=secure_kafka.client_settings(f"vendor-{FLOW_VENDOR}"),
    )  # fmt: skip
    vendor.on_intent()(acme.quote)
    task = asyncio.create_task(vendor.run())
    try:
        report = await run_conformance(
            FLOW_VENDOR, settings=secure_kafka.client_settings(ADMIN_USER), timeout=120
        )
    finally:
        vendor.stop()
        await asyncio.gather(task, return_exceptions=True)
    assert report.passed, report.to_json()
    assert report.result("signature").status is Status.PASS
    assert report.result("partition").status is Status.PASS
