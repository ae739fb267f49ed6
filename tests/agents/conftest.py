"""Fixtures for agents tests on a real broker: the protocol's topics, raw clients, a fake intake."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Final, Protocol

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from intentcast.broker.kafka_meta import topic_partitions
from intentcast.broker.settings import BrokerSettings
from intentcast.broker.topic_admin import create_all
from intentcast.schemas.canonical import decode, encode
from intentcast.schemas.errors import SchemaError
from intentcast.schemas.events import IntentStatus, StatusKind
from intentcast.schemas.intent import Intent
from intentcast.schemas.reasons import ReasonCode
from intentcast.schemas.timeutil import utcnow
from intentcast.schemas.topics import (
    ACCEPTANCES,
    AGREEMENTS,
    CANCELS,
    INTENT_STATUS,
    INTENTS_SUBMITTED,
    OFFERS_DELIVERED,
    OFFERS_SUBMITTED,
    VENDOR_REGISTRY,
)
from tests.agents.harness import Harness, KafkaHarness, MemoryHarness

PARTITIONS: Final = 6
TRANSPORTS: Final = ("memory", pytest.param("kafka", marks=pytest.mark.kafka))
"""The SDK tests that take the `harness` fixture run once on each transport."""
PROTOCOL_TOPICS: Final = (
    INTENTS_SUBMITTED, OFFERS_SUBMITTED, OFFERS_DELIVERED, ACCEPTANCES, CANCELS, AGREEMENTS,
    INTENT_STATUS, VENDOR_REGISTRY,
)  # fmt: skip


@pytest.fixture(scope="session")
async def core_topics(kafka_bootstrap: str) -> None:
    """The protocol's fixed-name topics, created by the same code as `intentcast topics create`.

    Their names are constants, so tests share them with every other test on the broker; each
    test therefore filters what it reads by its own ids and markets.
    """
    await create_all(BrokerSettings(bootstrap=kafka_bootstrap, partitions=PARTITIONS))


@pytest.fixture
async def raw_producer(kafka_bootstrap: str) -> AsyncIterator[AIOKafkaProducer]:
    producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap, acks="all")
    await producer.start()
    try:
        yield producer
    finally:
        await producer.stop()


class FakeIntake(Protocol):
    """Answer intents of ``market`` (accepted, or rejected with ``refuse``); list them."""

    def __call__(self, market: str, refuse: ReasonCode | None = None) -> list[Intent]: ...


class TailReader:
    """Reads every partition of one topic from where it ended when the reader was made."""

    def __init__(self, consumer: AIOKafkaConsumer) -> None:
        self.consumer = consumer
        self.records: list[tuple[int, bytes, bytes]] = []  # (partition, key, value)

    async def poll(self) -> list[tuple[int, bytes, bytes]]:
        batch = await self.consumer.getmany(timeout_ms=200)
        for tp, records in batch.items():
            self.records.extend((tp.partition, r.key, r.value) for r in records)
        return self.records


@pytest.fixture
async def tail(kafka_bootstrap: str) -> AsyncIterator[Callable[[str], Awaitable[TailReader]]]:
    """``await tail(topic)``: a reader of records produced to ``topic`` from now on."""
    consumers: list[AIOKafkaConsumer] = []

    async def make(topic: str) -> TailReader:
        consumer = AIOKafkaConsumer(bootstrap_servers=kafka_bootstrap, enable_auto_commit=False)
        await consumer.start()
        consumers.append(consumer)
        tps = await topic_partitions({"bootstrap_servers": kafka_bootstrap}, [topic], wait_s=30.0)
        consumer.assign(tps)
        ends = await consumer.end_offsets(tps)
        for tp in tps:
            consumer.seek(tp, ends[tp])
        return TailReader(consumer)

    yield make
    for consumer in consumers:
        await consumer.stop()


@pytest.fixture
async def fake_intake(
    kafka_bootstrap: str,
    raw_producer: AIOKafkaProducer,
    tail: Callable[[str], Awaitable[TailReader]],
) -> AsyncIterator[FakeIntake]:
    """Plays intake for ONE market only: answers ``accepted`` to each intent sent to it.

    Only there so ``publish`` (which waits for intake's verdict) can return in tests of the
    client alone; the real intake processor is exercised by the flow tests. Returns a
    function that starts answering for a market and gives the list of intents seen.
    """
    reader = await tail(INTENTS_SUBMITTED)
    markets: dict[str, list[Intent]] = {}
    refusals: dict[str, ReasonCode] = {}

    async def answer() -> None:
        handled = 0
        while True:
            records = await reader.poll()
            for _partition, key, value in records[handled:]:
                try:
                    intent = decode(Intent, value)
                except SchemaError:  # other tests send broken records on purpose
                    continue
                if intent.market in markets:
                    markets[intent.market].append(intent)
                    refusal = refusals.get(intent.market)
                    status = IntentStatus(
                        intent_id=intent.intent_id,
                        status=StatusKind.ACCEPTED if refusal is None else StatusKind.REJECTED,
                        reason=refusal,
                        detail="" if refusal is None else "refused by the test",
                        at=utcnow(),
                    )
                    await raw_producer.send_and_wait(INTENT_STATUS, encode(status), key=key)
            handled = len(records)

    task = asyncio.create_task(answer())

    def serve(market: str, refuse: ReasonCode | None = None) -> list[Intent]:
        if refuse is not None:
            refusals[market] = refuse
        return markets.setdefault(market, [])

    yield serve
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


@pytest.fixture(params=TRANSPORTS)
def harness(request: pytest.FixtureRequest) -> Harness:
    """A way to serve a vendor and send it records: in memory, or on the session broker with
    the real processors registering it (tests.agents.harness)."""
    if request.param == "memory":
        return MemoryHarness()
    request.getfixturevalue("core_topics")
    request.getfixturevalue("processors")
    return KafkaHarness(
        request.getfixturevalue("kafka_bootstrap"),
        request.getfixturevalue("make_topics"),
        request.getfixturevalue("raw_producer"),
        request.getfixturevalue("admin"),
        request.getfixturevalue("tail"),
        PARTITIONS,
    )
