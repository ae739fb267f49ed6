"""docker-compose.yml must be valid for users who have Docker, even though CI has no engine."""

from __future__ import annotations

import shutil
import subprocess
from typing import Any

import pytest
import yaml

from tests.conftest import REPO_ROOT

COMPOSE = REPO_ROOT / "docker-compose.yml"


def _compose_command() -> list[str] | None:
    """`docker compose` (v2 plugin) or `docker-compose` (v1, from Debian): both validate."""
    if shutil.which("docker"):
        probe = subprocess.run(["docker", "compose", "version"], capture_output=True, check=False)
        if probe.returncode == 0:
            return ["docker", "compose"]
    if shutil.which("docker-compose"):
        return ["docker-compose"]
    return None


def test_compose_structure() -> None:
    doc: dict[str, Any] = yaml.safe_load(COMPOSE.read_text())
    kafka = doc["services"]["kafka"]
    assert kafka["image"].startswith("apache/kafka:4.")
    env = kafka["environment"]
    assert env["KAFKA_PROCESS_ROLES"] == "broker,controller"
    assert env["KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR"] == "1"
    assert env["KAFKA_TRANSACTION_STATE_LOG_MIN_ISR"] == "1"
    assert env["KAFKA_AUTO_CREATE_TOPICS_ENABLE"] == "false"
    assert "healthcheck" in kafka
    services = doc["services"]
    for name in ("topics", "processors", "vendor-acme", "vendor-careful", "vendor-premium"):
        assert services[name]["environment"]["INTENTCAST_BOOTSTRAP"] == "kafka:19092"
    assert services["processors"]["command"][:2] == ["broker", "run"]
    for example in ("acme", "careful", "premium"):
        path = services[f"vendor-{example}"]["command"][-1]
        assert (REPO_ROOT / path).is_file(), path
    assert (REPO_ROOT / "Dockerfile").is_file()


@pytest.mark.skipif(_compose_command() is None, reason="no docker compose client installed")
@pytest.mark.parametrize("profile", [None, "cluster", "secure"])
def test_compose_config_validates(profile: str | None) -> None:
    """`config` parses and checks the whole file, per profile, without a Docker engine."""
    command = _compose_command()
    assert command is not None
    profiles = ["--profile", profile] if profile else []
    proc = subprocess.run(
        [*command, "-f", str(COMPOSE), *profiles, "config", "--quiet"],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
