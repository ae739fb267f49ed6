"""What the runtime relies on in faust-streaming and aiokafka, pinned so an upgrade that
changes it fails here first, not in production.

Two private names are used: `Consumer._thread` (in `broker/runtime/checkpoint.py`) and
`Producer._ensure_producer` (in `broker/runtime/changelog_metadata.py`); everything else is
public API, pinned by name and, where it matters, by behaviour on a real broker.
"""

from __future__ import annotations

import inspect
from decimal import Decimal
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition

from intentcast.agents import ClientSettings, CustomerClient, Vendor
from intentcast.broker.kafka_meta import committed_offsets, topic_partitions
from intentcast.broker.metrics import Metrics
from intentcast.broker.runtime.app import HANDLERS, ProcessorsRuntime
from intentcast.broker.runtime.checkpoint import Checkpoint, Progress
from intentcast.broker.settings import BrokerSettings
from intentcast.processes import Processors
from intentcast.schemas import INTENTS_SUBMITTED
from tests.conftest import wait_for

THREAD = "_thread"  # faust's consumer thread (broker/runtime/checkpoint.py)
ENSURE_PRODUCER = "_ensure_producer"  # faust's aiokafka producer (runtime/changelog_metadata.py)


def _runtime() -> ProcessorsRuntime:
    return ProcessorsRuntime(BrokerSettings(bootstrap="127.0.0.1:1", app_id="runtime-contract"))


def test_inputs_are_declared_without_fausts_acks() -> None:
    """The supported switch: faust neither tracks nor commits `acks=False` topics."""
    runtime = _runtime()
    topics = runtime.app.topics
    for topic in [*HANDLERS, runtime.ticks]:
        assert topics.acks_enabled_for(topic) is False, topic


def test_fausts_consumer_thread_commits_what_it_is_given() -> None:
    consumer = _runtime().app.consumer
    thread = getattr(consumer, THREAD)
    commit = thread.commit
    assert inspect.iscoroutinefunction(commit)
    assert list(inspect.signature(commit).parameters) == ["offsets"]
    assert "commit" in type(thread).__dict__ or any(
        "commit" in vars(k) for k in type(thread).__mro__
    )


def test_fausts_producer_hands_over_the_aiokafka_producer_behind_it() -> None:
    """`learn_changelog` asks that producer for the changelog's partitions before the first
    table write (faust's table writes pick their partition from the same producer's cache);
    before faust started it, there is none to hand over."""
    from aiokafka import AIOKafkaProducer
    from faust.exceptions import NotReady

    producer = _runtime().app.producer
    ensure = getattr(type(producer), ENSURE_PRODUCER)
    assert list(inspect.signature(ensure).parameters) == ["self"]
    assert "AIOKafkaProducer" in str(inspect.signature(ensure).return_annotation)
    with pytest.raises(NotReady):
        getattr(producer, ENSURE_PRODUCER)()
    assert inspect.iscoroutinefunction(AIOKafkaProducer.partitions_for)
    assert callable(producer.key_partition)


def test_public_api_the_runtime_uses_is_there() -> None:
    runtime = _runtime()
    app, consumer = runtime.app, runtime.app.consumer
    names = ("highwaters", "earliest_offsets", "assignment", "resume_partitions", "seek_wait")
    for name in names:
        assert callable(getattr(consumer, name)), name
    # `seek` rewinds the fetch position and the offset below which faust drops fetched records
    assert list(inspect.signature(consumer.seek).parameters) == ["partition", "offset"]
    assert inspect.iscoroutinefunction(consumer.seek)
    assert isinstance(consumer.flow_active, bool)
    assert isinstance(app.rebalancing, bool) and isinstance(app.in_recovery, bool)
    assert app.flow_control.is_active() in (True, False)
    assert inspect.iscoroutinefunction(app.producer.flush)
    for signal in ("on_partitions_revoked", "on_partitions_assigned", "on_before_shutdown"):
        assert callable(getattr(app, signal).connect), signal


class _Thread:
    def __init__(self) -> None:
        self.sent: list[dict[Any, int]] = []

    async def commit(self, offsets: dict[Any, int]) -> bool:
        self.sent.append(offsets)
        return True


class _Consumer:
    """faust's consumer as the checkpoint sees it: an assignment and the thread's commit."""

    def __init__(self, assigned: set[TopicPartition]) -> None:
        self.assigned = assigned
        setattr(self, THREAD, _Thread())

    def assignment(self) -> set[TopicPartition]:
        return self.assigned


async def _flushed() -> None:
    return None


@pytest.mark.parametrize("assigned", [set(), {0}, {0, 1}])
async def test_commits_only_ever_name_assigned_partitions(assigned: set[int]) -> None:
    """faust's thread crashes the worker on a commit of only unassigned partitions
    (`ValueError({})`) and silently drops unassigned ones from a mixed commit: the checkpoint
    filters by the assignment right before the call and sends nothing when nothing is left."""
    consumer = _Consumer({TopicPartition(INTENTS_SUBMITTED, p) for p in assigned})
    settings = BrokerSettings(bootstrap="127.0.0.1:1", app_id="runtime-contract")
    checkpoint = Checkpoint(
        settings, frozenset({INTENTS_SUBMITTED}), Metrics("t"), lambda: consumer, _flushed
    )
    checkpoint._progress[(INTENTS_SUBMITTED, 0)] = Progress(next=5, committed=1)
    checkpoint._progress[(INTENTS_SUBMITTED, 1)] = Progress(next=9, committed=9)  # unmoved
    checkpoint._progress[(INTENTS_SUBMITTED, 2)] = Progress(next=4, committed=0)  # not ours
    committed = await checkpoint.commit()
    thread = getattr(consumer, THREAD)
    if 0 in assigned:
        assert committed == {(INTENTS_SUBMITTED, 0): 5}
        assert thread.sent == [{TopicPartition(INTENTS_SUBMITTED, 0): 5}]
        assert await checkpoint.commit() == {}  # nothing moved since: nothing sent again
        assert len(thread.sent) == 1
    else:
        assert committed == {} and thread.sent == []


@pytest.mark.kafka
async def test_the_processors_commit_their_inputs_to_the_end(
    kafka_bootstrap: str, vendors: dict[str, Vendor], processors: Processors
) -> None:
    """On a real broker: what the processors handled is committed, by the checkpoint alone
    (faust commits nothing for these topics), up to each partition's end."""
    async with CustomerClient(ClientSettings(bootstrap=kafka_bootstrap)) as client:
        for city in ("Berlin", "Hamburg", "Munich"):
            await client.publish(
                market="bikes", item="city bike", max_price=Decimal("150"), currency="EUR",
                country="DE", city=city, terms=["SD-BASE"], intake_timeout=90,
            )  # fmt: skip
    group = processors.env["INTENTCAST_APP_ID"]
    kwargs = {"bootstrap_servers": kafka_bootstrap}
    tps = await topic_partitions(kwargs, [INTENTS_SUBMITTED])
    reader = AIOKafkaConsumer(**kwargs, enable_auto_commit=False)
    await reader.start()
    try:
        ends = await reader.end_offsets(tps)
    finally:
        await reader.stop()

    async def caught_up() -> bool:
        committed = await committed_offsets(kwargs, group, tps)
        return all(committed.get(tp, 0) >= end for tp, end in ends.items())

    await wait_for(caught_up, timeout=30, interval=0.5, what="commits up to the inputs' end")
