"""Fold the metrics and status topics into one view: totals, rates, reasons, latencies, history.

Each processor publishes cumulative counters under its own `source`. The view sums the latest
snapshot of every source (a source that restarts and counts from zero again is carried over,
so totals never go down), keeps a bounded history for charts and derives per-second rates.
Pure: no Kafka, no clock of its own (callers pass `now`), so it is tested without a broker.
"""

from __future__ import annotations

import re
from collections import Counter, deque
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Final

from intentcast.schemas import IntentStatus, MetricsSnapshot

__all__ = [
    "FLOWS",
    "Aggregator",
    "Point",
    "SourceState",
    "View",
    "iso",
    "merge_latencies",
    "point_json",
    "vendor_health",
]

FLOWS: Final = (
    ("intents", "intents.received"),
    ("accepted", "intents.accepted"),
    ("offers", "offers.delivered"),
    ("agreements", "agreements.recorded"),
)
"""The headline flows (label, counter) shown as rates and charted over time."""

_REJECTED = re.compile(r"^(?P<what>[a-z]+)\.rejected\.(?P<reason>[a-z0-9_]+)$")
_DEADLETTER = re.compile(r"^deadletters\.(?P<reason>[a-z0-9_]+)$")
_MARKET = re.compile(r"^market\.(?P<market>[a-z0-9-]+)\.(?P<what>[a-z0-9_]+)$")
_LAG = re.compile(r"^lag\.(?P<topic>[a-z0-9._-]+)$")
_VENDOR_HEALTH = re.compile(r"^vendor_unhealthy\.(?P<vendor>[a-z0-9-]+)$")
_DESTINATION_HEALTH = re.compile(
    r"^vendor_unhealthy\.(?P<vendor>[a-z0-9-]+)\.(?P<topic>[a-z]+)\.(?P<cause>[a-z_]+)$"
)
_DESTINATION_COUNT = re.compile(
    r"^destinations\.(?P<what>unavailable|too_large)\.(?P<vendor>[a-z0-9-]+)$"
)


@dataclass
class SourceState:
    """The latest snapshot of one source, plus what it counted before its last restart."""

    snapshot: MetricsSnapshot
    seen_at: float
    carried: Counter[str] = field(default_factory=Counter)

    def counters(self) -> Counter[str]:
        total = Counter(self.carried)
        total.update(self.snapshot.counters)
        return total


@dataclass(frozen=True)
class Point:
    """One moment of the history: cumulative totals and latency percentiles."""

    at: float
    counters: dict[str, int]
    latencies: dict[str, dict[str, float]]
    open_intents: float


@dataclass(frozen=True)
class View:
    """Everything the monitor, the dashboard and `/metrics` show, computed at one moment."""

    at: float
    sources: dict[str, float]
    live_sources: int
    counters: dict[str, int]
    rates: dict[str, float]
    open_intents: float
    lag: dict[str, float]
    latencies: dict[str, dict[str, float]]
    rejections: dict[str, dict[str, int]]
    deadletters: dict[str, int]
    markets: dict[str, dict[str, int]]
    statuses: dict[str, int]
    status_reasons: dict[str, int]
    recent: list[dict[str, str]]
    history: list[Point]
    # vendor -> 1 while a live processor finds one of its topics unhealthy, 0 once recovered
    vendor_health: dict[str, float] = field(default_factory=dict)
    # vendor -> {"topics": {kind: cause}, "dead_lettered": n}, for the unhealthy ones only
    unhealthy_vendors: dict[str, dict[str, Any]] = field(default_factory=dict)

    def total(self, name: str) -> int:
        return self.counters.get(name, 0)

    def as_json(self, history: bool = True) -> dict[str, Any]:
        """Plain JSON for `/api/snapshot` and the dashboard page."""
        out: dict[str, Any] = {
            "at": self.at,
            "sources": self.sources,
            "live_sources": self.live_sources,
            "totals": {label: self.total(name) for label, name in FLOWS},
            "rates": self.rates,
            "counters": self.counters,
            "open_intents": self.open_intents,
            "lag": self.lag,
            "latencies_ms": self.latencies,
            "rejections": self.rejections,
            "deadletters": self.deadletters,
            "markets": self.markets,
            "statuses": self.statuses,
            "status_reasons": self.status_reasons,
            "recent": self.recent,
            "unhealthy_vendors": self.unhealthy_vendors,
        }
        if history:
            out["history"] = [point_json(p) for p in self.history]
        return out


def point_json(point: Point) -> dict[str, Any]:
    """One history point as the dashboard charts it: flows, refused offers, latencies."""
    return {
        "at": point.at,
        "totals": {label: point.counters.get(name, 0) for label, name in FLOWS},
        "rejected": {
            k.removeprefix("offers.rejected."): v
            for k, v in point.counters.items()
            if k.startswith("offers.rejected.")
        },
        "latencies_ms": point.latencies,
        "open_intents": point.open_intents,
    }


def merge_latencies(states: list[SourceState]) -> dict[str, dict[str, float]]:
    """Combine per-source percentiles: p50 weighted by count, the tail (p95, p99, max) as the
    worst source. Exact merging needs the histograms; the worst tail is what operators act on.
    """
    merged: dict[str, dict[str, float]] = {}
    for state in states:
        for name, stats in state.snapshot.latencies_ms.items():
            count = stats.get("count", 0.0)
            if count <= 0:
                continue
            into = merged.setdefault(name, {"p50": 0.0, "p95": 0.0, "p99": 0.0, "max": 0.0})
            weight = into.get("count", 0.0)
            into["p50"] = (into["p50"] * weight + stats.get("p50", 0.0) * count) / (weight + count)
            for q in ("p95", "p99", "max"):
                into[q] = max(into[q], stats.get(q, 0.0))
            into["count"] = weight + count
    return merged


class Aggregator:
    """Keeps the latest snapshot per source and a bounded history; `view(now)` summarises."""

    def __init__(
        self, stale_after: float = 30.0, history: int = 900, recent: int = 20, window: float = 10.0
    ) -> None:
        self.stale_after = stale_after
        self.window = window
        self.sources: dict[str, SourceState] = {}
        self.history: deque[Point] = deque(maxlen=history)
        self.statuses: Counter[str] = Counter()
        self.status_reasons: Counter[str] = Counter()
        self.recent: deque[dict[str, str]] = deque(maxlen=recent)
        self.snapshots_seen = 0

    def add_metrics(self, snapshot: MetricsSnapshot) -> None:
        """Take one snapshot; a counter that went down means its source restarted."""
        at = snapshot.at.timestamp()
        state = self.sources.get(snapshot.source)
        if state is None:
            state = self.sources[snapshot.source] = SourceState(snapshot, at)
        elif at >= state.seen_at:
            old = state.snapshot.counters
            if any(snapshot.counters.get(k, 0) < v for k, v in old.items()):
                state.carried.update(old)
            state.snapshot, state.seen_at = snapshot, at
        else:
            return  # older than what we have (replayed history): keeps totals monotonic
        self.snapshots_seen += 1
        self._record(at)

    def add_status(self, status: IntentStatus) -> None:
        """Count a status update and remember it in the short feed of recent events."""
        self.statuses[status.status.value] += 1
        if status.reason is not None:
            self.status_reasons[status.reason.value] += 1
        self.recent.appendleft(
            {
                "at": iso(status.at.timestamp()),
                "intent": status.intent_id[:12],
                "status": status.status.value,
                "reason": status.reason.value if status.reason else "",
            }
        )

    def _live(self, now: float) -> list[SourceState]:
        return [s for s in self.sources.values() if now - s.seen_at <= self.stale_after]

    def _totals(self) -> dict[str, int]:
        total: Counter[str] = Counter()
        for state in self.sources.values():
            total.update(state.counters())
        return dict(total)

    def _record(self, at: float) -> None:
        live = self._live(at)
        point = Point(
            at=at,
            counters=self._totals(),
            latencies=merge_latencies(live),
            open_intents=sum(s.snapshot.gauges.get("intents.in_table", 0.0) for s in live),
        )
        # sources report at nearly the same moment: one point per half second is enough
        if self.history and at - self.history[-1].at < 0.5:
            self.history[-1] = point
        else:
            self.history.append(point)

    def rates(self, now: float) -> dict[str, float]:
        """Per-second rates of the headline flows over the last `window` seconds of history."""
        if len(self.history) < 2 or now - self.history[-1].at > self.stale_after:
            return {label: 0.0 for label, _ in FLOWS}
        last = self.history[-1]
        first = next((p for p in self.history if last.at - p.at <= self.window), last)
        if first is last:
            first = self.history[-2]
        span = max(last.at - first.at, 1e-3)
        return {
            label: max(0, last.counters.get(n, 0) - first.counters.get(n, 0)) / span
            for label, n in FLOWS
        }

    def view(self, now: float) -> View:
        """Summarise everything known at `now` (wall-clock seconds)."""
        live = self._live(now)
        counters = self._totals()
        rejections: dict[str, dict[str, int]] = {}
        deadletters: dict[str, int] = {}
        markets: dict[str, dict[str, int]] = {}
        for name, value in sorted(counters.items()):
            if m := _REJECTED.match(name):
                rejections.setdefault(m["what"], {})[m["reason"]] = value
            elif m := _DEADLETTER.match(name):
                deadletters[m["reason"]] = value
            elif m := _MARKET.match(name):
                markets.setdefault(m["market"], {})[m["what"]] = value
        lag: dict[str, float] = {}
        for state in live:
            for gauge, level in state.snapshot.gauges.items():
                if m := _LAG.match(gauge):
                    lag[m["topic"]] = lag.get(m["topic"], 0.0) + level
        health, unhealthy = vendor_health(live, counters)
        return View(
            at=now,
            sources={name: s.seen_at for name, s in sorted(self.sources.items())},
            live_sources=len(live),
            counters=counters,
            rates=self.rates(now),
            open_intents=sum(s.snapshot.gauges.get("intents.in_table", 0.0) for s in live),
            lag=lag,
            latencies=merge_latencies(live),
            rejections=rejections,
            deadletters=deadletters,
            markets=markets,
            statuses=dict(self.statuses),
            status_reasons=dict(self.status_reasons),
            recent=sorted(self.recent, key=lambda e: e["at"], reverse=True),
            history=list(self.history),
            vendor_health=health,
            unhealthy_vendors=unhealthy,
        )


def vendor_health(
    live: list[SourceState], counters: dict[str, int]
) -> tuple[dict[str, float], dict[str, dict[str, Any]]]:
    """Per vendor: unhealthy (1) if any live processor says so; which topics, why, and how many
    of its records were dead-lettered instead (all time, all processors)."""
    health: dict[str, float] = {}
    topics: dict[str, dict[str, str]] = {}
    for state in live:
        for gauge, level in state.snapshot.gauges.items():
            if m := _VENDOR_HEALTH.match(gauge):
                health[m["vendor"]] = max(health.get(m["vendor"], 0.0), level)
            elif (m := _DESTINATION_HEALTH.match(gauge)) and level > 0:
                topics.setdefault(m["vendor"], {})[m["topic"]] = m["cause"]
    dead: Counter[str] = Counter()
    for name, value in counters.items():
        if m := _DESTINATION_COUNT.match(name):
            dead[m["vendor"]] += value
    unhealthy = {
        vendor: {
            "topics": dict(sorted(topics.get(vendor, {}).items())),
            "dead_lettered": dead[vendor],
        }
        for vendor, level in sorted(health.items())
        if level > 0
    }
    return dict(sorted(health.items())), unhealthy


def iso(ts: float) -> str:
    """Seconds since the epoch as the protocol writes timestamps (ms, Z)."""
    return datetime.fromtimestamp(ts, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
