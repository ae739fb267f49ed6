"""One vendor's broken output topic must not become everyone's outage.

A vendor topic that is missing (deleted), refuses a record's size or, in secure mode, lost the
processors' ACL (tests/security/test_destination_faults.py) has its records dead-lettered
while every other record of the same flush is acknowledged as usual; Kafka being away is still
a failure of the flush. The first tests need no broker; the rest use a real one, and the end
to end tests run the real processors on a broker of their own (a second processor group on the
session's broker would answer every other test's intents a second time).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import shutil
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import (
    KafkaConnectionError,
    KafkaError,
    KafkaTimeoutError,
    MessageSizeTooLargeError,
    NotLeaderForPartitionError,
    OutOfOrderSequenceNumber,
    RecordTooLargeError,
    RequestTimedOutError,
    TopicAuthorizationFailedError,
    UnknownTopicOrPartitionError,
)

from intentcast.agents import ClientSettings
from intentcast.broker.destinations import (
    Cause,
    DestinationFault,
    DestinationHealth,
    needs_probe,
    quiet_client_logs,
    refused,
    vendor_of,
)
from intentcast.broker.kafka_local import KafkaNode, resolve_distribution
from intentcast.broker.kafka_local.node import free_port
from intentcast.broker.kafka_meta import topic_partitions
from intentcast.broker.metrics import Metrics
from intentcast.broker.outputs import Outputs
from intentcast.broker.settings import BrokerSettings
from intentcast.broker.topic_admin import create_all
from intentcast.dashboard.server import DashboardServer
from intentcast.processes import Processors
from intentcast.schemas import (
    DEAD_LETTERS,
    DeadLetter,
    OfferFeedback,
    ReasonCode,
    decode,
    vendor_agreements_topic,
    vendor_feedback_topic,
)
from tests.broker.vendor_flow import (
    Episode,
    as_dead_letter,
    assert_quiet,
    dead_letters_of,
    episode,
)
from tests.conftest import private_kafka, wait_for
from tests.ops.browser import CHROMIUM, chromium_page
from tests.ops.test_ops_live import run_monitor_once, scrape
from tests.watchers import TopicWatcher

Record = Any  # aiokafka's ConsumerRecord[bytes, bytes]


# -- what an error means, without a broker --------------------------------------------------


def test_errors_that_name_a_destination_fault_by_themselves() -> None:
    topic = vendor_feedback_topic("acme")
    denied = refused(topic, TopicAuthorizationFailedError(topic))
    assert denied == DestinationFault(topic, Cause.NOT_AUTHORISED, "TopicAuthorizationFailedError")
    assert denied.reason is ReasonCode.DESTINATION_UNAVAILABLE and denied.blocks
    assert denied.vendor_id == "acme"
    assert denied.detail == (
        "intentcast.vendor.acme.feedback: TopicAuthorizationFailedError "
        "(topic not authorised for the processors)"
    )
    for too_large in (MessageSizeTooLargeError(), RecordTooLargeError()):
        fault = refused(topic, too_large)
        assert fault is not None and fault.cause is Cause.TOO_LARGE
        assert fault.reason is ReasonCode.DESTINATION_TOO_LARGE and not fault.blocks
    # the same refusal on one of the system's own topics is the runtime's to judge
    assert refused("intentcast.agreements", TopicAuthorizationFailedError("x")) is None
    # a deleted topic and an unreachable cluster raise the same: ask the cluster first
    for ambiguous in (
        UnknownTopicOrPartitionError(),
        NotLeaderForPartitionError(),
        KafkaTimeoutError(),
        RequestTimedOutError(),
    ):
        assert refused(topic, ambiguous) is None and needs_probe(ambiguous)
    for transient in (KafkaConnectionError(), OutOfOrderSequenceNumber(), KafkaError()):
        assert refused(topic, transient) is None and not needs_probe(transient)
    assert vendor_of(vendor_agreements_topic("premium-wheels")) == "premium-wheels"


def test_an_unhealthy_destination_is_skipped_for_the_interval_and_logged_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    now = [1000.0]
    metrics = Metrics("test")
    health = DestinationHealth(metrics, retry_s=30.0, clock=lambda: now[0])
    topic = vendor_feedback_topic("acme")
    fault = DestinationFault(topic, Cause.TOPIC_MISSING, "UnknownTopicOrPartitionError")
    caplog.set_level(logging.WARNING, logger="intentcast.broker.destinations")
    for _ in range(1000):  # the old failure logged 23,000 lines in two minutes
        health.failed(fault)
        health.dead_lettered(fault, 1)
    assert health.blocked(topic) == fault
    assert health.blocked(vendor_feedback_topic("other")) is None
    assert metrics.gauges == {
        "vendor_unhealthy.acme": 1.0,
        "vendor_unhealthy.acme.feedback.topic_missing": 1.0,
    }
    assert metrics.counters["destinations.unavailable.acme"] == 1000
    assert metrics.counters["deadletters.destination_unavailable"] == 1000
    lines = [r.getMessage() for r in caplog.records]
    assert len(lines) == 1 and "UnknownTopicOrPartitionError (topic missing)" in lines[0]
    now[0] += 30.0  # the interval is over: the topic is tried again
    assert health.blocked(topic) is None
    health.failed(fault)  # still missing: skipped again, and one more line says how it went
    assert health.blocked(topic) == fault
    assert len(caplog.records) == 2
    assert "1000 record(s) dead-lettered since the last line" in caplog.records[1].getMessage()
    health.recovered(topic)
    assert health.blocked(topic) is None
    assert metrics.gauges == {"vendor_unhealthy.acme": 0.0}
    assert "writable again" in caplog.records[-1].getMessage()
    too_large = DestinationFault(topic, Cause.TOO_LARGE, "MessageSizeTooLargeError")
    health.failed(too_large)  # one record's size: the topic itself stays in use
    assert health.blocked(topic) is None and metrics.gauges["vendor_unhealthy.acme"] == 0.0


def test_client_lines_about_one_vendor_topic_pass_once_per_interval(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """aiokafka logs a missing topic at every metadata refresh, in a tight loop while a batch
    for it is queued (about 1,200 lines a second, measured)."""
    quiet_client_logs(30.0)
    cluster = logging.getLogger("aiokafka.cluster")
    caplog.set_level(logging.ERROR, logger="aiokafka.cluster")
    gone = vendor_feedback_topic(f"t-gone-{secrets.token_hex(3)}")
    for _ in range(500):
        cluster.error("Topic %s not found in cluster metadata", gone)
        cluster.error("Topic %s not found in cluster metadata", "intentcast.agreements")
    about_gone = [r for r in caplog.records if gone in r.getMessage()]
    about_system = [r for r in caplog.records if "intentcast.agreements" in r.getMessage()]
    assert len(about_gone) == 1
    assert len(about_system) == 500, "lines about the system's own topics are never held back"
    sender = logging.getLogger("aiokafka.producer.sender")
    caplog.set_level(logging.WARNING, logger="aiokafka.producer.sender")
    for _ in range(100):
        sender.warning("Got error produce response on %s", TopicPartition(gone, 0))
    assert len([r for r in caplog.records if r.name == "aiokafka.producer.sender"]) == 1


# -- Outputs against a real broker --------------------------------------------------------


def _vendor_id(unique: Callable[[str], str], base: str) -> str:
    return unique(base)  # t-<base>-<hex>: a slug, and unique to the test


async def _read_all(bootstrap: str, topic: str, *, expect: int, timeout: float = 20.0) -> list[Any]:
    """Every record of a topic, once at least `expect` are there."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()
    found: list[Any] = []
    try:
        tps = await topic_partitions({"bootstrap_servers": bootstrap}, [topic], wait_s=20.0)
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)

        async def enough() -> bool:
            batch = await consumer.getmany(*tps, timeout_ms=200)
            for records in batch.values():
                found.extend(records)
            return len(found) >= expect

        await wait_for(enough, timeout=timeout, what=f"{expect} record(s) on {topic}")
    finally:
        await consumer.stop()
    return found


def _letters(watcher: TopicWatcher, topic: str) -> list[tuple[Record, DeadLetter]]:
    out = []
    for record in watcher.records:
        letter = as_dead_letter(record)
        if letter is not None and letter.source_topic == topic:
            out.append((record, letter))
    return out


async def _letters_for(
    watcher: TopicWatcher, topic: str, count: int, timeout: float = 20.0
) -> list[tuple[Record, DeadLetter]]:
    async def enough() -> bool:
        await watcher.poll()
        return len(_letters(watcher, topic)) >= count

    await wait_for(enough, timeout=timeout, what=f"{count} dead letter(s) for {topic}")
    return _letters(watcher, topic)


@pytest.mark.kafka
async def test_a_missing_vendor_topic_is_dead_lettered_and_the_rest_of_the_flush_goes_through(
    kafka_bootstrap: str,
    unique: Callable[[str], str],
    make_topics: Callable[..., Awaitable[None]],
    dead_letters: TopicWatcher,
) -> None:
    healthy = unique("outputs-healthy")
    await make_topics(healthy, partitions=3)
    vendor = _vendor_id(unique, "gone")
    missing = vendor_feedback_topic(vendor)
    metrics = Metrics("test")
    settings = BrokerSettings(
        bootstrap=kafka_bootstrap, app_id="destination-test", destination_retry_seconds=3
    )
    outputs = Outputs(settings, metrics=metrics)
    try:
        for i in range(5):
            await outputs.send(healthy, b"healthy %d" % i, b"intent-%d" % i)
            await outputs.send(missing, b"feedback %d" % i, b"intent-%d" % i)
        started = time.monotonic()
        await outputs.flush()  # returns: one vendor's topic is not everyone's failure
        first_flush = time.monotonic() - started
        assert len(await _read_all(kafka_bootstrap, healthy, expect=5)) == 5
        letters = await _letters_for(dead_letters, missing, 5)
        assert sorted(letter.payload() for _, letter in letters) == [
            b"feedback %d" % i for i in range(5)
        ]
        for record, letter in letters:
            assert letter.reason is ReasonCode.DESTINATION_UNAVAILABLE
            assert letter.detail == f"{missing}: UnknownTopicOrPartitionError (topic missing)"
            assert letter.source_offset == 0 and letter.key_b64 is not None
            headers = dict(record.headers)
            assert headers["intentcast.dlq.topic"] == missing.encode()
            assert headers["intentcast.dlq.reason"] == b"destination_unavailable"
            assert headers["intentcast.dlq.offset"] == b"0"
            assert headers["intentcast.dlq.detail"] == letter.detail.encode()
        assert metrics.gauges[f"vendor_unhealthy.{vendor}"] == 1.0
        assert metrics.gauges[f"vendor_unhealthy.{vendor}.feedback.topic_missing"] == 1.0
        assert metrics.counters[f"destinations.unavailable.{vendor}"] == 5
        # known to be missing: the next record is dead-lettered at once, not after 30 s
        await outputs.send(missing, b"feedback again", b"intent-0")
        await outputs.send(healthy, b"healthy again", b"intent-0")
        started = time.monotonic()
        await outputs.flush()
        second_flush = time.monotonic() - started
        assert second_flush < 0.5, f"second flush took {second_flush:.2f} s"
        await _letters_for(dead_letters, missing, 6)
        # the topic comes back: used again once the interval is over
        await make_topics(missing, partitions=3)
        await asyncio.sleep(3.0)
        await outputs.send(missing, b"feedback after", b"intent-0")
        await outputs.flush()
        back = await _read_all(kafka_bootstrap, missing, expect=1)
        assert [r.value for r in back] == [b"feedback after"]
        assert metrics.gauges[f"vendor_unhealthy.{vendor}"] == 0.0
        assert f"vendor_unhealthy.{vendor}.feedback.topic_missing" not in metrics.gauges
        assert first_flush < 8.0, f"first flush took {first_flush:.2f} s"
    finally:
        await outputs.stop()
    assert len(_letters(dead_letters, missing)) == 6, "nothing dead-lettered once it was back"


@pytest.mark.kafka
async def test_a_vendor_topic_deleted_after_use_is_noticed_within_seconds(
    kafka_bootstrap: str,
    unique: Callable[[str], str],
    make_topics: Callable[..., Awaitable[None]],
    admin: AIOKafkaAdminClient,
    dead_letters: TopicWatcher,
) -> None:
    """The producer still holds the topic's partitions: aiokafka queues the batch and would
    fail it with NotLeaderForPartitionError only after its request timeout."""
    healthy = unique("outputs-healthy")
    vendor = _vendor_id(unique, "deleted")
    deleted = vendor_agreements_topic(vendor)
    await make_topics(healthy, deleted, partitions=2)
    metrics = Metrics("test")
    outputs = Outputs(BrokerSettings(bootstrap=kafka_bootstrap, app_id="destination-test"), metrics)
    try:
        await outputs.send(deleted, b"before", b"intent-1")
        await outputs.flush()
        await admin.delete_topics([deleted])
        await asyncio.sleep(1.0)
        for i in range(3):
            await outputs.send(deleted, b"copy %d" % i, b"intent-%d" % i)
            await outputs.send(healthy, b"status %d" % i, b"intent-%d" % i)
        started = time.monotonic()
        await outputs.flush()
        took = time.monotonic() - started
        assert took < 8.0, f"the deleted topic was noticed after {took:.1f} s"
        assert len(await _read_all(kafka_bootstrap, healthy, expect=3)) == 3
        letters = await _letters_for(dead_letters, deleted, 3)
        assert {letter.reason for _, letter in letters} == {ReasonCode.DESTINATION_UNAVAILABLE}
        assert all(deleted in letter.detail for _, letter in letters)
        assert metrics.gauges[f"vendor_unhealthy.{vendor}.agreements.topic_missing"] == 1.0
        started = time.monotonic()
        await outputs.send(deleted, b"copy again", b"intent-1")
        await outputs.flush()
        assert time.monotonic() - started < 0.5
    finally:
        started = time.monotonic()
        await outputs.stop()
        # the given-up batch is still queued in aiokafka until its (5 s) request timeout
        assert time.monotonic() - started < 10.0


@pytest.mark.kafka
async def test_records_too_large_for_a_vendor_topic_are_dead_lettered_and_only_those(
    kafka_bootstrap: str,
    unique: Callable[[str], str],
    admin: AIOKafkaAdminClient,
    dead_letters: TopicWatcher,
) -> None:
    """The broker refuses a whole batch over max.message.bytes, and an idempotent producer
    whose batch was refused fails every later batch to that partition (out of order) unless
    it is replaced: so the small records must arrive, and so must later ones."""
    vendor = _vendor_id(unique, "small")
    topic = vendor_agreements_topic(vendor)
    await admin.create_topics([NewTopic(topic, 1, 1, topic_configs={"max.message.bytes": "3000"})])
    metrics = Metrics("test")
    outputs = Outputs(BrokerSettings(bootstrap=kafka_bootstrap, app_id="destination-test"), metrics)
    try:
        await outputs.send(topic, b"first", b"k")
        await outputs.flush()
        for i in range(4):  # 4 kB together: too large as one batch, fine one by one
            await outputs.send(topic, b"%d" % i * 1000, b"k%d" % i)
        await outputs.send(topic, b"B" * 5000, b"big")
        await outputs.flush()
        await outputs.send(topic, b"after", b"k")
        await outputs.flush()
        values = [r.value for r in await _read_all(kafka_bootstrap, topic, expect=6)]
        assert values == [b"first", *(b"%d" % i * 1000 for i in range(4)), b"after"]
        ((record, letter),) = await _letters_for(dead_letters, topic, 1)
        assert record.key == b"big" and letter.payload_size == 5000
        assert letter.reason is ReasonCode.DESTINATION_TOO_LARGE
        assert letter.detail == (
            f"{topic}: MessageSizeTooLargeError (record larger than the topic accepts)"
        )
        assert metrics.counters[f"destinations.too_large.{vendor}"] == 1
        assert metrics.counters["outputs.producers_replaced"] >= 1
        assert metrics.gauges.get(f"vendor_unhealthy.{vendor}", 0.0) == 0.0
    finally:
        await outputs.stop()


@pytest.fixture
def own_node(tmp_path: Path) -> Iterator[KafkaNode]:
    with private_kafka(tmp_path / "kafka") as node:
        yield node


@pytest.mark.kafka
async def test_kafka_away_is_not_a_destination_fault(own_node: KafkaNode) -> None:
    """With the whole cluster gone, nothing says the vendor's topic is missing: its records
    are neither dead-lettered nor acknowledged, and they arrive once Kafka is back."""
    bootstrap = own_node.bootstrap
    vendor = "away-vendor"
    settings = BrokerSettings(bootstrap=bootstrap, app_id="destination-test", partitions=2)
    await create_all(settings, vendors=[vendor])
    topic = vendor_feedback_topic(vendor)
    metrics = Metrics("test")
    outputs = Outputs(settings, metrics)
    try:
        await outputs.send(topic, b"before", b"intent-1")
        await outputs.flush()
        own_node.stop()
        await outputs.send(topic, b"during", b"intent-1")
        flush = asyncio.ensure_future(outputs.flush())
        done, _ = await asyncio.wait({flush}, timeout=8.0)
        assert not done, "the flush returned while Kafka was away"
        assert metrics.counters[f"destinations.unavailable.{vendor}"] == 0
        await asyncio.to_thread(own_node.start, 120)
        with contextlib.suppress(KafkaError):  # transient: failing the flush is right too
            await asyncio.wait_for(flush, 60)
        assert metrics.counters[f"destinations.unavailable.{vendor}"] == 0
        assert f"vendor_unhealthy.{vendor}" not in metrics.gauges
        if flush.exception() is None:
            values = [r.value for r in await _read_all(bootstrap, topic, expect=2)]
            assert values == [b"before", b"during"]
    finally:
        with contextlib.suppress(KafkaError):
            await outputs.stop()
    letters = await _read_dead_letters_to_end(bootstrap)
    assert letters == [], "Kafka away was taken for a destination fault"


async def _read_dead_letters_to_end(bootstrap: str) -> list[DeadLetter]:
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()
    try:
        tps = await topic_partitions({"bootstrap_servers": bootstrap}, [DEAD_LETTERS], wait_s=20.0)
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        ends = await consumer.end_offsets(tps)
        letters: list[DeadLetter] = []
        while [tp for tp in tps if await consumer.position(tp) < ends[tp]]:
            batch = await consumer.getmany(*tps, timeout_ms=500)
            letters += [decode(DeadLetter, r.value) for rs in batch.values() for r in rs]
        return letters
    finally:
        await consumer.stop()


# -- end to end: the real processors, a vendor whose topic is deleted while intents flow ----

STEADY = "df-steady"
FEEDBACK_GONE = "df-feedback-gone"
AGREEMENTS_GONE = "df-agreements-gone"


@dataclass
class Stack:
    """A broker of its own, the topics, and the real processors on it."""

    node: KafkaNode
    processors: Processors

    @property
    def bootstrap(self) -> str:
        return self.node.bootstrap


@pytest.fixture(scope="module")
async def stack(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Stack]:
    folder = tmp_path_factory.mktemp("destination-faults")
    node = KafkaNode(
        dist=resolve_distribution(),
        data_dir=folder / "kafka",
        port=free_port(),
        controller_port=free_port(),
    )
    await asyncio.to_thread(node.start, 120)
    try:
        await create_all(
            BrokerSettings(bootstrap=node.bootstrap),
            vendors=[STEADY, FEEDBACK_GONE, AGREEMENTS_GONE],
        )
        env = {
            "INTENTCAST_APP_ID": f"destinations-{secrets.token_hex(3)}",
            "INTENTCAST_EXPIRY_TICK_SECONDS": "0.5",
            "INTENTCAST_METRICS_INTERVAL_SECONDS": "1",
        }
        procs = Processors(node.bootstrap, folder / "data", folder / "processors.log", env=env)
        procs.start()
        try:
            yield Stack(node, procs)
        finally:
            await asyncio.to_thread(procs.stop)
    finally:
        await asyncio.to_thread(node.stop)


async def _episode(
    stack: Stack, victim: str, topic: str, accept_victim: Callable[[int], bool]
) -> Episode:
    """Intents flow; the victim's topic is deleted meanwhile."""
    admin = AIOKafkaAdminClient(bootstrap_servers=stack.bootstrap)
    await admin.start()
    try:
        settings = ClientSettings(bootstrap=stack.bootstrap)
        return await episode(
            customer=settings,
            vendor_settings=settings,
            steady=STEADY,
            victim=victim,
            processors_log=stack.processors.log,
            processors_alive=stack.processors.alive,
            break_topic=lambda: admin.delete_topics([topic]),
            accept_victim=accept_victim,
        )
    finally:
        await admin.close()


@pytest.mark.kafka
async def test_a_vendors_feedback_topic_deleted_while_intents_flow(stack: Stack) -> None:
    topic = vendor_feedback_topic(FEEDBACK_GONE)
    run = await _episode(stack, FEEDBACK_GONE, topic, accept_victim=lambda i: False)
    kafka = {"bootstrap_servers": stack.bootstrap}
    letters = await dead_letters_of(kafka, topic, run.after)
    for intent_id in run.after:
        record, letter = letters[intent_id]
        assert letter.reason is ReasonCode.DESTINATION_UNAVAILABLE
        assert letter.detail == f"{topic}: UnknownTopicOrPartitionError (topic missing)"
        assert decode(OfferFeedback, letter.payload()).vendor_id == FEEDBACK_GONE
        assert dict(record.headers)["intentcast.dlq.reason"] == b"destination_unavailable"
    # the other vendor heard about every offer, and got every agreement
    everything = set(run.before + run.after)
    assert {f.intent_id for f in run.heard.feedback[STEADY]} >= everything
    await wait_for(
        lambda: set(run.heard.agreements.get(STEADY, [])) >= everything,
        timeout=30, what="the steady vendor's agreement copies",
    )  # fmt: skip
    assert_quiet(run.log)
    await _shows_unhealthy(stack.bootstrap, FEEDBACK_GONE, "feedback", "topic_missing")


@pytest.mark.kafka
async def test_a_vendors_agreements_topic_deleted_while_intents_flow(stack: Stack) -> None:
    topic = vendor_agreements_topic(AGREEMENTS_GONE)
    run = await _episode(stack, AGREEMENTS_GONE, topic, accept_victim=lambda i: i % 2 == 0)
    rounds = run.before + run.after
    victims = [intent for i, intent in enumerate(rounds) if i % 2 == 0]
    late = [i for i in run.after if i in victims]
    assert late, "some of the victim's offers were accepted after the deletion"
    letters = await dead_letters_of({"bootstrap_servers": stack.bootstrap}, topic, late)
    for intent_id in late:
        _, letter = letters[intent_id]
        assert letter.reason is ReasonCode.DESTINATION_UNAVAILABLE
        assert letter.detail == f"{topic}: UnknownTopicOrPartitionError (topic missing)"
    assert not set(letters) - set(victims), "only the victim's copies were dead-lettered"
    steady = [intent for i, intent in enumerate(rounds) if i % 2 == 1]
    await wait_for(
        lambda: set(run.heard.agreements.get(STEADY, [])) >= set(steady),
        timeout=30, what="the steady vendor's agreement copies",
    )  # fmt: skip
    assert_quiet(run.log)


async def _shows_unhealthy(bootstrap: str, vendor: str, topic: str, cause: str) -> None:
    """The dashboard (JSON, /metrics and the page) and `intentcast monitor` name the vendor."""
    server = DashboardServer(
        {"bootstrap_servers": bootstrap}, port=free_port(), lookback=600, refresh=0.5
    )
    await server.start()
    try:
        async with aiohttp.ClientSession() as http:

            async def listed() -> bool:
                async with http.get(server.url + "api/snapshot") as response:
                    snapshot = await response.json()
                return vendor in snapshot["unhealthy_vendors"]

            await wait_for(listed, timeout=30, interval=0.5, what=f"{vendor} shown unhealthy")
            async with http.get(server.url + "api/snapshot") as response:
                state = (await response.json())["unhealthy_vendors"][vendor]
            assert state["topics"] == {topic: cause} and state["dead_lettered"] >= 1
            async with http.get(server.url + "metrics") as response:
                metrics = scrape(await response.text())
            assert metrics[f"intentcast_vendor_unhealthy{{vendor={vendor}}}"] == 1.0
            assert metrics[f"intentcast_destinations_unavailable_total{{vendor={vendor}}}"] >= 1
        if shutil.which(CHROMIUM):
            async with chromium_page() as page:
                await page.goto(server.url)
                await page.wait_for_selector("#panel-unhealthy:not([hidden])", timeout=20_000)
                text = await page.inner_text("#table-unhealthy")
                assert vendor in text and "topic missing" in text
    finally:
        await server.stop()
    once = await asyncio.to_thread(run_monitor_once, bootstrap)
    assert once["unhealthy_vendors"][vendor]["topics"] == {topic: cause}
