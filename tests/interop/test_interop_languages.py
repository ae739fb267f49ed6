"""The advice of docs/protocol.md for JavaScript and Go holds: code following it reproduces every
vector and refuses what must be refused; and our float form is ECMAScript's, per Node itself."""

from __future__ import annotations

import json
import random
import shutil
import struct
import subprocess

import pytest

from intentcast.schemas.canonical import format_float
from tests.conftest import REPO_ROOT
from tests.interop.node import VECTORS, node

NEGATIVE = REPO_ROOT / "schemas" / "vectors" / "negative.json"
GO_DIR = REPO_ROOT / "interop" / "go"


def test_node_parser_refuses_every_malformed_negative_vector() -> None:
    done = node("negative", str(NEGATIVE))
    report = json.loads(done.stdout)
    assert report["ok"] and report["failures"] == [], report
    assert report["checked"] >= 8


def _go(*args: str) -> dict[str, object]:
    exe = shutil.which("go")
    if exe is None:
        pytest.skip("go not installed (Go 1.21+ runs interop/go)")
    done = subprocess.run(
        [exe, "run", ".", *args], cwd=GO_DIR, capture_output=True, timeout=600, check=False
    )
    assert done.stdout, done.stderr.decode(errors="replace")[-2000:]
    report: dict[str, object] = json.loads(done.stdout)
    assert done.returncode == 0, report
    return report


def test_go_following_the_docs_reproduces_every_vector() -> None:
    report = _go("vectors", str(VECTORS))
    assert report["ok"] and report["failures"] == [], report
    assert isinstance(report["checked"], int) and report["checked"] >= 100


def test_go_following_the_docs_refuses_what_the_parser_must() -> None:
    report = _go("negative", str(NEGATIVE))
    assert report["ok"] and report["failures"] == [], report


def test_our_float_form_is_what_node_writes_for_random_doubles() -> None:
    exe = shutil.which("node")
    if exe is None:
        pytest.skip("node not installed")
    rng = random.Random(14)
    bits = [rng.getrandbits(64).to_bytes(8, "little") for _ in range(3000)]
    values = [struct.unpack("<d", raw)[0] for raw in bits]
    values += [rng.uniform(-1e-5, 1e-5) for _ in range(500)]
    values += [rng.uniform(0, 1e22) for _ in range(500)]
    values += [float(rng.randrange(-(2**60), 2**60)) for _ in range(500)]
    values = [v for v in values if v == v and abs(v) != float("inf")]
    script = (
        "const xs = JSON.parse(require('fs').readFileSync(0, 'utf8'));"
        "process.stdout.write(JSON.stringify(xs.map((t) => String(Number(t)))));"
    )
    done = subprocess.run(
        [exe, "-e", script], input=json.dumps([repr(v) for v in values]).encode(),
        capture_output=True, timeout=60, check=True,
    )  # fmt: skip
    written = json.loads(done.stdout)
    mismatches = [(v, w, format_float(v)) for v, w in zip(values, written, strict=True)
                  if format_float(v) != w]  # fmt: skip
    assert mismatches == []
