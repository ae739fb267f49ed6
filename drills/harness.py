"""The drills' common harness: a Kafka of their own, topics, processors, vendor processes, verdict.

Everything a drill starts is a child process supervised by PID, stopped again at the end. A
drill never shares a broker with other processors: two processor deployments on one set of
topics would each append to the agreement log.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any, TypeVar

import typer
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType
from rich.console import Console
from rich.table import Table

from drills.counters import counters_as_of
from drills.vendors import DRILL_MARKET, DRILL_VENDORS
from intentcast.broker.kafka_local import KafkaNode, resolve_distribution
from intentcast.broker.kafka_local.cluster import LocalCluster
from intentcast.broker.kafka_local.node import free_port
from intentcast.broker.settings import BrokerSettings
from intentcast.broker.topic_admin import create_all
from intentcast.processes import Processors

console = Console()
APP_ID = "drill-processors"
# the options every drill script takes (typer reads one OptionInfo per use)
WORKDIR_OPTION = typer.Option(None, help="Folder for Kafka and logs (default: a temp folder).")
OUT_OPTION = typer.Option(None, help="JSON result file (default .intentcast/drills/).")


def free_base_port(span: int) -> int:
    """A port p with p .. p+span-1 free (clusters need consecutive ports)."""
    for _ in range(50):
        base = free_port()
        if base + span < 65000 and all(_free(base + i) for i in range(span)):
            return base
    raise RuntimeError("no run of free ports found on 127.0.0.1")


def _free(port: int) -> bool:
    from intentcast.broker.kafka_local.node import port_free

    return port_free(port)


@dataclass
class Stack:
    """Kafka (one node or a cluster), the topics, the processors and the drill vendors."""

    workdir: Path
    nodes: int = 1
    bootstrap_override: str | None = None
    partitions: int = 6
    vendors: tuple[str, ...] = DRILL_VENDORS
    vendor_instances: int = 1
    processor_env: dict[str, str] = field(default_factory=dict)
    node: KafkaNode | None = None
    cluster: LocalCluster | None = None
    processors: Processors | None = None
    vendor_procs: dict[str, list[subprocess.Popen[bytes]]] = field(default_factory=dict)
    processor_restarts: int = 0
    processor_exit_statuses: list[int | None] = field(default_factory=list)

    @property
    def bootstrap(self) -> str:
        if self.bootstrap_override:
            return self.bootstrap_override
        if self.cluster is not None:
            return self.cluster.bootstrap
        assert self.node is not None
        return self.node.bootstrap

    @property
    def replication(self) -> int:
        return 3 if self.nodes >= 3 else 1

    def settings(self) -> BrokerSettings:
        return BrokerSettings(
            bootstrap=self.bootstrap,
            app_id=APP_ID,
            partitions=self.partitions,
            replication=self.replication,
            min_insync_replicas=2 if self.nodes >= 3 else 1,
        )

    # -- lifecycle -----------------------------------------------------------------------

    def start_kafka(self) -> None:
        if self.bootstrap_override:
            return
        dist = resolve_distribution()
        if self.nodes > 1:
            self.cluster = LocalCluster(
                dist=dist,
                data_dir=self.workdir / "cluster",
                base_port=free_base_port(2 * self.nodes),
                nodes=self.nodes,
                replication=min(3, self.nodes),
                min_isr=min(2, self.nodes),
            )
            self.cluster.start()
        else:
            self.node = KafkaNode(
                dist=dist,
                data_dir=self.workdir / "kafka",
                port=free_port(),
                controller_port=free_port(),
            )
            self.node.start(timeout=120)

    def start_processors(self) -> None:
        s = self.settings()
        env = {
            "INTENTCAST_APP_ID": s.app_id,
            "INTENTCAST_PARTITIONS": str(s.partitions),
            "INTENTCAST_REPLICATION": str(s.replication),
            "INTENTCAST_MIN_INSYNC_REPLICAS": str(s.min_insync_replicas),
            "INTENTCAST_EXPIRY_TICK_SECONDS": "0.5",
            "INTENTCAST_METRICS_INTERVAL_SECONDS": "2",
            # a worker killed with -9 leaves the group after this long (the default is 10 s)
            "INTENTCAST_SESSION_TIMEOUT_SECONDS": "8",
            "INTENTCAST_STALL_REWIND_SECONDS": "10",
            **self.processor_env,
        }
        self.processors = Processors(
            self.bootstrap, self.workdir / "processors", self.workdir / "processors.log", env=env
        )
        self.processors.start()

    def start_vendor(self, vendor_id: str) -> subprocess.Popen[bytes]:
        log = (self.workdir / f"vendor-{vendor_id}.log").open("ab")
        proc = subprocess.Popen(
            [sys.executable, "-m", "drills.vendors", vendor_id, "--bootstrap", self.bootstrap],
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        self.vendor_procs.setdefault(vendor_id, []).append(proc)
        return proc

    async def __aenter__(self) -> Stack:
        self.workdir.mkdir(parents=True, exist_ok=True)
        await asyncio.to_thread(self.start_kafka)
        await create_all(self.settings(), vendors=self.vendors, markets=[DRILL_MARKET])
        self.start_processors()
        for vendor_id in self.vendors:
            for _ in range(self.vendor_instances):
                self.start_vendor(vendor_id)
        return self

    async def __aexit__(
        self, et: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        for procs in self.vendor_procs.values():
            for proc in procs:
                stop_child(proc)
        if self.processors is not None:
            await asyncio.to_thread(self.processors.stop)
        if self.cluster is not None:
            await asyncio.to_thread(self.cluster.stop)
        if self.node is not None:
            await asyncio.to_thread(self.node.stop)

    async def supervise(self, stop: asyncio.Event, paused: Callable[[], bool]) -> None:
        """Restart the processors whenever they exit by themselves (documented behaviour)."""
        while not stop.is_set():
            procs = self.processors
            if procs is not None and not procs.alive() and not paused():
                self.processor_restarts += 1
                status = procs.proc.returncode if procs.proc is not None else None
                self.processor_exit_statuses.append(status)
                console.log(f"[yellow]processors exited ({status}); supervisor restarts them[/]")
                procs.start()
            await asyncio.sleep(0.5)

    async def faust_faults(self) -> dict[str, int]:
        """What faust got wrong during the run and the processors mended, as they counted it:
        records it never handed over (read by the hole filler), partitions it stopped handing
        over (read again by the stall watch)."""
        running = self.processors is not None and self.processors.alive()
        counters = await counters_as_of(self.settings(), time.time() if running else None)
        return {
            "skipped_records_read": counters["consumer.skips_filled"],
            "rereads": counters["consumer.rereads"],
            "reread_records": counters["consumer.reread_records"],
        }

    def rss_kib(self) -> int | None:
        """Resident memory of the processors' process (VmRSS), if it runs."""
        procs = self.processors
        if procs is None or procs.proc is None or not procs.alive():
            return None
        return vm_rss_kib(procs.proc.pid)


async def topic_config(bootstrap: str, topic: str) -> dict[str, Any]:
    """A topic's replica count per partition and its effective configuration, from the cluster."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        described = await admin.describe_topics([topic])
        responses = await admin.describe_configs([ConfigResource(ConfigResourceType.TOPIC, topic)])
    finally:
        await admin.close()
    entries: dict[str, Any] = {}
    for response in responses:
        for resource in response.resources:
            entries.update({entry[0]: entry[1] for entry in resource[4]})
    entries["replicas"] = sorted({len(p["replicas"]) for p in described[0]["partitions"]})
    return entries


def vm_rss_kib(pid: int) -> int | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        return None
    return None


def stop_child(proc: subprocess.Popen[bytes], timeout: float = 20.0) -> None:
    """SIGTERM by PID, SIGKILL if it does not exit in time."""
    if proc.poll() is not None:
        return
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


T = TypeVar("T")


def run_drill(drill: Coroutine[Any, Any, T]) -> T:
    """asyncio.run, with SIGTERM treated like Ctrl-C: a drill stopped by `timeout` or a CI
    runner still stops the Kafka, processors and vendors it started (its `finally` blocks run)."""

    def interrupt(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, interrupt)
    return asyncio.run(drill)


def workdir_for(name: str, given: Path | None) -> Path:
    if given is not None:
        return given
    return Path(tempfile.mkdtemp(prefix=f"intentcast-drill-{name}-"))


def report(name: str, result: dict[str, Any], out: Path | None) -> None:
    """Print the verdict as a table and write the JSON result."""
    table = Table(title=f"drill {name}: {'PASS' if result.get('passed') else 'FAIL'}")
    table.add_column("measure")
    table.add_column("value", justify="right")
    for key, value in result.items():
        if isinstance(value, dict | list):
            value = json.dumps(value, default=str)[:200]
        table.add_row(key, str(value))
    console.print(table)
    path = out or Path(".intentcast/drills") / f"{name}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(result, indent=2, default=str) + "\n")
    console.print(f"result written to {path}")


async def until(condition: Callable[[], bool], interval: float = 0.05) -> None:
    """Poll a condition of our own state (no Kafka round trip) until it holds."""
    while True:
        if condition():
            return
        await asyncio.sleep(interval)


def elapsed(since: float) -> float:
    return round(time.monotonic() - since, 1)
