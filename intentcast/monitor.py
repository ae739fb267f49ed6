"""`intentcast monitor`: a live terminal view of the system, built only from its own topics.

It reads `intentcast.metrics` and `intentcast.intents.status` without a consumer group, so it
works with the read-only `monitor` principal and over SSH (plain rich output, ~1 s refresh).
"""

from __future__ import annotations

import asyncio
import time

import orjson
import typer
from rich.columns import Columns
from rich.console import Group, RenderableType
from rich.live import Live
from rich.table import Table
from rich.text import Text

from intentcast.agents import ClientSettings
from intentcast.console import console, fail
from intentcast.monitoring import FLOWS, Aggregator, MonitorError, TopicReader, View


def _flows(view: View) -> Table:
    table = Table(title="flows", title_style="bold", expand=False)
    table.add_column("flow")
    table.add_column("total", justify="right")
    table.add_column("per s", justify="right")
    for label, name in FLOWS:
        table.add_row(label, f"{view.total(name):,}", f"{view.rates.get(label, 0.0):.2f}")
    table.add_row("open intents", f"{view.open_intents:,.0f}", "", style="cyan")
    return table


def _rejections(view: View) -> Table:
    table = Table(title="refused, by reason", title_style="bold")
    table.add_column("what")
    table.add_column("reason")
    table.add_column("count", justify="right")
    for what, reasons in sorted(view.rejections.items()):
        for reason, count in sorted(reasons.items(), key=lambda kv: -kv[1]):
            table.add_row(what, reason, f"{count:,}", style="yellow")
    for reason, count in sorted(view.deadletters.items(), key=lambda kv: -kv[1]):
        table.add_row("dead letter", reason, f"{count:,}", style="red")
    if not table.rows:
        table.add_row("—", "nothing refused", "0", style="dim")
    return table


def _latencies(view: View) -> Table:
    table = Table(title="latency (ms)", title_style="bold")
    for col in ("stage", "p50", "p95", "p99", "max", "count"):
        table.add_column(col, justify="left" if col == "stage" else "right")
    for stage, stats in sorted(view.latencies.items()):
        table.add_row(
            stage,
            *(f"{stats.get(q, 0.0):.1f}" for q in ("p50", "p95", "p99", "max")),
            f"{stats.get('count', 0.0):,.0f}",
        )
    if not table.rows:
        table.add_row("—", "", "", "", "", "0", style="dim")
    return table


def _markets(view: View) -> Table:
    table = Table(title="markets", title_style="bold")
    for col in ("market", "intents", "offers", "agreements"):
        table.add_column(col, justify="left" if col == "market" else "right")
    for market, counts in sorted(view.markets.items()):
        table.add_row(
            market,
            *(f"{counts.get(k, 0):,}" for k in ("intents", "offers_delivered", "agreements")),
        )
    return table


def _lag_and_status(view: View) -> Table:
    table = Table(title="lag and statuses", title_style="bold")
    table.add_column("what")
    table.add_column("value", justify="right")
    for topic, lag in sorted(view.lag.items()):
        if topic != "total":
            table.add_row(f"lag {topic.removeprefix('intentcast.')}", f"{lag:,.0f}")
    for status, count in sorted(view.statuses.items()):
        table.add_row(f"status {status}", f"{count:,}", style="dim")
    return table


_CAUSES = {
    "topic_missing": "topic missing",
    "not_authorised": "not authorised for the processors",
    "too_large": "records too large",
}


def _unhealthy(view: View) -> Table:
    """Vendors whose topics the processors cannot write: their outputs are dead-lettered."""
    table = Table(title="unhealthy vendors", title_style="bold red")
    for col in ("vendor", "topic", "cause", "dead-lettered"):
        table.add_column(col, justify="right" if col == "dead-lettered" else "left")
    for vendor, state in view.unhealthy_vendors.items():
        topics = state["topics"] or {"?": "unknown"}
        for i, (topic, cause) in enumerate(topics.items()):
            count = f"{state['dead_lettered']:,}" if i == 0 else ""
            table.add_row(vendor, topic, _CAUSES.get(cause, cause), count, style="red")
    return table


def _recent(view: View) -> Table:
    table = Table(title="recent status updates", title_style="bold")
    for col in ("at", "intent", "status", "reason"):
        table.add_column(col)
    for event in view.recent[:8]:
        style = "red" if event["status"] == "rejected" else ""
        table.add_row(
            event["at"][11:19], event["intent"], event["status"], event["reason"], style=style
        )
    return table


def render(view: View, bootstrap: str) -> RenderableType:
    """The whole screen for one view; also what `--once` prints."""
    newest = max(view.sources.values(), default=0.0)
    age = f"{view.at - newest:.0f}s ago" if newest else "none yet"
    header = Text.assemble(
        ("intentcast monitor", "bold"),
        f"  {bootstrap}  ·  {view.live_sources} live source(s)  ·  last snapshot {age}",
    )
    rows: list[RenderableType] = [header]
    if view.unhealthy_vendors:  # first: one tenant's broken topic is what needs doing now
        rows.append(_unhealthy(view))
    rows += [
        Columns([_flows(view), _latencies(view), _lag_and_status(view)], padding=(0, 2)),
        Columns([_rejections(view), _markets(view), _recent(view)], padding=(0, 2)),
    ]
    return Group(*rows)


async def _once(reader: TopicReader, aggregator: Aggregator, timeout: float) -> View:
    await reader.read_until_caught_up(timeout)
    deadline = time.monotonic() + timeout
    while aggregator.snapshots_seen == 0 and time.monotonic() < deadline:
        await reader.poll(timeout_ms=250)
    return aggregator.view(time.time())


async def _live(reader: TopicReader, aggregator: Aggregator, refresh: float) -> None:
    with Live(
        render(aggregator.view(time.time()), reader.bootstrap),
        console=console,
        refresh_per_second=max(1.0, 1 / refresh),
        screen=False,
    ) as live:
        next_draw = 0.0
        while True:
            await reader.poll(timeout_ms=int(refresh * 500))
            if time.monotonic() >= next_draw:
                live.update(render(aggregator.view(time.time()), reader.bootstrap))
                next_draw = time.monotonic() + refresh


async def _run(
    settings: ClientSettings,
    once: bool,
    refresh: float,
    lookback: float,
    timeout: float,
) -> View | None:
    aggregator = Aggregator()
    reader = TopicReader(settings.kafka_kwargs(), aggregator, lookback=lookback)
    await reader.start()
    try:
        if once:
            return await _once(reader, aggregator, timeout)
        await _live(reader, aggregator, refresh)
        return None
    finally:
        await reader.stop()


def monitor(
    bootstrap: str | None = typer.Option(
        None, "--bootstrap", "-b", help="Kafka bootstrap servers (default: $INTENTCAST_BOOTSTRAP)."
    ),
    once: bool = typer.Option(False, "--once", help="Print one snapshot and exit (for scripts)."),
    json_out: bool = typer.Option(False, "--json", help="With --once: print the view as JSON."),
    refresh: float = typer.Option(1.0, min=0.2, help="Seconds between screen refreshes."),
    lookback: float = typer.Option(
        300.0, min=0, help="Start reading this many seconds in the past (history for rates)."
    ),
    timeout: float = typer.Option(15.0, min=1, help="With --once: seconds to wait for metrics."),
) -> None:
    """Live view of rates, refusals by reason, open intents, latencies, markets, lag and
    unhealthy vendors (whose topics the processors cannot write).

    Reads only intentcast.metrics and intentcast.intents.status, with no consumer group, so
    the read-only monitor principal is enough (security via INTENTCAST_SASL_* settings).
    Exit 1 with --once if no processor has published metrics within --timeout.
    """
    try:
        settings = ClientSettings(bootstrap=bootstrap) if bootstrap else ClientSettings()
        view = asyncio.run(_run(settings, once, refresh, lookback, timeout))
    except MonitorError as exc:
        raise fail(str(exc)) from exc
    except KeyboardInterrupt:
        return
    if view is None:
        return
    if json_out:
        print(orjson.dumps(view.as_json(history=False)).decode())
    else:
        console.print(render(view, settings.bootstrap))
    if not view.sources:
        raise fail(
            f"no metrics on intentcast.metrics in the last {lookback:.0f}s: are the "
            "processors running (`intentcast broker run`)?"
        )
