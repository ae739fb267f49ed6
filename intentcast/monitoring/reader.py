"""Read the metrics and status topics into an Aggregator, as the read-only monitor principal.

Partitions are assigned, not subscribed: no consumer group, no committed offsets, nothing to
write, so the `monitor` principal needs only READ and DESCRIBE on the two topics. Reading
starts `lookback` seconds in the past, so a fresh monitor shows recent history at once.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.errors import KafkaError

from intentcast.broker.kafka_meta import topic_partitions
from intentcast.monitoring.aggregate import Aggregator
from intentcast.schemas import (
    INTENT_STATUS,
    METRICS,
    IntentcastError,
    IntentStatus,
    MetricsSnapshot,
    SchemaError,
    decode,
)

__all__ = ["MonitorError", "TopicReader"]

log = logging.getLogger("intentcast.monitor")


class MonitorError(IntentcastError):
    """The monitor cannot read its topics; the message says what to check next."""


class TopicReader:
    """Feeds every record of the metrics and status topics to an aggregator."""

    def __init__(
        self, kafka_kwargs: dict[str, Any], aggregator: Aggregator, lookback: float = 900.0
    ) -> None:
        self.kafka_kwargs = kafka_kwargs
        self.aggregator = aggregator
        self.lookback = lookback
        self.consumer: AIOKafkaConsumer | None = None
        self.ends: dict[TopicPartition, int] = {}
        self.skipped = 0

    @property
    def bootstrap(self) -> str:
        return str(self.kafka_kwargs.get("bootstrap_servers", "?"))

    async def start(self) -> None:
        """Assign every partition of both topics and seek to `lookback` seconds ago."""
        consumer = AIOKafkaConsumer(
            **self.kafka_kwargs,
            group_id=None,
            enable_auto_commit=False,
            auto_offset_reset="latest",
            client_id="intentcast-monitor",
        )
        try:
            tps = await topic_partitions(
                self.kafka_kwargs, (METRICS, INTENT_STATUS), wait_s=5.0, missing_ok=True
            )
            await consumer.start()
        except KafkaError as exc:
            await consumer.stop()
            raise MonitorError(
                f"cannot reach Kafka at {self.bootstrap}: {type(exc).__name__}: {exc}\n"
                "  → is it running (`intentcast kafka status`)? is INTENTCAST_BOOTSTRAP right?"
            ) from exc
        missing = {METRICS, INTENT_STATUS} - {tp.topic for tp in tps}
        if missing:
            await consumer.stop()
            raise MonitorError(
                f"topic {', '.join(sorted(missing))} not found on {self.bootstrap} (or not "
                "readable by this principal)\n  → run `intentcast topics create`, or check the "
                "monitor ACLs"
            )
        consumer.assign(tps)
        since = int((time.time() - self.lookback) * 1000)
        found = await consumer.offsets_for_times({tp: since for tp in tps})
        self.ends = await consumer.end_offsets(tps)
        for tp in tps:
            hit = found.get(tp)
            consumer.seek(tp, hit.offset if hit is not None else self.ends[tp])
        self.consumer = consumer

    async def poll(self, timeout_ms: int = 500) -> int:
        """Read one batch into the aggregator; return how many records it held."""
        if self.consumer is None:
            raise MonitorError("reader not started: call start() first")
        try:
            batch = await self.consumer.getmany(timeout_ms=timeout_ms, max_records=5000)
        except KafkaError as exc:
            raise MonitorError(
                f"reading from {self.bootstrap} failed: {type(exc).__name__}: {exc}\n"
                "  → check the broker and the monitor principal's READ on the topics"
            ) from exc
        count = 0
        for tp, records in batch.items():
            for record in records:  # in order per partition; each source keys one partition
                count += 1
                self._feed(tp.topic, record.value)
        return count

    def _feed(self, topic: str, value: bytes | None) -> None:
        try:
            if topic == METRICS:
                self.aggregator.add_metrics(decode(MetricsSnapshot, value or b""))
            else:
                self.aggregator.add_status(decode(IntentStatus, value or b""))
        except SchemaError as exc:  # a malformed record must not stop the view
            self.skipped += 1
            log.warning("skipped a record on %s: %s", topic, exc)

    async def read_until_caught_up(self, timeout: float = 10.0) -> None:
        """Read until every partition's position reaches its end offset as of start."""
        if self.consumer is None:
            raise MonitorError("reader not started: call start() first")
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            positions = {tp: await self.consumer.position(tp) for tp in self.ends}
            if all(positions[tp] >= end for tp, end in self.ends.items()):
                return
            await self.poll(timeout_ms=200)

    async def stop(self) -> None:
        if self.consumer is not None:
            await self.consumer.stop()
            self.consumer = None
