"""The ways in: `intentcast broker run` from any folder of a fresh machine, and what it says
when it cannot start (one plain line and a non-zero status, never a traceback).

Each command runs as a user would run it: the installed `intentcast` script, a working
directory of its own and a home with nothing in it. The helpers here are shared with
tests/ops/test_doctor.py and tests/docs/test_readme_using_it.py.
"""

from __future__ import annotations

import asyncio
import os
import re
import secrets
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from aiokafka import AIOKafkaConsumer
from aiokafka.admin import AIOKafkaAdminClient

from intentcast.broker.kafka_local.distribution import cache_root
from intentcast.broker.kafka_local.node import free_port
from intentcast.broker.kafka_meta import topic_partitions
from intentcast.broker.profile_gate import GROUP_SUFFIX
from intentcast.broker.settings import BrokerSettings, default_datadir, state_home
from intentcast.schemas import (
    ACCEPTANCES,
    CANCELS,
    INTENTS_SUBMITTED,
    METRICS,
    OFFERS_SUBMITTED,
    MetricsSnapshot,
    decode,
)
from intentcast.schemas.topics import VENDOR_PROFILE_PATTERN
from tests.watchers import watcher

BIN = Path(sys.executable).parent  # the venv's bin: `intentcast` as installed for a user
INPUTS = (INTENTS_SUBMITTED, OFFERS_SUBMITTED, ACCEPTANCES, CANCELS)


def user_env(root: Path, **extra: str) -> dict[str, str]:
    """A fresh user's environment: an empty home and state folder under `root`, the venv's
    `intentcast` first on PATH, and the shared Kafka jar cache (so nothing is downloaded)."""
    home = root / "home"
    home.mkdir(parents=True, exist_ok=True)
    env = {
        k: v for k, v in os.environ.items() if not k.startswith(("INTENTCAST_", "XDG_", "KAFKA_"))
    }
    env.update(
        HOME=str(home),
        XDG_STATE_HOME=str(root / "state"),
        INTENTCAST_CACHE_DIR=str(cache_root()),
        PATH=f"{BIN}{os.pathsep}{env.get('PATH', '')}",
        PYTHONUNBUFFERED="1",
        COLUMNS="200",
    )
    env.update(extra)
    return env


def stop(proc: subprocess.Popen[bytes], sig: int = signal.SIGINT, timeout: float = 20.0) -> int:
    """Stop a child we started, by its PID: `sig` first (Ctrl-C), then SIGTERM, then SIGKILL."""
    for signum in (sig, signal.SIGTERM):
        if proc.poll() is not None:
            return proc.returncode
        proc.send_signal(signum)
        try:
            return proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            continue
    proc.kill()
    return proc.wait()


def spawn(args: list[str], cwd: Path, env: dict[str, str], logs: Path) -> subprocess.Popen[bytes]:
    """Start a long-running command in the background, its output in `logs`.out and .err."""
    with logs.with_suffix(".out").open("wb") as out, logs.with_suffix(".err").open("wb") as err:
        return subprocess.Popen(
            args, cwd=cwd, env=env, stdout=out, stderr=err, stdin=subprocess.DEVNULL
        )


def one_error_line(stderr: str) -> str:
    """The whole of stderr must be one `error:` sentence: no JSON log lines, no traceback."""
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert len(lines) == 1, f"expected one line on stderr, got:\n{stderr}"
    assert lines[0].startswith("error: "), lines[0]
    assert "Traceback" not in stderr
    return lines[0]


# -- the settings: where the state folder is --


def test_the_data_folder_is_under_the_state_home_per_app_id(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv("INTENTCAST_DATADIR", raising=False)
    monkeypatch.delenv("INTENTCAST_APP_ID", raising=False)
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    assert state_home() == tmp_path / "state"
    assert BrokerSettings().datadir == str(
        tmp_path / "state/intentcast/processors/intentcast-processors"
    )
    assert BrokerSettings(app_id="second-app").datadir == default_datadir("second-app")
    monkeypatch.setenv("XDG_STATE_HOME", "relative/state")  # the XDG spec: ignore it
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert BrokerSettings().datadir.startswith(str(tmp_path / "home/.local/state/intentcast/"))
    monkeypatch.setenv("INTENTCAST_DATADIR", "~/elsewhere")
    assert BrokerSettings().datadir == str(tmp_path / "home/elsewhere")


# -- broker run from a fresh folder, against the session Kafka --


async def start_at_the_end(bootstrap: str, app_id: str) -> None:
    """Commit the new group's offsets at the end of its inputs (and of the vendors' profile
    topics for its profile gate): a second processors group on the session broker would
    otherwise handle every intent of the session again and wake the session's vendors."""
    kwargs = {"bootstrap_servers": bootstrap}
    admin = AIOKafkaAdminClient(**kwargs)
    await admin.start()
    try:
        names = await admin.list_topics()
    finally:
        await admin.close()
    profiles = [n for n in names if re.match(VENDOR_PROFILE_PATTERN, n)]
    for group, topics in ((app_id, INPUTS), (app_id + GROUP_SUFFIX, profiles)):
        tps = await topic_partitions(kwargs, topics, wait_s=10.0)
        if not tps:
            continue
        consumer = AIOKafkaConsumer(**kwargs, group_id=group, enable_auto_commit=False)
        await consumer.start()
        try:
            consumer.assign(tps)
            await consumer.commit(dict((await consumer.end_offsets(tps)).items()))
        finally:
            await consumer.stop()


@pytest.mark.kafka
async def test_broker_run_starts_from_a_fresh_folder_and_creates_its_state_folder(
    kafka_bootstrap: str, flow_topics: None, tmp_path: Path
) -> None:
    app_id = f"waysin-{secrets.token_hex(3)}"
    await start_at_the_end(kafka_bootstrap, app_id)
    metrics = await watcher(kafka_bootstrap, METRICS)
    cwd = tmp_path / "fresh-clone"
    cwd.mkdir()
    env = user_env(
        tmp_path,
        INTENTCAST_BOOTSTRAP=kafka_bootstrap,
        INTENTCAST_APP_ID=app_id,
        INTENTCAST_METRICS_INTERVAL_SECONDS="1",
    )
    proc = spawn(["intentcast", "broker", "run"], cwd, env, tmp_path / "broker")
    started = time.monotonic()
    try:
        await metrics.wait(
            lambda r: decode(MetricsSnapshot, r.value).source.endswith(":" + app_id),
            f"metrics from {app_id}",
            timeout=90,
        )
        assert proc.poll() is None, (tmp_path / "broker.err").read_text()
    finally:
        await metrics.consumer.stop()
        status = await asyncio.to_thread(stop, proc, signal.SIGTERM)
    folder = tmp_path / "state" / "intentcast" / "processors" / app_id
    assert folder.is_dir() and any(folder.iterdir())  # faust's v1/ inside
    assert list(cwd.iterdir()) == []  # nothing written relative to the working directory
    stdout = (tmp_path / "broker.out").read_text()
    assert f"data in {folder}" in stdout.replace("\n", "")
    assert status == 0, (tmp_path / "broker.err").read_text()[-2000:]
    print(f"broker run: metrics after {time.monotonic() - started:.1f} s")


# -- broker run that cannot start: one line, exit 1, quickly --


def run_cli(
    args: list[str], env: dict[str, str], cwd: Path, timeout: float
) -> tuple[int, str, str]:
    done = subprocess.run(
        ["intentcast", *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout
    )
    return done.returncode, done.stdout, done.stderr


def test_broker_run_against_a_closed_port_says_so_in_one_line(tmp_path: Path) -> None:
    closed = free_port()  # bound and released: nothing listens there
    started = time.monotonic()
    status, stdout, stderr = run_cli(
        ["broker", "run", "--bootstrap", f"127.0.0.1:{closed}"], user_env(tmp_path), tmp_path, 40
    )
    took = time.monotonic() - started
    assert status != 0
    line = one_error_line(stderr)
    assert f"127.0.0.1:{closed}" in line and "intentcast kafka start" in line
    assert stdout.strip() == ""
    assert took < 30, f"took {took:.0f} s"


@pytest.mark.parametrize(
    "args", [["topics", "create"], ["audit", "verify"], ["audit", "receipt", "0123abcd"]]
)
def test_the_other_kafka_commands_against_a_closed_port_say_so_in_one_line(
    tmp_path: Path, args: list[str]
) -> None:
    closed = f"127.0.0.1:{free_port()}"
    env = user_env(tmp_path, INTENTCAST_BOOTSTRAP=closed)
    status, _, stderr = run_cli(args, env, tmp_path, 40)
    assert status != 0
    assert closed in one_error_line(stderr)


def test_broker_run_with_an_unwritable_data_folder_says_so_in_one_line(tmp_path: Path) -> None:
    (tmp_path / "a-file").write_text("not a folder")
    env = user_env(tmp_path, INTENTCAST_DATADIR=str(tmp_path / "a-file" / "processors"))
    status, _, stderr = run_cli(["broker", "run", "-b", "127.0.0.1:1"], env, tmp_path, 40)
    assert status != 0
    assert "INTENTCAST_DATADIR" in one_error_line(stderr)


@pytest.mark.kafka
def test_broker_run_with_topics_missing_says_so_in_one_line(
    kafka_bootstrap: str, flow_topics: None, tmp_path: Path
) -> None:
    market = f"waysin-{secrets.token_hex(3)}"
    env = user_env(
        tmp_path, INTENTCAST_BOOTSTRAP=kafka_bootstrap, INTENTCAST_MARKETS=f'["{market}"]'
    )
    status, _, stderr = run_cli(["broker", "run"], env, tmp_path, 40)
    assert status != 0
    line = one_error_line(stderr)
    assert f"intentcast.market.{market}" in line and "intentcast topics create" in line


def test_an_error_stays_one_line_when_stderr_is_not_a_terminal(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Supervisors and log shippers read stderr line by line: a wrapped error splits apart."""
    from intentcast.console import fail

    exit_ = fail("Kafka did not answer at 127.0.0.1:1; start it with `intentcast kafka start` " * 3)
    assert exit_.exit_code == 1
    assert len(capsys.readouterr().err.strip().splitlines()) == 1
