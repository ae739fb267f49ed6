"""Readers for the secure tests: a topic's records for one key, read as a given principal."""

from __future__ import annotations

from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition

from intentcast.agents.partitions import partition_for
from tests.conftest import wait_for

Record = Any  # aiokafka's ConsumerRecord[bytes, bytes]; aiokafka ships no type hints


async def records_for_key(
    kwargs: dict[str, Any],
    topic: str,
    key: str,
    *,
    at_least: int = 1,
    timeout: float = 60.0,
    partitions: int = 6,
) -> list[Record]:
    """Every record keyed `key` on its partition, once at least `at_least` are there."""
    tp = TopicPartition(topic, partition_for(key, partitions))
    consumer = AIOKafkaConsumer(enable_auto_commit=False, **kwargs)
    await consumer.start()
    found: list[Record] = []
    try:
        consumer.assign([tp])
        await consumer.seek_to_beginning(tp)

        async def enough() -> bool:
            batch = await consumer.getmany(tp, timeout_ms=200)
            found.extend(r for r in batch.get(tp, []) if r.key == key.encode())
            return len(found) >= at_least

        await wait_for(enough, timeout=timeout, what=f"{at_least} record(s) of {key} on {topic}")
        # drain to the end, so a later duplicate cannot hide behind the first match
        end = (await consumer.end_offsets([tp]))[tp]
        while await consumer.position(tp) < end:
            batch = await consumer.getmany(tp, timeout_ms=200)
            found.extend(r for r in batch.get(tp, []) if r.key == key.encode())
    finally:
        await consumer.stop()
    return found
