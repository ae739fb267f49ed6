"""Cluster ids must be values the storage tool accepts; one draw in 64 used not to be."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from intentcast.broker.kafka_local import KafkaNode, resolve_distribution
from intentcast.broker.kafka_local.cluster_id import new_cluster_id


def test_an_id_starting_with_a_dash_is_redrawn(monkeypatch: pytest.MonkeyPatch) -> None:
    draws = iter([uuid.UUID(bytes=b"\xf8" + b"\x00" * 15), uuid.UUID(bytes=b"\x10" * 16)])
    monkeypatch.setattr(uuid, "uuid4", lambda: next(draws))
    cid = new_cluster_id()
    assert cid == "EBAQEBAQEBAQEBAQEBAQEA"
    assert next(draws, None) is None  # the dashed draw was made and thrown away


@pytest.mark.kafka
def test_storage_tool_formats_with_a_dashed_id(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Even an id from elsewhere that starts with '-' is passed so the tool reads it as a value."""
    monkeypatch.setenv("INTENTCAST_CLUSTER_ID", "-x2NFKMCTd-aOkQCEr6EXg")
    node = KafkaNode(dist=resolve_distribution(), data_dir=tmp_path / "kafka")
    node.data_dir.mkdir(parents=True)
    node.config_file.write_text(node.render_config())
    (node.data_dir / "log4j2.properties").write_text("status = warn\n")
    node._format()
    meta = (node.log_dir / "meta.properties").read_text()
    assert "cluster.id=-x2NFKMCTd-aOkQCEr6EXg" in meta
