"""docker-compose.yml must be valid for users who have Docker, even though CI has no engine."""

from __future__ import annotations

import shutil
import subprocess
from typing import Any

import pytest
import yaml

from tests.conftest import REPO_ROOT

COMPOSE = REPO_ROOT / "docker-compose.yml"


def _compose_available() -> bool:
    if not shutil.which("docker"):
        return False
    probe = subprocess.run(["docker", "compose", "version"], capture_output=True, check=False)
    return probe.returncode == 0


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


@pytest.mark.skipif(not _compose_available(), reason="docker compose client not installed")
def test_compose_config_validates() -> None:
    proc = subprocess.run(
        ["docker", "compose", "-f", str(COMPOSE), "config", "--quiet"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
