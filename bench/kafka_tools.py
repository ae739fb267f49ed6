"""The physical limit: Kafka's own producer and consumer performance tools, from the jars."""

from __future__ import annotations

import re
import subprocess
from typing import Any

from intentcast.broker.kafka_local import KafkaDistribution


def _java(dist: KafkaDistribution, main: str, *args: str) -> str:
    cmd = [str(dist.java), "-Xmx512m", "-cp", dist.classpath, main, *args]
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False, timeout=300)
    if proc.returncode != 0:
        raise RuntimeError(f"{main} failed: {proc.stderr[-1500:]}")
    return proc.stdout


def producer_perf(
    dist: KafkaDistribution, bootstrap: str, topic: str, records: int, size: int
) -> dict[str, Any]:
    """acks=all and idempotence, as our producers use, unthrottled."""
    out = _java(
        dist, "org.apache.kafka.tools.ProducerPerformance",
        "--topic", topic, "--num-records", str(records), "--record-size", str(size),
        "--throughput", "-1", "--producer-props", f"bootstrap.servers={bootstrap}",
        "acks=all", "enable.idempotence=true", "linger.ms=5",
    )  # fmt: skip
    last = [line for line in out.splitlines() if "records sent" in line][-1]
    nums = dict(
        (m.group(2).strip(), float(m.group(1)))
        for m in re.finditer(r"([\d.]+) (records/sec|ms avg latency|ms max latency)", last)
    )
    pct = {k: float(v) for v, k in re.findall(r"([\d.]+) ms (\d+(?:\.\d+)?th)", last)}
    return {
        "records_per_s": nums.get("records/sec", 0.0),
        "latency_avg_ms": nums.get("ms avg latency", 0.0),
        "latency_max_ms": nums.get("ms max latency", 0.0),
        "latency_p99_ms": pct.get("99th", 0.0),
        "raw": last.strip(),
    }


def consumer_perf(dist: KafkaDistribution, bootstrap: str, topic: str, records: int) -> float:
    """Records per second that Kafka's Java consumer reads back."""
    out = _java(
        dist, "org.apache.kafka.tools.ConsumerPerformance",
        "--bootstrap-server", bootstrap, "--topic", topic, "--messages", str(records),
        "--hide-header", "--timeout", "60000",
    )  # fmt: skip
    line = [x for x in out.splitlines() if x.strip()][-1]
    fields = [f.strip() for f in line.split(",")]
    return float(fields[5])  # data.consumed.in.nMsg/sec
