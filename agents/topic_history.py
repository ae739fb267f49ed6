"""Read what topics hold now, from their start, with a throw-away consumer outside any group.

A restarted vendor rebuilds its retention schedule this way (its consumer group has long
committed past its old agreements), and a customer reads its intent's partition of the
agreement log; neither commits anything or joins a group another process could see.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Iterable, Sequence

from aiokafka import AIOKafkaProducer, ConsumerRecord, TopicPartition
from aiokafka.errors import KafkaError

from intentcast.agents.kafka import kafka_errors, make_consumer, random_client_id
from intentcast.agents.settings import ClientSettings

__all__ = ["read_to_end"]

FETCH_TIMEOUT_MS = 1000
METADATA_WAIT_S = 5.0
"""How long a topic may take to show in the metadata before it counts as missing."""


async def _partitions(
    settings: ClientSettings, client_id: str, topics: Sequence[str]
) -> dict[str, set[int]]:
    """Each topic's partitions from fresh metadata (a producer waits for it; a consumer outside a
    group has no public way to), empty for a topic that does not exist."""
    producer = AIOKafkaProducer(client_id=client_id, **settings.kafka_kwargs())
    with kafka_errors(f"connecting to Kafka at {settings.bootstrap}"):
        await producer.start()
    try:
        found = {}
        for topic in topics:
            try:
                found[topic] = set(
                    await asyncio.wait_for(producer.partitions_for(topic), METADATA_WAIT_S)
                )
            except (TimeoutError, KafkaError):
                found[topic] = set()
        return found
    finally:
        with contextlib.suppress(KafkaError):
            await producer.stop()


async def read_to_end(
    settings: ClientSettings,
    topics: Sequence[str],
    *,
    partitions: Callable[[int], Iterable[int]] | None = None,
    client_id: str | None = None,
) -> list[ConsumerRecord[bytes, bytes]]:
    """Every record of ``topics`` up to the end each partition had when called, in offset
    order per partition; ``partitions`` picks which, given a topic's partition count (all by
    default). A missing topic holds none."""
    client_id = client_id or random_client_id()
    layout = await _partitions(settings, client_id, topics)
    consumer = make_consumer(settings, client_id, offset_reset="earliest")
    with kafka_errors(f"connecting to Kafka at {settings.bootstrap}"):
        await consumer.start()
    try:
        tps = []
        for topic in topics:
            known = layout[topic]
            if not known:
                continue
            picked = known if partitions is None else set(partitions(len(known))) & known
            chosen = sorted(picked)
            tps += [TopicPartition(topic, p) for p in chosen]
        if not tps:
            return []
        with kafka_errors(f"reading {', '.join(topics)}"):
            consumer.assign(tps)
            ends = await consumer.end_offsets(tps)
            await consumer.seek_to_beginning(*tps)
            out: list[ConsumerRecord[bytes, bytes]] = []
            pending = {tp for tp in tps if ends[tp] > 0}
            while pending:
                batch = await consumer.getmany(*pending, timeout_ms=FETCH_TIMEOUT_MS)
                for tp, records in batch.items():
                    out += [r for r in records if r.offset < ends[tp]]
                for tp in list(pending):
                    if await consumer.position(tp) >= ends[tp]:
                        pending.discard(tp)
            return out
    finally:
        with contextlib.suppress(KafkaError):
            await consumer.stop()
