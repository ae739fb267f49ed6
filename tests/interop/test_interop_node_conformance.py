"""The Node.js vendor passes the conformance kit on its sandbox market.

`interop/vendor.mjs` builds and signs every message; the plumbing is a shell pipeline's:
a consumer hands each intent of `intentcast.market.sandbox-node-bikes` to `node vendor.mjs
offer`, and one long-running Kafka console producer (the Java client, so Kafka's own
partitioner) sends what Node prints. Python builds nothing the kit grades.
"""

from __future__ import annotations

import asyncio
import contextlib
import subprocess
from collections.abc import AsyncIterator

import pytest
from aiokafka import AIOKafkaConsumer

from intentcast.agents import ClientSettings
from intentcast.agents.conformance import Status, run_conformance
from intentcast.broker.kafka_local import resolve_distribution
from intentcast.broker.settings import BrokerSettings
from intentcast.broker.topic_admin import create_all
from intentcast.processes import Processors
from intentcast.schemas.topics import (
    OFFERS_SUBMITTED,
    market_topic,
    sandbox_market,
    vendor_profile_topic,
)
from tests.conftest import SANDBOX_VENDORS
from tests.interop.node import SCRIPT, VECTORS, VENDOR_ID, console_produce, node, vendor_args

pytestmark = pytest.mark.kafka

MARKET = sandbox_market(VENDOR_ID)


def _console_producer(bootstrap: str) -> subprocess.Popen[bytes]:
    """`kafka-console-producer` reading key<TAB>value lines from its stdin until it closes."""
    dist = resolve_distribution()
    return subprocess.Popen(
        [str(dist.java), "-cp", dist.classpath, "org.apache.kafka.tools.ConsoleProducer",
         "--bootstrap-server", bootstrap, "--topic", OFFERS_SUBMITTED,
         "--property", "parse.key=true", "--property", "key.separator=\t",
         "--producer-property", "acks=all", "--producer-property", "linger.ms=0"],
        stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )  # fmt: skip


async def _answer(bootstrap: str, producer: subprocess.Popen[bytes]) -> None:
    """Each intent of the sandbox market, through `node vendor.mjs offer`, to the producer."""
    consumer = AIOKafkaConsumer(
        market_topic(MARKET),
        bootstrap_servers=bootstrap,
        group_id=f"intentcast.vendor.{VENDOR_ID}",
        auto_offset_reset="earliest",
    )
    await consumer.start()
    try:
        assert producer.stdin is not None
        async for record in consumer:
            proc = await asyncio.create_subprocess_exec(
                "node", str(SCRIPT), "offer", *vendor_args("--price", "1", "--skip-expired"),
                stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
            )  # fmt: skip
            line, _ = await proc.communicate(record.value)
            assert proc.returncode == 0
            producer.stdin.write(line)  # empty for an intent that expired meanwhile
            producer.stdin.flush()
    finally:
        await consumer.stop()


@contextlib.asynccontextmanager
async def _node_vendor(bootstrap: str) -> AsyncIterator[None]:
    profile = node(
        "profile",
        *vendor_args("--markets", f"electronics,{MARKET}", "--roster", str(VECTORS)),
    )
    assert profile.returncode == 0, profile.stderr
    await create_all(BrokerSettings(bootstrap=bootstrap), vendors=[VENDOR_ID])
    await asyncio.to_thread(
        console_produce, bootstrap, vendor_profile_topic(VENDOR_ID), profile.stdout
    )
    producer = _console_producer(bootstrap)
    task = asyncio.create_task(_answer(bootstrap, producer))
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        assert producer.stdin is not None
        producer.stdin.close()
        try:
            producer.wait(timeout=30)
        except subprocess.TimeoutExpired:
            producer.kill()
            producer.wait()


async def test_the_node_vendor_passes_the_conformance_kit(
    kafka_bootstrap: str, ready_processors: Processors
) -> None:
    assert VENDOR_ID in SANDBOX_VENDORS
    node("vectors", str(VECTORS))  # skips the test when node is missing
    async with _node_vendor(kafka_bootstrap):
        report = await run_conformance(
            VENDOR_ID, settings=ClientSettings(bootstrap=kafka_bootstrap), timeout=120
        )
    assert report.passed, report.to_json()
    statuses = {r.check: r.status for r in report.results}
    # every offer check saw offers; the vendor accepts the whole roster, so none is unserved
    assert {c for c, s in statuses.items() if s is not Status.PASS} == {"ignores-unserved"}
    assert {c.name: c.offers > 0 for c in report.cases}["unusual-text"]
