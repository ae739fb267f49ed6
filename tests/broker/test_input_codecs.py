"""Input batches in every codec Kafka has, and records nothing can decode, on the real processors.

Kafka clients choose their batch codec themselves (franz-go compresses with snappy unless told
otherwise), so the processors must decode gzip, snappy, lz4 and zstd. aiokafka's producer sends
a batch uncompressed when compressing does not make it smaller, so every test reads the stored
batch's header back from the broker: each one proves which codec the processors really read.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import os
import secrets
import shutil
import subprocess
from collections.abc import AsyncIterator, Awaitable, Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from aiokafka import AIOKafkaProducer, TopicPartition
from aiokafka.client import AIOKafkaClient
from aiokafka.partitioner import DefaultPartitioner
from aiokafka.protocol.fetch import FetchRequest
from aiokafka.record import MemoryRecords

from intentcast.agents import OfferDraft, Vendor, build_offer
from intentcast.processes import Processors
from intentcast.schemas import (
    INTENTS_SUBMITTED,
    OFFERS_SUBMITTED,
    DeadLetter,
    Intent,
    Offer,
    OfferFeedback,
    decode,
    encode,
    vendor_feedback_topic,
)
from tests.agents.helpers import make_intent
from tests.conftest import REPO_ROOT, wait_for
from tests.watchers import TopicWatcher, dead_letter_for, status_of, watcher

pytestmark = pytest.mark.kafka

CODECS = {"gzip": 1, "snappy": 2, "lz4": 3, "zstd": 4}
"""The codec ids of a record batch's attributes (the low three bits), by producer name."""

VENDOR = "acme-bikes"  # an example vendor: registered, so its offers are checked and answered
FRANZ_SOURCE = REPO_ROOT / "tests" / "interop" / "franz_produce"


# -- what the broker stored ----------------------------------------------------------------


async def stored_batches(
    bootstrap: str, topic: str, partition: int, offset: int
) -> list[tuple[int, int, int]]:
    """(base offset, last offset, codec id) of the stored batches from the one holding
    `offset` on: one raw Fetch whose batch headers are read without decompressing anything."""
    client = AIOKafkaClient(bootstrap_servers=bootstrap)
    await client.bootstrap()
    try:
        cluster = await client.fetch_all_metadata()
        leader = cluster.leader_for_partition(TopicPartition(topic, partition))
        request = FetchRequest(100, 1, 1 << 20, 0, [(topic, [(partition, offset, 1 << 20)])])
        response = await client.send(leader, request)
        ((_, partitions),) = response.topics
        ((_, error_code, _, *data),) = partitions
        assert error_code == 0, f"fetch error {error_code}"
        records, found = MemoryRecords(data[-1]), []
        while records.has_next():
            batch = records.next_batch()
            found.append((batch.base_offset, batch.next_offset - 1, batch.compression_type))
        return found
    finally:
        await client.close()


async def assert_stored(
    bootstrap: str, topic: str, partition: int, offsets: range, codec: str
) -> None:
    """The records at `offsets` are one batch, stored compressed with `codec`."""
    first = (await stored_batches(bootstrap, topic, partition, offsets[0]))[0]
    assert first == (offsets[0], offsets[-1], CODECS[codec]), (
        f"{topic}[{partition}] holds (base, last, codec) {first}, not one {codec} batch of "
        f"offsets {offsets[0]}..{offsets[-1]}"
    )


async def seen(
    processors: Processors, w: TopicWatcher, predicate: Any, what: str, timeout: float = 60.0
) -> Any:
    """The first record of `w` matching `predicate`; fails at once if the processors exit."""
    found: list[Any] = []

    async def check() -> bool:
        if not processors.alive():
            tail = processors.log.read_text(errors="replace")[-1500:]
            raise AssertionError(f"the processors exited before {what}:\n{tail}")
        await w.poll()
        found[:] = [r for r in w.records if predicate(r)]
        return bool(found)

    await wait_for(check, timeout=timeout, what=what)
    return found[0]


# -- producing ------------------------------------------------------------------------------


@pytest.fixture
async def producers(
    kafka_bootstrap: str,
) -> AsyncIterator[Callable[[str], Awaitable[AIOKafkaProducer]]]:
    """An idempotent producer per codec, started on first use and stopped after the test."""
    started: dict[str, AIOKafkaProducer] = {}

    async def producer(codec: str) -> AIOKafkaProducer:
        if codec not in started:
            p = AIOKafkaProducer(
                bootstrap_servers=kafka_bootstrap,
                compression_type=codec,
                acks="all",
                enable_idempotence=True,
            )
            await p.start()
            started[codec] = p
        return started[codec]

    try:
        yield producer
    finally:
        await asyncio.gather(*(p.stop() for p in started.values()))


async def partition_of(producer: AIOKafkaProducer, topic: str, key: bytes) -> int:
    """The partition the default (murmur2) partitioner gives `key`, as every keyed send does."""
    partitions = sorted(await producer.partitions_for(topic))
    return int(DefaultPartitioner()(key, partitions, partitions))


async def send_one_batch(
    producer: AIOKafkaProducer,
    topic: str,
    partition: int,
    records: list[tuple[bytes | None, bytes | None]],
) -> range:
    """Send `records` as one batch (one compression unit) to `topic[partition]`; their offsets."""
    batch = producer.create_batch()
    for key, value in records:
        assert batch.append(key=key, value=value, timestamp=None) is not None, "batch full"
    batch.close()
    meta = await (await producer.send_batch(batch, topic, partition=partition))
    return range(meta.offset, meta.offset + len(records))


async def intents_on_one_partition(producer: AIOKafkaProducer, n: int) -> tuple[int, list[Intent]]:
    """`n` fresh intents whose keys all land on one partition (offers keyed by their ids too)."""
    by_partition: dict[int, list[Intent]] = {}
    while True:
        intent = make_intent(market="groceries", terms=("SD-BASE",), max_price="50")
        p = await partition_of(producer, INTENTS_SUBMITTED, intent.intent_id.encode())
        group = by_partition.setdefault(p, [])
        group.append(intent)
        if len(group) == n:
            return p, group


def offer_for(intent: Intent, vendor: Vendor) -> Offer:
    return build_offer(OfferDraft(price=Decimal("10")), intent, vendor_id=VENDOR, key=vendor.key)


async def wait_delivered(
    processors: Processors, feedback: TopicWatcher, statuses: TopicWatcher, offers: list[Offer]
) -> None:
    """Each offer was checked and delivered: its vendor hears so, its customer sees it."""
    for offer in offers:

        def delivered(record: Any, offer_id: str = offer.offer_id) -> bool:
            fb = decode(OfferFeedback, record.value)
            return fb.offer_id == offer_id and fb.reason is None

        await seen(processors, feedback, delivered, f"feedback on offer {offer.offer_id}")
        await seen(processors, statuses, status_of(offer.intent_id, "offer_delivered"), "delivery")


@pytest.fixture
async def acme_feedback(kafka_bootstrap: str) -> AsyncIterator[TopicWatcher]:
    w = await watcher(kafka_bootstrap, vendor_feedback_topic(VENDOR))
    yield w
    await w.consumer.stop()


# -- every codec, end to end ----------------------------------------------------------------


@pytest.mark.parametrize("codec", list(CODECS))
async def test_compressed_intents_and_offers_are_decoded_and_handled(
    codec: str,
    kafka_bootstrap: str,
    processors: Processors,
    vendors: dict[str, Vendor],
    producers: Callable[[str], Awaitable[AIOKafkaProducer]],
    statuses: TopicWatcher,
    acme_feedback: TopicWatcher,
) -> None:
    assert processors.proc is not None
    pid = processors.proc.pid
    producer = await producers(codec)
    partition, intents = await intents_on_one_partition(producer, 3)
    sent = await send_one_batch(
        producer,
        INTENTS_SUBMITTED,
        partition,
        [(i.intent_id.encode(), encode(i)) for i in intents],
    )
    await assert_stored(kafka_bootstrap, INTENTS_SUBMITTED, partition, sent, codec)
    for intent in intents:
        await seen(
            processors,
            statuses,
            status_of(intent.intent_id, "accepted"),
            f"{codec} intent accepted",
        )

    # the vendor's offers, one compressed batch on the partition their intents' ids give
    offers = [offer_for(i, vendors[VENDOR]) for i in intents]
    sent = await send_one_batch(
        producer,
        OFFERS_SUBMITTED,
        partition,
        [(o.intent_id.encode(), encode(o)) for o in offers],
    )
    await assert_stored(kafka_bootstrap, OFFERS_SUBMITTED, partition, sent, codec)
    await wait_delivered(processors, acme_feedback, statuses, offers)
    assert processors.alive() and processors.proc.pid == pid, "the processors restarted"


# -- records nothing can decode -------------------------------------------------------------


def junk_records() -> list[tuple[bytes | None, bytes | None]]:
    """Non-UTF-8 keys with random bytes (never UTF-8: they start with 0xff) and with no value."""
    token = secrets.token_bytes(6)
    return [
        (b"\xff\xfe" + token + b"-random", b"\xff" + os.urandom(200)),
        (b"\xff\xfe" + token + b"-null", None),
    ]


async def assert_dead_lettered(
    processors: Processors,
    dead_letters: TopicWatcher,
    topic: str,
    partition: int,
    offset: int,
    key: bytes | None,
    value: bytes | None,
) -> None:
    record = await seen(
        processors,
        dead_letters,
        dead_letter_for(key or b"", "malformed_json"),
        f"dead letter of {topic}@{offset}",
    )
    headers = dict(record.headers)
    assert headers["intentcast.dlq.topic"] == topic.encode()
    assert headers["intentcast.dlq.partition"] == str(partition).encode()
    assert headers["intentcast.dlq.offset"] == str(offset).encode()
    assert headers["intentcast.dlq.reason"] == b"malformed_json"
    letter = decode(DeadLetter, record.value)
    assert (letter.source_topic, letter.source_partition, letter.source_offset) == (
        topic,
        partition,
        offset,
    )
    raw = value or b""
    assert (letter.payload_size, letter.payload()) == (len(raw), raw)
    assert letter.payload_sha256 == hashlib.sha256(raw).hexdigest()
    assert letter.key_b64 is not None
    assert base64.urlsafe_b64decode(letter.key_b64 + "=" * (-len(letter.key_b64) % 4)) == key


@pytest.mark.parametrize("topic", [INTENTS_SUBMITTED, OFFERS_SUBMITTED])
async def test_undecodable_records_are_dead_lettered_and_the_next_in_the_batch_handled(
    topic: str,
    kafka_bootstrap: str,
    processors: Processors,
    vendors: dict[str, Vendor],
    producers: Callable[[str], Awaitable[AIOKafkaProducer]],
    statuses: TopicWatcher,
    dead_letters: TopicWatcher,
    acme_feedback: TopicWatcher,
) -> None:
    assert processors.proc is not None
    pid = processors.proc.pid
    producer = await producers("snappy")  # the reported vendor's codec
    partition, (intent,) = await intents_on_one_partition(producer, 1)
    key = intent.intent_id.encode()
    offer = offer_for(intent, vendors[VENDOR])
    if topic == OFFERS_SUBMITTED:  # an offer needs its intent open first
        await producer.send_and_wait(INTENTS_SUBMITTED, encode(intent), key=key)
        await seen(processors, statuses, status_of(intent.intent_id, "accepted"), "intent accepted")
    valid = encode(intent) if topic == INTENTS_SUBMITTED else encode(offer)
    junk = junk_records()
    sent = await send_one_batch(producer, topic, partition, [*junk, (key, valid)])
    await assert_stored(kafka_bootstrap, topic, partition, sent, "snappy")

    for (junk_key, junk_value), offset in zip(junk, sent, strict=False):
        await assert_dead_lettered(
            processors, dead_letters, topic, partition, offset, junk_key, junk_value
        )
    if topic == INTENTS_SUBMITTED:
        await seen(
            processors, statuses, status_of(intent.intent_id, "accepted"), "the valid intent after"
        )
    else:
        await wait_delivered(processors, acme_feedback, statuses, [offer])
    assert processors.alive() and processors.proc.pid == pid, "the processors restarted"


# -- a vendor on franz-go, at that client's defaults ----------------------------------------


@pytest.fixture(scope="session")
def franz_produce(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """tests/interop/franz_produce built once per session (Go's build cache makes it seconds)."""
    go = shutil.which("go")
    if go is None:
        pytest.skip("go not installed (the franz-go producer needs Go 1.26+)")
    exe = tmp_path_factory.mktemp("franz") / "franz-produce"
    built = subprocess.run(
        [go, "build", "-o", str(exe), "."],
        cwd=FRANZ_SOURCE,
        capture_output=True,
        timeout=600,  # the first build on a machine downloads franz-go and compiles it
        env={**os.environ, "GOTOOLCHAIN": "local", "GOFLAGS": "-mod=readonly -buildvcs=false"},
    )
    assert built.returncode == 0, built.stderr.decode(errors="replace")[-3000:]
    return exe


def franz_send(
    exe: Path, bootstrap: str, topic: str, records: list[tuple[bytes, bytes]]
) -> list[tuple[int, int]]:
    """Produce `records` with franz-go's defaults; their (partition, offset)."""
    lines = b"".join(key + b"\t" + value + b"\n" for key, value in records)
    done = subprocess.run(
        [str(exe), "-brokers", bootstrap, "-topic", topic],
        input=lines,
        capture_output=True,
        timeout=90,
    )
    assert done.returncode == 0, done.stderr.decode(errors="replace")[-2000:]
    return [(int(p), int(o)) for p, o in (line.split() for line in done.stdout.splitlines())]


async def test_franz_go_vendor_at_its_defaults_sends_snappy_offers_that_are_handled(
    kafka_bootstrap: str,
    processors: Processors,
    vendors: dict[str, Vendor],
    franz_produce: Path,
    statuses: TopicWatcher,
    acme_feedback: TopicWatcher,
) -> None:
    assert processors.proc is not None
    pid = processors.proc.pid
    intent = make_intent(market="groceries", terms=("SD-BASE",), max_price="50")
    key = intent.intent_id.encode()
    # the customer's intent and then the vendor's offer, both from the Go client
    ((partition, offset),) = await asyncio.to_thread(
        franz_send, franz_produce, kafka_bootstrap, INTENTS_SUBMITTED, [(key, encode(intent))]
    )
    await assert_stored(
        kafka_bootstrap, INTENTS_SUBMITTED, partition, range(offset, offset + 1), "snappy"
    )
    await seen(
        processors, statuses, status_of(intent.intent_id, "accepted"), "franz-go intent accepted"
    )
    offer = offer_for(intent, vendors[VENDOR])
    ((partition, offset),) = await asyncio.to_thread(
        franz_send, franz_produce, kafka_bootstrap, OFFERS_SUBMITTED, [(key, encode(offer))]
    )
    await assert_stored(
        kafka_bootstrap, OFFERS_SUBMITTED, partition, range(offset, offset + 1), "snappy"
    )
    await wait_delivered(processors, acme_feedback, statuses, [offer])
    assert processors.alive() and processors.proc.pid == pid, "the processors restarted"
