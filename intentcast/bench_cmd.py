"""`intentcast bench`: Kafka's tools, raw aiokafka and the pipeline, side by side in one run."""

from __future__ import annotations

from pathlib import Path

import orjson
import typer
from rich.table import Table

from intentcast.console import console, fail


def bench(
    intents: int = typer.Option(2000, help="Intents per throughput run."),
    vendors: int = typer.Option(3, help="Vendors answering every intent."),
    partitions: int = typer.Option(6, help="Partitions of every intent-keyed topic."),
    workers: int = typer.Option(1, help="Processor workers (same app id, sharing partitions)."),
    repeats: int = typer.Option(3, help="Repeats of each measurement; medians are reported."),
    rate: list[float] = typer.Option(
        [500.0], help="Intents per second for a latency run; repeat for several rates."
    ),
    seconds: float = typer.Option(10.0, help="Length of the latency run."),
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
    cfg = BenchConfig(intents=intents, vendors=vendors, partitions=partitions, workers=workers,
                      repeats=repeats, latency_rates=tuple(rate), latency_seconds=seconds, out=out,
                      bootstrap=bootstrap, skip_latency=skip_latency)  # fmt: skip
    result = run_bench(cfg, lambda line: console.print(f"• {line}"))
    table = Table(title="Intentcast benchmark (medians)")
    table.add_column("stage")
    table.add_column("messages/s", justify="right")
    tools, raw = result["kafka_tools"], result["aiokafka_passthrough"]
    pipe = result["pipeline"]["throughput"]
    table.add_row("Kafka producer perf tool", f"{tools['producer_records_per_s']:.0f}")
    table.add_row("Kafka consumer perf tool", f"{tools['consumer_records_per_s']:.0f}")
    table.add_row("aiokafka passthrough", f"{raw['messages_per_s']:.0f}")
    table.add_row("aiokafka passthrough + crypto", f"{raw['with_crypto_messages_per_s']:.0f}")
    table.add_row("Intentcast pipeline (processor inputs)", f"{pipe['processor_inputs_per_s']:.0f}")
    console.print(table)
    for run in result["pipeline"]["latency_by_rate"]:
        for name, stats in run["latency_ms"].items():
            console.print(
                f"at {run['rate']:.0f} intents/s, {name}: p50 {stats['p50']:.1f} ms, "
                f"p95 {stats['p95']:.1f} ms, p99 {stats['p99']:.1f} ms, max {stats['max']:.1f} ms"
            )
    console.print("ratios: " + orjson.dumps(result["ratios"]).decode())
    console.print(f"results: {out}, plot: {result['pipeline']['plot']}")
