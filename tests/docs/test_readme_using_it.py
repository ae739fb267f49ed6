"""The README's "Using it" block, run as a user would: in order, in an empty folder, with a
fresh home, each long-running command in its own "terminal" (a background process).

The commands are read from README.md, so the test follows the README when it changes. The
only changes made to them: `<agreement-id>` is replaced by the id `intent publish` printed,
`dashboard` and `customer` get a free --port when the README gives none (8765 may be taken
on a shared machine), and `bench` runs as `bench --help` (the full benchmark starts its own
Kafka and takes minutes). The Kafka it starts is its own: INTENTCAST_BOOTSTRAP names a free
port, which `intentcast kafka start` and every other command honour; `intentcast kafka stop`
with the same environment stops it at the end.
"""

from __future__ import annotations

import http.client
import re
import signal
import subprocess
import time
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import orjson
import pytest
import typer

from intentcast.broker.kafka_local.node import free_port, port_free
from intentcast.cli import app
from tests.docs.examples import Block, blocks, intentcast_lines, resolve
from tests.ops.test_ways_in import spawn, stop, user_env

pytestmark = pytest.mark.kafka
README = Path(__file__).resolve().parents[2] / "README.md"
ROOT = typer.main.get_command(app)
HEADING = "## Using it"
# commands a user leaves running in a terminal of their own
LONG_RUNNING = {("broker", "run"), ("vendor", "run"), ("monitor",), ("dashboard",), ("customer",)}
STEP_TIMEOUT: dict[tuple[str, ...], float] = {
    ("kafka", "start"): 150.0,
    ("intent", "publish"): 150.0,
}
DEFAULT_TIMEOUT = 60.0
READY_TIMEOUT = 90.0


def using_it_block(path: Path = README) -> Block:
    """The first bash block between "## Using it" and the next heading of that level."""
    lines = path.read_text(encoding="utf-8").splitlines()
    start = lines.index(HEADING) + 1
    end = next((i for i in range(start, len(lines)) if lines[i].startswith("## ")), len(lines))
    found = [b for b in blocks([path]) if start < b.line <= end and b.lang == "bash"]
    assert found, f"no ```bash block under {HEADING!r} in {path.name}"
    return found[0]


def command_path(words: list[str]) -> tuple[str, ...]:
    path, _ = resolve(ROOT, words)
    return tuple(path)


def pick_port_pair() -> int:
    """A free client port whose next port (the controller's) is free too."""
    for _ in range(50):
        port = free_port()
        if port < 65535 and port_free(port + 1):
            return port
    raise AssertionError("no two consecutive free ports")


@dataclass
class Terminals:
    """What the user has open: a folder, an environment, background commands by PID."""

    cwd: Path
    env: dict[str, str]
    logs: Path
    running: dict[tuple[str, ...], subprocess.Popen[bytes]] = field(default_factory=dict)
    transcript: list[str] = field(default_factory=list)

    def foreground(self, words: list[str], timeout: float) -> subprocess.CompletedProcess[str]:
        self.transcript.append("$ intentcast " + " ".join(words))
        began = time.monotonic()
        done = subprocess.run(
            ["intentcast", *words], cwd=self.cwd, env=self.env, capture_output=True, text=True,
            timeout=timeout, stdin=subprocess.DEVNULL,
        )  # fmt: skip
        self.transcript.append(
            f"({time.monotonic() - began:.1f} s) " + (done.stdout + done.stderr)[:1500]
        )
        assert done.returncode == 0, f"intentcast {' '.join(words)} exited {done.returncode}:\n" + (
            done.stdout + done.stderr
        )
        return done

    def background(self, words: list[str]) -> subprocess.Popen[bytes]:
        self.transcript.append("$ intentcast " + " ".join(words) + " &")
        name = "-".join(command_path(words))
        proc = spawn(["intentcast", *words], self.cwd, self.env, self.logs / name)
        self.running[command_path(words)] = proc
        return proc

    def output(self, path: tuple[str, ...]) -> str:
        name = self.logs / "-".join(path)
        return "".join(
            p.read_text(errors="replace")
            for p in (name.with_suffix(".out"), name.with_suffix(".err"))
        )

    def stop_all(self) -> dict[tuple[str, ...], int]:
        """Ctrl-C for each, last started first (then SIGTERM, then SIGKILL, by PID)."""
        return {path: stop(proc, signal.SIGINT) for path, proc in reversed(self.running.items())}


def wait_until(what: str, condition: Callable[[], bool], timeout: float = READY_TIMEOUT) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.5)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")


def processors_alive(t: Terminals) -> bool:
    """`intentcast doctor --json` says the processors publish metrics (what a user would ask)."""
    done = subprocess.run(
        ["intentcast", "doctor", "--json"], cwd=t.cwd, env=t.env, capture_output=True,
        text=True, timeout=60,
    )  # fmt: skip
    checks = {c["name"]: c for c in orjson.loads(done.stdout)["checks"]}
    return bool(checks["processors"]["status"] == "ok")


def still_running(t: Terminals, path: tuple[str, ...], seconds: float) -> None:
    proc = t.running[path]
    time.sleep(seconds)
    assert proc.poll() is None, f"`intentcast {' '.join(path)}` exited:\n{t.output(path)}"


@pytest.fixture
def terminals(tmp_path: Path) -> Iterator[Terminals]:
    port = pick_port_pair()
    cwd = tmp_path / "somewhere"
    cwd.mkdir()
    logs = tmp_path / "logs"
    logs.mkdir()
    env = user_env(tmp_path / "user", INTENTCAST_BOOTSTRAP=f"127.0.0.1:{port}")
    t = Terminals(cwd, env, logs)
    try:
        yield t
    finally:
        t.stop_all()
        # the Kafka the block started: `kafka stop` finds it by the same INTENTCAST_BOOTSTRAP
        subprocess.run(
            ["intentcast", "kafka", "stop"], cwd=cwd, env=env, capture_output=True, timeout=60
        )
        print("\n".join(t.transcript))


def test_the_readme_block_is_the_commands_this_test_runs() -> None:
    paths = [command_path(w) for w in intentcast_lines(using_it_block())]
    assert paths[:3] == [("kafka", "start"), ("topics", "create"), ("broker", "run")]
    assert {("intent", "publish"), ("audit", "verify"), ("audit", "receipt")} <= set(paths)


def test_the_readme_using_it_block_runs_from_a_fresh_folder(terminals: Terminals) -> None:
    t = terminals
    started = time.monotonic()
    agreement_id = ""
    first_agreement_s = 0.0
    for words in intentcast_lines(using_it_block()):
        path = command_path(words)
        if path == ("bench",):
            words = ["bench", "--help"]  # the full benchmark takes minutes and its own Kafka
        if path in {("dashboard",), ("customer",)} and "--port" not in words:
            words = [*words, "--port", str(free_port())]
        words = [agreement_id if w == "<agreement-id>" else w for w in words]
        if path in LONG_RUNNING:
            began = time.monotonic()
            t.background(words)
            ready(t, path, words)
            t.transcript.append(f"(up after {time.monotonic() - began:.1f} s)")
            continue
        done = t.foreground(words, STEP_TIMEOUT.get(path, DEFAULT_TIMEOUT))
        if path == ("intent", "publish"):
            agreement_id = check_publish(done.stdout)
            first_agreement_s = time.monotonic() - started
        if path == ("audit", "verify"):
            assert re.search(r"audit ok\S*: [1-9]\d* agreements verified", done.stdout), done.stdout
        if path == ("audit", "receipt"):
            assert agreement_id[:16] in done.stdout and "acme-bikes" in done.stdout, done.stdout
    assert agreement_id, "the block has no `intent publish` that reached an agreement"
    assert list(t.cwd.iterdir()) == [], "a command wrote to the working directory"
    statuses = t.stop_all()
    assert all(status == 0 for status in statuses.values()), statuses
    print(f"fresh folder to first agreement: {first_agreement_s:.1f} s")


def ready(t: Terminals, path: tuple[str, ...], words: list[str]) -> None:
    """Wait as a user would before the next command: until the command says it is up (or has
    exited, which `still_running` then reports with its output)."""
    proc = t.running[path]

    def up_or_exited(up: Callable[[], bool]) -> Callable[[], bool]:
        return lambda: proc.poll() is not None or up()

    if path == ("broker", "run"):
        what, up = "the processors' metrics (intentcast doctor)", lambda: processors_alive(t)
    elif path == ("vendor", "run"):
        what, up = "the vendor to start serving", lambda: "serving" in t.output(path)
    elif path == ("dashboard",):
        url = f"http://127.0.0.1:{words[words.index('--port') + 1]}/"
        what, up = "the dashboard page", lambda: page_served(url)
    elif path == ("customer",):
        what, up = "the customer app's address", lambda: app_served(t.output(path))
    else:  # monitor: a live view with nothing to wait for; it must keep running
        still_running(t, path, 3.0)
        return
    wait_until(what, up_or_exited(up))
    still_running(t, path, 0.5)


def page_served(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return bool(response.status == 200 and b"<html" in response.read().lower())
    except OSError:
        return False


def app_served(output: str) -> bool:
    """The customer app printed its address, and that address hands this browser its cookie."""
    found = re.search(r"http://127\.0\.0\.1:(\d+)(/\?token=\S+)", output)
    if found is None:
        return False
    conn = http.client.HTTPConnection("127.0.0.1", int(found[1]), timeout=5)
    try:
        conn.request("GET", found[2])
        response = conn.getresponse()
        return response.status == 303 and "intentcast_app=" in (
            response.getheader("Set-Cookie") or ""
        )
    except OSError:
        return False
    finally:
        conn.close()


def check_publish(stdout: str) -> str:
    """The intent got offers and an agreement: return the agreement id it printed."""
    assert re.search(r"Intent \S+ accepted by intake", stdout), stdout
    offer = r"[0-9a-f]{8}\s*│\s*acme-bikes\s*│\s*[\d.]+ EUR"
    assert re.search(offer, stdout), f"no offer from acme-bikes in the table:\n{stdout}"
    found = re.search(r"Agreement\s+([0-9a-f]{16,})\s+with\s+(\S+):", stdout)
    assert found, f"no agreement in the output:\n{stdout}"
    assert found[2] == "acme-bikes"
    return found[1]
