"""The latest record of one key, read from the one partition it is on, with no consumer group.

A customer looks up the vendor it agreed with in the registry (for its sealing key), a
vendor looks up an agreement it was sent before a restart: both read one partition from its
start to the end it had when they asked, and join no group, so nothing is committed and no
one else's progress moves.
"""

from __future__ import annotations

import contextlib

from aiokafka import AIOKafkaProducer, TopicPartition
from aiokafka.errors import KafkaError

from intentcast.agents.errors import TopicMissingError
from intentcast.agents.kafka import kafka_errors, make_consumer, random_client_id
from intentcast.agents.partitions import partition_for
from intentcast.agents.settings import ClientSettings
from intentcast.kafkaio import POLL_MS

__all__ = ["latest_for_key"]


async def _partition_count(settings: ClientSettings, topic: str) -> int:
    """From the cluster's metadata: a consumer's lists only the topics it consumes."""
    probe = AIOKafkaProducer(client_id=random_client_id("lookup"), **settings.kafka_kwargs())
    with kafka_errors(f"reading metadata of {topic}", topic=topic):
        await probe.start()
        try:
            partitions = await probe.partitions_for(topic)
        finally:
            with contextlib.suppress(KafkaError):
                await probe.stop()
    if not partitions:
        raise TopicMissingError(topic)
    return len(partitions)


async def latest_for_key(settings: ClientSettings, topic: str, key: str) -> bytes | None:
    """The value of the last record keyed ``key`` on ``topic``, or None if it has none."""
    count = await _partition_count(settings, topic)
    consumer = make_consumer(settings, random_client_id("lookup"), offset_reset="earliest")
    with kafka_errors(f"reading {topic}", topic=topic):
        await consumer.start()
    try:
        with kafka_errors(f"reading {topic}", topic=topic):
            tp = TopicPartition(topic, partition_for(key, count))
            consumer.assign([tp])
            await consumer.seek_to_beginning(tp)
            end = (await consumer.end_offsets([tp]))[tp]
            wanted, found = key.encode("utf-8"), None
            while await consumer.position(tp) < end:
                batch = await consumer.getmany(tp, timeout_ms=POLL_MS)
                for record in batch.get(tp, []):
                    if record.key == wanted:
                        found = record.value
            return found
    finally:
        with contextlib.suppress(KafkaError):
            await consumer.stop()
