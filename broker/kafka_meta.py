"""Partition counts straight from the cluster (never from settings), for readers that assign."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from typing import Any

from aiokafka import TopicPartition
from aiokafka.admin import AIOKafkaAdminClient


async def topic_partitions(
    kafka_kwargs: dict[str, Any], topics: Iterable[str], *, wait_s: float = 0.0
) -> list[TopicPartition]:
    """Every partition of the topics that exist; missing topics are left out.

    With `wait_s`, keep asking until every named topic is described with a leader for each
    partition: a topic created a moment ago is not yet known to every part of the cluster,
    and a reader assigned to a partial list would silently miss records.
    """
    names = list(topics)
    admin = AIOKafkaAdminClient(**kafka_kwargs)
    await admin.start()
    loop = asyncio.get_running_loop()
    deadline = loop.time() + wait_s
    try:
        while True:
            described = await admin.describe_topics(names)
            ready = [
                t for t in described
                if t["error_code"] == 0 and t["partitions"]
                and all(p["leader"] >= 0 for p in t["partitions"])
            ]  # fmt: skip
            if len(ready) == len(names) or loop.time() >= deadline:
                break
            await asyncio.sleep(0.2)
    finally:
        await admin.close()
    return [TopicPartition(t["topic"], p["partition"]) for t in ready for p in t["partitions"]]
