"""Create the topic layout idempotently, with the settings the AsyncAPI document states.

Topics never appear by auto-creation (it is off): only this module creates them, so
partitions, retention, compaction and `min.insync.replicas` are always what we intend.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError

from intentcast.broker.settings import BrokerSettings
from intentcast.schemas.topics import (
    CORE_TOPICS,
    MARKET_TOPIC,
    VENDOR_AGREEMENTS_TOPIC,
    VENDOR_DISCLOSURES_TOPIC,
    VENDOR_FEEDBACK_TOPIC,
    VENDOR_PROFILE_TOPIC,
    TopicSpec,
    market_topic,
    vendor_agreements_topic,
    vendor_disclosures_topic,
    vendor_feedback_topic,
    vendor_profile_topic,
)

TICKS_TOPIC_SUFFIX = ".ticks"


@dataclass(frozen=True)
class PlannedTopic:
    name: str
    partitions: int
    config: dict[str, str]


def _config(spec: TopicSpec, settings: BrokerSettings) -> dict[str, str]:
    config = {
        "cleanup.policy": "compact" if spec.compacted else "delete",
        "min.insync.replicas": str(settings.min_insync_replicas),
        "unclean.leader.election.enable": "false",
    }
    config["retention.ms"] = "-1" if spec.retention_ms is None else str(spec.retention_ms)
    return config


def _partitions(spec: TopicSpec, settings: BrokerSettings) -> int:
    return settings.partitions if spec.partitioned_by_intent else 1


def planned_core(settings: BrokerSettings) -> list[PlannedTopic]:
    topics = [
        PlannedTopic(s.name, _partitions(s, settings), _config(s, settings)) for s in CORE_TOPICS
    ]
    topics += [
        PlannedTopic(market_topic(m), settings.partitions, _config(MARKET_TOPIC, settings))
        for m in settings.markets
    ]
    topics.append(ticks_topic(settings))
    return topics


def ticks_topic(settings: BrokerSettings) -> PlannedTopic:
    """The processors' internal clock: one tick per partition drives expiry."""
    return PlannedTopic(
        settings.app_id + TICKS_TOPIC_SUFFIX,
        settings.partitions,
        {"cleanup.policy": "delete", "retention.ms": str(3600 * 1000)},
    )


def planned_vendor(vendor_id: str, settings: BrokerSettings) -> list[PlannedTopic]:
    """A vendor's own topics: its profile (written by it alone), its feedback, agreements and
    disclosures.

    Vendors cannot create topics, so the operator creates these (`intentcast topics create
    --vendor`, `intentcast principals add vendor`) before the vendor first starts.
    """
    return [
        PlannedTopic(
            vendor_profile_topic(vendor_id),
            _partitions(VENDOR_PROFILE_TOPIC, settings),
            _config(VENDOR_PROFILE_TOPIC, settings),
        ),
        PlannedTopic(
            vendor_feedback_topic(vendor_id),
            settings.partitions,
            _config(VENDOR_FEEDBACK_TOPIC, settings),
        ),
        PlannedTopic(
            vendor_agreements_topic(vendor_id),
            settings.partitions,
            _config(VENDOR_AGREEMENTS_TOPIC, settings),
        ),
        PlannedTopic(
            vendor_disclosures_topic(vendor_id),
            settings.partitions,
            _config(VENDOR_DISCLOSURES_TOPIC, settings),
        ),
    ]


async def ensure_topics(
    admin: AIOKafkaAdminClient, topics: Iterable[PlannedTopic], replication: int
) -> list[str]:
    """Create what is missing; return the names created. Existing topics are left alone."""
    wanted = list(topics)
    existing = set(await admin.list_topics())
    missing = [t for t in wanted if t.name not in existing]
    created: list[str] = []
    for topic in missing:  # one by one, so a race with another creator is harmless
        try:
            await admin.create_topics(
                [NewTopic(topic.name, topic.partitions, replication, topic_configs=topic.config)]
            )
            created.append(topic.name)
        except TopicAlreadyExistsError:
            pass
    return created


async def create_all(
    settings: BrokerSettings, vendors: Iterable[str] = (), markets: Iterable[str] = ()
) -> list[str]:
    """`intentcast topics create`: the core layout, markets and any named vendors' topics."""
    admin = AIOKafkaAdminClient(**settings.kafka_kwargs())
    await admin.start()
    try:
        plan = planned_core(settings)
        plan += [
            PlannedTopic(market_topic(m), settings.partitions, _config(MARKET_TOPIC, settings))
            for m in markets
        ]
        for vendor_id in vendors:
            plan += planned_vendor(vendor_id, settings)
        return await ensure_topics(admin, plan, settings.replication)
    finally:
        await admin.close()
