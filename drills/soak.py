"""Soak: a steady rate for a fixed time; memory stays flat, expired intents leave, lag drains.

    python -m drills.soak --minutes 10 --rate 20

Samples the processors' VmRSS (/proc/<pid>/status), the `intents.in_table` gauge from the
metrics topic, and the processors' consumer lag (committed offsets vs end offsets) once a
minute; at the end waits for every intent to expire and the lag to return to zero.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import typer
from aiokafka import AIOKafkaConsumer
from aiokafka.admin import AIOKafkaAdminClient

from drills.flow import Flow, FlowPlan, Tail
from drills.harness import (
    OUT_OPTION,
    WORKDIR_OPTION,
    Stack,
    console,
    report,
    run_drill,
    workdir_for,
)
from drills.verdict import verdict
from intentcast.broker.kafka_meta import topic_partitions
from intentcast.broker.settings import BrokerSettings
from intentcast.schemas import (
    ACCEPTANCES,
    INTENTS_SUBMITTED,
    METRICS,
    OFFERS_SUBMITTED,
    MetricsSnapshot,
    decode,
)

INPUTS = (INTENTS_SUBMITTED, OFFERS_SUBMITTED, ACCEPTANCES)


async def consumer_lag(settings: BrokerSettings) -> int:
    """Records on the processors' inputs not yet committed by their consumer group."""
    tps = await topic_partitions(settings.kafka_kwargs(), INPUTS, wait_s=30.0)
    admin = AIOKafkaAdminClient(**settings.kafka_kwargs())
    await admin.start()
    try:
        committed = await admin.list_consumer_group_offsets(settings.app_id)
    finally:
        await admin.close()
    consumer = AIOKafkaConsumer(**settings.kafka_kwargs(), enable_auto_commit=False)
    await consumer.start()
    try:
        ends = await consumer.end_offsets(tps)
    finally:
        await consumer.stop()
    lag = 0
    for tp in tps:
        found = committed.get(tp)
        done = found.offset if found is not None and found.offset >= 0 else 0
        lag += max(0, ends[tp] - done)
    return lag


class Gauge:
    """The latest `intents.in_table` the processors published."""

    def __init__(self) -> None:
        self.in_table: float | None = None

    async def on_metrics(self, record: Any) -> None:
        snapshot = decode(MetricsSnapshot, record.value or b"")
        if "intents.in_table" in snapshot.gauges:
            self.in_table = snapshot.gauges["intents.in_table"]


async def drill(minutes: float, rate: float, expires_s: float, work: Path) -> dict[str, Any]:
    async with Stack(work) as stack:
        settings = stack.settings()
        intents = int(minutes * 60 * rate)
        plan = FlowPlan(intents=intents, rate=rate, expires_s=expires_s, vendors=stack.vendors)
        flow, gauge = Flow(stack.bootstrap, plan), Gauge()
        metrics = Tail(stack.bootstrap, METRICS, gauge.on_metrics)
        await flow.start()
        await metrics.start()
        samples: list[dict[str, Any]] = []
        started = time.monotonic()
        publishing = asyncio.create_task(flow.publish_all())
        try:
            while not publishing.done():
                await asyncio.wait({publishing}, timeout=60)
                sample = {
                    "t_s": round(time.monotonic() - started),
                    "rss_kib": stack.rss_kib(),
                    "in_table": gauge.in_table,
                    "lag": await consumer_lag(settings),
                    "published": flow.published,
                }
                samples.append(sample)
                console.log(sample)
            await publishing
            settled = await flow.wait_settled(expires_s + 180)
            deadline = time.monotonic() + 120
            while time.monotonic() < deadline:  # expired intents are dropped at the next ticks
                if gauge.in_table == 0 and await consumer_lag(settings) == 0:
                    break
                await asyncio.sleep(2)
            result = await verdict(flow, settings, settled)
            result.update(
                samples=samples,
                rss_kib_start=samples[0]["rss_kib"] if samples else None,
                rss_kib_end=stack.rss_kib(),
                in_table_end=gauge.in_table,
                lag_end=await consumer_lag(settings),
            )
        finally:
            await metrics.stop()
            await flow.stop()
    result.update(minutes=minutes, rate_planned=rate, workdir=str(work))
    result["passed"] = bool(
        result["passed"] and result["in_table_end"] == 0 and result["lag_end"] == 0
    )
    return result


def main(
    minutes: float = typer.Option(10.0, help="How long to publish at the steady rate."),
    rate: float = typer.Option(20.0, help="Intents per second."),
    expires_s: float = typer.Option(60.0, help="Intent lifetime."),
    workdir: Path = WORKDIR_OPTION,
    out: Path = OUT_OPTION,
) -> None:
    """Soak: RSS at start and end, intents leave the table, consumer lag back to zero."""
    work = workdir_for("soak", workdir)
    result = run_drill(drill(minutes, rate, expires_s, work))
    report("soak", result, out)
    raise typer.Exit(0 if result["passed"] else 1)


if __name__ == "__main__":
    typer.run(main)
