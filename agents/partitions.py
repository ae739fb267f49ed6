"""Which partition an intent's replies are on: Kafka's default partitioner over the intent id."""

from __future__ import annotations

from aiokafka.partitioner import DefaultPartitioner

from intentcast.agents.errors import SettingsError

__all__ = ["partition_for"]

_PARTITIONER = DefaultPartitioner()


def partition_for(key: str | bytes, partitions: int) -> int:
    """The partition Kafka's default partitioner (murmur2) gives ``key`` among ``partitions``.

    Every producer in the protocol keys by intent id with this partitioner, so a customer can
    read all replies to its intent from this one partition, without joining a consumer group.
    aiokafka's own partitioner is used so the two can never disagree.
    """
    if partitions < 1:
        raise SettingsError(f"a topic has at least 1 partition, not {partitions}")
    data = key.encode("utf-8") if isinstance(key, str) else key
    return int(_PARTITIONER(data, list(range(partitions)), []))
