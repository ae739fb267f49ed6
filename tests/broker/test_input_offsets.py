"""Where the checkpoint starts each input partition: the group's committed offsets, read from a
real broker after every assignment, and never a read that a rebalance overtook."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from types import SimpleNamespace

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, RecordsToDelete
from aiokafka.structs import OffsetAndMetadata

from intentcast.broker.kafka_local.node import free_port
from intentcast.broker.metrics import Metrics
from intentcast.broker.processors.incoming import Incoming
from intentcast.broker.runtime.checkpoint import Checkpoint
from intentcast.broker.settings import BrokerSettings
from tests.forwarding import forward

pytestmark = pytest.mark.kafka

OTHER = "processors-intents-changelog"  # assigned too, but not an input of the checkpoint


async def _no_flush() -> None:
    """The table's changelog flush; these tests never commit."""


def _checkpoint(bootstrap: str, group: str, topic: str) -> Checkpoint:
    """A checkpoint whose faust consumer is assigned `topic`[0..1] and one non-input topic."""
    assignment = {TopicPartition(topic, 0), TopicPartition(topic, 1), TopicPartition(OTHER, 0)}
    consumer = SimpleNamespace(assignment=lambda: assignment)
    settings = BrokerSettings(bootstrap=bootstrap, app_id=group)
    return Checkpoint(settings, frozenset({topic}), Metrics("t"), lambda: consumer, _no_flush)


@pytest.fixture
async def committed_at_2(
    kafka_bootstrap: str,
    unique: Callable[[str], str],
    make_topics: Callable[..., Awaitable[None]],
    producer: AIOKafkaProducer,
) -> tuple[str, str]:
    """A topic of two partitions, three records each, and a group that committed 2 on
    partition 0 and nothing on partition 1."""
    topic, group = unique("offsets"), unique("offsets-group")
    await make_topics(topic, partitions=2)
    for i in range(6):
        await producer.send_and_wait(topic, b"v", key=b"k", partition=i % 2)
    committer = AIOKafkaConsumer(
        topic, bootstrap_servers=kafka_bootstrap, group_id=group, enable_auto_commit=False
    )
    await committer.start()
    try:
        while not committer.assignment():
            await committer.getmany(timeout_ms=200)
        await committer.commit({TopicPartition(topic, 0): OffsetAndMetadata(2, "")})
    finally:
        await committer.stop()
    return topic, group


async def test_positions_start_at_the_groups_committed_offsets(
    kafka_bootstrap: str, committed_at_2: tuple[str, str], admin: AIOKafkaAdminClient
) -> None:
    topic, group = committed_at_2
    cp = _checkpoint(kafka_bootstrap, group, topic)
    assert await cp.positions([(topic, 0)]) == {(topic, 0): 2}
    # the whole assignment was read in the same request; partition 1 never committed: the
    # log's start; the non-input topic is not the checkpoint's
    assert await cp.positions([(topic, 1)]) == {(topic, 1): 0}
    assert (OTHER, 0) not in await cp.positions([(OTHER, 0)])
    # retention (here: a records deletion) moved partition 0's start past the commit
    await admin.delete_records({TopicPartition(topic, 0): RecordsToDelete(3)})
    cp.forget()
    assert await cp.positions([(topic, 0)]) == {(topic, 0): 3}
    cp.done([Incoming(topic=topic, partition=0, offset=3, key=b"k", value=b"v")], cp.generation)
    assert await cp.positions([(topic, 0)]) == {(topic, 0): 4}
    cp.forget()  # a rebalance: read from the group again
    assert await cp.positions([(topic, 0)]) == {(topic, 0): 3}


async def test_a_read_that_a_rebalance_overtakes_is_dropped(
    kafka_bootstrap: str, committed_at_2: tuple[str, str]
) -> None:
    """Another worker may commit while the read is under way: what it read is stale."""
    topic, group = committed_at_2
    port = free_port()
    gate = await forward(port, kafka_bootstrap, opened=False)
    try:
        cp = _checkpoint(f"127.0.0.1:{port}", group, topic)
        reading = asyncio.create_task(cp.positions([(topic, 0)]))
        # the read is under way: its client dialled Kafka and waits for the answer...
        await asyncio.wait_for(gate.connected.wait(), 10)
        cp.forget()  # ...when a rebalance comes
        gate.opened.set()
        assert await asyncio.wait_for(reading, 30) == {}
        assert await cp.positions([(topic, 0)]) == {(topic, 0): 2}  # the next need reads again
    finally:
        gate.close()
