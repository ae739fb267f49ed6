"""LocalCluster wiring without starting Kafka: ports, voters, replication settings, bad sizes."""

from __future__ import annotations

from pathlib import Path

import pytest

from intentcast.broker.kafka_local import resolve_distribution
from intentcast.broker.kafka_local.cluster import ClusterConfigError, LocalCluster


def test_three_nodes_share_one_quorum_and_replicate_three_ways(tmp_path: Path) -> None:
    cluster = LocalCluster(dist=resolve_distribution(), data_dir=tmp_path, base_port=42100)
    assert cluster.bootstrap == "127.0.0.1:42100,127.0.0.1:42102,127.0.0.1:42104"
    configs = [dict(
        line.split("=", 1) for line in node.render_config().splitlines()
    ) for node in cluster.members]  # fmt: skip
    assert {c["controller.quorum.voters"] for c in configs} == {
        "1@127.0.0.1:42101,2@127.0.0.1:42103,3@127.0.0.1:42105"
    }
    assert [c["node.id"] for c in configs] == ["1", "2", "3"]
    for c in configs:
        assert c["default.replication.factor"] == "3"
        assert c["min.insync.replicas"] == "2"
        assert c["offsets.topic.replication.factor"] == "3"
        assert c["unclean.leader.election.enable"] == "false"
        assert c["auto.create.topics.enable"] == "false"
    assert cluster.cluster_id() == cluster.cluster_id()  # kept in the folder for restarts


def test_too_few_nodes_for_the_replication_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ClusterConfigError, match="cannot hold replication 3"):
        LocalCluster(dist=resolve_distribution(), data_dir=tmp_path, nodes=2)
    cluster = LocalCluster(dist=resolve_distribution(), data_dir=tmp_path)
    with pytest.raises(ClusterConfigError, match="no node 4"):
        cluster.node(4)
