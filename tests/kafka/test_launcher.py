"""The local Kafka launcher: a second start is harmless, status is true, errors are clear."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest
from typer.testing import CliRunner

from intentcast.broker.kafka_local import (
    DownloadFailedError,
    JavaMissingError,
    KafkaNode,
    PortInUseError,
    resolve_distribution,
)
from intentcast.broker.kafka_local.node import free_port
from intentcast.cli import app

pytestmark = pytest.mark.kafka


def _node(tmp_path: Path) -> KafkaNode:
    return KafkaNode(
        dist=resolve_distribution(),
        data_dir=tmp_path / "node",
        port=free_port(),
        controller_port=free_port(),
    )


def test_start_twice_status_and_stop(tmp_path: Path) -> None:
    node = _node(tmp_path)
    assert not node.status().running
    first = node.start()
    try:
        assert first.ready and first.pid is not None
        again = node.start()  # harmless: same process, still ready
        assert again.pid == first.pid and again.ready
    finally:
        assert node.stop() is True
    after = node.status()
    assert not after.running and after.pid is None
    assert node.stop() is False  # stopping twice is harmless too


def test_port_in_use_is_refused(tmp_path: Path) -> None:
    node = _node(tmp_path)
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", node.port))
        busy.listen()
        with pytest.raises(PortInUseError, match=str(node.port)) as err:
            node.start()
    assert "--port" in str(err.value)


def test_java_missing(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("JAVA_HOME", str(tmp_path / "nojava"))
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(JavaMissingError, match="Java"):
        resolve_distribution()


def test_download_failure_without_maven(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    java = resolve_distribution().java
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "java").symlink_to(java)
    monkeypatch.delenv("KAFKA_HOME", raising=False)
    monkeypatch.setenv("PATH", str(bin_dir))  # java yes, mvn no
    monkeypatch.setenv("INTENTCAST_CACHE_DIR", str(tmp_path / "empty-cache"))
    with pytest.raises(DownloadFailedError, match="Maven") as err:
        resolve_distribution()
    assert "KAFKA_HOME" in str(err.value)


def test_download_failure_reports_maven_output(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    fake_mvn = tmp_path / "bin" / "mvn"
    fake_mvn.parent.mkdir()
    fake_mvn.write_text(
        "#!/bin/sh\necho 'Could not transfer artifact: network unreachable' >&2\nexit 1\n"
    )
    fake_mvn.chmod(0o755)
    monkeypatch.delenv("KAFKA_HOME", raising=False)
    monkeypatch.setenv("PATH", f"{fake_mvn.parent}:/usr/bin:/bin")
    monkeypatch.setenv("INTENTCAST_CACHE_DIR", str(tmp_path / "cache"))
    with pytest.raises(DownloadFailedError, match="network unreachable"):
        resolve_distribution()
    assert not (tmp_path / "cache" / "kafka-4.1.1").exists(), "no half-written cache"


def test_kafka_home_is_used_instead_of_download(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    cached = resolve_distribution()
    home = tmp_path / "kafka_home"
    (home / "libs").mkdir(parents=True)
    for jar in cached.libs.glob("*.jar"):
        (home / "libs" / jar.name).symlink_to(jar)
    monkeypatch.setenv("KAFKA_HOME", str(home))
    monkeypatch.setenv("INTENTCAST_CACHE_DIR", str(tmp_path / "never-used"))
    dist = resolve_distribution()
    assert dist.source == "KAFKA_HOME" and dist.libs == home / "libs"
    assert not (tmp_path / "never-used").exists()

    monkeypatch.setenv("KAFKA_HOME", str(tmp_path))
    with pytest.raises(DownloadFailedError, match="KAFKA_HOME"):
        resolve_distribution()


def test_cli_status_exit_code_tells_the_truth(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        app, ["kafka", "status", "--port", str(free_port()), "--data-dir", str(tmp_path)]
    )
    assert result.exit_code == 1
    assert "not running" in result.output
