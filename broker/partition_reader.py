"""Read one partition of a topic up to its end as of the call, outside any consumer group.

The processors rebuild what they know from their own logs (chain heads from the agreement log,
delivered offers from the delivered topic, one agreement when reconciling): each of those is a
bounded read of one partition with a throwaway, group-less consumer.

These reads happen inside the agents' handling of a record, so a Kafka that is briefly away (a
broker restart, a leader moving) must not turn into a refused record: opening the read is
retried with backoff for `retry_s` before the error is raised.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncGenerator

from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition
from aiokafka.errors import KafkaError

from intentcast.broker.settings import BrokerSettings

log = logging.getLogger(__name__)
RETRY_S = 60.0


async def read_partition(
    settings: BrokerSettings,
    topic: str,
    partition: int,
    *,
    client_id: str,
    since_ms: int | None = None,
    from_offset: int | None = None,
    until_offset: int | None = None,
    retry_s: float = RETRY_S,
) -> AsyncGenerator[ConsumerRecord[bytes, bytes], None]:
    """Yield the records of `topic[partition]` from its start (or from `from_offset`, or from
    the first record at or after `since_ms`) to the end it had when called (or `until_offset`,
    exclusive).

    Close it (`contextlib.aclosing`) when leaving early, so its consumer stops at once.
    """
    tp = TopicPartition(topic, partition)
    consumer, end = await _open(settings, tp, client_id, retry_s)
    try:
        if until_offset is not None:
            end = min(end, until_offset)
        if from_offset is not None:
            consumer.seek(tp, from_offset)
        elif since_ms is None:
            await consumer.seek_to_beginning(tp)
        else:
            found = (await consumer.offsets_for_times({tp: since_ms}))[tp]
            if found is None:
                return  # nothing written since then
            consumer.seek(tp, found.offset)
        while await consumer.position(tp) < end:
            for record in (await consumer.getmany(tp, timeout_ms=1000)).get(tp, []):
                if record.offset < end:
                    yield record
    finally:
        await consumer.stop()


async def _open(
    settings: BrokerSettings, tp: TopicPartition, client_id: str, retry_s: float
) -> tuple[AIOKafkaConsumer, int]:
    """A started consumer assigned to `tp`, and the partition's end offset now."""
    loop = asyncio.get_running_loop()
    deadline, delay = loop.time() + retry_s, 0.25
    while True:
        consumer = AIOKafkaConsumer(
            **settings.kafka_kwargs(),
            enable_auto_commit=False,
            auto_offset_reset="earliest",  # a reset racing the seek must not skip records
            client_id=client_id,
        )
        try:
            await consumer.start()
            consumer.assign([tp])
            return consumer, (await consumer.end_offsets([tp]))[tp]
        except KafkaError as exc:
            with contextlib.suppress(KafkaError):
                await consumer.stop()
            if loop.time() + delay > deadline:
                raise
            log.warning(
                "reading %s[%d]: %s; trying again in %.1f s", tp.topic, tp.partition,
                type(exc).__name__, delay,
            )  # fmt: skip
            await asyncio.sleep(delay)
            delay = min(delay * 2, 5.0)
