"""Test fixtures: a real Kafka broker for the whole run, unique topic names, condition waits.

With KAFKA_BOOTSTRAP set, tests use that broker; otherwise the session starts its own node on
free ports in a temporary folder and stops it at the end.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import json
import os
import secrets
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from intentcast.agents import ClientSettings, Vendor
from intentcast.broker.kafka_local import KafkaNode, resolve_distribution
from intentcast.broker.kafka_local.node import free_port
from intentcast.broker.settings import BrokerSettings
from intentcast.broker.topic_admin import create_all, planned_core
from intentcast.processes import Processors

pytest_plugins = ["tests.watchers"]  # topic watchers as fixtures for every folder


@contextlib.contextmanager
def private_kafka(data_dir: Path) -> Iterator[KafkaNode]:
    """A single-node KRaft broker on free ports, stopped on exit (tests that break their own)."""
    node = KafkaNode(
        dist=resolve_distribution(),
        data_dir=data_dir,
        port=free_port(),
        controller_port=free_port(),
    )
    node.start(timeout=120)
    try:
        yield node
    finally:
        node.stop()


@pytest.fixture(scope="session")
def kafka_bootstrap(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Bootstrap address of a real Kafka broker shared by the session."""
    existing = os.environ.get("KAFKA_BOOTSTRAP")
    if existing:
        yield existing
        return
    with private_kafka(tmp_path_factory.mktemp("kafka")) as node:
        yield node.bootstrap


@pytest.fixture
def unique() -> Callable[[str], str]:
    """Unique names per test, so tests sharing one broker never see each other's topics."""
    token = secrets.token_hex(4)
    return lambda base: f"t-{base}-{token}"


@pytest.fixture
async def admin(kafka_bootstrap: str) -> AsyncIterator[AIOKafkaAdminClient]:
    client = AIOKafkaAdminClient(bootstrap_servers=kafka_bootstrap)
    await client.start()
    try:
        yield client
    finally:
        await client.close()


@pytest.fixture
def make_topics(
    admin: AIOKafkaAdminClient,
) -> Callable[..., Awaitable[None]]:
    async def create(*names: str, partitions: int = 3) -> None:
        await admin.create_topics([NewTopic(n, partitions, 1) for n in names])

    return create


async def wait_for(
    condition: Callable[[], bool | Awaitable[bool]],
    *,
    timeout: float = 30.0,
    interval: float = 0.05,
    what: str = "condition",
) -> None:
    """Poll a condition until true; fail with `what` after `timeout` (no sleep-and-hope)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        result = condition()
        if isinstance(result, Awaitable):
            result = await result
        if result:
            return
        if loop.time() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")
        await asyncio.sleep(interval)


REPO_ROOT = Path(__file__).resolve().parent.parent


# -- the real processors and the example vendors, shared by every test that needs the flow --

EXAMPLES = (
    "intentcast.examples.acme",
    "intentcast.examples.careful",
    "intentcast.examples.premium",
)


SANDBOX_VENDORS = (
    "acme-bikes", "careful-cycles", "premium-wheels", "node-bikes",
    "broken-terms", "broken-decimals", "broken-key", "broken-partition", "broken-validity",
    "broken-unserved", "broken-signature", "broken-lenient",
)  # fmt: skip
"""Vendors the session's processors keep a sandbox market for (tests/conformance)."""


@pytest.fixture(scope="session")
async def flow_topics(kafka_bootstrap: str) -> None:
    """The protocol's topics and the example vendors', created by the same code as `intentcast
    topics create`, with the processors' partition count.

    Their names are constants, so tests share them with every other test on the broker; each
    test therefore filters what it reads by its own ids and markets.
    """
    settings = BrokerSettings(bootstrap=kafka_bootstrap, sandbox_vendors=SANDBOX_VENDORS)
    # node-bikes' own topics are created by its test, after the processors started
    await create_all(settings, vendors=[v for v in SANDBOX_VENDORS if v != "node-bikes"])
    # the processors refuse to start on a layout they do not see yet: wait until it shows
    wanted = {topic.name for topic in planned_core(settings)}
    client = AIOKafkaAdminClient(bootstrap_servers=kafka_bootstrap)
    await client.start()
    try:

        async def listed() -> bool:
            return wanted <= set(await client.list_topics())

        await wait_for(listed, timeout=60, what="the topic layout in the cluster's metadata")
    finally:
        await client.close()


@pytest.fixture(scope="session")
def processors(
    kafka_bootstrap: str, flow_topics: None, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Processors]:
    folder = tmp_path_factory.mktemp("processors")
    procs = Processors(
        kafka_bootstrap, folder / "data", folder / "processors.log",
        env={"INTENTCAST_APP_ID": f"flowtest-{secrets.token_hex(3)}",
             "INTENTCAST_EXPIRY_TICK_SECONDS": "0.5",
             "INTENTCAST_METRICS_INTERVAL_SECONDS": "1",
             "INTENTCAST_SANDBOX_VENDORS": json.dumps(SANDBOX_VENDORS)},
    )  # fmt: skip
    procs.start()
    try:
        yield procs
    finally:
        procs.stop()


async def until_processors_ready(processors: Processors, **admin_kwargs: Any) -> None:
    """Until the processors created their intent table's changelog: an intent taken in before
    that would be the table's first write to a topic their producer does not know yet."""
    changelog = f"{processors.env['INTENTCAST_APP_ID']}-intents-changelog"
    client = AIOKafkaAdminClient(**admin_kwargs)
    await client.start()
    try:

        async def created() -> bool:
            assert processors.alive(), f"the processors exited; see {processors.log}"
            return changelog in await client.list_topics()

        await wait_for(created, timeout=120, interval=0.5, what=f"{changelog} to exist")
    finally:
        await client.close()


@pytest.fixture(scope="session")
async def ready_processors(kafka_bootstrap: str, processors: Processors) -> Processors:
    """The session's processors, once they can take a burst of intents at once."""
    await until_processors_ready(processors, bootstrap_servers=kafka_bootstrap)
    return processors


@pytest.fixture(scope="session")
async def vendors(kafka_bootstrap: str, processors: Processors) -> AsyncIterator[dict[str, Vendor]]:
    found: dict[str, Vendor] = {}
    for name in EXAMPLES:
        vendor = importlib.import_module(name).vendor
        vendor.settings = ClientSettings(bootstrap=kafka_bootstrap)
        found[vendor.vendor_id] = vendor
    tasks = [asyncio.create_task(v.run()) for v in found.values()]
    try:
        yield found
    finally:
        for v in found.values():
            v.stop()
        await asyncio.gather(*tasks, return_exceptions=True)
