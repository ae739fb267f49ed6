"""Commits of input partitions never pass a record that was not handled.

The first tests pin why the processors keep their own record: faust-streaming's commit choice,
on its real consumer object, passes records the agent was never handed. The last ones read the
group's committed offsets from a real broker.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, RecordsToDelete
from aiokafka.structs import OffsetAndMetadata
from faust.types import TP

from broker.app import build_app
from broker.input_offsets import InputOffsets, _Progress
from broker.metrics import Metrics
from broker.processors.incoming import Incoming
from broker.settings import BrokerSettings

INPUT = "intentcast.intents.submitted"
OTHER = "processors-intents-changelog"


def _rec(offset: int, topic: str = INPUT, partition: int = 0) -> Incoming:
    return Incoming(topic=topic, partition=partition, offset=offset, key=b"k", value=b"v")


def _offsets(start: int = 3) -> InputOffsets:
    """Partition 0 of INPUT known to start at `start`, as if read from the group."""
    settings = BrokerSettings(bootstrap="127.0.0.1:1")
    offsets = InputOffsets(settings, frozenset({INPUT}), Metrics("t"))
    offsets._progress[(INPUT, 0)] = _Progress(start)
    return offsets


def _faust_consumer() -> Any:
    app, _ = build_app(BrokerSettings(bootstrap="127.0.0.1:1", app_id="offsets-contract"))
    return app.consumer


def _acked(consumer: Any, tp: TP, offsets: list[int]) -> None:
    consumer._acked[tp].extend(offsets)
    consumer._acked_index[tp].update(offsets)


def test_faust_alone_commits_past_records_it_never_handed_over() -> None:
    """Why `install` exists: with 3..8 never acknowledged, faust still commits past them."""
    consumer = _faust_consumer()
    never_committed, committed_at_3 = TP(INPUT, 0), TP(INPUT, 1)
    _acked(consumer, never_committed, [9, 10])  # committed offset 0 is stored as None too
    assert consumer._new_offset(never_committed) == 11
    consumer._committed_offset[committed_at_3] = 3
    _acked(consumer, committed_at_3, [4, 5])  # offset 3 never handled: one short of a hole
    assert consumer._new_offset(committed_at_3) == 6


def test_installed_commits_stop_at_the_first_offset_not_done() -> None:
    consumer, offsets = _faust_consumer(), _offsets(start=3)
    offsets.install(consumer)
    tp = TP(INPUT, 0)
    offsets.done([_rec(4), _rec(5)])  # 3 was skipped
    _acked(consumer, tp, [4, 5])
    assert consumer._new_offset(tp) == 3
    assert not consumer._acked[tp] and not consumer._acked_index[tp]  # cannot grow
    offsets.done([_rec(3)])  # read again and handled: 3, 4, 5 are all done now
    assert consumer._new_offset(tp) == 6
    assert consumer._new_offset(TP(INPUT, 1)) is None  # no record handled since assignment


def test_other_topics_keep_fausts_own_rules() -> None:
    consumer, offsets = _faust_consumer(), _offsets()
    offsets.install(consumer)
    tp = TP(OTHER, 2)
    _acked(consumer, tp, [0, 1, 2])
    assert consumer._new_offset(tp) == 3


async def test_offset_jumps_on_input_topics_are_not_gaps_to_commit_over() -> None:
    consumer, offsets = _faust_consumer(), _offsets()
    offsets.install(consumer)
    await consumer._add_gap(TP(INPUT, 0), 32, 36)
    await consumer._add_gap(TP(OTHER, 2), 7, 9)  # compacted: faust's own rule stands
    assert not consumer._gap[TP(INPUT, 0)]
    assert consumer._gap[TP(OTHER, 2)]
    assert offsets._metrics.counters["consumer.skips_held"] == 1


def test_done_advances_only_over_contiguous_offsets() -> None:
    offsets = _offsets(start=10)
    offsets.done([_rec(12), _rec(11), _rec(9)])  # 9: a replay of a done record
    assert offsets.commit_offset(INPUT, 0) == 10
    offsets.done([_rec(10)])
    assert offsets.commit_offset(INPUT, 0) == 13
    offsets.done([_rec(5, partition=4)])  # no baseline yet (e.g. from before a rebalance)
    assert offsets.commit_offset(INPUT, 4) is None
    offsets.forget()
    assert offsets.commit_offset(INPUT, 0) is None


def test_records_deleted_before_they_were_handled_stop_holding_the_commit() -> None:
    offsets = _offsets(start=10)
    offsets.done([_rec(12), _rec(60)])
    offsets.deleted_below(INPUT, 0, 5)  # nothing unhandled below 5: no change
    assert offsets.commit_offset(INPUT, 0) == 10
    offsets.deleted_below(INPUT, 0, 50)  # 10..49 gone, 12 of them had been handled
    assert offsets.commit_offset(INPUT, 0) == 50
    assert offsets._metrics.counters["consumer.deleted_unhandled"] == 39
    offsets.done([_rec(50), _rec(51), _rec(52), _rec(53), _rec(54), _rec(55), _rec(56)])
    offsets.done([_rec(57), _rec(58), _rec(59)])
    assert offsets.commit_offset(INPUT, 0) == 61  # 60 was done before


@pytest.mark.kafka
async def test_positions_start_at_the_groups_committed_offsets(
    kafka_bootstrap: str,
    unique: Callable[[str], str],
    make_topics: Callable[..., Awaitable[None]],
    producer: AIOKafkaProducer,
) -> None:
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
    settings = BrokerSettings(bootstrap=kafka_bootstrap, app_id=group)
    offsets = InputOffsets(settings, frozenset({topic}), Metrics("t"))
    consumer = _faust_consumer()
    consumer.assignment = lambda: {TP(topic, 0), TP(topic, 1), TP(OTHER, 0)}
    offsets.install(consumer)
    assert await offsets.positions([(topic, 0)]) == {(topic, 0): 2}
    # the whole assignment was read in the same request; partition 1 never committed: the
    # log's start
    assert offsets.commit_offset(topic, 1) == 0
    assert offsets.commit_offset(OTHER, 0) is None  # not an input topic
    admin = AIOKafkaAdminClient(bootstrap_servers=kafka_bootstrap)
    await admin.start()
    try:  # retention (here: a records deletion) moved partition 0's start past the commit
        await admin.delete_records({TopicPartition(topic, 0): RecordsToDelete(3)})
    finally:
        await admin.close()
    offsets.forget()
    assert await offsets.positions([(topic, 0)]) == {(topic, 0): 3}
    offsets.done([_rec(3, topic)])
    assert await offsets.positions([(topic, 0)]) == {(topic, 0): 4}
    offsets.forget()  # a rebalance: read from the group again
    assert await offsets.positions([(topic, 0)]) == {(topic, 0): 3}
    offsets.forget()
    reading = asyncio.create_task(offsets.positions([(topic, 0)]))
    await asyncio.sleep(0)  # the read is under way (waiting on the network)...
    offsets.forget()  # ...when a rebalance comes: what it read may be stale, so it is dropped
    assert await reading == {}
    assert await offsets.positions([(topic, 0)]) == {(topic, 0): 3}


async def test_without_kafka_partitions_stay_unknown_and_nothing_is_committed() -> None:
    offsets = InputOffsets(
        BrokerSettings(bootstrap="127.0.0.1:1"), frozenset({INPUT}), Metrics("t")
    )
    assert await offsets.positions([(INPUT, 0)]) == {}  # tried again at the next need
    offsets.done([_rec(0)])
    assert offsets.commit_offset(INPUT, 0) is None
