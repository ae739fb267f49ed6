"""The same figures as the monitor, in Prometheus' text exposition format (version 0.0.4).

Dotted counter names become Prometheus names (`intents.received` ->
`intentcast_intents_received_total`); the parts that vary (rejection reason, market, topic,
latency stage) become labels, so one family holds all of them and dashboards can sum or split.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Final

from intentcast.monitoring.aggregate import View

__all__ = ["CONTENT_TYPE", "exposition", "metric_name"]

CONTENT_TYPE: Final = "text/plain; version=0.0.4; charset=utf-8"
PREFIX: Final = "intentcast"

_REJECTED = re.compile(r"^(?P<what>[a-z]+)\.rejected\.(?P<reason>[a-z0-9_]+)$")
_DEADLETTER = re.compile(r"^deadletters\.(?P<reason>[a-z0-9_]+)$")
_MARKET = re.compile(r"^market\.(?P<market>[a-z0-9-]+)\.(?P<what>[a-z0-9_]+)$")
_DESTINATION = re.compile(
    r"^destinations\.(?P<what>unavailable|too_large)\.(?P<vendor>[a-z0-9-]+)$"
)
_INVALID = re.compile(r"[^a-zA-Z0-9_]")


def metric_name(*parts: str) -> str:
    """`intentcast_` + parts joined by `_`, every character outside [a-zA-Z0-9_] made `_`."""
    return _INVALID.sub("_", "_".join((PREFIX, *parts)))


def _label_value(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else repr(float(value))


@dataclass
class _Family:
    kind: str
    help: str
    samples: list[tuple[str, dict[str, str], float]] = field(default_factory=list)


class _Families:
    def __init__(self) -> None:
        self.families: dict[str, _Family] = {}

    def add(
        self, name: str, kind: str, help_text: str, value: float, suffix: str = "", **labels: str
    ) -> None:
        family = self.families.setdefault(name, _Family(kind, help_text))
        family.samples.append((name + suffix, labels, value))

    def render(self) -> str:
        lines: list[str] = []
        for name, family in self.families.items():
            lines.append(f"# HELP {name} {family.help}")
            lines.append(f"# TYPE {name} {family.kind}")
            for sample, labels, value in family.samples:
                inner = ",".join(f'{k}="{_label_value(v)}"' for k, v in labels.items())
                lines.append(
                    f"{sample}{{{inner}}} {_number(value)}"
                    if inner
                    else f"{sample} {_number(value)}"
                )
        return "\n".join(lines) + "\n"


def _counter(out: _Families, name: str, value: int) -> None:
    if m := _REJECTED.match(name):
        what = m["what"]
        out.add(
            metric_name(what, "rejected_total"),
            "counter",
            f"{what} refused by the processors, by reason (docs/reasons.md).",
            value,
            reason=m["reason"],
        )
    elif m := _DEADLETTER.match(name):
        out.add(
            metric_name("deadletters_total"),
            "counter",
            "Records sent to intentcast.deadletters, by reason.",
            value,
            reason=m["reason"],
        )
    elif m := _DESTINATION.match(name):
        out.add(
            metric_name("destinations", m["what"], "total"),
            "counter",
            f"Records for a vendor's topic dead-lettered ({m['what'].replace('_', ' ')}).",
            value,
            vendor=m["vendor"],
        )
    elif m := _MARKET.match(name):
        out.add(
            metric_name("market", m["what"], "total"),
            "counter",
            f"{m['what'].replace('_', ' ')} per market.",
            value,
            market=m["market"],
        )
    else:
        out.add(metric_name(name, "total"), "counter", f"Processor counter {name}.", value)


def exposition(view: View) -> str:
    """Render a view as Prometheus text: counters, gauges and latency summaries."""
    out = _Families()
    for name, value in sorted(view.counters.items()):
        _counter(out, name, value)
    out.add(
        metric_name("intents_in_table"),
        "gauge",
        "Intents the processors hold: open, or closed and awaiting expiry.",
        view.open_intents,
    )
    for topic, lag in sorted(view.lag.items()):
        if topic != "total":
            out.add(
                metric_name("consumer_lag"),
                "gauge",
                "Records not yet fetched by the processors, per input topic.",
                lag,
                topic=topic,
            )
    for vendor, level in view.vendor_health.items():
        out.add(
            metric_name("vendor_unhealthy"),
            "gauge",
            "1 while a processor finds one of the vendor's topics missing or not authorised.",
            level,
            vendor=vendor,
        )
    for vendor, state in view.unhealthy_vendors.items():
        for topic, cause in state["topics"].items():
            out.add(
                metric_name("destination_unhealthy"),
                "gauge",
                "The vendor topic that is unhealthy, and why.",
                1.0,
                vendor=vendor,
                topic=topic,
                cause=cause,
            )
    out.add(
        metric_name("sources_live"),
        "gauge",
        "Processes that published metrics recently.",
        view.live_sources,
    )
    summary = metric_name("latency_milliseconds")
    for stage, stats in sorted(view.latencies.items()):
        for q, key in (("0.5", "p50"), ("0.95", "p95"), ("0.99", "p99")):
            out.add(
                summary,
                "summary",
                "Latency of a flow stage (p50 count-weighted across "
                "processes, tail as the worst process).",
                stats.get(key, 0.0),
                stage=stage,
                quantile=q,
            )
        out.add(summary, "summary", "", stats.get("count", 0.0), suffix="_count", stage=stage)
        out.add(
            metric_name("latency_max_milliseconds"),
            "gauge",
            "Slowest observation of a flow stage.",
            stats.get("max", 0.0),
            stage=stage,
        )
    for status, count in sorted(view.statuses.items()):
        out.add(
            metric_name("monitor_status_updates_total"),
            "counter",
            "Intent status updates this monitor has read, by status.",
            count,
            status=status,
        )
    return out.render()
