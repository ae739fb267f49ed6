"""Which partition an intent's replies are on: Kafka's default partitioner over the intent id."""

from __future__ import annotations

from intentcast.agents.errors import SettingsError
from intentcast.kafkaio import key_partition

__all__ = ["partition_for"]


def partition_for(key: str | bytes, partitions: int) -> int:
    """The partition Kafka's default partitioner (murmur2) gives ``key`` among ``partitions``.

    Every producer in the protocol keys by intent id with this partitioner, so a customer can
    read all replies to its intent from this one partition, without joining a consumer group.
    The contract's partitioner (`schemas.partitioning`, through `kafkaio`) is the one the
    processors use too, and it is tested against aiokafka's and Kafka's own test values.
    """
    if partitions < 1:
        raise SettingsError(f"a topic has at least 1 partition, not {partitions}")
    data = key.encode("utf-8") if isinstance(key, str) else key
    return key_partition(data, partitions)
