"""Read what topics hold now, from their start, with a throw-away consumer outside any group.

A restarted vendor rebuilds its retention schedule this way (its consumer group has long
committed past its old agreements), and a customer reads its intent's partition of the
agreement log; neither commits anything or joins a group another process could see.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterable, Sequence

from aiokafka import ConsumerRecord, TopicPartition
from aiokafka.errors import KafkaError

from intentcast.agents.kafka import kafka_errors, make_consumer, random_client_id
from intentcast.agents.settings import ClientSettings

__all__ = ["read_to_end"]

FETCH_TIMEOUT_MS = 1000


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
    consumer = make_consumer(settings, client_id or random_client_id(), offset_reset="earliest")
    with kafka_errors(f"connecting to Kafka at {settings.bootstrap}"):
        await consumer.start()
    try:
        tps = []
        with kafka_errors("reading topic metadata"):
            await consumer.topics()  # fresh metadata: the topics may be newer than the client
        for topic in topics:
            known = consumer.partitions_for_topic(topic) or set()
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
