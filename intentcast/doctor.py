"""`intentcast doctor`: what this machine needs to run Intentcast, and what to do where it lacks.

Each check is one line (`ok`, `missing` or `warn`, then what was found and what to do), so a
user pastes the whole answer into an issue and a script greps it; `--json` says the same for
programs. Exit 1 when anything needed is missing. Java, the Kafka jars and the two ports are
needed only to start a local Kafka: when a broker already answers they are merely reported.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import shutil
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Literal

import orjson
import typer
from rich.markup import escape

from intentcast.broker.kafka_local.distribution import KAFKA_VERSION, cache_root
from intentcast.broker.kafka_local.node import port_free
from intentcast.broker.settings import BrokerSettings
from intentcast.broker.topic_admin import planned_core
from intentcast.console import console
from intentcast.schemas import METRICS, MetricsSnapshot, SchemaError, decode

__all__ = ["Check", "TopicProblem", "doctor", "quiet_kafka_client", "topic_problems"]

Status = Literal["ok", "missing", "warn", "skipped"]
JAVA_MIN = 17
LOCAL_HOSTS = frozenset({"127.0.0.1", "localhost", "::1", "0.0.0.0", ""})
_JAVA_VERSION = re.compile(r'version "(\d+)(?:\.(\d+))?')
_COLOUR = {"ok": "green", "missing": "red", "warn": "yellow", "skipped": "dim"}


@dataclass(frozen=True)
class Check:
    """One line of the answer. `needed` checks that are not ok make the exit status 1."""

    name: str
    status: Status
    detail: str
    hint: str = ""
    needed: bool = True

    @property
    def failed(self) -> bool:
        return self.needed and self.status == "missing"

    def line(self) -> str:
        hint = f" → {self.hint}" if self.hint else ""
        return f"{self.status:<8} {self.name:<11} {self.detail}{hint}"


# -- the machine: Java, Kafka jars, ports, codecs (no network) --


def java_version(java: str) -> int | None:
    """The major version `java -version` reports (1.8 counts as 8); None if it does not run."""
    try:
        out = subprocess.run(
            [java, "-version"], capture_output=True, text=True, timeout=20, check=False
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    found = _JAVA_VERSION.search(out.stderr + out.stdout)
    if found is None:
        return None
    major = int(found[1])
    return int(found[2] or 0) if major == 1 else major


def check_java(find: Callable[[], Path]) -> Check:
    hint = f"install Java {JAVA_MIN}+ (e.g. `apt install openjdk-{JAVA_MIN}-jre-headless`)"
    try:
        java = find()
    except Exception:
        return Check("java", "missing", "no java on PATH and JAVA_HOME is not set", hint)
    major = java_version(str(java))
    if major is None:
        return Check("java", "missing", f"{java} does not report a version", hint)
    if major < JAVA_MIN:
        return Check("java", "missing", f"Java {major} at {java}; Kafka 4 needs {JAVA_MIN}+", hint)
    return Check("java", "ok", f"Java {major} at {java}")


def check_kafka_jars(environ: dict[str, str]) -> Check:
    """Where `intentcast kafka start` would take Kafka from, in the launcher's own order."""
    home = environ.get("KAFKA_HOME")
    if home:
        if any((Path(home) / "libs").glob("kafka_2.13-*.jar")):
            return Check("kafka jars", "ok", f"KAFKA_HOME={home}")
        return Check(
            "kafka jars",
            "missing",
            f"KAFKA_HOME={home} has no libs/kafka_2.13-*.jar",
            "point KAFKA_HOME at an unpacked Apache Kafka 4.x, or unset it",
        )
    cached = cache_root() / f"kafka-{KAFKA_VERSION}"
    if (cached / ".complete").exists():
        return Check("kafka jars", "ok", f"Kafka {KAFKA_VERSION} cached in {cached}")
    mvn = shutil.which("mvn")
    if mvn:
        return Check(
            "kafka jars", "ok", f"not cached yet; Maven at {mvn} fetches them at the first start"
        )
    return Check(
        "kafka jars",
        "missing",
        f"no Maven, no KAFKA_HOME and nothing cached in {cached}",
        "install Maven (`apt install maven`) or set KAFKA_HOME to an unpacked Kafka 4.x",
    )


def split_bootstrap(bootstrap: str) -> tuple[str, int]:
    """Host and port of the first bootstrap server (Kafka's default port when none is given)."""
    first = bootstrap.split(",")[0].strip()
    first = first.split("://")[-1]
    host, _, port = first.rpartition(":")
    if not host:
        return port.strip("[]"), 9092
    return host.strip("[]"), int(port) if port.isdigit() else 9092


def check_ports(bootstrap: str, broker_answers: bool) -> Check:
    """The launcher's client port and controller port (port + 1) must be free to start one."""
    host, port = split_bootstrap(bootstrap)
    if host not in LOCAL_HOSTS:
        return Check("ports", "skipped", f"{host} is not this machine", needed=False)
    if broker_answers:
        return Check("ports", "ok", f"{port} is the Kafka that answers; nothing to start")
    taken = [p for p in (port, port + 1) if not port_free(p)]
    if taken:
        names = " and ".join(str(p) for p in taken)
        return Check(
            "ports",
            "missing",
            f"{names} taken by a program that is not Kafka",
            f"free it, or use another: `intentcast kafka start --port {port + 2}` with "
            f"INTENTCAST_BOOTSTRAP=127.0.0.1:{port + 2}",
        )
    return Check("ports", "ok", f"{port} and {port + 1} free for `intentcast kafka start`")


def _roundtrip(encode: Callable[[bytes], bytes], decode_: Callable[[bytes], bytes]) -> bool:
    sample = b"intentcast doctor " * 64
    try:
        return decode_(encode(sample)) == sample
    except Exception:
        return False


def check_codecs() -> Check:
    """A batch in a codec the client cannot decode crashes the worker (docs/reliability.md)."""
    from aiokafka import codec

    codecs = {
        "gzip": (codec.has_gzip, codec.gzip_encode, codec.gzip_decode),
        "snappy": (codec.has_snappy, codec.snappy_encode, codec.snappy_decode),
        "lz4": (codec.has_lz4, codec.lz4_encode, codec.lz4_decode),
        "zstd": (codec.has_zstd, codec.zstd_encode, codec.zstd_decode),
    }
    lacking = [n for n, (has, enc, dec) in codecs.items() if not (has() and _roundtrip(enc, dec))]
    if lacking:
        return Check(
            "codecs",
            "missing",
            f"aiokafka cannot decode {', '.join(lacking)}",
            "pip install 'aiokafka[lz4,snappy,zstd]' (it brings cramjam)",
        )
    return Check("codecs", "ok", "gzip, snappy, lz4 and zstd decode")


# -- the broker: does it answer, is the layout right, do the processors publish metrics --


@contextlib.contextmanager
def quiet_kafka_client() -> Iterator[None]:
    """aiokafka logs every refused connection at error level; our own sentence says it better."""
    logger = logging.getLogger("aiokafka")
    before = logger.level
    logger.setLevel(logging.CRITICAL)
    try:
        yield
    finally:
        logger.setLevel(before)


@dataclass(frozen=True)
class TopicProblem:
    """A topic of the layout that is missing (`found` None) or has other partitions."""

    name: str
    expected: int
    found: int | None


def expected_layout(settings: BrokerSettings) -> dict[str, int]:
    """Topics the processors read or write, with their partitions (the ticks topic is not
    there: `broker run` creates it for its own app id)."""
    ticks = settings.app_id + ".ticks"
    return {t.name: t.partitions for t in planned_core(settings) if t.name != ticks}


async def topic_problems(admin: Any, settings: BrokerSettings) -> list[TopicProblem]:
    """Compare the cluster with the layout; `admin` is a started AIOKafkaAdminClient."""
    wanted = expected_layout(settings)
    described = await admin.describe_topics(list(wanted))
    found = {t["topic"]: len(t["partitions"]) for t in described if t["error_code"] == 0}
    return [
        TopicProblem(name, count, found.get(name))
        for name, count in wanted.items()
        if found.get(name) != count
    ]


def describe_problems(problems: list[TopicProblem]) -> str:
    """One sentence for any number of problems: the first three, then how many more."""
    parts = [
        f"{p.name} missing"
        if p.found is None
        else f"{p.name} has {p.found} partitions, not {p.expected}"
        for p in problems
    ]
    more = f" and {len(parts) - 3} more" if len(parts) > 3 else ""
    return ", ".join(parts[:3]) + more


def _layout_check(problems: list[TopicProblem], settings: BrokerSettings) -> Check:
    if not problems:
        count = len(expected_layout(settings))
        return Check(
            "topics", "ok", f"{count} topics, {settings.partitions} partitions where keyed"
        )
    if all(p.found is None for p in problems):
        hint = "run `intentcast topics create`"
    else:
        hint = (
            "every intent-keyed topic needs INTENTCAST_PARTITIONS partitions: set it to "
            "what the topics have, or recreate them"
        )
    return Check("topics", "missing", describe_problems(problems), hint)


async def recent_processors(
    kwargs: dict[str, Any], window: float, timeout: float
) -> dict[str, float]:
    """Processor sources with a record on the metrics topic in the last `window` seconds,
    and how many seconds ago each last published (read without a consumer group)."""
    from aiokafka import AIOKafkaConsumer

    from intentcast.broker.kafka_meta import topic_partitions

    tps = await topic_partitions(kwargs, [METRICS], wait_s=0.0, missing_ok=True)
    if not tps:
        return {}
    consumer = AIOKafkaConsumer(**kwargs, group_id=None, enable_auto_commit=False)
    await consumer.start()
    seen: dict[str, float] = {}
    try:
        now = time.time()
        hits = await consumer.offsets_for_times({tp: int((now - window) * 1000) for tp in tps})
        ends = await consumer.end_offsets(tps)
        todo = {tp: ends[tp] for tp, hit in hits.items() if hit is not None}
        consumer.assign(list(todo))
        for tp in todo:
            found = hits[tp]
            assert found is not None
            consumer.seek(tp, found.offset)
        deadline = time.monotonic() + timeout
        while todo and time.monotonic() < deadline:
            batch = await consumer.getmany(timeout_ms=200)
            for tp, records in batch.items():
                for record in records:
                    _note_source(seen, record.value, record.timestamp / 1000, now)
                if records and records[-1].offset + 1 >= todo.get(tp, 0):
                    todo.pop(tp, None)
    finally:
        await consumer.stop()
    return seen


def _note_source(seen: dict[str, float], value: bytes | None, at: float, now: float) -> None:
    try:
        source = decode(MetricsSnapshot, value or b"").source
    except SchemaError:
        return
    if source.startswith("processor:"):
        seen[source] = max(0.0, now - at)


def _processors_check(seen: dict[str, float], window: float) -> Check:
    if not seen:
        return Check(
            "processors",
            "missing",
            f"no processor published metrics in the last {window:.0f} s",
            "start them: `intentcast broker run` (under a supervisor in production)",
        )
    newest = min(seen.values())
    return Check("processors", "ok", f"{len(seen)} alive, last metrics {newest:.0f} s ago")


async def broker_checks(settings: BrokerSettings, timeout: float) -> list[Check]:
    """Broker, topics and processors: the latter two only mean something when it answers."""
    from aiokafka.admin import AIOKafkaAdminClient

    bootstrap = settings.bootstrap
    kwargs = settings.kafka_kwargs()
    admin = AIOKafkaAdminClient(**kwargs, request_timeout_ms=int(timeout * 1000))
    try:
        await asyncio.wait_for(admin.start(), timeout)
        cluster = await asyncio.wait_for(admin.describe_cluster(), timeout)
        problems = await asyncio.wait_for(topic_problems(admin, settings), timeout)
    except Exception as exc:
        reason = "no answer" if isinstance(exc, TimeoutError) else type(exc).__name__
        skipped = "no broker to ask"
        return [
            Check(
                "broker",
                "missing",
                f"no Kafka answers at {bootstrap} ({reason})",
                "start one: `intentcast kafka start`, or set --bootstrap / INTENTCAST_BOOTSTRAP",
            ),
            Check("topics", "skipped", skipped, needed=False),
            Check("processors", "skipped", skipped, needed=False),
        ]
    finally:
        with contextlib.suppress(Exception):
            await admin.close()
    brokers = len(cluster.get("brokers", []))
    checks = [
        Check("broker", "ok", f"Kafka answers at {bootstrap} ({brokers} broker(s))"),
        _layout_check(problems, settings),
    ]
    window = max(30.0, 3 * settings.metrics_interval_seconds)
    try:
        seen = await asyncio.wait_for(recent_processors(kwargs, window, timeout), timeout * 2)
    except Exception as exc:
        checks.append(
            Check(
                "processors",
                "missing",
                f"cannot read {METRICS}: {type(exc).__name__}",
                "check the principal's READ on the metrics topic",
            )
        )
    else:
        checks.append(_processors_check(seen, window))
    return checks


# -- the command --


def run_checks(settings: BrokerSettings, timeout: float) -> list[Check]:
    """Every check, in the order a user fixes them: the machine first, then the broker."""
    import os

    from intentcast.broker.kafka_local.distribution import find_java

    with quiet_kafka_client():
        remote = asyncio.run(broker_checks(settings, timeout))
    answers = remote[0].status == "ok"
    local = [check_java(find_java), check_kafka_jars(dict(os.environ))]
    if answers:  # a broker is there: Java and the jars are needed only to start one
        local = [
            c if c.status == "ok" else Check(c.name, "warn", c.detail, c.hint, needed=False)
            for c in local
        ]
    return [*local, check_ports(settings.bootstrap, answers), check_codecs(), *remote]


def doctor(
    bootstrap: str | None = typer.Option(
        None,
        "--bootstrap",
        "-b",
        help="Kafka bootstrap (default: $INTENTCAST_BOOTSTRAP or "
        "127.0.0.1:9092); its port and port + 1 are the ports checked.",
    ),
    json_out: bool = typer.Option(False, "--json", help="Print the checks as one JSON object."),
    timeout: float = typer.Option(5.0, min=0.5, help="Seconds to wait for each broker request."),
) -> None:
    """Check what this machine needs (Java 17+, Kafka jars or Maven, free ports, a broker, the
    topic layout, live processors, compression codecs) and say what to do for what is missing.

    Exit 1 when anything needed is missing; each check is one line.
    """
    settings = BrokerSettings()
    if bootstrap:
        settings = settings.model_copy(update={"bootstrap": bootstrap})
    checks = run_checks(settings, timeout)
    ok = not any(c.failed for c in checks)
    if json_out:
        document = {
            "ok": ok,
            "bootstrap": settings.bootstrap,
            "checks": [{**asdict(c), "failed": c.failed} for c in checks],
        }
        print(orjson.dumps(document).decode())
    else:
        for check in checks:
            colour = _COLOUR[check.status]
            console.print(f"[{colour}]{escape(check.line())}[/]", soft_wrap=True, highlight=False)
        verdict = "everything needed is there" if ok else "something needed is missing (above)"
        console.print(verdict, soft_wrap=True, highlight=False)
    if not ok:
        raise typer.Exit(1)
