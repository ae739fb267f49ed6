"""Reads inside a record's handling outlast a Kafka that is briefly away, then fail loudly."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from types import SimpleNamespace
from typing import cast

import pytest
from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaConnectionError

from intentcast.broker.context import Context
from intentcast.broker.kafka_local.node import free_port
from intentcast.broker.partition_reader import read_partition
from intentcast.broker.processors.incoming import Incoming
from intentcast.broker.runtime.batch_loop import AgentLoop, Runtime
from intentcast.broker.settings import BrokerSettings
from tests.forwarding import forward


@pytest.mark.kafka
async def test_a_read_started_while_kafka_is_away_finishes_when_it_is_back(
    kafka_bootstrap: str,
    unique: Callable[[str], str],
    make_topics: Callable[..., Awaitable[None]],
    producer: AIOKafkaProducer,
) -> None:
    topic = unique("away")
    await make_topics(topic, partitions=1)
    for i in range(3):
        await producer.send_and_wait(topic, f"r{i}".encode(), partition=0)
    port = free_port()
    settings = BrokerSettings(bootstrap=f"127.0.0.1:{port}")

    async def read_all() -> list[bytes | None]:
        return [r.value async for r in read_partition(settings, topic, 0, client_id="t")]

    reading = asyncio.create_task(read_all())
    await asyncio.sleep(1.5)  # the read keeps trying meanwhile
    assert not reading.done()
    server = await forward(port, kafka_bootstrap)
    try:
        assert await asyncio.wait_for(reading, 30) == [b"r0", b"r1", b"r2"]
    finally:
        server.close()


async def test_a_kafka_away_beyond_the_retries_raises() -> None:
    settings = BrokerSettings(bootstrap=f"127.0.0.1:{free_port()}")
    started = time.monotonic()
    with pytest.raises(KafkaConnectionError):
        async for _ in read_partition(settings, "t", 0, client_id="t", retry_s=1.0):
            pass
    assert 0.5 < time.monotonic() - started < 10


async def test_kafka_errors_are_not_dead_lettered_as_the_records_fault() -> None:
    """A record is refused only for what is wrong with it; Kafka failures stop the worker."""

    async def handler(ctx: Context, rec: Incoming) -> None:
        raise KafkaConnectionError("Unable to bootstrap")

    rec = Incoming(topic="t", partition=0, offset=0, key=None, value=b"{}")
    loop = AgentLoop("t", "t", handler, cast(Runtime, SimpleNamespace(ctx=None)))
    with pytest.raises(KafkaConnectionError):
        await loop._dispatch(rec)  # no context touched: nothing queued
