"""A command whose settings cannot work says so in one line and exits 1: no traceback."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest


@pytest.mark.parametrize("command", [["topics", "create"], ["broker", "run"]])
def test_sasl_without_credentials_is_one_line_saying_what_to_set(command: list[str]) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("INTENTCAST_")}
    env |= {"INTENTCAST_SECURITY_PROTOCOL": "SASL_SSL", "INTENTCAST_BOOTSTRAP": "127.0.0.1:1"}
    done = subprocess.run(
        [sys.executable, "-m", "intentcast", *command],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 1
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, done.stderr
    assert "Traceback" not in done.stderr
    assert "INTENTCAST_SASL_USERNAME" in lines[0] and "INTENTCAST_SASL_PASSWORD" in lines[0]
