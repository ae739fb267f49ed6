"""A local KRaft cluster of N nodes on 127.0.0.1, each supervised by PID, for replication drills.

Every node is broker and controller (a static voter set), the cluster keeps 3 replicas with
`min.insync.replicas=2` by default, so stopping one node loses nothing an `acks=all` producer
was told is written. Node i listens on base_port + 2*i (clients) and base_port + 2*i + 1
(controller), and keeps its own folder `<data_dir>/node-<i>`.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import time
from dataclasses import dataclass, field
from pathlib import Path

from aiokafka.admin import AIOKafkaAdminClient

from intentcast.broker.kafka_local.cluster_id import new_cluster_id
from intentcast.broker.kafka_local.distribution import KafkaDistribution
from intentcast.broker.kafka_local.errors import KafkaLaunchError, NodeNotReadyError
from intentcast.broker.kafka_local.node import KafkaNode, NodeStatus

CLUSTER_ID_FILE = "cluster.id"


class ClusterConfigError(KafkaLaunchError):
    hint = "Use --nodes 3 (or more) for replication factor 3 with min.insync.replicas 2."


@dataclass
class LocalCluster:
    """N `KafkaNode`s sharing one cluster id and one controller quorum."""

    dist: KafkaDistribution
    data_dir: Path
    base_port: int = 9092
    nodes: int = 3
    replication: int = 3
    min_isr: int = 2
    heap: str = "512m"
    members: list[KafkaNode] = field(init=False)

    def __post_init__(self) -> None:
        if self.nodes < 1 or self.replication > self.nodes or self.min_isr > self.replication:
            raise ClusterConfigError(
                f"{self.nodes} nodes cannot hold replication {self.replication} "
                f"with min.insync.replicas {self.min_isr}"
            )
        voters = tuple((i + 1, self.base_port + 2 * i + 1) for i in range(self.nodes))
        self.members = [
            KafkaNode(
                dist=self.dist,
                data_dir=self.data_dir / f"node-{i + 1}",
                port=self.base_port + 2 * i,
                controller_port=self.base_port + 2 * i + 1,
                node_id=i + 1,
                voters=voters,
                replication=self.replication,
                min_isr=self.min_isr,
                heap=self.heap,
            )
            for i in range(self.nodes)
        ]

    @property
    def bootstrap(self) -> str:
        """Every node's address: clients fail over to any of them."""
        return ",".join(node.bootstrap for node in self.members)

    def node(self, node_id: int) -> KafkaNode:
        """The node with this id (1-based, as in `node.id`)."""
        if not 1 <= node_id <= len(self.members):
            raise ClusterConfigError(f"no node {node_id}; the cluster has {len(self.members)}")
        return self.members[node_id - 1]

    def cluster_id(self) -> str:
        """One id for all nodes, kept in the cluster folder so restarts reuse it."""
        path = self.data_dir / CLUSTER_ID_FILE
        if path.exists():
            return path.read_text().strip()
        self.data_dir.mkdir(parents=True, exist_ok=True)
        cid = new_cluster_id()
        path.write_text(cid + "\n")
        return cid

    def start(self, timeout: float = 120.0) -> list[NodeStatus]:
        """Spawn every node first (the quorum needs a majority), then wait for all brokers."""
        try:
            for node in self.members:
                node.prepare(self.cluster_id())  # one id for all nodes
                node.spawn()
            for node in self.members:
                node.wait_ready(timeout)
            self.wait_brokers(len(self.members), timeout)
        except KafkaLaunchError:
            self.stop()
            raise
        return self.status()

    def wait_brokers(self, count: int, timeout: float = 60.0) -> None:
        """Until the cluster metadata lists `count` live brokers."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if live_brokers(self.bootstrap) >= count:
                return
            time.sleep(0.3)
        raise NodeNotReadyError(f"the cluster did not report {count} live brokers in {timeout}s")

    def stop(self, timeout: float = 30.0) -> bool:
        """Stop every node (SIGTERM by PID, SIGKILL after `timeout`); True if any ran."""
        stopped = [node.stop(timeout) for node in reversed(self.members)]
        return any(stopped)

    def kill(self) -> None:
        for node in self.members:
            node.kill()

    def stop_node(self, node_id: int, timeout: float = 30.0) -> bool:
        """Clean shutdown of one node: its leaderships move to the others first."""
        return self.node(node_id).stop(timeout)

    def kill_node(self, node_id: int) -> None:
        """SIGKILL one node, as a crash would."""
        self.node(node_id).kill()

    def restart_node(self, node_id: int, timeout: float = 120.0) -> NodeStatus:
        """Start one node again; it rejoins the quorum and catches up its replicas."""
        node = self.node(node_id)
        node.prepare(self.cluster_id())  # one id for all nodes
        return node.start(timeout)

    def status(self) -> list[NodeStatus]:
        return [node.status() for node in self.members]


async def _live(bootstrap: str, timeout: float) -> int:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=int(timeout * 1000))
    try:
        await asyncio.wait_for(admin.start(), timeout)
        cluster = await asyncio.wait_for(admin.describe_cluster(), timeout)
        return len(cluster.get("brokers") or [])
    except Exception:
        return 0
    finally:
        with contextlib.suppress(Exception):
            await admin.close()


def live_brokers(bootstrap: str, timeout: float = 5.0) -> int:
    """How many brokers the cluster metadata lists (0 if nobody answers); blocking."""
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, _live(bootstrap, timeout)).result()
