"""The ops view without a broker: totals across sources, restarts, rates, `/metrics`, JSON logs."""

from __future__ import annotations

import io
import logging
from datetime import UTC, datetime
from typing import Any

import orjson
import pytest
from prometheus_client.parser import text_string_to_metric_families

from intentcast.logs import JsonFormatter
from intentcast.monitoring import Aggregator, exposition, metric_name
from intentcast.schemas import IntentStatus, MetricsSnapshot, ReasonCode, StatusKind

T0 = 1_800_000_000.0


def snap(source: str, at: float, counters: dict[str, int], **kw: object) -> MetricsSnapshot:
    return MetricsSnapshot(
        source=source,
        at=datetime.fromtimestamp(at, UTC),
        counters=counters,
        **kw,
    )


def test_totals_sum_the_latest_snapshot_of_every_source() -> None:
    agg = Aggregator()
    agg.add_metrics(snap("a", T0, {"intents.received": 3}))
    agg.add_metrics(snap("b", T0 + 1, {"intents.received": 4}))
    agg.add_metrics(snap("a", T0 + 2, {"intents.received": 5}))
    assert agg.view(T0 + 2).total("intents.received") == 9


def test_a_restarted_source_carries_its_old_counts_so_totals_never_drop() -> None:
    agg = Aggregator()
    agg.add_metrics(snap("a", T0, {"offers.delivered": 10}))
    agg.add_metrics(snap("a", T0 + 5, {"offers.delivered": 2}))  # restarted, counts from zero
    assert agg.view(T0 + 5).total("offers.delivered") == 12
    agg.add_metrics(snap("a", T0 + 3, {"offers.delivered": 99}))  # an older, replayed snapshot
    assert agg.view(T0 + 5).total("offers.delivered") == 12


def test_rates_reasons_markets_and_stale_sources() -> None:
    agg = Aggregator(stale_after=30, window=10)
    agg.add_metrics(snap("a", T0, {"intents.received": 0}, gauges={"intents.in_table": 4.0}))
    agg.add_metrics(
        snap("a", T0 + 10, {"intents.received": 20, "offers.rejected.price_over_max": 3,
             "deadletters.bad_signature": 1, "market.bikes.intents": 20},
             gauges={"intents.in_table": 7.0, "lag.intentcast.offers.submitted": 5.0})
    )  # fmt: skip
    view = agg.view(T0 + 10)
    assert view.rates["intents"] == pytest.approx(2.0)
    assert view.rejections == {"offers": {"price_over_max": 3}}
    assert view.deadletters == {"bad_signature": 1}
    assert view.markets == {"bikes": {"intents": 20}}
    assert view.open_intents == 7.0
    assert view.lag == {"intentcast.offers.submitted": 5.0}
    stale = agg.view(T0 + 100)
    assert stale.live_sources == 0 and stale.open_intents == 0 and stale.rates["intents"] == 0
    assert stale.total("intents.received") == 20, "a silent source's counts still count"


def test_latencies_merge_p50_by_weight_and_the_tail_as_the_worst_source() -> None:
    agg = Aggregator()
    lat = {"p50": 10.0, "p95": 20.0, "p99": 30.0, "max": 40.0, "count": 1.0}
    agg.add_metrics(snap("a", T0, {}, latencies_ms={"intent_to_first_offer": lat}))
    slow = {"p50": 40.0, "p95": 50.0, "p99": 60.0, "max": 70.0, "count": 3.0}
    agg.add_metrics(snap("b", T0, {}, latencies_ms={"intent_to_first_offer": slow}))
    merged = agg.view(T0).latencies["intent_to_first_offer"]
    assert merged == {"p50": 32.5, "p95": 50.0, "p99": 60.0, "max": 70.0, "count": 4.0}


def test_statuses_are_counted_and_the_feed_is_newest_first() -> None:
    agg = Aggregator()
    for i, kind in enumerate((StatusKind.ACCEPTED, StatusKind.REJECTED, StatusKind.AGREED)):
        agg.add_status(IntentStatus(
            intent_id=f"{i:032x}", status=kind, at=datetime.fromtimestamp(T0 + 10 - i, UTC),
            reason=ReasonCode.MARKET_UNKNOWN if kind is StatusKind.REJECTED else None,
        ))  # fmt: skip
    view = agg.view(T0)
    assert view.statuses == {"accepted": 1, "rejected": 1, "agreed": 1}
    assert view.status_reasons == {"market_unknown": 1}
    assert [e["status"] for e in view.recent] == ["accepted", "rejected", "agreed"]


def test_exposition_parses_with_the_reference_parser_and_uses_labels() -> None:
    agg = Aggregator()
    agg.add_metrics(
        snap("a", T0, {"intents.received": 5, "offers.rejected.price_over_max": 2,
             "intents.rejected.market_unknown": 1, "market.bikes.agreements": 1},
             gauges={"intents.in_table": 3.0, "lag.intentcast.acceptances": 0.0},
             latencies_ms={"intent_to_first_offer":
                           {"p50": 1.5, "p95": 2.0, "p99": 3.0, "max": 4.0, "count": 2.0}})
    )  # fmt: skip
    families = {f.name: f for f in text_string_to_metric_families(exposition(agg.view(T0)))}
    received = families["intentcast_intents_received"]
    assert received.type == "counter"
    assert [(s.name, s.value) for s in received.samples] == [
        ("intentcast_intents_received_total", 5.0)
    ]
    offers = families["intentcast_offers_rejected"].samples
    assert [(s.labels, s.value) for s in offers] == [({"reason": "price_over_max"}, 2.0)]
    market = families["intentcast_market_agreements"].samples[0]
    assert market.labels == {"market": "bikes"}
    latency = {
        s.labels.get("quantile", s.name): s.value
        for s in families["intentcast_latency_milliseconds"].samples
    }
    assert latency == {"0.5": 1.5, "0.95": 2.0, "0.99": 3.0,
                       "intentcast_latency_milliseconds_count": 2.0}  # fmt: skip
    assert families["intentcast_intents_in_table"].samples[0].value == 3.0


def test_metric_names_follow_the_prometheus_rules() -> None:
    assert metric_name("deadletters.bad-sig", "total") == "intentcast_deadletters_bad_sig_total"


def test_json_log_lines_carry_ts_level_logger_msg_and_extras() -> None:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    logger = logging.getLogger("intentcast.test.jsonlog")
    logger.addHandler(handler)
    logger.propagate = False
    try:
        logger.warning("offer %s refused", "o1", extra={"intent_id": "abc", "reasons": ("x",)})
    finally:
        logger.removeHandler(handler)
    entry = orjson.loads(stream.getvalue())
    assert entry["level"] == "warning" and entry["logger"] == "intentcast.test.jsonlog"
    assert entry["msg"] == "offer o1 refused"
    assert entry["intent_id"] == "abc" and entry["reasons"] == ["x"]
    assert entry["ts"].endswith("Z") and len(stream.getvalue().strip().splitlines()) == 1


def _unhealthy_flow() -> Aggregator:
    """Two processors: one finds acme's feedback topic missing, acme and zed were fine before."""
    agg = Aggregator(stale_after=30)
    agg.add_metrics(
        snap("p1", T0,
             {"destinations.unavailable.acme": 5, "deadletters.destination_unavailable": 5},
             gauges={"vendor_unhealthy.acme": 1.0,
                     "vendor_unhealthy.acme.feedback.topic_missing": 1.0,
                     "vendor_unhealthy.zed": 0.0})
    )  # fmt: skip
    agg.add_metrics(
        snap("p2", T0 + 1, {"destinations.unavailable.acme": 2, "destinations.too_large.zed": 1},
             gauges={"vendor_unhealthy.acme": 0.0})
    )  # fmt: skip
    return agg


def test_unhealthy_vendors_come_from_live_gauges_with_their_cause() -> None:
    view = _unhealthy_flow().view(T0 + 2)
    assert view.unhealthy_vendors == {
        "acme": {"topics": {"feedback": "topic_missing"}, "dead_lettered": 7}
    }, "one live processor that says so is enough; dead letters count across processors"
    assert view.vendor_health == {"acme": 1.0, "zed": 0.0}
    assert view.deadletters == {"destination_unavailable": 5}
    assert view.as_json()["unhealthy_vendors"] == view.unhealthy_vendors
    gone = _unhealthy_flow().view(T0 + 100)  # no live source says anything any more
    assert gone.unhealthy_vendors == {} and gone.vendor_health == {}


def test_exposition_labels_unhealthy_vendors_and_their_dead_letters() -> None:
    text = exposition(_unhealthy_flow().view(T0 + 2))
    families = {f.name: f for f in text_string_to_metric_families(text)}
    health = families["intentcast_vendor_unhealthy"]
    assert health.type == "gauge"
    assert {s.labels["vendor"]: s.value for s in health.samples} == {"acme": 1.0, "zed": 0.0}
    (topic,) = families["intentcast_destination_unhealthy"].samples
    assert topic.labels == {"vendor": "acme", "topic": "feedback", "cause": "topic_missing"}
    unavailable = families["intentcast_destinations_unavailable"].samples
    assert [(s.name, s.labels, s.value) for s in unavailable] == [
        ("intentcast_destinations_unavailable_total", {"vendor": "acme"}, 7.0)
    ]
    too_large = families["intentcast_destinations_too_large"].samples
    assert [(s.labels, s.value) for s in too_large] == [({"vendor": "zed"}, 1.0)]


def test_the_monitor_shows_unhealthy_vendors_first_and_only_when_there_are_some() -> None:
    from rich.console import Console

    from intentcast.monitor import render

    def text(view: Any) -> str:
        console = Console(record=True, width=200)
        console.print(render(view, "127.0.0.1:9092"))
        return console.export_text()

    shown = text(_unhealthy_flow().view(T0 + 2))
    assert "unhealthy vendors" in shown
    row = next(line for line in shown.splitlines() if "acme" in line)
    assert "feedback" in row and "topic missing" in row and "7" in row
    assert shown.index("unhealthy vendors") < shown.index("flows")
    assert "unhealthy vendors" not in text(Aggregator().view(T0))
