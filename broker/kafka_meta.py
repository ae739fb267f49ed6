"""Partition counts straight from the cluster (never from settings), for readers that assign."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from aiokafka import TopicPartition
from aiokafka.admin import AIOKafkaAdminClient


async def topic_partitions(
    kafka_kwargs: dict[str, Any], topics: Iterable[str]
) -> list[TopicPartition]:
    """Every partition of the topics that exist; missing topics are left out."""
    admin = AIOKafkaAdminClient(**kafka_kwargs)
    await admin.start()
    try:
        described = await admin.describe_topics(list(topics))
    finally:
        await admin.close()
    return [
        TopicPartition(t["topic"], p["partition"])
        for t in described
        if t["error_code"] == 0
        for p in t["partitions"]
    ]
