"""How many records the processors wrote: what a like-for-like ceiling must write too.

Counted from Kafka's end offsets before and after the throughput runs, over every topic but
the processors' inputs, the vendors' own profile topics, the benchmark's topics and Kafka's
internal ones: markets, statuses, sealed offers, feedback, agreements, dead letters, metrics,
the intent table's changelog and faust's own topics.
"""

from __future__ import annotations

from aiokafka import AIOKafkaConsumer
from aiokafka.admin import AIOKafkaAdminClient

from intentcast.broker.kafka_meta import topic_partitions
from intentcast.schemas import ACCEPTANCES, CANCELS, INTENTS_SUBMITTED, OFFERS_SUBMITTED

INPUTS = frozenset({INTENTS_SUBMITTED, OFFERS_SUBMITTED, ACCEPTANCES, CANCELS})


def is_processor_output(topic: str) -> bool:
    return not (topic in INPUTS or topic.startswith(("__", "bench.")) or topic.endswith(".profile"))


async def output_offsets(bootstrap: str) -> dict[str, int]:
    """Every output topic's records so far (the sum of its partitions' end offsets)."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        topics = [t for t in await admin.list_topics() if is_processor_output(t)]
    finally:
        await admin.close()
    tps = await topic_partitions({"bootstrap_servers": bootstrap}, topics, missing_ok=True)
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap)
    await consumer.start()
    try:
        ends = await consumer.end_offsets(tps) if tps else {}
    finally:
        await consumer.stop()
    totals: dict[str, int] = {}
    for tp, end in ends.items():
        totals[tp.topic] = totals.get(tp.topic, 0) + end
    return totals


def written_between(before: dict[str, int], after: dict[str, int]) -> dict[str, int]:
    """Records written per topic between two counts (a topic created since counts from 0)."""
    return {t: n - before.get(t, 0) for t, n in sorted(after.items()) if n > before.get(t, 0)}
