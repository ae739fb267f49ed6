"""Counters and latency histograms a worker publishes to the metrics topic at a fixed interval.

Operations watch the system only through its own topics, so a worker's figures are plain
`MetricsSnapshot` messages: counts by market and by reason, open intents, latency percentiles.
"""

from __future__ import annotations

import bisect
import math
import re
from collections import Counter

from intentcast.schemas import MetricsSnapshot, utcnow

# log-spaced bucket bounds in ms, 0.1 ms .. ~100 s: HDR-style relative precision (~5%)
_BOUNDS = [0.1 * (1.05**i) for i in range(290)]


class Histogram:
    """Fixed log buckets: constant memory, mergeable, about 5% relative precision."""

    def __init__(self) -> None:
        self.counts = [0] * (len(_BOUNDS) + 1)
        self.total = 0
        self.max = 0.0

    def record(self, value_ms: float) -> None:
        self.counts[bisect.bisect_left(_BOUNDS, value_ms)] += 1
        self.total += 1
        self.max = max(self.max, value_ms)

    def percentile(self, q: float) -> float:
        if self.total == 0:
            return 0.0
        rank = max(1, math.ceil(q / 100 * self.total))
        seen = 0
        for i, c in enumerate(self.counts):
            seen += c
            if seen >= rank:
                return min(_BOUNDS[i] if i < len(_BOUNDS) else self.max, self.max)
        return self.max

    def summary(self) -> dict[str, float]:
        return {
            "p50": self.percentile(50),
            "p95": self.percentile(95),
            "p99": self.percentile(99),
            "max": self.max,
            "count": float(self.total),
        }


_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")
_NOT_ALLOWED = re.compile(r"[^a-z0-9_.:{}=,-]")


def metric_name(name: str) -> str:
    """A name the metrics schema accepts: names built from exception classes or topics
    (`faults.transient.LeaderNotAvailableError`) become `faults.transient.leader_not_available_
    error`; a snapshot that failed validation would stop the worker's metrics altogether."""
    return _NOT_ALLOWED.sub("_", _CAMEL.sub("_", name).lower())[:128] or "_"


class Metrics:
    def __init__(self, source: str) -> None:
        self.source = source
        self.counters: Counter[str] = Counter()
        self.gauges: dict[str, float] = {}
        self.latencies: dict[str, Histogram] = {}

    def count(self, name: str, n: int = 1) -> None:
        self.counters[name] += n

    def observe(self, name: str, value_ms: float) -> None:
        self.latencies.setdefault(name, Histogram()).record(value_ms)

    def gauge(self, name: str, value: float) -> None:
        self.gauges[name] = value

    def snapshot(self) -> MetricsSnapshot:
        return MetricsSnapshot(
            source=self.source[:64],
            at=utcnow(),
            counters={metric_name(k): v for k, v in list(self.counters.items())[:512]},
            gauges={metric_name(k): v for k, v in list(self.gauges.items())[:512]},
            latencies_ms={
                metric_name(k): v.summary() for k, v in list(self.latencies.items())[:64]
            },
        )
