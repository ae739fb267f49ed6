"""`intentcast intent disclose` says what is missing in one line, before it connects anywhere."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest


def _disclose(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("INTENTCAST_")}
    env |= {"INTENTCAST_BOOTSTRAP": "127.0.0.1:1", "XDG_DATA_HOME": str(tmp_path)}
    return subprocess.run(
        [sys.executable, "-m", "intentcast", "intent", "disclose", *args],
        env=env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["abc123"], "choose what to disclose"),
        (["abc123", "--address", "12 Example Street"], "needs --address"),
        (["abc123", "--name", "Ada"], "no agreement in"),
    ],
)
def test_a_disclosure_that_cannot_be_made_is_one_line_saying_why(
    tmp_path: Path, args: list[str], says: str
) -> None:
    done = _disclose(tmp_path, *args)
    assert done.returncode == 1
    assert "Traceback" not in done.stderr
    assert says in done.stderr, done.stderr


def test_the_help_names_every_field() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "intentcast", "intent", "disclose", "--help"],
        capture_output=True, text=True, timeout=60, env={**os.environ, "COLUMNS": "120"},
    )  # fmt: skip
    assert done.returncode == 0
    for option in ("--name", "--address", "--city", "--country", "--email", "--phone", "--note"):
        assert option in done.stdout
