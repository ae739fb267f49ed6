"""Fixtures for agents tests on a real broker: a fake intake (topics, producer, tail: tests/)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Final, Protocol

import pytest
from aiokafka import AIOKafkaProducer

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
from tests.watchers import TopicWatcher

PARTITIONS: Final = 6
TRANSPORTS: Final = ("memory", pytest.param("kafka", marks=pytest.mark.kafka))
"""The SDK tests that take the `harness` fixture run once on each transport."""
PROTOCOL_TOPICS: Final = (
    INTENTS_SUBMITTED, OFFERS_SUBMITTED, OFFERS_DELIVERED, ACCEPTANCES, CANCELS, AGREEMENTS,
    INTENT_STATUS, VENDOR_REGISTRY,
)  # fmt: skip


class FakeIntake(Protocol):
    """Answer intents of ``market`` (accepted, or rejected with ``refuse``); list them."""

    def __call__(self, market: str, refuse: ReasonCode | None = None) -> list[Intent]: ...


@pytest.fixture
async def fake_intake(
    producer: AIOKafkaProducer,
    tail: Callable[[str], Awaitable[TopicWatcher]],
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
            for record in records[handled:]:
                try:
                    intent = decode(Intent, record.value)
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
                    await producer.send_and_wait(INTENT_STATUS, encode(status), key=record.key)
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
    request.getfixturevalue("flow_topics")
    request.getfixturevalue("processors")
    return KafkaHarness(
        request.getfixturevalue("kafka_bootstrap"),
        request.getfixturevalue("make_topics"),
        request.getfixturevalue("producer"),
        request.getfixturevalue("admin"),
        request.getfixturevalue("tail"),
        PARTITIONS,
    )
