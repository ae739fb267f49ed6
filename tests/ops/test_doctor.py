"""`intentcast doctor`: each check on its own, then the command against the session's Kafka
(with the session's processors running) and against a closed port."""

from __future__ import annotations

import socket
import stat
import subprocess
import time
from pathlib import Path
from typing import Any

import orjson
import pytest

from intentcast.broker.kafka_local.node import free_port
from intentcast.doctor import (
    TopicProblem,
    check_codecs,
    check_java,
    check_kafka_jars,
    check_ports,
    describe_problems,
    split_bootstrap,
)
from intentcast.processes import Processors
from tests.ops.test_ways_in import user_env

STATUSES = ("ok", "missing", "warn", "skipped")


def fake_java(tmp_path: Path, version: str) -> Path:
    script = tmp_path / "java"
    script.write_text(f"#!/bin/sh\necho 'openjdk version \"{version}\" 2020-01-01' >&2\n")
    script.chmod(script.stat().st_mode | stat.S_IEXEC)
    return script


@pytest.mark.parametrize(
    ("version", "status"),
    [("17.0.15", "ok"), ("21", "ok"), ("11.0.2", "missing"), ("1.8.0_412", "missing")],
)
def test_java_needs_17_or_later(tmp_path: Path, version: str, status: str) -> None:
    check = check_java(lambda: fake_java(tmp_path, version))
    assert check.status == status, check
    if status == "missing":
        assert "Java 17+" in check.hint


def test_java_missing_says_how_to_install_it() -> None:
    def nowhere() -> Path:
        raise FileNotFoundError("no java")

    check = check_java(nowhere)
    assert check.failed and "install Java" in check.hint


def test_kafka_jars_from_kafka_home_the_cache_or_maven(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert check_kafka_jars({"KAFKA_HOME": str(tmp_path)}).status == "missing"
    (tmp_path / "libs").mkdir()
    (tmp_path / "libs" / "kafka_2.13-4.1.1.jar").write_bytes(b"")
    assert check_kafka_jars({"KAFKA_HOME": str(tmp_path)}).status == "ok"
    monkeypatch.setenv("INTENTCAST_CACHE_DIR", str(tmp_path / "empty-cache"))
    monkeypatch.setenv("PATH", str(tmp_path / "no-bin"))
    check = check_kafka_jars({})
    assert check.failed and "Maven" in check.hint


def test_ports_taken_by_something_else_are_missing() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        taken = check_ports(f"127.0.0.1:{port}", broker_answers=False)
        assert taken.failed and str(port) in taken.detail and "--port" in taken.hint
        assert check_ports(f"127.0.0.1:{port}", broker_answers=True).status == "ok"
    assert check_ports("kafka.example.com:9092", broker_answers=False).status == "skipped"


def test_bootstrap_addresses_split_into_host_and_port() -> None:
    assert split_bootstrap("127.0.0.1:19092,other:9092") == ("127.0.0.1", 19092)
    assert split_bootstrap("localhost") == ("localhost", 9092)
    assert split_bootstrap("[::1]:9093") == ("::1", 9093)


def test_every_codec_decodes_here() -> None:
    assert check_codecs().status == "ok"  # the dependency pins aiokafka[lz4,snappy,zstd]


def test_many_topic_problems_fit_one_line() -> None:
    problems = [TopicProblem(f"t{i}", 6, None if i % 2 else 3) for i in range(5)]
    text = describe_problems(problems)
    assert text == "t0 has 3 partitions, not 6, t1 missing, t2 has 3 partitions, not 6 and 2 more"


# -- the command --


def doctor(bootstrap: str, tmp_path: Path, *extra: str, **env: str) -> tuple[int, str]:
    done = subprocess.run(
        ["intentcast", "doctor", "--bootstrap", bootstrap, *extra],
        cwd=tmp_path, env=user_env(tmp_path, **env), capture_output=True, text=True, timeout=90,
    )  # fmt: skip
    assert "Traceback" not in done.stderr, done.stderr
    return done.returncode, done.stdout


def checks_of(stdout: str) -> dict[str, dict[str, Any]]:
    document = orjson.loads(stdout)
    return {c["name"]: c for c in document["checks"]}


@pytest.mark.kafka
def test_doctor_on_the_session_kafka_with_processors_is_all_ok(
    kafka_bootstrap: str, processors: Processors, tmp_path: Path
) -> None:
    deadline = time.monotonic() + 90  # the fixture returns once the worker process started
    while True:
        status, stdout = doctor(kafka_bootstrap, tmp_path, "--json")
        checks = checks_of(stdout)
        if checks["processors"]["status"] == "ok" or time.monotonic() > deadline:
            break
        time.sleep(1.0)
    assert status == 0 and orjson.loads(stdout)["ok"], stdout
    assert list(checks) == [
        "java", "kafka jars", "ports", "codecs", "broker", "topics", "processors",
    ]  # fmt: skip
    assert all(c["status"] == "ok" for c in checks.values()), checks
    status, text = doctor(kafka_bootstrap, tmp_path)
    lines = text.splitlines()
    assert status == 0 and len(lines) == len(checks) + 1, text  # one line each, then the verdict
    assert all(line.split()[0] in STATUSES for line in lines[:-1])
    assert lines[-1] == "everything needed is there"


@pytest.mark.kafka
def test_doctor_names_topics_with_other_partition_counts(
    kafka_bootstrap: str, flow_topics: None, tmp_path: Path
) -> None:
    status, stdout = doctor(kafka_bootstrap, tmp_path, "--json", INTENTCAST_PARTITIONS="3")
    topics = checks_of(stdout)["topics"]
    assert status == 1 and topics["failed"]
    assert "partitions, not 3" in topics["detail"] and "INTENTCAST_PARTITIONS" in topics["hint"]


def test_doctor_against_a_closed_port_fails_the_broker_check_with_a_hint(tmp_path: Path) -> None:
    closed = f"127.0.0.1:{free_port()}"
    status, stdout = doctor(closed, tmp_path, "--json")
    checks = checks_of(stdout)
    assert status == 1
    assert checks["broker"]["failed"] and "intentcast kafka start" in checks["broker"]["hint"]
    assert checks["topics"]["status"] == checks["processors"]["status"] == "skipped"
    status, text = doctor(closed, tmp_path)
    broker = [line for line in text.splitlines() if line.split()[1:2] == ["broker"]]
    assert status == 1 and len(broker) == 1, text
    assert broker[0].startswith("missing") and closed in broker[0]
    assert "→ start one: `intentcast kafka start`" in broker[0]
