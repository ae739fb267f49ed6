"""`intentcast bench`: Kafka's tools, raw aiokafka and the pipeline, side by side in one run."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer
from rich.table import Table

from intentcast.console import console, fail


def bench(
    intents: int = typer.Option(2000, help="Intents per throughput run."),
    vendors: int = typer.Option(3, help="Vendors answering every intent."),
    partitions: int = typer.Option(6, help="Partitions of every intent-keyed topic."),
    workers: int = typer.Option(1, help="Processor workers (same app id, sharing partitions)."),
    repeats: int = typer.Option(3, help="Repeats of each measurement; medians are reported."),
    fraction: list[float] = typer.Option(
        [0.25, 0.5, 0.75],
        help="Latency runs at these fractions of the maximum sustained intent rate measured "
        "first in the same run; repeat for several.",
    ),
    seconds: float = typer.Option(10.0, help="Length of each latency run."),
    skip_latency: bool = typer.Option(False, help="Only the throughput runs."),
    out: Path = typer.Option(
        Path("artifacts/bench.json"),
        "--json",
        help="Results file; a PNG plot is written beside it.",
    ),
    bootstrap: str = typer.Option(None, help="Use this Kafka instead of starting one."),
) -> None:
    """Benchmark the pipeline against Kafka's own limits on this machine (takes minutes)."""
    try:
        from intentcast.bench.run import BenchConfig, run_bench
    except ImportError as exc:
        raise fail(
            "the benchmark lives in the repository's bench/ folder: run it from a "
            "checkout (`make bench-pipeline`)"
        ) from exc
    if any(not 0 < f <= 1 for f in fraction):
        raise fail("each --fraction is a share of the maximum rate: give numbers in (0, 1]")
    cfg = BenchConfig(intents=intents, vendors=vendors, partitions=partitions, workers=workers,
                      repeats=repeats, fractions=tuple(fraction), latency_seconds=seconds,
                      out=out, bootstrap=bootstrap, skip_latency=skip_latency)  # fmt: skip
    result = run_bench(cfg, lambda line: console.print(f"• {line}"))
    console.print(_stages_table(result))
    console.print(_latency_table(result))
    console.print(_cpu_table(result))
    crypto = result["crypto_us"]
    console.print(
        f"this machine's crypto: Ed25519 verify {crypto['ed25519_verify_us']} µs, sign "
        f"{crypto['ed25519_sign_us']} µs, sealed box {crypto['sealed_box_seal_us']} µs"
    )
    console.print(f"results: {out}, plot: {result['pipeline']['plot']}")


def _stages_table(result: dict[str, Any]) -> Table:
    pipe = result["pipeline"]
    table = Table(title="Throughput, medians of one run (inputs = intents + offers + acceptances)")
    table.add_column("stage")
    table.add_column("inputs/s", justify="right")
    table.add_column("pipeline ÷ stage", justify="right")
    tools = result["kafka_tools"]
    table.add_row("Kafka producer perf tool", f"{tools['producer_records_per_s']:.0f}", "")
    table.add_row("Kafka consumer perf tool", f"{tools['consumer_records_per_s']:.0f}", "")
    mine = pipe["throughput"]["processor_inputs_per_s"]
    for name, stage in result["ceilings"].items():
        ratio = mine / max(stage["messages_per_s"], 1e-9)
        table.add_row(name, f"{stage['messages_per_s']:.0f}", f"{ratio:.3f}")
    table.add_row(
        f"Intentcast pipeline ({pipe['outputs_per_input']:.2f} outputs per input)",
        f"{mine:.0f}",
        "",
    )
    return table


def _latency_table(result: dict[str, Any]) -> Table:
    pipe = result["pipeline"]
    table = Table(
        title=f"Latency at fractions of {pipe['max_sustained_intents_per_s']:.0f} intents/s"
    )
    for column in ("load", "intents/s", "what", "p50 ms", "p99 ms", "max ms"):
        table.add_column(column, justify="left" if column == "what" else "right")
    for run in pipe["latency_by_fraction"]:
        for name, stats in run["latency_ms"].items():
            cells = [f"{stats[q]:.1f}" for q in ("p50", "p99", "max")]
            table.add_row(f"{run['fraction']:.0%}", f"{run['rate']:.0f}", name, *cells)
    return table


def _cpu_table(result: dict[str, Any]) -> Table:
    table = Table(title="CPU during the throughput runs")
    for column in ("process", "cores", "µs per intent", "peak RSS MB"):
        table.add_column(column, justify="left" if column == "process" else "right")
    for name, stats in result["pipeline"]["processes"].items():
        table.add_row(name, f"{stats['cpu_cores']:.2f}", f"{stats['cpu_us_per_intent']:.0f}",
                      f"{stats['peak_rss_mb']:.0f}")  # fmt: skip
    return table
