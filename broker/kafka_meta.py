"""Facts straight from the cluster (partition counts, group positions), never from settings."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient


class MissingTopicsError(LookupError):
    """A reader was pointed at topics the cluster does not (yet) describe."""


async def topic_partitions(
    kafka_kwargs: dict[str, Any],
    topics: Iterable[str],
    *,
    wait_s: float = 15.0,
    missing_ok: bool = False,
) -> list[TopicPartition]:
    """Every partition of the named topics, once each is described with a leader per partition.

    A topic created a moment ago is not yet known to every part of the cluster, and a reader
    assigned to a partial or empty list would silently miss records (or trip aiokafka's
    "No partitions are currently assigned"), so this keeps asking for up to `wait_s` and then
    raises `MissingTopicsError` naming what is still missing. Callers for which a missing
    topic is a normal answer (a log nobody has written yet) pass `missing_ok=True` and get
    the partitions of the topics that exist.
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
    missing = sorted(set(names) - {t["topic"] for t in ready})
    if missing and not missing_ok:
        raise MissingTopicsError(
            f"topics {', '.join(missing)} have no partitions with a leader after {wait_s:.0f} s;"
            " create them first (`intentcast topics create`) or check the bootstrap address"
        )
    return [TopicPartition(t["topic"], p["partition"]) for t in ready for p in t["partitions"]]


async def committed_offsets(
    kafka_kwargs: dict[str, Any], group: str, tps: Iterable[TopicPartition]
) -> dict[TopicPartition, int]:
    """The offsets `group` committed for these partitions; those never committed are left out."""
    wanted = list(tps)
    admin = AIOKafkaAdminClient(**kafka_kwargs)
    await admin.start()
    try:
        found = await admin.list_consumer_group_offsets(group, partitions=wanted)
    finally:
        await admin.close()
    return {
        tp: meta.offset
        for tp, meta in found.items()
        if tp in wanted and meta is not None and meta.offset >= 0
    }


async def group_positions(
    kafka_kwargs: dict[str, Any], group: str, tps: Iterable[TopicPartition]
) -> dict[TopicPartition, int]:
    """Where `group` resumes each partition: its committed offset, or the log's start if it
    never committed one (the processors read from the earliest record) or if retention has
    deleted the records from there on since."""
    wanted = list(tps)
    committed = await committed_offsets(kafka_kwargs, group, wanted)
    consumer = AIOKafkaConsumer(**kafka_kwargs, enable_auto_commit=False)
    await consumer.start()
    try:
        starts = await consumer.beginning_offsets(wanted)
    finally:
        await consumer.stop()
    return {tp: max(committed.get(tp, -1), starts[tp]) for tp in wanted}
