"""Drive the Node.js vendor (interop/vendor.mjs) and Kafka's console producer from the jars.

Nothing here builds or signs a message: Node does that; Python only starts the processes and
hands an intent's bytes over, as a shell pipeline would.
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess

import pytest

from intentcast.broker.kafka_local import resolve_distribution
from tests.conftest import REPO_ROOT

SCRIPT = REPO_ROOT / "interop" / "vendor.mjs"
VECTORS = REPO_ROOT / "schemas" / "vectors" / "vectors.json"
VENDOR_ID = "node-bikes"
SEED_HEX = hashlib.sha256(b"example:node-bikes").hexdigest()
"""A fixed, public seed: the test vendor keeps one identity across runs (never use it for real)."""


def node(*args: str, stdin: bytes | None = None) -> subprocess.CompletedProcess[bytes]:
    """Run `node interop/vendor.mjs ARGS` and return the finished process."""
    exe = shutil.which("node")
    if exe is None:
        pytest.skip("node not installed (Node.js 18+ is needed for the interop tests)")
    return subprocess.run(
        [exe, str(SCRIPT), *args], input=stdin, capture_output=True, timeout=30, cwd=REPO_ROOT
    )


def vendor_args(*extra: str) -> list[str]:
    return ["--seed-hex", SEED_HEX, "--vendor-id", VENDOR_ID, *extra]


def console_produce(bootstrap: str, topic: str, lines: bytes) -> None:
    """`kafka-console-producer` (org.apache.kafka.tools.ConsoleProducer): key<TAB>value lines."""
    dist = resolve_distribution()
    done = subprocess.run(
        [str(dist.java), "-cp", dist.classpath, "org.apache.kafka.tools.ConsoleProducer",
         "--bootstrap-server", bootstrap, "--topic", topic,
         "--property", "parse.key=true", "--property", "key.separator=\t",
         "--producer-property", "acks=all"],
        input=lines, capture_output=True, timeout=90,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr.decode(errors="replace")[-2000:]
