"""The whole ACL matrix on the real secure broker: principal x resource x operation.

The expected verdicts are written here from issue #5's policy, independently of the rules in
`broker.principals`, so a wrong rule fails a cell instead of being copied into the test.
Every cell is its own test id, e.g. `vendor-alpha|topic:intentcast.acceptances|read`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, RecordsToDelete
from aiokafka.structs import TopicPartition

from intentcast.schemas.topics import (
    ACCEPTANCES,
    AGREEMENTS,
    ATTESTATIONS,
    CANCELS,
    DEAD_LETTERS,
    DISCLOSURES,
    INTENT_STATUS,
    INTENTS_SUBMITTED,
    METRICS,
    OFFERS_DELIVERED,
    OFFERS_SUBMITTED,
    VENDOR_REGISTRY,
    market_topic,
    vendor_agreements_topic,
    vendor_disclosures_topic,
    vendor_feedback_topic,
    vendor_profile_topic,
)
from tests.security import probes
from tests.security.conftest import OTHER_VENDOR, VENDOR, SecureKafka

pytestmark = pytest.mark.kafka

MARKET = market_topic("bikes")
OWN_PROFILE, OTHER_PROFILE = vendor_profile_topic(VENDOR), vendor_profile_topic(OTHER_VENDOR)
OWN = (
    vendor_feedback_topic(VENDOR), vendor_agreements_topic(VENDOR), OWN_PROFILE,
    vendor_disclosures_topic(VENDOR),
)  # fmt: skip
OTHERS = (
    vendor_feedback_topic(OTHER_VENDOR), vendor_agreements_topic(OTHER_VENDOR), OTHER_PROFILE,
    vendor_disclosures_topic(OTHER_VENDOR),
)  # fmt: skip
TOPICS = (
    INTENTS_SUBMITTED, MARKET, OFFERS_SUBMITTED, OFFERS_DELIVERED, ACCEPTANCES, CANCELS,
    AGREEMENTS, ATTESTATIONS, VENDOR_REGISTRY, INTENT_STATUS, DEAD_LETTERS, METRICS,
    DISCLOSURES, *OWN, *OTHERS,
)  # fmt: skip
PROCESSORS_GROUP = "intentcast-processors-matrix"
GROUPS = (
    f"intentcast.vendor.{VENDOR}",
    f"intentcast.vendor.{VENDOR}.instance1",
    f"intentcast.vendor.{OTHER_VENDOR}",
    f"intentcast.vendor.{OTHER_VENDOR}.instance1",
    PROCESSORS_GROUP,
    "intentcast.monitor.dashboard",
    "customers",
)
TRANSACTIONAL_IDS = (f"intentcast.vendor.{VENDOR}.tx", "intentcast-processors-tx")
VENDOR_USER = f"vendor-{VENDOR}"
PRINCIPALS = ("processors", "customer", VENDOR_USER, "monitor", "auditor")


@dataclass(frozen=True)
class Policy:
    """What one principal may do, per issue #5; everything not listed is refused."""

    read: frozenset[str] = frozenset()
    write: frozenset[str] = frozenset()
    create: frozenset[str] = frozenset()
    groups: frozenset[str] = frozenset()
    group_probe_topic: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    def allows(self, resource: str, name: str, op: str) -> bool:
        if resource == "topic":
            if op == "describe":  # metadata of exactly what it may read or write
                return name in self.read | self.write
            return name in {"read": self.read, "write": self.write, "create": self.create}[op]
        if resource == "group":
            return name in self.groups
        return False  # transactional ids and the cluster: nobody but the admin


POLICY = {
    "processors": Policy(
        read=frozenset(
            {
                INTENTS_SUBMITTED,
                OFFERS_SUBMITTED,
                ACCEPTANCES,
                CANCELS,
                DISCLOSURES,  # sealed: the processors check the envelope, never the values
                ATTESTATIONS,  # checked, then chained into the log
                VENDOR_REGISTRY,  # every worker folds the accepted profiles
                AGREEMENTS,
                OFFERS_DELIVERED,
                # every vendor's profile topic, found by pattern under the vendor prefix; the
                # feedback and agreement copies there are the processors' own output
                *OWN,
                *OTHERS,
            }
        ),  # sealed; re-read to avoid redelivery after a crash
        write=frozenset(
            {
                MARKET,
                VENDOR_REGISTRY,  # the processors alone vouch for a profile
                OFFERS_DELIVERED,
                AGREEMENTS,
                INTENT_STATUS,
                DEAD_LETTERS,
                METRICS,
                *OWN,
                *OTHERS,
            }
        ),
        create=frozenset(TOPICS),  # the processors alone create topics
        groups=frozenset({PROCESSORS_GROUP}),
        group_probe_topic=INTENTS_SUBMITTED,
    ),
    "customer": Policy(
        read=frozenset({OFFERS_DELIVERED, INTENT_STATUS, AGREEMENTS, VENDOR_REGISTRY}),
        write=frozenset({INTENTS_SUBMITTED, ACCEPTANCES, CANCELS, DISCLOSURES}),
        group_probe_topic=OFFERS_DELIVERED,
    ),
    VENDOR_USER: Policy(
        # the log: every entry's hashes and links, to check its own copies against the chain
        read=frozenset({MARKET, VENDOR_REGISTRY, AGREEMENTS, *OWN}),
        # its own profile topic only: that binds the vendor id to the principal; it reads
        # no attestation, not even its own (they name other vendors' agreements)
        write=frozenset({OFFERS_SUBMITTED, ATTESTATIONS, OWN_PROFILE}),
        groups=frozenset(GROUPS[:2]),  # its own group and its instances' groups only
        group_probe_topic=MARKET,
    ),
    "monitor": Policy(
        read=frozenset({METRICS, INTENT_STATUS, VENDOR_REGISTRY}),
        groups=frozenset({"intentcast.monitor.dashboard"}),
        group_probe_topic=METRICS,
    ),
    # the log only, with no group: it opens every entry with its own key, and reads nothing
    # else (not the vendors' clear copies, not the offers, not the statuses)
    "auditor": Policy(read=frozenset({AGREEMENTS}), group_probe_topic=AGREEMENTS),
}

CELLS = [
    *((p, "topic", t, op) for p in PRINCIPALS for t in TOPICS
      for op in ("read", "write", "describe", "create")),
    *((p, "group", g, op) for p in PRINCIPALS for g in GROUPS for op in ("read", "describe")),
    *((p, "transactional-id", t, "write") for p in PRINCIPALS for t in TRANSACTIONAL_IDS),
    *((p, "cluster", "kafka-cluster", op) for p in PRINCIPALS
      for op in ("create", "describe-configs")),
]  # fmt: skip


class Clients:
    """One producer and one admin client per principal, reused by every cell."""

    def __init__(self, kafka: SecureKafka) -> None:
        self.kafka = kafka
        self.producers: dict[str, AIOKafkaProducer] = {}
        self.admins: dict[str, AIOKafkaAdminClient] = {}
        self.written: list[tuple[str, int]] = []  # (topic, offset) of each probe that landed

    async def producer(self, user: str) -> AIOKafkaProducer:
        if user not in self.producers:
            # not idempotent: a principal with no WRITE anywhere must still reach the topic check
            producer = AIOKafkaProducer(acks=1, **self.kafka.kwargs(user))
            await producer.start()
            self.producers[user] = producer
        return self.producers[user]

    async def admin(self, user: str) -> AIOKafkaAdminClient:
        if user not in self.admins:
            admin = AIOKafkaAdminClient(**self.kafka.kwargs(user))
            await admin.start()
            self.admins[user] = admin
        return self.admins[user]

    async def close(self) -> None:
        for producer in self.producers.values():
            await producer.stop()
        for admin in self.admins.values():
            await admin.close()

    async def remove_probes_from_the_log(self) -> None:
        """Delete the probes written to the agreement log, so the session's later tests audit
        a log of entries only: a probe there is a record no chain accepts, and `audit verify`
        rightly reports it as a break. (The other topics' readers refuse a probe like any bad
        record; the compacted ones could not delete it anyway.)"""
        probes = sorted(offset for topic, offset in self.written if topic == AGREEMENTS)
        if not probes:
            return
        partition = TopicPartition(AGREEMENTS, 0)
        kwargs = self.kafka.kwargs("admin")
        consumer = AIOKafkaConsumer(**kwargs)
        await consumer.start()
        try:
            start = (await consumer.beginning_offsets([partition]))[partition]
        finally:
            await consumer.stop()
        if probes != list(range(start, probes[-1] + 1)):
            return  # other records came first (another test order): they are not ours to delete
        admin = AIOKafkaAdminClient(**kwargs)
        await admin.start()
        try:
            await admin.delete_records({partition: RecordsToDelete(before_offset=probes[-1] + 1)})
        finally:
            await admin.close()


@pytest.fixture(scope="module")
async def clients(secure_kafka: SecureKafka) -> AsyncIterator[Clients]:
    found = Clients(secure_kafka)
    yield found
    await found.close()
    await found.remove_probes_from_the_log()


async def _probe(clients: Clients, user: str, resource: str, name: str, op: str) -> bool:
    kwargs = clients.kafka.kwargs(user)
    if resource == "topic":
        if op == "read":
            return await probes.can_read(kwargs, await clients.admin(user), name)
        if op == "write":
            return await probes.can_write(await clients.producer(user), name, clients.written)
        if op == "describe":
            return await probes.can_describe(await clients.admin(user), name)
        return await probes.can_create(await clients.admin(user), name)
    if resource == "group":
        if op == "read":
            topic = POLICY[user].group_probe_topic
            return await probes.can_join_group(kwargs, name, topic)
        return await probes.can_describe_group(await clients.admin(user), name)
    if resource == "transactional-id":
        return await probes.can_use_transactional_id(kwargs, name)
    if op == "create":  # a topic outside every prefix grants: needs CREATE on the cluster
        return await probes.can_create(await clients.admin(user), "rogue-topic")
    return await probes.can_describe_cluster_configs(await clients.admin(user))


@pytest.mark.parametrize(
    ("user", "resource", "name", "op"), CELLS, ids=[f"{u}|{r}:{n}|{o}" for u, r, n, o in CELLS]
)
async def test_acl_cell(clients: Clients, user: str, resource: str, name: str, op: str) -> None:
    expected = POLICY[user].allows(resource, name, op)
    allowed = await _probe(clients, user, resource, name, op)
    verdict = {True: "allowed", False: "refused"}
    assert allowed == expected, (
        f"{user} {op} on {resource} {name}: broker {verdict[allowed]}, "
        f"policy says {verdict[expected]}"
    )


def test_matrix_covers_every_principal_kind_and_resource_type() -> None:
    """The matrix is whole: five principals, four resource types, both vendors' names."""
    assert {c[1] for c in CELLS} == {"topic", "group", "transactional-id", "cluster"}
    assert {c[0] for c in CELLS} == set(PRINCIPALS)
    assert set(OTHERS) <= {c[2] for c in CELLS}
    assert len(CELLS) == 5 * (len(TOPICS) * 4 + len(GROUPS) * 2 + len(TRANSACTIONAL_IDS) + 2)
