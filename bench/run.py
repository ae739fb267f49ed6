"""`intentcast bench`: Kafka's tools, raw aiokafka and the Intentcast pipeline, in one run.

Every stage uses the same broker, the same message mix and sizes, and is measured side by
side on this machine, so the ratios hold even when absolute numbers move with the load.
"""

from __future__ import annotations

import asyncio
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from intentcast.bench import kafka_tools, passthrough, pipeline
from intentcast.bench.mix import message_mix
from intentcast.bench.plot import save_plot
from intentcast.bench.procstat import sample, usage
from intentcast.bench.vendors_proc import vendor_id
from intentcast.broker.kafka_local import KafkaNode, resolve_distribution
from intentcast.broker.kafka_local.node import free_port
from intentcast.broker.settings import BrokerSettings
from intentcast.broker.topic_admin import create_all
from intentcast.processes import Processors

Say = Callable[[str], None]


@dataclass
class BenchConfig:
    intents: int = 2000
    vendors: int = 3
    partitions: int = 6
    repeats: int = 3
    warmup: int = 200
    latency_rates: tuple[float, ...] = (500.0,)
    latency_seconds: float = 10.0
    workers: int = 1
    skip_latency: bool = False
    out: Path = Path("artifacts/bench.json")
    bootstrap: str | None = None


async def _topics(bootstrap: str, names: list[str], partitions: int) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(n, partitions, 1) for n in names])
    finally:
        await admin.close()


def _median(runs: list[dict[str, Any]], key: str) -> float:
    return float(statistics.median(r[key] for r in runs))


def run_bench(cfg: BenchConfig, say: Say) -> dict[str, Any]:
    dist = resolve_distribution()
    cfg.out.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="intentcast-bench-"))
    node: KafkaNode | None = None
    bootstrap = cfg.bootstrap
    if bootstrap is None:
        node = KafkaNode(
            dist=dist, data_dir=work / "kafka", port=free_port(), controller_port=free_port()
        )
        say("starting Kafka…")
        node.start()
        bootstrap = node.bootstrap
    kafka_pid = node.status().pid if node else None
    result: dict[str, Any] = {
        "machine": {"cpus": _cpus(), "python": platform.python_version(),
                    "platform": platform.platform(), "kafka": "4.1.1 (single KRaft node)"},
        "config": {k: str(v) for k, v in cfg.__dict__.items()},
    }  # fmt: skip
    try:
        settings = BrokerSettings(bootstrap=bootstrap, partitions=cfg.partitions)
        asyncio.run(create_all(settings, vendors=[vendor_id(v) for v in range(cfg.vendors)]))
        tag = str(int(time.time()))
        src, sink, perf = f"bench.src.{tag}", f"bench.sink.{tag}", f"bench.perf.{tag}"
        asyncio.run(_topics(bootstrap, [src, sink, perf], cfg.partitions))

        say("building the message mix (signing every message)…")
        per_run = cfg.intents * (cfg.vendors + 2)
        records, crypto = message_mix(cfg.intents, cfg.vendors)
        size = int(statistics.mean(len(v) for _, v in records))
        result["message_size_bytes"] = size

        say(f"stage 1: Kafka's own tools, {per_run} records of {size} B…")
        prod = [kafka_tools.producer_perf(dist, bootstrap, perf, per_run, size)
                for _ in range(cfg.repeats)]  # fmt: skip
        cons = [kafka_tools.consumer_perf(dist, bootstrap, perf, per_run)
                for _ in range(cfg.repeats)]  # fmt: skip
        result["kafka_tools"] = {
            "producer_records_per_s": _median(prod, "records_per_s"),
            "producer_p99_ms": _median(prod, "latency_p99_ms"),
            "consumer_records_per_s": statistics.median(cons),
        }

        say("stage 2: raw aiokafka passthrough, bare and with the crypto…")
        asyncio.run(passthrough.fill(bootstrap, src, records))
        bare, with_crypto = [], []
        for _ in range(cfg.repeats):
            bare.append(
                asyncio.run(
                    passthrough.passthrough(
                        bootstrap, src, sink, cfg.partitions, len(records), passthrough.no_crypto
                    )
                )
            )
            with_crypto.append(
                asyncio.run(
                    passthrough.passthrough(
                        bootstrap, src, sink, cfg.partitions, len(records), crypto
                    )
                )
            )
        result["aiokafka_passthrough"] = {
            "messages_per_s": _median(bare, "messages_per_s"),
            "with_crypto_messages_per_s": _median(with_crypto, "messages_per_s"),
        }

        say("stage 3: the pipeline (processors + vendors + customers)…")
        result["pipeline"] = _pipeline_stage(cfg, bootstrap, work, kafka_pid, say)
        p = result["pipeline"]["throughput"]
        ceiling = result["aiokafka_passthrough"]
        result["ratios"] = {
            "pipeline_vs_passthrough": round(
                p["processor_inputs_per_s"] / ceiling["messages_per_s"], 3),
            "pipeline_vs_passthrough_with_crypto": round(
                p["processor_inputs_per_s"] / ceiling["with_crypto_messages_per_s"], 3),
            "passthrough_vs_kafka_producer": round(
                ceiling["messages_per_s"] / result["kafka_tools"]["producer_records_per_s"], 3),
        }  # fmt: skip
    finally:
        if node is not None:
            node.stop()
    cfg.out.parent.mkdir(parents=True, exist_ok=True)
    cfg.out.write_bytes(orjson.dumps(result, option=orjson.OPT_INDENT_2))
    return result


def _pipeline_stage(
    cfg: BenchConfig, bootstrap: str, work: Path, kafka_pid: int | None, say: Say
) -> dict[str, Any]:
    workers = [
        Processors(bootstrap, work / f"processors-{i}", work / f"processors-{i}.log",
                   env={"INTENTCAST_PARTITIONS": str(cfg.partitions)})
        for i in range(cfg.workers)
    ]  # fmt: skip
    log = workers[0].log
    vend_log = (work / "vendors.log").open("wb")
    vend = subprocess.Popen(
        [sys.executable, "-m", "intentcast.bench.vendors_proc", "--vendors", str(cfg.vendors),
         "--bootstrap", bootstrap], stdout=vend_log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    pids = {"vendors": vend.pid, "driver": _self_pid()}
    for i, w in enumerate(workers):
        w.start()
        assert w.proc is not None
        pids["processors" if i == 0 else f"processors-{i}"] = w.proc.pid
    if kafka_pid:
        pids["kafka"] = kafka_pid
    try:
        say(f"  warm-up: {cfg.warmup} intents")
        warm = asyncio.run(pipeline.run_load(bootstrap, cfg.partitions, cfg.warmup,
                                             cfg.vendors, None, 180))  # fmt: skip
        if warm.agreements < cfg.warmup:
            raise RuntimeError(f"warm-up finished only {warm.agreements} of {cfg.warmup}; "
                               f"see {log}")  # fmt: skip
        runs, last = [], None
        before = {k: sample(pid) for k, pid in pids.items()}
        t0 = time.perf_counter()
        for i in range(cfg.repeats):
            say(f"  throughput run {i + 1}/{cfg.repeats}: {cfg.intents} intents, max speed")
            last = asyncio.run(pipeline.run_load(bootstrap, cfg.partitions, cfg.intents,
                                                 cfg.vendors, None, 600))  # fmt: skip
            runs.append(last.summary())
        cpu = {k: usage(pid, before[k], time.perf_counter() - t0) for k, pid in pids.items()}
        assert last is not None
        by_rate = []
        if not cfg.skip_latency:
            for rate in cfg.latency_rates:
                n_lat = int(rate * cfg.latency_seconds)
                say(f"  latency run: {n_lat} intents at {rate:.0f}/s")
                run = asyncio.run(pipeline.run_load(bootstrap, cfg.partitions, n_lat,
                                                    cfg.vendors, rate, 300))  # fmt: skip
                by_rate.append((rate, run))
        lat = by_rate[0][1] if by_rate else last
        plot = cfg.out.with_suffix(".png")
        save_plot(
            plot,
            {"intent → first offer": lat.first_offer, "acceptance → agreement": lat.agreement},
            last.timeline,
            f"Intentcast pipeline, {cfg.vendors} vendors, {cfg.partitions} partitions",
        )
        keys = ("intents_per_s", "offers_per_s", "agreements_per_s", "processor_inputs_per_s")
        return {
            "throughput": {k: _median(runs, k) for k in keys},
            "throughput_runs": runs,
            "latency_at_rate": lat.summary() | {"rate": by_rate[0][0] if by_rate else None},
            "latency_by_rate": [run.summary() | {"rate": rate} for rate, run in by_rate],
            "processes": cpu, "plot": str(plot),
        }  # fmt: skip
    finally:
        for w in workers:
            w.stop()
        vend.terminate()
        try:
            vend.wait(timeout=30)
        except subprocess.TimeoutExpired:
            vend.kill()
            vend.wait()
        vend_log.close()


def _cpus() -> int:
    import os

    return os.cpu_count() or 0


def _self_pid() -> int:
    import os

    return os.getpid()
