"""docker-compose.yml must be valid for users who have Docker, even though CI has no engine."""

from __future__ import annotations

import shutil
import stat
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from intentcast.broker.kafka_local.compose_secrets import ComposeSecrets
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


SECURE_VENDORS = {
    "vendor-acme-secure": "vendor-acme-bikes",
    "vendor-careful-secure": "vendor-careful-cycles",
    "vendor-premium-secure": "vendor-premium-wheels",
}


def test_secure_profile_structure() -> None:
    """The secure profile: SASL_SSL settings for every Intentcast service, secrets read-only,
    principals provisioned before the processors start, no password in the file."""
    doc: dict[str, Any] = yaml.safe_load(COMPOSE.read_text())
    services = doc["services"]
    secure = {name: s for name, s in services.items() if "secure" in s.get("profiles", [])}
    assert set(secure) == {
        "kafka-secure", "principals-secure", "topics-secure", "processors-secure",
        *SECURE_VENDORS,
    }  # fmt: skip
    for service in secure.values():
        assert "./secrets:/etc/intentcast/secrets:ro" in service["volumes"]
    kafka = secure["kafka-secure"]
    assert kafka["image"] == "apache/kafka:4.1.1"
    assert kafka["entrypoint"][-1] == "/etc/intentcast/secrets/kafka-start.sh"
    assert "admin-client.properties" in kafka["healthcheck"]["test"][-1]
    init = secure["principals-secure"]
    assert init["image"] == kafka["image"] and init["entrypoint"][-1].endswith("/provision.sh")
    assert init["depends_on"]["kafka-secure"]["condition"] == "service_healthy"
    topics = secure["topics-secure"]
    assert topics["depends_on"]["principals-secure"]["condition"] == (
        "service_completed_successfully"
    )
    processors = secure["processors-secure"]
    assert processors["depends_on"]["topics-secure"]["condition"] == (
        "service_completed_successfully"
    )
    users = {"topics-secure": "processors", "processors-secure": "processors", **SECURE_VENDORS}
    for name, user in users.items():
        env = secure[name]["environment"]
        assert env["INTENTCAST_BOOTSTRAP"] == "kafka-secure:19094"
        assert env["INTENTCAST_SECURITY_PROTOCOL"] == "SASL_SSL"
        assert env["INTENTCAST_SASL_MECHANISM"] == "SCRAM-SHA-512"
        assert env["INTENTCAST_SASL_USERNAME"] == user
        assert env["INTENTCAST_SSL_CAFILE"] == "/etc/intentcast/secrets/tls/ca.pem"
        assert "INTENTCAST_SASL_PASSWORD" not in env  # read from passwords/<user> at start
        assert "passwords/$$INTENTCAST_SASL_USERNAME" in secure[name]["entrypoint"][2]
    assert "PLAINTEXT" not in COMPOSE.read_text().split('profile "secure"')[1]


def test_certs_render_what_the_secure_profile_mounts(tmp_path: Path) -> None:
    """`intentcast kafka certs` writes every file the compose services name, privately."""
    out = tmp_path / "secrets"
    ComposeSecrets(out).write()
    assert stat.S_IMODE(out.stat().st_mode) == 0o700
    for name in ("server.properties", "admin-client.properties", "kafka-start.sh",
                 "provision.sh", "tls/node.pem", "tls/ca.key", "passwords/processors"):  # fmt: skip
        assert stat.S_IMODE((out / name).stat().st_mode) == 0o600, name
    props = dict(
        line.split("=", 1)
        for line in (out / "server.properties").read_text().splitlines()
        if line and not line.startswith("#")
    )
    assert props["listener.security.protocol.map"] == (
        "INTERNAL:SASL_SSL,EXTERNAL:SASL_SSL,CONTROLLER:SSL"
    )
    assert props["allow.everyone.if.no.acl.found"] == "false"
    assert props["authorizer.class.name"].endswith("StandardAuthorizer")
    assert props["ssl.keystore.type"] == "PEM"
    assert props["ssl.keystore.location"] == "/etc/intentcast/secrets/tls/node.pem"
    assert props["advertised.listeners"].startswith("INTERNAL://kafka-secure:19094,")
    provision = (out / "provision.sh").read_text()
    for user in ("processors", "customer", "monitor", *SECURE_VENDORS.values()):
        assert f"--entity-name {user} --add-config 'SCRAM-SHA-512=[iterations=8192" in provision
        assert f"User:{user}" in provision
    assert "--topic intentcast.vendor.acme-bikes.profile" in provision  # its literal WRITE
    start = (out / "kafka-start.sh").read_text()
    assert "--add-scram 'SCRAM-SHA-512=[name=admin," in start
    before = start
    ComposeSecrets(out).write()  # a rerun keeps the CA, passwords and cluster id
    assert (out / "kafka-start.sh").read_text() == before


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
