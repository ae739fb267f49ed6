"""Run a real Apache Kafka (KRaft) on 127.0.0.1 from jars fetched off Maven Central.

Machines without Docker still need a genuine broker for development and CI; this package
downloads Kafka once into a cache, formats a data folder and supervises the JVM by PID.
"""

from intentcast.broker.kafka_local.distribution import (
    KAFKA_VERSION,
    KafkaDistribution,
    resolve_distribution,
)
from intentcast.broker.kafka_local.errors import (
    DownloadFailedError,
    JavaMissingError,
    KafkaLaunchError,
    NodeNotReadyError,
    PortInUseError,
)
from intentcast.broker.kafka_local.node import KafkaNode, NodeStatus

__all__ = [
    "KAFKA_VERSION",
    "DownloadFailedError",
    "JavaMissingError",
    "KafkaDistribution",
    "KafkaLaunchError",
    "KafkaNode",
    "NodeNotReadyError",
    "NodeStatus",
    "PortInUseError",
    "resolve_distribution",
]
