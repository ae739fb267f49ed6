"""The wheel is the product: build it, install it into a clean venv, use it from elsewhere.

What a user does after `pip install intentcast` is done here with the built wheel and nothing
from this checkout: the demo reaches an agreement the audit verifies, the bench answers --help,
a shipped example vendor runs by name and stops cleanly on Ctrl-C. The times (build, install,
install to first agreement) are printed; `pytest -s` shows them. pip fetches the dependencies
from the package index (its cache makes a second run quicker).

The demo and the vendor use a Kafka node of this module's own, not the session's: the demo
starts processors and vendors of its own, which on the session's topics would answer the
other tests' intents and append agreements to chains the session's processors hold in memory.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import pytest

from intentcast.broker.kafka_local import KafkaNode
from tests.conftest import private_kafka

pytestmark = pytest.mark.kafka

ROOT = Path(__file__).resolve().parents[2]
FOLDERS = ("broker", "agents", "schemas", "kafkaio", "examples", "bench")
BUILD_S, VENV_S, INSTALL_S, DEMO_S, READY_S, STOP_S, HELP_S = 600, 180, 900, 420, 90, 45, 60


# -- child processes: every one bounded, every one stopped by its own process group ---------


@dataclass
class Output:
    """What a child printed on one stream, each line with the monotonic time it arrived."""

    lines: list[tuple[float, str]] = field(default_factory=list)

    def text(self) -> str:
        return "\n".join(line for _, line in self.lines)

    def first(self, needle: str) -> float | None:
        return next((at for at, line in self.lines if needle in line), None)


def _pump(stream: IO[str], into: Output) -> threading.Thread:
    def read() -> None:
        for line in stream:
            into.lines.append((time.monotonic(), line.rstrip("\n")))

    thread = threading.Thread(target=read, daemon=True)
    thread.start()
    return thread


@dataclass
class Child:
    proc: subprocess.Popen[str]
    out: Output
    err: Output
    readers: list[threading.Thread]

    def stop(self) -> None:
        """SIGTERM then SIGKILL to the child's own group, so nothing it started outlives it."""
        for sig, grace in ((signal.SIGTERM, 20.0), (signal.SIGKILL, 10.0)):
            if self.proc.poll() is not None:
                break
            try:
                os.killpg(self.proc.pid, sig)
            except ProcessLookupError:
                break
            try:
                self.proc.wait(timeout=grace)
            except subprocess.TimeoutExpired:
                continue

    def wait(self, timeout: float, what: str) -> int:
        try:
            code = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.stop()
            raise AssertionError(
                f"{what} did not finish in {timeout:.0f} s\n{self.tail()}"
            ) from None
        for reader in self.readers:
            reader.join(timeout=10)
        return code

    def tail(self, lines: int = 40) -> str:
        out, err = self.out.text().splitlines(), self.err.text().splitlines()
        return "stdout:\n" + "\n".join(out[-lines:]) + "\nstderr:\n" + "\n".join(err[-lines:])


def _user_env(**extra: str) -> dict[str, str]:
    """A user's environment: none of this session's Python path or Intentcast settings."""
    drop = ("INTENTCAST_", "KAFKA_BOOTSTRAP", "PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV")
    env = {k: v for k, v in os.environ.items() if not k.startswith(drop)}
    env["COLUMNS"] = "200"  # rich wraps at 80 columns off a terminal, splitting the lines read
    return {**env, **extra}


def _start(args: list[str], cwd: Path, **env: str) -> Child:
    proc = subprocess.Popen(
        args,
        cwd=cwd,
        env=_user_env(**env),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    assert proc.stdout is not None and proc.stderr is not None
    out, err = Output(), Output()
    return Child(proc, out, err, [_pump(proc.stdout, out), _pump(proc.stderr, err)])


def _run(args: list[str], cwd: Path, timeout: float, what: str) -> Child:
    child = _start(args, cwd)
    code = child.wait(timeout, what)
    assert code == 0, f"{what} exited {code}\n{child.tail()}"
    return child


# -- the wheel, its venv and the Kafka it talks to -------------------------------------------


@dataclass
class Installed:
    bin: Path
    home: Path  # the folder the user works in: not this checkout
    installed_at: float  # time.monotonic() when pip finished

    def tool(self, name: str) -> str:
        return str(self.bin / name)


def _copy_sources(dest: Path) -> Path:
    """The files a commit would hold (tracked or new, not ignored) as they are now.

    Building a copy leaves this tree alone (no build/ or egg-info beside other people's work,
    no two builds sharing one build/ folder) and keeps stray untracked files out of the wheel.
    """
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT,
        capture_output=True,
        check=True,
        timeout=60,
    ).stdout.decode()
    for name in filter(None, listed.split("\0")):
        source, target = ROOT / name, dest / name
        if not source.is_symlink() and not source.is_file():
            continue  # deleted in the working tree, or a submodule
        target.parent.mkdir(parents=True, exist_ok=True)
        if source.is_symlink():
            target.symlink_to(os.readlink(source))
        else:
            shutil.copy2(source, target)
    return dest


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if importlib.util.find_spec("build") is None:
        pytest.fail("the wheel test needs `build`; run `pip install -e '.[dev]'` (or `make`)")
    work = tmp_path_factory.mktemp("wheel")
    source = _copy_sources(work / "src")
    started = time.monotonic()
    args = [sys.executable, "-m", "build", "--wheel", "--outdir", str(work / "dist"), str(source)]
    _run(args, work, BUILD_S, "python -m build --wheel")
    print(f"\n[wheel] build: {time.monotonic() - started:.1f} s")
    (built,) = (work / "dist").glob("intentcast-*.whl")
    return built


@pytest.fixture(scope="module")
def installed(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Installed:
    work = tmp_path_factory.mktemp("user")
    home = work / "home"
    home.mkdir()
    started = time.monotonic()
    _run([sys.executable, "-m", "venv", str(work / "venv")], home, VENV_S, "python -m venv")
    pip = [str(work / "venv" / "bin" / "pip"), "install", "--disable-pip-version-check", "-q"]
    _run([*pip, str(wheel)], home, INSTALL_S, "pip install <wheel>")
    done = time.monotonic()
    print(f"[wheel] venv + install: {done - started:.1f} s")
    return Installed(work / "venv" / "bin", home, done)


@pytest.fixture(scope="module")
def own_kafka(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KafkaNode]:
    with private_kafka(tmp_path_factory.mktemp("wheel-kafka")) as node:
        yield node


@dataclass
class DemoRun:
    code: int
    summary: dict[str, Any]
    child: Child


@pytest.fixture(scope="module")
def demo(installed: Installed, own_kafka: KafkaNode) -> DemoRun:
    """`intentcast demo --json` once, on the module's Kafka (it uses a broker that answers)."""
    started = time.monotonic()
    args = [installed.tool("intentcast"), "demo", "--json", "--port", str(own_kafka.port)]
    child = _start([*args, "--timeout", "120"], installed.home)
    code = child.wait(DEMO_S, "intentcast demo")
    agreed = child.out.first("• agreement ")
    if agreed is not None:
        print(
            f"[wheel] install to first agreement: {agreed - installed.installed_at:.1f} s "
            f"(the demo's own share: {agreed - started:.1f} s)"
        )
    json_lines = [line for _, line in child.out.lines if line.startswith("{")]
    summary = json.loads(json_lines[-1]) if json_lines else {}
    return DemoRun(code, summary, child)


# -- the tests -------------------------------------------------------------------------------


def test_the_wheel_holds_intentcast_and_its_data_only(wheel: Path) -> None:
    names = set(zipfile.ZipFile(wheel).namelist())
    tops = {name.split("/", 1)[0] for name in names}
    assert tops == {"intentcast", "intentcast-0.1.0.dist-info"}, tops
    assert not tops & set(FOLDERS)
    for needed in (
        "intentcast/broker/runtime/app.py",
        "intentcast/broker/kafka_local/pom.xml",
        "intentcast/schemas/json/Intent.json",
        "intentcast/schemas/json/Agreement.json",
        "intentcast/schemas/currencies.json",  # the minor units the money rule reads
        "intentcast/examples/acme.py",
        "intentcast/kafkaio/consume.py",  # the plumbing agents and broker both import
        "intentcast/kafkaio/py.typed",
        "intentcast/dashboard/static/index.html",
        "intentcast/py.typed",
        "intentcast-0.1.0.dist-info/licenses/LICENSE",
    ):
        assert needed in names, f"{needed} is missing from {wheel.name}"
    assert any(n.startswith("intentcast/schemas/vectors/") and n.endswith(".json") for n in names)
    metadata = zipfile.ZipFile(wheel).read("intentcast-0.1.0.dist-info/METADATA").decode()
    assert "License-Expression: Apache-2.0" in metadata


def test_the_venv_imports_the_wheel_not_this_checkout(installed: Installed) -> None:
    probe = (
        "import importlib.util, json, intentcast.broker.runtime.app as app; "
        f"absent = [importlib.util.find_spec(n) is None for n in {FOLDERS!r}]; "
        "print(json.dumps([app.__file__, absent]))"
    )
    child = _run([installed.tool("python"), "-c", probe], installed.home, HELP_S, "import probe")
    path, absent = json.loads(child.out.lines[-1][1])
    assert Path(path).resolve().is_relative_to(installed.bin.parent.resolve()), path
    assert all(absent), f"top-level {FOLDERS} should not be importable: {absent}"


def test_the_demo_from_the_wheel_reaches_an_audited_agreement(demo: DemoRun) -> None:
    assert demo.code == 0, demo.child.tail()
    assert demo.summary.get("agreements") == 1, demo.summary
    assert demo.summary.get("audit_verified") is True, demo.summary


def test_the_bench_answers_help(installed: Installed) -> None:
    child = _run([installed.tool("intentcast"), "bench", "--help"], installed.home, HELP_S, "bench")
    assert "Usage" in child.out.text()


def test_a_shipped_vendor_runs_by_name_and_stops_on_ctrl_c(
    installed: Installed, own_kafka: KafkaNode, demo: DemoRun
) -> None:
    """`vendor run acme` from the package alone; the demo registered acme-bikes with the same
    key, so it starts serving without processors; SIGINT (Ctrl-C) ends it with status 0."""
    args = [installed.tool("intentcast"), "vendor", "run", "acme"]
    child = _start(
        [*args, "--bootstrap", own_kafka.bootstrap], installed.home, INTENTCAST_LOG_LEVEL="info"
    )
    try:
        deadline = time.monotonic() + READY_S
        while child.err.first("vendor acme-bikes serving") is None:
            assert child.proc.poll() is None, f"vendor run exited early\n{child.tail()}"
            assert time.monotonic() < deadline, f"not serving after {READY_S} s\n{child.tail()}"
            time.sleep(0.2)
        assert "serving bikes" in child.out.text()
        child.proc.send_signal(signal.SIGINT)
        code = child.wait(STOP_S, "vendor run after SIGINT")
    finally:
        child.stop()
    assert code == 0, child.tail()
    assert "Stopped." in child.out.text(), child.tail()
