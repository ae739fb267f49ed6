"""Stored input batches nothing can decode, edited on the broker's disk, on the real processors.

Brokers serve stored bytes as they are, so a batch's CRC fails only in the client, inside
faust's fetch loop: the first worker crashes on it (exit 1), locates it and writes it down; the
restarted worker dead-letters it with its offsets, handles every valid intent before and after
it, and stays up. Locating is checked on its own for every kind of undecodable batch. The tests
bring their own Kafka node, since they edit its log.
"""

from __future__ import annotations

import asyncio
import json
import secrets
import struct
import time
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.partitioner import DefaultPartitioner
from aiokafka.record.util import calc_crc32c

from intentcast.agents import IntentKeys
from intentcast.broker.kafka_local import KafkaNode
from intentcast.broker.runtime.quarantine import BadRange, locate_undecodable, plain_consumer, walk
from intentcast.broker.settings import BrokerSettings
from intentcast.broker.topic_admin import create_all
from intentcast.processes import Processors
from intentcast.schemas import (
    CANCELS,
    DEAD_LETTERS,
    INTENT_STATUS,
    INTENTS_SUBMITTED,
    METRICS,
    DeadLetter,
    Intent,
    IntentStatus,
    decode,
    encode,
)
from intentcast.schemas.crypto import sign_model
from intentcast.schemas.events import MetricsSnapshot
from intentcast.schemas.intent import Cancel
from intentcast.schemas.timeutil import utcnow
from tests.agents.helpers import make_intent
from tests.conftest import private_kafka, wait_for
from tests.watchers import status_of, watcher

pytestmark = pytest.mark.kafka

PARTITIONS = 3
BATCH_HEADER = 61  # a v2 record batch's header; its CRC covers everything after byte 21


@pytest.fixture(scope="module")
def node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KafkaNode]:
    """A broker of these tests' own: its log on disk gets corrupted."""
    with private_kafka(tmp_path_factory.mktemp("kafka")) as kafka:
        yield kafka


@dataclass
class Supervisor:
    """Restarts the processors whenever they exit, as systemd or compose would."""

    procs: Processors
    exits: list[tuple[float, int | None]] = field(default_factory=list)
    starts: list[float] = field(default_factory=list)

    async def run(self) -> None:
        self.procs.start()
        self.starts.append(time.monotonic())
        while True:
            await asyncio.sleep(0.2)
            if not self.procs.alive():
                assert self.procs.proc is not None
                self.exits.append((time.monotonic(), self.procs.proc.returncode))
                self.procs.start()
                self.starts.append(time.monotonic())


@pytest.fixture(scope="module")
async def producer(node: KafkaNode) -> AsyncIterator[AIOKafkaProducer]:
    p = AIOKafkaProducer(bootstrap_servers=node.bootstrap, acks="all", enable_idempotence=True)
    await p.start()
    yield p
    await p.stop()


def intents_for(partition: int, n: int) -> list[tuple[Intent, IntentKeys]]:
    """`n` fresh intents (and their customers' keys) whose ids, the record keys, the default
    partitioner puts on `partition`, as any keyed send would."""
    found: list[tuple[Intent, IntentKeys]] = []
    all_partitions = list(range(PARTITIONS))
    while len(found) < n:
        keys = IntentKeys.generate()
        intent = make_intent(market="groceries", terms=("SD-BASE",), max_price="50", keys=keys)
        key = intent.intent_id.encode()
        if DefaultPartitioner()(key, all_partitions, all_partitions) == partition:
            found.append((intent, keys))
    return found


def cancel_of(intent: Intent, keys: IntentKeys) -> tuple[bytes, bytes]:
    cancel = sign_model(Cancel(intent_id=intent.intent_id, cancelled_at=utcnow()), keys.signing)
    return intent.intent_id.encode(), encode(cancel)


async def send_batch(
    producer: AIOKafkaProducer, topic: str, partition: int, records: list[tuple[bytes, bytes]]
) -> range:
    """The (key, value) records as one record batch; their offsets."""
    batch = producer.create_batch()
    for key, value in records:
        assert batch.append(key=key, value=value, timestamp=None) is not None, "batch full"
    batch.close()
    meta = await (await producer.send_batch(batch, topic, partition=partition))
    return range(meta.offset, meta.offset + len(records))


def edit_batch(
    log_dir: Path,
    topic: str,
    partition: int,
    base_offset: int,
    edit: Callable[[bytearray], None],
    *,
    keep_crc_valid: bool = False,
) -> None:
    """Change the stored batch starting at `base_offset` in place, on the broker's disk.

    The broker wrote the batch to its segment file before it acknowledged it (acks=all) and
    serves fetches from that file as it is: the next read gets the edited bytes."""
    (segment,) = sorted((log_dir / f"{topic}-{partition}").glob("*.log"))
    data = segment.read_bytes()
    position = 0
    while position + 12 <= len(data):
        base, length = struct.unpack_from(">qi", data, position)
        if base == base_offset:
            batch = bytearray(data[position : position + 12 + length])
            assert len(batch) > BATCH_HEADER, "a batch without records"
            edit(batch)
            if keep_crc_valid:
                struct.pack_into(">I", batch, 17, calc_crc32c(bytes(batch[21:])))
            with segment.open("r+b") as fh:
                fh.seek(position)
                fh.write(batch)
            return
        position += 12 + length
    raise AssertionError(f"no batch at offset {base_offset} in {segment}")


def flip_a_byte(batch: bytearray) -> None:
    """In the records, past the header: the CRC no longer matches."""
    middle = BATCH_HEADER + (len(batch) - BATCH_HEADER) // 2
    batch[middle] ^= 0xFF


def unknown_codec(batch: bytearray) -> None:
    batch[22] = (batch[22] & ~0x07) | 0x05  # codec ids end at 4 (zstd)


def garbage_payload(batch: bytearray) -> None:
    batch[BATCH_HEADER:] = bytes(len(batch) - BATCH_HEADER)


async def read_error(bootstrap: str, tp: TopicPartition, offset: int) -> str | None:
    """What a plain read from `offset` raises, by name (None if it decodes)."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()
    try:
        consumer.assign([tp])
        consumer.seek(tp, offset)
        try:
            await consumer.getmany(tp, timeout_ms=5000)
        except Exception as exc:
            return type(exc).__name__
        return None
    finally:
        await consumer.stop()


async def test_corrupted_batches_are_dead_lettered_with_their_offsets_and_the_rest_handled(
    node: KafkaNode, producer: AIOKafkaProducer, tmp_path: Path
) -> None:
    """One corrupted batch of intents, and one of cancels on the same partition: the cancels'
    handler waits for the intents partition to be replayed, which the restart does alongside,
    since faust's streams are paused while it skips."""
    app_id = f"undecodable-{secrets.token_hex(3)}"
    settings = BrokerSettings(bootstrap=node.bootstrap, app_id=app_id, partitions=PARTITIONS)
    await create_all(settings)
    p = 1
    (b1, b2), in_batch, (a1, a2, a3) = (intents_for(p, n) for n in (2, 3, 3))

    async def one(topic: str, key: bytes, value: bytes) -> None:
        await producer.send_and_wait(topic, value, key=key, partition=p)

    def record(intent: Intent) -> tuple[bytes, bytes]:
        return intent.intent_id.encode(), encode(intent)

    for intent, _ in (b1, b2):
        await one(INTENTS_SUBMITTED, *record(intent))
    bad_intents = await send_batch(
        producer, INTENTS_SUBMITTED, p, [record(intent) for intent, _ in in_batch]
    )
    for intent, _ in (a1, a2, a3):
        await one(INTENTS_SUBMITTED, *record(intent))
    await one(CANCELS, *cancel_of(*a1))  # before the bad batch: handled by the restart itself
    bad_cancels = await send_batch(producer, CANCELS, p, [cancel_of(*b2), cancel_of(*a2)])
    await one(CANCELS, *cancel_of(*b1))
    for topic, offsets in ((INTENTS_SUBMITTED, bad_intents), (CANCELS, bad_cancels)):
        edit_batch(node.log_dir, topic, p, offsets[0], flip_a_byte)
        error = await read_error(node.bootstrap, TopicPartition(topic, p), offsets[0])
        assert error == "CorruptRecordException"

    statuses = await watcher(node.bootstrap, INTENT_STATUS)
    dead_letters = await watcher(node.bootstrap, DEAD_LETTERS)
    metrics = await watcher(node.bootstrap, METRICS)
    datadir = tmp_path / "processors"
    procs = Processors(
        node.bootstrap, datadir, tmp_path / "processors.log",
        env={"INTENTCAST_APP_ID": app_id,
             "INTENTCAST_PARTITIONS": str(PARTITIONS),
             "INTENTCAST_EXPIRY_TICK_SECONDS": "0.5",
             "INTENTCAST_METRICS_INTERVAL_SECONDS": "1"},
    )  # fmt: skip
    sup = Supervisor(procs)
    supervising = asyncio.create_task(sup.run())
    expected = {
        INTENTS_SUBMITTED: (bad_intents[0], bad_intents[-1]),
        CANCELS: (bad_cancels[0], bad_cancels[-1]),
    }
    try:
        await wait_for(lambda: bool(sup.exits), timeout=40.0, what="the first worker to exit")
        crashed_at, status = sup.exits[0]
        assert status == 1
        assert crashed_at - sup.starts[0] < 30.0
        log = (tmp_path / "processors.log").read_text(errors="replace")
        for topic, (first, last) in expected.items():
            assert f"{topic}[{p}] offsets {first}..{last}" in log, log[-3000:]
        ranges = json.loads((datadir / "quarantine.json").read_text())["ranges"]
        assert sorted((r["topic"], r["partition"], r["first"], r["end"]) for r in ranges) == [
            (topic, p, first, last + 1) for topic, (first, last) in sorted(expected.items())
        ]

        def undecodable(r: Any) -> bool:
            return decode(DeadLetter, r.value).reason.value == "undecodable_batch"

        async def both_dead_lettered() -> bool:
            await dead_letters.poll()
            return sum(map(undecodable, dead_letters.records)) == 2

        await wait_for(both_dead_lettered, timeout=40.0, what="the dead letters of both batches")
        recovered_at = time.monotonic()
        for letter_record in filter(undecodable, dead_letters.records):
            headers = dict(letter_record.headers)
            letter = decode(DeadLetter, letter_record.value)
            first, last = expected[letter.source_topic]
            assert (letter.source_partition, letter.source_offset) == (p, first)
            assert headers["intentcast.dlq.topic"] == letter.source_topic.encode()
            assert headers["intentcast.dlq.partition"] == str(p).encode()
            assert headers["intentcast.dlq.offset"] == str(first).encode()
            assert letter.detail.startswith(f"offsets {first}..{last} could not be decoded: ")
            assert "CorruptRecordException" in letter.detail and "Invalid CRC" in letter.detail
        for (intent, _), kind in [
            (b1, "accepted"), (b2, "accepted"), (a1, "accepted"), (a2, "accepted"),
            (a3, "accepted"), (a1, "cancelled"), (b1, "cancelled"),
        ]:  # fmt: skip
            await statuses.wait(status_of(intent.intent_id, kind), f"{kind} {intent.intent_id}")

        def counted(record: Any) -> bool:
            counters = decode(MetricsSnapshot, record.value).counters
            return (
                counters.get("consumer.undecodable_batches") == 2
                and counters.get("consumer.undecodable_skipped")
                == len(bad_intents) + len(bad_cancels)
                and counters.get("deadletters.undecodable_batch") == 2
            )

        await metrics.wait(counted, "the skips counted in the metrics", timeout=20.0)
        # the restarted worker stays up, and nothing of either batch had an effect
        await asyncio.sleep(3.0)
        assert len(sup.exits) == 1 and procs.alive(), sup.exits
        await statuses.poll()
        seen = {
            (s.intent_id, s.status.value)
            for s in (decode(IntentStatus, r.value) for r in statuses.records)
        }
        assert not {i.intent_id for i, _ in in_batch} & {i for i, _ in seen}
        assert not {(b2[0].intent_id, "cancelled"), (a2[0].intent_id, "cancelled")} & seen
        assert json.loads((datadir / "quarantine.json").read_text())["ranges"] == []
        letters = [decode(DeadLetter, r.value) for r in dead_letters.records]
        assert [d.reason.value for d in letters] == ["undecodable_batch"] * 2
        print(
            f"crash {crashed_at - sup.starts[0]:.1f} s after start; both dead letters"
            f" {recovered_at - crashed_at:.1f} s after the exit"
        )
    finally:
        supervising.cancel()
        await asyncio.gather(supervising, return_exceptions=True)
        procs.stop()
        for w in (statuses, dead_letters, metrics):
            await w.consumer.stop()


async def test_every_kind_of_undecodable_batch_is_located_to_the_offset(
    node: KafkaNode, producer: AIOKafkaProducer, tmp_path: Path
) -> None:
    """A CRC that fails, a codec id nobody knows, a payload its codec (lz4, in cramjam)
    rejects with a valid CRC, and two bad batches back to back: each located exactly, every
    record around them read, with public API of aiokafka only."""
    topic = f"t-undecodable-{secrets.token_hex(4)}"
    admin = AIOKafkaAdminClient(bootstrap_servers=node.bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(topic, 1, 1)])
    finally:
        await admin.close()
    lz4 = AIOKafkaProducer(bootstrap_servers=node.bootstrap, acks="all", compression_type="lz4")
    await lz4.start()
    good: list[int] = []
    bad: list[tuple[range, Callable[[bytearray], None], bool]] = []

    async def one() -> None:
        good.append((await producer.send_and_wait(topic, b"fine", partition=0)).offset)

    async def batch(sender: AIOKafkaProducer, n: int) -> range:
        records = [(b"k", b"x" * 400 + bytes([i])) for i in range(n)]  # lz4 makes them smaller
        return await send_batch(sender, topic, 0, records)

    try:
        await one()
        bad.append((await batch(producer, 3), flip_a_byte, False))
        await one()
        bad.append((await batch(producer, 2), unknown_codec, True))
        await one()
        bad.append((await batch(lz4, 2), garbage_payload, True))
        await one()
        bad.append((await batch(producer, 2), flip_a_byte, False))
        bad.append((await batch(producer, 1), flip_a_byte, False))  # right after the one before
        await one()
    finally:
        await lz4.stop()
    tp = TopicPartition(topic, 0)
    for offsets, edit, keep_crc_valid in bad:
        edit_batch(node.log_dir, topic, 0, offsets[0], edit, keep_crc_valid=keep_crc_valid)
    errors = [await read_error(node.bootstrap, tp, offsets[0]) for offsets, _, _ in bad]
    assert errors == [
        "CorruptRecordException",
        "UnsupportedCodecError",
        "DecompressionError",
        "CorruptRecordException",
        "CorruptRecordException",
    ]

    settings = BrokerSettings(bootstrap=node.bootstrap)
    found = await locate_undecodable(settings, {tp: 0}, budget_s=30.0)
    (a, b, c, d, e) = (offsets for offsets, _, _ in bad)
    assert [(r.first, r.end) for r in found] == [
        (a[0], a[-1] + 1),
        (b[0], b[-1] + 1),
        (c[0], c[-1] + 1),
        (d[0], e[-1] + 1),  # every offset of both fails: one range
    ]
    assert "Invalid CRC" in found[0].error
    assert "Unknown compression codec" in found[1].error
    assert found[2].error.startswith("DecompressionError: lz4")

    # from the middle of a bad batch (where a committed offset may point after a crash)
    from_inside = await locate_undecodable(settings, {tp: a[1]}, budget_s=30.0)
    assert [(r.first, r.end) for r in from_inside] == [
        (a[1], a[-1] + 1),
        *[(r.first, r.end) for r in found[1:]],
    ]

    consumer = plain_consumer(settings, "test")
    await consumer.start()
    try:
        consumer.assign([tp])
        end = (await consumer.end_offsets([tp]))[tp]
        deadline = asyncio.get_running_loop().time() + 30.0
        read = [
            item.offset if not isinstance(item, BadRange) else (item.first, item.end)
            async for item in walk(consumer, tp, 0, end, deadline)
        ]
    finally:
        await consumer.stop()
    assert read == [
        good[0],
        (a[0], a[-1] + 1),
        good[1],
        (b[0], b[-1] + 1),
        good[2],
        (c[0], c[-1] + 1),
        good[3],
        (d[0], e[-1] + 1),
        good[4],
    ]
