"""The skip filler reads the records faust never handed over, from a real broker's log."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import pytest
from aiokafka import AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, RecordsToDelete

from broker.metrics import Metrics
from broker.processors.incoming import Incoming
from broker.settings import BrokerSettings
from broker.skip_filler import SkipFiller

pytestmark = pytest.mark.kafka


def _rec(topic: str, offset: int) -> Incoming:
    return Incoming(topic=topic, partition=0, offset=offset, key=b"k", value=b"v")


async def test_records_between_the_last_handed_over_and_the_next_are_read_in_order(
    kafka_bootstrap: str,
    unique: Callable[[str], str],
    make_topics: Callable[..., Awaitable[None]],
    producer: AIOKafkaProducer,
) -> None:
    topic = unique("skips")
    await make_topics(topic, partitions=1)
    for i in range(10):
        await producer.send_and_wait(topic, f"record-{i}".encode(), key=b"k", partition=0)
    committed = {(topic, 0): 2}

    async def positions_of(keys: list[tuple[str, int]]) -> dict[tuple[str, int], int]:
        return {k: committed[k] for k in keys}

    deleted: list[tuple[str, int, int]] = []
    filler = SkipFiller(
        BrokerSettings(bootstrap=kafka_bootstrap, app_id="skip-test"),
        Metrics("test"),
        positions_of,
        lambda t, p, start: deleted.append((t, p, start)),
    )
    # the first record after an assignment is compared with the first offset not done
    assert await filler.missed_before(_rec(topic, 2)) == []
    assert await filler.missed_before(_rec(topic, 3)) == []
    missed = await filler.missed_before(_rec(topic, 7))  # 4, 5 and 6 were skipped
    assert [(m.offset, m.value) for m in missed] == [
        (4, b"record-4"),
        (5, b"record-5"),
        (6, b"record-6"),
    ]
    assert filler.metrics.counters["consumer.skips_filled"] == 3
    # read again from an earlier offset (a rewind): a replay, nothing to fill
    assert await filler.missed_before(_rec(topic, 5)) == []
    assert await filler.missed_before(_rec(topic, 6)) == []
    # after a rebalance the first offset not done is the baseline again
    filler.forget()
    committed[(topic, 0)] = 8
    assert [m.offset for m in await filler.missed_before(_rec(topic, 9))] == [8]
    assert deleted == []
    # retention deleted 0..5 while a worker was behind them: the filler reads what is left
    # and says where the log starts now
    admin = AIOKafkaAdminClient(bootstrap_servers=kafka_bootstrap)
    await admin.start()
    try:
        await admin.delete_records({TopicPartition(topic, 0): RecordsToDelete(6)})
    finally:
        await admin.close()
    filler.forget()
    committed[(topic, 0)] = 3
    assert [m.offset for m in await filler.missed_before(_rec(topic, 8))] == [6, 7]
    assert deleted == [(topic, 0, 6)]
