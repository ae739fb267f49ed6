"""The one consume loop on a real broker: commits after the handler, ends on True or stop."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from intentcast.kafkaio import Batch, consume, records_of, stop_task

pytestmark = pytest.mark.kafka


async def test_batches_are_committed_after_the_handler_and_true_ends_the_loop(
    kafka_bootstrap: str,
    unique: Callable[[str], str],
    make_topics: Callable[..., Awaitable[None]],
    admin: AIOKafkaAdminClient,
) -> None:
    topic, group = unique("loop"), unique("group")
    await make_topics(topic, partitions=1)
    producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap, acks="all")
    await producer.start()
    try:
        for i in range(3):
            await producer.send_and_wait(topic, f"r{i}".encode(), key=b"k")
    finally:
        await producer.stop()
    consumer = AIOKafkaConsumer(
        topic, bootstrap_servers=kafka_bootstrap, group_id=group, enable_auto_commit=False,
        auto_offset_reset="earliest",
    )  # fmt: skip
    await consumer.start()
    seen: list[bytes] = []

    async def handle(batch: Batch) -> bool:
        seen.extend(r.value or b"" for r in records_of(batch))
        return len(seen) >= 3

    try:
        done = await asyncio.wait_for(consume(consumer, handle, name="test", commit=True), 30)
    finally:
        await consumer.stop()
    assert done and seen == [b"r0", b"r1", b"r2"]
    committed = await admin.list_consumer_group_offsets(group)
    assert committed[TopicPartition(topic, 0)].offset == 3


async def test_a_stop_event_ends_the_loop_between_polls_and_stop_task_cancels_it(
    kafka_bootstrap: str, unique: Callable[[str], str], make_topics: Callable[..., Awaitable[None]]
) -> None:
    topic = unique("idle")
    await make_topics(topic, partitions=1)
    consumer = AIOKafkaConsumer(topic, bootstrap_servers=kafka_bootstrap)
    await consumer.start()
    polls = 0
    polled_twice = asyncio.Event()

    async def count(batch: Batch) -> None:
        nonlocal polls
        polls += 1
        if polls >= 2:  # the handler sees empty batches too (timed-out polls)
            polled_twice.set()

    try:
        stop = asyncio.Event()
        loop = asyncio.create_task(consume(consumer, count, name="test", stop=stop))
        await asyncio.wait_for(polled_twice.wait(), 10)
        stop.set()
        assert await asyncio.wait_for(loop, 5) is False
        endless = asyncio.create_task(consume(consumer, count, name="test"))
        await asyncio.sleep(0.2)
        await stop_task(endless)
        assert endless.cancelled()
    finally:
        await consumer.stop()
