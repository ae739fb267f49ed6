"""Smoke tests proving the stack (aiokafka, faust-streaming) on the real Kafka 4.x broker."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from tests.conftest import REPO_ROOT, wait_for

pytestmark = pytest.mark.kafka


async def test_idempotent_acks_all_round_trip(
    kafka_bootstrap: str, unique: Callable[[str], str], make_topics: Callable[..., Awaitable[None]]
) -> None:
    topic = unique("smoke")
    await make_topics(topic, partitions=3)
    producer = AIOKafkaProducer(
        bootstrap_servers=kafka_bootstrap, acks="all", enable_idempotence=True
    )
    await producer.start()
    try:
        for i in range(300):
            await producer.send(topic, f"v{i}".encode(), key=f"k{i % 7}".encode())
        await producer.flush()
    finally:
        await producer.stop()

    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=kafka_bootstrap,
        group_id=unique("grp"),
        enable_auto_commit=False,
        auto_offset_reset="earliest",
    )
    await consumer.start()
    seen: list[tuple[bytes, bytes]] = []
    try:

        async def drained() -> bool:
            batch = await consumer.getmany(timeout_ms=200)
            for records in batch.values():
                seen.extend((r.key or b"", r.value or b"") for r in records)
            return len(seen) >= 300

        await wait_for(drained, timeout=30, what="300 records")
        await consumer.commit()
    finally:
        await consumer.stop()
    assert len(seen) == 300, "no duplicates"
    assert {v for _, v in seen} == {f"v{i}".encode() for i in range(300)}
    # per-key order is preserved
    for k in range(7):
        values = [int(v[1:]) for key, v in seen if key == f"k{k}".encode()]
        assert values == sorted(values)


class _Worker:
    """A faust worker subprocess that we started, stopped by its PID."""

    def __init__(self, env: dict[str, str], log: Path) -> None:
        self.log = log
        with log.open("ab") as fh:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "tests.kafka.counter_app", "worker", "-l", "warn"],
                cwd=REPO_ROOT,
                env=env,
                stdout=fh,
                stderr=subprocess.STDOUT,
            )

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


async def test_faust_table_recovers_from_changelog(
    kafka_bootstrap: str,
    unique: Callable[[str], str],
    make_topics: Callable[..., Awaitable[None]],
    tmp_path: Path,
) -> None:
    source, sink = unique("fsrc"), unique("fsink")
    await make_topics(source, sink, partitions=3)
    env = {
        **os.environ,
        "SMOKE_BOOTSTRAP": kafka_bootstrap,
        "SMOKE_SOURCE": source,
        "SMOKE_SINK": sink,
        "SMOKE_APP_ID": unique("counter"),
    }
    producer = AIOKafkaProducer(
        bootstrap_servers=kafka_bootstrap, acks="all", enable_idempotence=True
    )
    consumer = AIOKafkaConsumer(
        sink,
        bootstrap_servers=kafka_bootstrap,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    await producer.start()
    await consumer.start()
    outputs: list[str] = []

    async def collected(n: int) -> bool:
        batch = await consumer.getmany(timeout_ms=200)
        outputs.extend((r.value or b"").decode() for rs in batch.values() for r in rs)
        return len(outputs) >= n

    try:
        # first life: 5 events for key "a"; the in-memory table lives only in its changelog
        worker = _Worker({**env, "SMOKE_DATADIR": str(tmp_path / "d1")}, tmp_path / "w1.log")
        try:
            for _ in range(5):
                await producer.send_and_wait(source, b"x", key=b"a")
            await wait_for(lambda: collected(5), timeout=90, what="first 5 counts")
        finally:
            worker.stop()
        assert outputs[-1] == "a=5"

        # second life, fresh data folder: the count must continue from the changelog
        worker = _Worker({**env, "SMOKE_DATADIR": str(tmp_path / "d2")}, tmp_path / "w2.log")
        try:
            await producer.send_and_wait(source, b"x", key=b"a")
            await wait_for(lambda: collected(6), timeout=150, what="count after restart")
        finally:
            worker.stop()
    finally:
        await producer.stop()
        await consumer.stop()
    assert outputs == [f"a={i}" for i in range(1, 7)], (tmp_path / "w2.log").read_text()[-3000:]
