"""Watchers of topics from their end, a producer and the topics, as fixtures for every test."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from intentcast.broker.kafka_meta import topic_partitions
from intentcast.schemas import DEAD_LETTERS, INTENT_STATUS, DeadLetter, IntentStatus, decode
from tests.conftest import wait_for


class TopicWatcher:
    """Reads every partition of a topic from its end as of the watcher's start, keeping every
    record (`partition`, `key`, `value`, headers) for later assertions."""

    def __init__(self, consumer: AIOKafkaConsumer) -> None:
        self.consumer = consumer
        self.records: list[Any] = []

    async def poll(self) -> list[Any]:
        """One fetch added to `records`; returns all of them, so callers can scan as they go."""
        batch = await self.consumer.getmany(timeout_ms=100)
        for records in batch.values():
            self.records.extend(records)
        return self.records

    async def wait(self, predicate: Any, what: str, timeout: float = 60.0) -> Any:
        found: list[Any] = []

        async def check() -> bool:
            await self.poll()
            found[:] = [r for r in self.records if predicate(r)]
            return bool(found)

        await wait_for(check, timeout=timeout, what=what)
        return found[0]


async def watcher(bootstrap: str, topic: str) -> TopicWatcher:
    tps = await topic_partitions({"bootstrap_servers": bootstrap}, [topic], wait_s=30.0)
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()
    consumer.assign(tps)
    await consumer.seek_to_end(*tps)
    for tp in tps:
        await consumer.position(tp)  # resolve the end now, before anything is published
    return TopicWatcher(consumer)


@pytest.fixture
async def tail(kafka_bootstrap: str) -> AsyncIterator[Callable[[str], Awaitable[TopicWatcher]]]:
    """``await tail(topic)``: a watcher of what is produced to ``topic`` from now on, stopped
    when the test ends."""
    made: list[TopicWatcher] = []

    async def make(topic: str) -> TopicWatcher:
        made.append(await watcher(kafka_bootstrap, topic))
        return made[-1]

    yield make
    for w in made:
        await w.consumer.stop()


@pytest.fixture
async def statuses(kafka_bootstrap: str, flow_topics: None) -> AsyncIterator[TopicWatcher]:
    w = await watcher(kafka_bootstrap, INTENT_STATUS)
    yield w
    await w.consumer.stop()


@pytest.fixture
async def dead_letters(kafka_bootstrap: str, flow_topics: None) -> AsyncIterator[TopicWatcher]:
    w = await watcher(kafka_bootstrap, DEAD_LETTERS)
    yield w
    await w.consumer.stop()


@pytest.fixture
async def producer(kafka_bootstrap: str) -> AsyncIterator[AIOKafkaProducer]:
    """Raw records of the test's own making (acks=all, idempotent), beside the clients'."""
    p = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap, acks="all", enable_idempotence=True)
    await p.start()
    try:
        yield p
    finally:
        await p.stop()


def status_of(intent_id: str, kind: str) -> Any:
    def match(record: Any) -> bool:
        status = decode(IntentStatus, record.value)
        return status.intent_id == intent_id and status.status.value == kind

    return match


def dead_letter_for(offset_key: bytes, reason: str) -> Any:
    def match(record: Any) -> bool:
        letter = decode(DeadLetter, record.value)
        return record.key == offset_key and letter.reason.value == reason

    return match


__all__ = ["Path", "TopicPartition", "TopicWatcher", "dead_letter_for", "status_of", "watcher"]
