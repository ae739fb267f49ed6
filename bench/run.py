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
from intentcast.bench.fanout import Fanout
from intentcast.bench.mix import message_mix
from intentcast.bench.output_count import output_offsets, written_between
from intentcast.bench.peers import PeerJob
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
    fractions: tuple[float, ...] = (0.25, 0.5, 0.75)  # of the maximum sustained intent rate
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
    """Every stage on one broker, in one run: the pipeline first, since the like-for-like
    ceilings and the peers write as many records per input as it did."""
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
        say("building the message mix (signing every message)…")
        records, crypto = message_mix(cfg.intents, cfg.vendors)
        size = int(statistics.mean(len(v) for _, v in records))
        result["message_size_bytes"] = size
        result["crypto_us"] = _crypto_figures()
        result["kafka_tools"] = _tools_stage(cfg, dist, bootstrap, len(records), size, say)

        say("the pipeline (processors + vendors + customers)…")
        result["pipeline"] = _pipeline_stage(cfg, bootstrap, work, kafka_pid, say)
        fanout = result["pipeline"]["outputs_per_input"]
        if fanout <= 0:
            raise RuntimeError("the pipeline wrote no output records: see the processors' log")

        src = f"bench.src.{int(time.time())}"
        asyncio.run(_topics(bootstrap, [src], cfg.partitions))
        asyncio.run(passthrough.fill(bootstrap, src, records))
        say(f"ceilings and peers: {len(records)} inputs, {fanout:.2f} outputs per input…")
        result["ceilings"] = _ceilings_stage(cfg, bootstrap, src, records, crypto, fanout, say)
        result["ratios"] = _ratios(result)
        _plot(cfg, result)
    finally:
        if node is not None:
            node.stop()
    cfg.out.parent.mkdir(parents=True, exist_ok=True)
    cfg.out.write_bytes(orjson.dumps(result, option=orjson.OPT_INDENT_2))
    return result


def _tools_stage(
    cfg: BenchConfig, dist: Any, bootstrap: str, per_run: int, size: int, say: Say
) -> dict[str, float]:
    say(f"Kafka's own tools, {per_run} records of {size} B…")
    perf = f"bench.perf.{int(time.time())}"
    asyncio.run(_topics(bootstrap, [perf], cfg.partitions))
    prod = [kafka_tools.producer_perf(dist, bootstrap, perf, per_run, size)
            for _ in range(cfg.repeats)]  # fmt: skip
    cons = [kafka_tools.consumer_perf(dist, bootstrap, perf, per_run)
            for _ in range(cfg.repeats)]  # fmt: skip
    return {
        "producer_records_per_s": _median(prod, "records_per_s"),
        "producer_p99_ms": _median(prod, "latency_p99_ms"),
        "consumer_records_per_s": statistics.median(cons),
    }


def _aiokafka(job: PeerJob) -> dict[str, Any]:
    return asyncio.run(passthrough.passthrough(job))


# the peers are imported only when they run: `intentcast bench --help` and the pipeline stage
# do not pay for three more Kafka stacks
def _confluent(job: PeerJob) -> dict[str, Any]:
    from intentcast.bench.peers import confluent_passthrough

    return confluent_passthrough.passthrough(job)


def _faststream(job: PeerJob) -> dict[str, Any]:
    from intentcast.bench.peers import faststream_peer

    return asyncio.run(faststream_peer.run(job))


def _quix(job: PeerJob) -> dict[str, Any]:
    from intentcast.bench.peers import quix_peer

    return quix_peer.run(job)  # installs signal handlers: the main thread


@dataclass(frozen=True)
class Ceiling:
    name: str
    run: Callable[[PeerJob], dict[str, Any]]
    crypto: bool = True  # the per-kind checks, or decode only
    like_for_like: bool = True  # the pipeline's outputs per input, commits after acks


# the first two are the older ceilings, kept for comparison with earlier results
CEILINGS = (
    Ceiling("aiokafka passthrough", _aiokafka, crypto=False, like_for_like=False),
    Ceiling("aiokafka passthrough + crypto", _aiokafka, like_for_like=False),
    Ceiling("aiokafka like-for-like", _aiokafka),
    Ceiling("confluent-kafka like-for-like", _confluent),
    Ceiling("FastStream peer", _faststream),
    Ceiling("Quix Streams peer", _quix),
)


def _ceilings_stage(
    cfg: BenchConfig,
    bootstrap: str,
    src: str,
    records: list[tuple[bytes, bytes]],
    crypto: Callable[[bytes], None],
    fanout: float,
    say: Say,
) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for ceiling in CEILINGS:
        runs = []
        for i in range(cfg.repeats):
            tag = f"{len(out)}.{i}.{int(time.time())}"
            sink = f"bench.sink.{tag}"
            asyncio.run(_topics(bootstrap, [sink], cfg.partitions))
            job = PeerJob(
                bootstrap, src, sink, cfg.partitions, len(records),
                work=crypto if ceiling.crypto else passthrough.no_crypto,
                fanout=Fanout(fanout if ceiling.like_for_like else 1.0),
                group_id=f"bench-{tag}" if ceiling.like_for_like else None,
            )  # fmt: skip
            say(f"  {ceiling.name}, run {i + 1}/{cfg.repeats}")
            runs.append(ceiling.run(job))
        out[ceiling.name] = {"messages_per_s": _median(runs, "messages_per_s"), "runs": runs}
    return out


def _ratios(result: dict[str, Any]) -> dict[str, float]:
    pipe = result["pipeline"]["throughput"]["processor_inputs_per_s"]
    ceilings = result["ceilings"]
    ratios = {
        f"pipeline_vs_{_slug(name)}": round(pipe / max(c["messages_per_s"], 1e-9), 3)
        for name, c in ceilings.items()
    }
    raw = ceilings["aiokafka passthrough"]["messages_per_s"]
    ratios["passthrough_vs_kafka_producer"] = round(
        raw / result["kafka_tools"]["producer_records_per_s"], 3
    )
    return ratios


def _slug(name: str) -> str:
    return name.lower().replace(" + ", "_with_").replace("-", "_").replace(" ", "_")


def _crypto_figures(rounds: int = 2000) -> dict[str, float]:
    """This machine's own Ed25519 and sealed-box costs, beside every ratio of the run."""
    from nacl.public import PrivateKey, SealedBox
    from nacl.signing import SigningKey

    key = SigningKey.generate()
    signed = key.sign(b"x" * 300)
    verify = key.verify_key
    box = SealedBox(PrivateKey.generate().public_key)

    def per_call(fn: Callable[[], object]) -> float:
        start = time.perf_counter()
        for _ in range(rounds):
            fn()
        return round((time.perf_counter() - start) / rounds * 1e6, 1)

    return {
        "ed25519_sign_us": per_call(lambda: key.sign(b"x" * 300)),
        "ed25519_verify_us": per_call(lambda: verify.verify(signed)),
        "sealed_box_seal_us": per_call(lambda: box.encrypt(b"x" * 600)),
    }


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
        counted = asyncio.run(output_offsets(bootstrap))
        before = {k: sample(pid) for k, pid in pids.items()}
        t0 = time.perf_counter()
        for i in range(cfg.repeats):
            say(f"  throughput run {i + 1}/{cfg.repeats}: {cfg.intents} intents, max speed")
            last = asyncio.run(pipeline.run_load(bootstrap, cfg.partitions, cfg.intents,
                                                 cfg.vendors, None, 600))  # fmt: skip
            runs.append(last.summary())
        cpu = {k: usage(pid, before[k], time.perf_counter() - t0) for k, pid in pids.items()}
        written = written_between(counted, asyncio.run(output_offsets(bootstrap)))
        assert last is not None
        intents_done = sum(r["intents"] for r in runs)
        inputs_done = sum(r["intents"] + r["offers"] + r["agreements"] for r in runs)
        for stats in cpu.values():
            stats["cpu_us_per_intent"] = round(stats["cpu_s"] / max(intents_done, 1) * 1e6, 1)
        keys = ("intents_per_s", "offers_per_s", "agreements_per_s", "processor_inputs_per_s")
        throughput = {k: _median(runs, k) for k in keys}
        max_rate = throughput["intents_per_s"]
        by_fraction, histograms = [], {}
        for fraction in () if cfg.skip_latency else cfg.fractions:
            rate = max(1.0, fraction * max_rate)
            n_lat = max(1, int(rate * cfg.latency_seconds))
            say(f"  latency at {fraction:.0%} of {max_rate:.0f} intents/s: {n_lat} at {rate:.0f}/s")
            run = asyncio.run(pipeline.run_load(bootstrap, cfg.partitions, n_lat,
                                                cfg.vendors, rate, 300))  # fmt: skip
            by_fraction.append(run.summary() | {"fraction": fraction, "rate": round(rate, 1)})
            histograms[fraction] = run
        return {
            "throughput": throughput,
            "throughput_runs": runs,
            "max_sustained_intents_per_s": max_rate,
            "outputs_per_input": round(sum(written.values()) / max(inputs_done, 1), 3),
            "outputs_by_topic": written,
            "latency_by_fraction": by_fraction,
            "processes": cpu,
            "timeline": last.timeline,
            "_latency_runs": histograms,  # for the plot; not written to the JSON
        }
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


def _plot(cfg: BenchConfig, result: dict[str, Any]) -> None:
    pipe = result["pipeline"]
    latencies = {}
    runs: dict[float, pipeline.RunResult] = pipe.pop("_latency_runs")
    for fraction, run in sorted(runs.items()):
        latencies[f"first offer @ {fraction:.0%}"] = run.first_offer
        latencies[f"agreement @ {fraction:.0%}"] = run.agreement
    stages = {"Intentcast pipeline": pipe["throughput"]["processor_inputs_per_s"]}
    stages |= {name: c["messages_per_s"] for name, c in result["ceilings"].items()}
    plot = cfg.out.with_suffix(".png")
    save_plot(
        plot, latencies, [tuple(t) for t in pipe.pop("timeline")],
        f"Intentcast pipeline, {cfg.vendors} vendors, {cfg.partitions} partitions",
        stages=stages,
    )  # fmt: skip
    pipe["plot"] = str(plot)


def _cpus() -> int:
    import os

    return os.cpu_count() or 0


def _self_pid() -> int:
    import os

    return os.getpid()
