"""Per-principal quotas: a vendor flooding at ten times its produce quota is throttled to it,
while another vendor sending steadily in the same seconds keeps its rate and latency.

Bounded: about 8 s and well under 1 MB reaches the broker. The numbers are printed (run with
`-s`) and the assertions are loose where this shared 2-core machine makes timing noisy.
"""

from __future__ import annotations

import asyncio
import statistics
import time
from dataclasses import dataclass

import pytest
from aiokafka import AIOKafkaProducer

from intentcast.schemas.topics import OFFERS_SUBMITTED
from tests.security.conftest import FLOODER, QUOTA_BYTES, STEADY, SecureKafka

pytestmark = pytest.mark.kafka

RECORD = 1024
FLOOD_SECONDS = 5.0
BASELINE_SECONDS = 2.0
STEADY_INTERVAL = 0.05  # 20 records of 1 KiB per second: a fifth of the steady vendor's quota


@dataclass
class Steady:
    latencies: list[float]
    seconds: float

    @property
    def rate(self) -> float:
        return len(self.latencies) * RECORD / self.seconds

    @property
    def p50_ms(self) -> float:
        return statistics.median(self.latencies) * 1000

    @property
    def p95_ms(self) -> float:
        return statistics.quantiles(self.latencies, n=20)[-1] * 1000


async def _producer(kafka: SecureKafka, user: str) -> AIOKafkaProducer:
    producer = AIOKafkaProducer(acks="all", enable_idempotence=True, **kafka.kwargs(user))
    await producer.start()
    return producer


async def _steady(producer: AIOKafkaProducer, seconds: float) -> Steady:
    """One record every STEADY_INTERVAL, each awaited: its latency is what a vendor feels."""
    latencies: list[float] = []
    start = time.monotonic()
    tick = start
    while time.monotonic() - start < seconds:
        sent = time.monotonic()
        await producer.send_and_wait(OFFERS_SUBMITTED, b"s" * RECORD, key=b"steady")
        latencies.append(time.monotonic() - sent)
        tick += STEADY_INTERVAL
        await asyncio.sleep(max(0.0, tick - time.monotonic()))
    return Steady(latencies, time.monotonic() - start)


async def _flood(producer: AIOKafkaProducer, seconds: float, offered: float) -> float:
    """Offer `offered` bytes/s for `seconds`; return the rate Kafka acknowledged in that time."""
    acked = 0
    pending: set[asyncio.Future[object]] = set()

    def count(_: asyncio.Future[object]) -> None:
        nonlocal acked
        acked += RECORD

    start = time.monotonic()
    sent = 0
    while (elapsed := time.monotonic() - start) < seconds:
        if sent < offered * elapsed:
            future = await producer.send(OFFERS_SUBMITTED, b"f" * RECORD, key=b"flood")
            future.add_done_callback(count)
            pending.add(future)
            sent += RECORD
        else:
            await asyncio.sleep(0.005)
    rate = acked / (time.monotonic() - start)
    for future in pending:
        future.cancel()
    return rate


async def test_flooding_vendor_is_throttled_and_the_other_barely_notices(
    secure_kafka: SecureKafka,
) -> None:
    flooder = await _producer(secure_kafka, f"vendor-{FLOODER}")
    steady = await _producer(secure_kafka, f"vendor-{STEADY}")
    try:
        baseline = await _steady(steady, BASELINE_SECONDS)
        flood_rate, during = await asyncio.gather(
            _flood(flooder, FLOOD_SECONDS, offered=10 * QUOTA_BYTES),
            _steady(steady, FLOOD_SECONDS),
        )
    finally:
        await asyncio.gather(flooder.stop(), steady.stop(), return_exceptions=True)
    print(
        f"\nquota {QUOTA_BYTES / 1024:.0f} KiB/s; flooder offered {10 * QUOTA_BYTES / 1024:.0f} "
        f"KiB/s, achieved {flood_rate / 1024:.1f} KiB/s ({flood_rate / QUOTA_BYTES:.2f}x quota)\n"
        f"steady vendor alone: {baseline.rate / 1024:.1f} KiB/s, p50 {baseline.p50_ms:.1f} ms, "
        f"p95 {baseline.p95_ms:.1f} ms\n"
        f"steady vendor during the flood: {during.rate / 1024:.1f} KiB/s, "
        f"p50 {during.p50_ms:.1f} ms, p95 {during.p95_ms:.1f} ms"
    )
    assert flood_rate <= 1.2 * QUOTA_BYTES, "the flooder got far more than its quota"
    assert flood_rate >= 0.5 * QUOTA_BYTES, "the flooder was starved, not throttled to quota"
    assert during.rate >= 0.8 * baseline.rate, "the steady vendor lost throughput"
    assert during.p50_ms <= max(3 * baseline.p50_ms, baseline.p50_ms + 50), "latency jumped"
