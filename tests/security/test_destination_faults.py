"""In secure mode a vendor's topic breaks another way: the processors lose the ACL to write it.

The processors' allow rule covers every vendor topic by prefix, so the fault is a DENY rule for
the `processors` principal on one topic (deny wins over allow in Kafka's authorizer). Kafka
then refuses that topic's batches with TOPIC_AUTHORIZATION_FAILED, and the idempotent producer,
which had counted the refused batch's sequence numbers, would fail every later batch to that
partition as out of order, even after the ACL is granted again, unless it is replaced.

Both tests use this folder's session node and processors; their vendors connect as the super
user (the vendor's own ACLs are not what is tested here) and answer a market no other secure
test uses.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import time
from collections.abc import Iterator

import pytest
from aiokafka import AIOKafkaConsumer

from intentcast.broker.kafka_meta import topic_partitions
from intentcast.broker.metrics import Metrics
from intentcast.broker.outputs import Outputs
from intentcast.broker.topic_admin import create_all
from intentcast.processes import Processors
from intentcast.schemas import (
    DEAD_LETTERS,
    OfferFeedback,
    ReasonCode,
    decode,
    vendor_feedback_topic,
)
from intentcast.schemas.events import DeadLetter
from tests.broker.vendor_flow import as_dead_letter, assert_quiet, dead_letters_of, episode
from tests.conftest import wait_for
from tests.security.conftest import SecureKafka

pytestmark = pytest.mark.kafka

ACLS = "org.apache.kafka.tools.AclCommand"


@contextlib.contextmanager
def _denied(kafka: SecureKafka, topic: str, *operations: str) -> Iterator[None]:
    """A DENY rule for the processors on one topic, removed again on exit."""
    ops = [arg for op in operations for arg in ("--operation", op)]
    rule = ["--deny-principal", "User:processors", *ops, "--topic", topic]
    kafka.admin.run(ACLS, "--add", "--force", *rule)
    try:
        yield
    finally:
        kafka.admin.run(ACLS, "--remove", "--force", *rule)


async def _values(kafka: SecureKafka, topic: str, expect: int) -> list[bytes]:
    kwargs = kafka.kwargs("admin")
    consumer = AIOKafkaConsumer(enable_auto_commit=False, **kwargs)
    await consumer.start()
    found: list[bytes] = []
    try:
        tps = await topic_partitions(kwargs, [topic], wait_s=20.0)
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)

        async def enough() -> bool:
            batch = await consumer.getmany(*tps, timeout_ms=200)
            found.extend(r.value for rs in batch.values() for r in rs)
            return len(found) >= expect

        await wait_for(enough, timeout=20, what=f"{expect} record(s) on {topic}")
    finally:
        await consumer.stop()
    return found


async def _letters(kafka: SecureKafka, topic: str, expect: int) -> list[DeadLetter]:
    kwargs = kafka.kwargs("admin")
    consumer = AIOKafkaConsumer(enable_auto_commit=False, **kwargs)
    await consumer.start()
    found: list[DeadLetter] = []
    try:
        tps = await topic_partitions(kwargs, [DEAD_LETTERS], wait_s=20.0)
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)

        async def enough() -> bool:
            batch = await consumer.getmany(*tps, timeout_ms=200)
            for records in batch.values():
                letters = (as_dead_letter(r) for r in records)
                found.extend(d for d in letters if d is not None and d.source_topic == topic)
            return len(found) >= expect

        await wait_for(enough, timeout=20, what=f"{expect} dead letter(s) for {topic}")
    finally:
        await consumer.stop()
    return found


@pytest.fixture
async def fresh_vendors(secure_kafka: SecureKafka) -> tuple[str, str]:
    """Two vendor ids of this test alone, with their topics (created by the processors)."""
    token = secrets.token_hex(3)
    ids = (f"df-denied-{token}", f"df-steady-{token}")
    await create_all(secure_kafka.broker_settings(), vendors=list(ids))
    return ids


async def test_a_write_acl_withdrawn_and_granted_again(
    secure_kafka: SecureKafka, fresh_vendors: tuple[str, str]
) -> None:
    denied, steady = (vendor_feedback_topic(v) for v in fresh_vendors)
    settings = secure_kafka.broker_settings().model_copy(update={"destination_retry_seconds": 2.0})
    metrics = Metrics("test")
    outputs = Outputs(settings, metrics)
    try:
        await outputs.send(denied, b"before", b"intent-1")
        await outputs.flush()  # the producer now has sequence numbers on that partition
        with _denied(secure_kafka, denied, "Write"):
            await outputs.send(denied, b"while denied", b"intent-1")
            await outputs.send(steady, b"for the other vendor", b"intent-1")
            started = time.monotonic()
            await outputs.flush()
            assert time.monotonic() - started < 2.0, "an authorisation failure is immediate"
            (letter,) = await _letters(secure_kafka, denied, 1)
            assert letter.reason is ReasonCode.DESTINATION_UNAVAILABLE
            assert letter.payload() == b"while denied"
            assert letter.detail == (
                f"{denied}: TopicAuthorizationFailedError (topic not authorised for the processors)"
            )
            vendor = fresh_vendors[0]
            assert metrics.gauges[f"vendor_unhealthy.{vendor}.feedback.not_authorised"] == 1.0
            assert await _values(secure_kafka, steady, 1) == [b"for the other vendor"]
        await asyncio.sleep(2.0)  # granted again, and the interval is over
        await outputs.send(denied, b"granted again", b"intent-1")
        await outputs.flush()
        assert await _values(secure_kafka, denied, 2) == [b"before", b"granted again"]
        assert metrics.gauges[f"vendor_unhealthy.{vendor}"] == 0.0
        assert metrics.counters["outputs.producers_replaced"] >= 1
    finally:
        await outputs.stop()


async def test_the_processors_acl_on_a_vendor_topic_withdrawn_under_the_real_processors(
    secure_kafka: SecureKafka, secure_processors: Processors, fresh_vendors: tuple[str, str]
) -> None:
    """Describe and Write denied: the processors' metadata no longer shows the topic either.
    (That intents keep flowing while the fault arrives is shown on a plain broker.)"""
    victim, steady = fresh_vendors
    topic = vendor_feedback_topic(victim)
    withdrawn = contextlib.ExitStack()

    async def withdraw() -> None:
        await asyncio.to_thread(withdrawn.enter_context, _denied(secure_kafka, topic, "All"))

    try:
        run = await episode(
            customer=secure_kafka.client_settings("customer"),
            vendor_settings=secure_kafka.client_settings("admin"),
            steady=steady,
            victim=victim,
            processors_log=secure_processors.log,
            processors_alive=secure_processors.alive,
            break_topic=withdraw,
            accept_victim=lambda i: False,
            # few rounds: in secure mode the first offer of a partition after the processors'
            # start often waits 30 s (a task dump shows the delivered-tail reader's consumer
            # stop waiting in aiokafka's client close), and intents land on random partitions
            rounds=2,
            break_at=0,
            break_first=True,
        )
    finally:
        await asyncio.to_thread(withdrawn.close)
    letters = await dead_letters_of(secure_kafka.kwargs("admin"), topic, run.after)
    for intent_id in run.after:
        _, letter = letters[intent_id]
        assert letter.reason is ReasonCode.DESTINATION_UNAVAILABLE
        assert letter.detail == (
            f"{topic}: TopicAuthorizationFailedError (topic not authorised for the processors)"
        )
        assert decode(OfferFeedback, letter.payload()).vendor_id == victim
    assert {f.intent_id for f in run.heard.feedback[steady]} >= set(run.before + run.after)
    assert_quiet(run.log)
