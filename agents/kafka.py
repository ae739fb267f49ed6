"""The aiokafka boundary: safe client settings and the translation of aiokafka errors into ours."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Literal

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.errors import KafkaError, UnknownTopicOrPartitionError

from intentcast.agents.errors import (
    ClientError,
    KafkaUnavailableError,
    PublishError,
    TopicMissingError,
)
from intentcast.agents.settings import ClientSettings

__all__ = [
    "kafka_errors",
    "make_consumer",
    "make_producer",
    "partition_count",
    "random_client_id",
    "send",
]

METADATA_MAX_AGE_MS = 5_000
"""Refresh metadata often, so topics created after start (per-vendor topics) are seen soon."""


def random_client_id(prefix: str = "ic") -> str:
    """A throw-away Kafka ``client_id``: nothing stable the broker could link requests by."""
    return f"{prefix}-{secrets.token_hex(8)}"


@contextmanager
def kafka_errors(
    action: str, error: type[ClientError] = KafkaUnavailableError, topic: str | None = None
) -> Iterator[None]:
    """Translate aiokafka errors raised inside the block into :class:`ClientError` subclasses."""
    try:
        yield
    except UnknownTopicOrPartitionError as exc:
        if topic is not None:
            raise TopicMissingError(topic) from exc
        raise error(f"{action}: unknown topic or partition") from exc
    except KafkaError as exc:
        raise error(f"{action}: {type(exc).__name__}: {exc}") from exc


def make_producer(settings: ClientSettings, client_id: str) -> AIOKafkaProducer:
    """A producer that loses nothing: all in-sync replicas acknowledge, retries never duplicate."""
    return AIOKafkaProducer(
        client_id=client_id,
        acks="all",
        enable_idempotence=True,
        metadata_max_age_ms=METADATA_MAX_AGE_MS,
        **settings.kafka_kwargs(),
    )


def make_consumer(
    settings: ClientSettings,
    client_id: str,
    *,
    group_id: str | None = None,
    offset_reset: Literal["earliest", "latest"] = "earliest",
) -> AIOKafkaConsumer:
    """A consumer that commits only by hand, after the records were handled."""
    return AIOKafkaConsumer(
        client_id=client_id,
        group_id=group_id,
        enable_auto_commit=False,
        auto_offset_reset=offset_reset,
        isolation_level="read_committed",
        metadata_max_age_ms=METADATA_MAX_AGE_MS,
        **settings.kafka_kwargs(),
    )


async def send(producer: AIOKafkaProducer, topic: str, key: str, value: bytes) -> None:
    """Send one record and wait until Kafka acknowledged it, or raise :class:`PublishError`."""
    with kafka_errors(f"sending to {topic}", PublishError, topic=topic):
        await producer.send_and_wait(topic, value=value, key=key.encode("utf-8"))


async def partition_count(producer: AIOKafkaProducer, topic: str) -> int:
    """The real partition count of ``topic`` from cluster metadata (never trusts settings)."""
    with kafka_errors(f"reading metadata of {topic}", topic=topic):
        partitions = await producer.partitions_for(topic)
    return len(partitions)
