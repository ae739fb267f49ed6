"""Probes that try one operation as one principal and report whether the broker allowed it.

Each probe returns True (allowed) or False (refused with an authorization error). Any other
outcome raises, so a probe never mistakes a broken setup for a refusal.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType
from aiokafka.errors import (
    ClusterAuthorizationFailedError,
    GroupAuthorizationFailedError,
    KafkaError,
    TopicAuthorizationFailedError,
    TransactionalIdAuthorizationFailed,
)
from aiokafka.structs import OffsetAndMetadata

from tests.conftest import wait_for

TOPIC_AUTHZ, GROUP_AUTHZ, CLUSTER_AUTHZ, ALREADY_EXISTS = 29, 30, 31, 36
PROBE_TIMEOUT = 15.0


async def can_read(kwargs: dict[str, Any], admin: AIOKafkaAdminClient, topic: str) -> bool:
    """Fetch from partition 0 (no group): allowed once a fetch response sets the high mark.

    READ implies DESCRIBE in Kafka, so a topic whose metadata is refused is refused to read
    too (the client cannot even find its leader to send the fetch).
    """
    if not await can_describe(admin, topic):
        return False
    consumer = AIOKafkaConsumer(enable_auto_commit=False, **kwargs)
    await consumer.start()
    tp = TopicPartition(topic, 0)
    try:
        consumer.assign([tp])
        consumer.seek(tp, 0)
        try:

            async def fetched() -> bool:
                await consumer.getmany(tp, timeout_ms=200)
                return consumer.highwater(tp) is not None

            await wait_for(fetched, timeout=PROBE_TIMEOUT, what=f"a fetch from {topic}")
        except TopicAuthorizationFailedError:
            return False
        return True
    finally:
        await consumer.stop()


async def can_write(
    producer: AIOKafkaProducer, topic: str, written: list[tuple[str, int]] | None = None
) -> bool:
    """Produce one small record to partition 0; a record that landed is added to `written`
    as (topic, offset), for whoever must clean it up."""
    try:
        sent = await asyncio.wait_for(
            producer.send_and_wait(topic, b"acl-probe", key=b"acl-probe", partition=0),
            PROBE_TIMEOUT,
        )
    except TopicAuthorizationFailedError:
        return False
    if written is not None:
        written.append((topic, sent.offset))
    return True


async def can_describe(admin: AIOKafkaAdminClient, topic: str) -> bool:
    """Topic metadata: refused topics come back with TOPIC_AUTHORIZATION_FAILED."""
    (found,) = await admin.describe_topics([topic])
    code = found["error_code"]
    if code not in (0, TOPIC_AUTHZ):
        raise AssertionError(f"metadata of {topic}: unexpected error {code}")
    return bool(code == 0)


async def can_create(admin: AIOKafkaAdminClient, topic: str) -> bool:
    """CreateTopics with validate_only: 'already exists' still means the request was allowed."""
    response = await admin.create_topics([NewTopic(topic, 1, 1)], validate_only=True)
    ((_, code, message),) = response.topic_errors
    if code in (0, ALREADY_EXISTS):
        return True
    if code in (TOPIC_AUTHZ, CLUSTER_AUTHZ):
        return False
    raise AssertionError(f"create {topic}: unexpected error {code} {message}")


async def can_join_group(kwargs: dict[str, Any], group: str, readable_topic: str) -> bool:
    """Commit an offset for the group (OffsetCommit needs READ on the group)."""
    consumer = AIOKafkaConsumer(group_id=group, enable_auto_commit=False, **kwargs)
    await consumer.start()
    tp = TopicPartition(readable_topic, 0)
    try:
        consumer.assign([tp])
        await asyncio.wait_for(consumer.commit({tp: OffsetAndMetadata(0, "")}), PROBE_TIMEOUT)
    except GroupAuthorizationFailedError:
        return False
    finally:
        with contextlib.suppress(KafkaError):
            await consumer.stop()
    return True


async def can_describe_group(admin: AIOKafkaAdminClient, group: str) -> bool:
    """DescribeGroups (after FindCoordinator): both need DESCRIBE on the group."""
    try:
        await admin.describe_consumer_groups([group])
    except GroupAuthorizationFailedError:
        return False
    return True


async def can_use_transactional_id(kwargs: dict[str, Any], transactional_id: str) -> bool:
    """InitProducerId for a transactional id needs WRITE on it."""
    producer = AIOKafkaProducer(transactional_id=transactional_id, **kwargs)
    try:
        await asyncio.wait_for(producer.start(), PROBE_TIMEOUT)
        await asyncio.wait_for(producer.begin_transaction(), PROBE_TIMEOUT)
        await asyncio.wait_for(producer.abort_transaction(), PROBE_TIMEOUT)
    except TransactionalIdAuthorizationFailed:
        return False
    finally:
        with contextlib.suppress(KafkaError):
            await producer.stop()
    return True


async def can_describe_cluster_configs(admin: AIOKafkaAdminClient) -> bool:
    """DescribeConfigs of the broker: needs DESCRIBE_CONFIGS on the cluster."""
    (response,) = await admin.describe_configs([ConfigResource(ConfigResourceType.BROKER, "1")])
    ((code, message, *_),) = response.resources
    if code == 0:
        return True
    if code == CLUSTER_AUTHZ:
        return False
    raise AssertionError(f"describe broker configs: unexpected error {code} {message}")


__all__ = [
    "ClusterAuthorizationFailedError",
    "can_create",
    "can_describe",
    "can_describe_cluster_configs",
    "can_describe_group",
    "can_join_group",
    "can_read",
    "can_use_transactional_id",
    "can_write",
]
