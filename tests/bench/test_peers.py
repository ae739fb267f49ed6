"""Every ceiling and peer of `intentcast bench` does the whole job on a real broker: it works
every input, writes exactly the pipeline's number of outputs per input, and commits its input
offsets only after those outputs were acknowledged (bounded: 20 intents, 100 records)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Coroutine
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from intentcast.bench import passthrough
from intentcast.bench.fanout import Fanout
from intentcast.bench.mix import message_mix
from intentcast.bench.output_count import is_processor_output, output_offsets, written_between
from intentcast.bench.peers import PeerJob, confluent_passthrough, faststream_peer, quix_peer
from intentcast.schemas import INTENTS_SUBMITTED

pytestmark = pytest.mark.kafka

PARTITIONS = 3
INTENTS, VENDORS = 20, 3
RATIO = 3.8  # about what the pipeline writes per input


def test_the_fanout_spreads_a_ratio_exactly() -> None:
    fanout = Fanout(3.8)
    got = [fanout.next() for _ in range(10)]
    assert sum(got) == 38 == Fanout(3.8).total(10)
    assert set(got) == {3, 4}
    assert [Fanout(1.0).next() for _ in range(3)] == [1, 1, 1]
    with pytest.raises(ValueError, match="finite"):
        Fanout(float("nan"))


async def _end_offsets(bootstrap: str, topic: str) -> int:
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap)
    await consumer.start()
    try:
        tps = [TopicPartition(topic, p) for p in range(PARTITIONS)]
        return sum((await consumer.end_offsets(tps)).values())
    finally:
        await consumer.stop()


async def _committed(admin: AIOKafkaAdminClient, group: str, topic: str) -> int:
    offsets = await admin.list_consumer_group_offsets(group)
    return sum(meta.offset for tp, meta in offsets.items() if tp.topic == topic)


Runner = Callable[[PeerJob], Awaitable[dict[str, Any]]]


async def _confluent(job: PeerJob) -> dict[str, Any]:
    return await asyncio.to_thread(confluent_passthrough.passthrough, job)


@pytest.mark.parametrize(
    "runner",
    [passthrough.passthrough, _confluent, faststream_peer.run],
    ids=["aiokafka", "confluent-kafka", "faststream"],
)
async def test_a_peer_works_every_input_and_commits_after_its_outputs(
    runner: Runner,
    kafka_bootstrap: str,
    admin: AIOKafkaAdminClient,
    make_topics: Callable[..., Awaitable[None]],
    unique: Callable[[str], str],
) -> None:
    src, sink, group = unique("src"), unique("sink"), unique("group")
    await make_topics(src, sink, partitions=PARTITIONS)
    records, work, worked = await _filled(kafka_bootstrap, src)
    result = await runner(_job(kafka_bootstrap, src, sink, len(records), work, group))
    await _check(kafka_bootstrap, admin, result, len(records), len(worked), sink, group, src)


def test_the_quix_streams_peer_works_every_input_and_commits_after_its_outputs(
    kafka_bootstrap: str, unique: Callable[[str], str]
) -> None:
    """Quix Streams installs signal handlers, so it runs only in the main thread: this test is
    synchronous and does its Kafka setup and checks on a loop of their own in a thread."""
    src, sink, group = unique("src"), unique("sink"), unique("group")

    async def setup() -> tuple[list[tuple[bytes, bytes]], Callable[[bytes], None], list[int]]:
        admin = AIOKafkaAdminClient(bootstrap_servers=kafka_bootstrap)
        await admin.start()
        try:
            await admin.create_topics([NewTopic(t, PARTITIONS, 1) for t in (src, sink)])
        finally:
            await admin.close()
        return await _filled(kafka_bootstrap, src)

    records, work, worked = _in_thread(setup())
    result = quix_peer.run(_job(kafka_bootstrap, src, sink, len(records), work, group))

    async def check() -> None:
        admin = AIOKafkaAdminClient(bootstrap_servers=kafka_bootstrap)
        await admin.start()
        try:
            inputs = len(records)
            await _check(kafka_bootstrap, admin, result, inputs, len(worked), sink, group, src)
        finally:
            await admin.close()

    _in_thread(check())


def _job(
    bootstrap: str, src: str, sink: str, count: int, work: Callable[[bytes], None], group: str
) -> PeerJob:
    return PeerJob(bootstrap, src, sink, PARTITIONS, count, work, Fanout(RATIO), group, 60.0)


T = TypeVar("T")


def _in_thread(coroutine: Coroutine[Any, Any, T]) -> T:
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coroutine).result(timeout=120)


async def _filled(
    bootstrap: str, src: str
) -> tuple[list[tuple[bytes, bytes]], Callable[[bytes], None], list[int]]:
    """The source topic filled with the real mix, and a work that counts what it verified."""
    records, crypto = message_mix(INTENTS, VENDORS)
    await passthrough.fill(bootstrap, src, records)
    worked: list[int] = []

    def work(value: bytes) -> None:
        crypto(value)  # verifies every signature, seals every offer: raises on a bad record
        worked.append(len(value))

    return records, work, worked


async def _check(
    bootstrap: str,
    admin: AIOKafkaAdminClient,
    result: dict[str, Any],
    inputs: int,
    worked: int,
    sink: str,
    group: str,
    src: str,
) -> None:
    assert result["messages"] == inputs == worked
    assert result["outputs"] == Fanout(RATIO).total(inputs)
    assert await _end_offsets(bootstrap, sink) == Fanout(RATIO).total(inputs)
    assert await _committed(admin, group, src) == inputs
    assert result["messages_per_s"] > 0


async def test_the_processors_outputs_are_counted_and_their_inputs_are_not(
    kafka_bootstrap: str, make_topics: Callable[..., Awaitable[None]], unique: Callable[[str], str]
) -> None:
    out, profile = unique("out"), unique("vendor") + ".profile"
    await make_topics(out, profile, partitions=PARTITIONS)
    before = await output_offsets(kafka_bootstrap)
    records = [(b"k%d" % i, b"v") for i in range(7)]
    await passthrough.fill(kafka_bootstrap, out, records)
    await passthrough.fill(kafka_bootstrap, profile, records)  # a vendor's, not an output
    written = written_between(before, await output_offsets(kafka_bootstrap))
    assert written[out] == 7  # the session's processors may write ticks and metrics meanwhile
    assert profile not in written
    assert not is_processor_output(INTENTS_SUBMITTED)  # what the processors read
    assert not is_processor_output("__consumer_offsets")
