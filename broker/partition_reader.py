"""Read one partition of a topic up to its end as of the call, outside any consumer group.

The processors rebuild what they know from their own logs (chain heads from the agreement log,
delivered offers from the delivered topic, one agreement when reconciling): each of those is a
bounded read of one partition with a throwaway, group-less consumer.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator

from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition

from broker.settings import BrokerSettings


async def read_partition(
    settings: BrokerSettings,
    topic: str,
    partition: int,
    *,
    client_id: str,
    since_ms: int | None = None,
    from_offset: int | None = None,
    until_offset: int | None = None,
) -> AsyncGenerator[ConsumerRecord[bytes, bytes], None]:
    """Yield the records of `topic[partition]` from its start (or from `from_offset`, or from
    the first record at or after `since_ms`) to the end it had when called (or `until_offset`,
    exclusive).

    Close it (`contextlib.aclosing`) when leaving early, so its consumer stops at once.
    """
    consumer = AIOKafkaConsumer(
        **settings.kafka_kwargs(),
        enable_auto_commit=False,
        auto_offset_reset="earliest",  # a reset racing the seek must not skip records
        client_id=client_id,
    )
    await consumer.start()
    try:
        tp = TopicPartition(topic, partition)
        consumer.assign([tp])
        end = (await consumer.end_offsets([tp]))[tp]
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
