"""The profile gate: checks every vendor's own profile topic and republishes what passes.

A vendor writes its profile to `intentcast.vendor.<id>.profile`, which only its principal may
write. The gate reads all those topics by pattern, applies `check_vendor_profile` and
republishes accepted profiles to `intentcast.vendors.registry`, which only the processors
write and every worker's `VendorRegistry` folds. A refused profile is told to the vendor on
its own feedback topic and, as the code's audience wants, dead-lettered
(`broker.processors.refusals`).

Why an aiokafka consumer and not a faust agent: faust-streaming 0.15 subscribes by topic
names only (its aiokafka driver ignores a topic's pattern, so a pattern agent receives
nothing), and a new topic in faust's own group would rebalance every agent and its tables.
Here the consumer has a group of its own, `<app_id>-profiles`, so each profile topic is
checked by one worker at a time; `metadata_max_age_ms` of 5 s makes a vendor topic created
after start join the subscription within seconds. Offsets are committed only after the
republished record and the refusals are acknowledged (at least once; a replay republishes
nothing, as the registry already holds the same profile).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any, Final

from aiokafka import AIOKafkaConsumer, ConsumerRebalanceListener, TopicPartition
from aiokafka.errors import KafkaError

from intentcast.broker.context import Context
from intentcast.broker.outputs import Outputs
from intentcast.broker.processors.incoming import Incoming
from intentcast.broker.processors.profiles import check_vendor_profile, ensure_vendor_topics
from intentcast.broker.processors.refusals import VendorRecord, refuse
from intentcast.broker.refusal import Refused
from intentcast.kafkaio import Batch, consume, records_of, stop_task
from intentcast.schemas import VENDOR_REGISTRY, ReasonCode, Rejected, encode
from intentcast.schemas.topics import VENDOR_PROFILE_PATTERN, vendor_id_of_profile_topic

log = logging.getLogger(__name__)

GROUP_SUFFIX: Final = "-profiles"
METADATA_MAX_AGE_MS: Final = 5_000
"""How soon a vendor profile topic created after start is noticed (one metadata refresh)."""
MAX_RECORDS: Final = 100
RETRY_S: Final = 1.0

Record = Any  # aiokafka's ConsumerRecord[bytes, bytes]


class _SyncOnAssign(ConsumerRebalanceListener):  # type: ignore[misc]  # aiokafka is untyped
    """Before checking newly assigned topics, catch up with what the previous owner published."""

    def __init__(self, ctx: Context) -> None:
        self._ctx = ctx

    async def on_partitions_revoked(self, revoked: list[TopicPartition]) -> None:
        return None

    async def on_partitions_assigned(self, assigned: list[TopicPartition]) -> None:
        try:
            await self._ctx.registry.sync_registry()
        except TimeoutError:
            log.warning("vendor registry not caught up after a rebalance; checking anyway")


class ProfileGate:
    """One per worker: the pattern consumer, its own idempotent producer, the check loop."""

    def __init__(self, ctx: Context) -> None:
        self._ctx = ctx
        # its own producer (same settings: idempotent, acks=all), so waiting for its acks
        # never takes over the pending outputs of a faust agent's batch
        self._outputs = Outputs(ctx.settings)
        self._consumer: AIOKafkaConsumer | None = None
        self._task: asyncio.Task[None] | None = None
        self._topics_ready: set[str] = set()

    async def start(self) -> None:
        settings = self._ctx.settings
        consumer = AIOKafkaConsumer(
            **settings.kafka_kwargs(),
            group_id=settings.app_id + GROUP_SUFFIX,
            client_id=settings.app_id + GROUP_SUFFIX,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            metadata_max_age_ms=METADATA_MAX_AGE_MS,
        )
        await consumer.start()
        consumer.subscribe(pattern=VENDOR_PROFILE_PATTERN, listener=_SyncOnAssign(self._ctx))
        self._ctx.registry.follow_gate(settings.app_id + GROUP_SUFFIX)
        self._consumer = consumer
        self._task = asyncio.create_task(self._run(), name="profile-gate")

    async def stop(self) -> None:
        await stop_task(self._task)
        if self._consumer is not None:
            with contextlib.suppress(KafkaError):
                await self._consumer.stop()
        await self._outputs.stop()

    async def _run(self) -> None:
        assert self._consumer is not None
        # a Kafka error leaves the batch uncommitted: the loop goes back and checks it again
        await consume(
            self._consumer, self._handle_batch, name="profile gate",
            max_records=MAX_RECORDS, commit=True, retry_after=RETRY_S,
        )  # fmt: skip

    async def _handle_batch(self, batch: Batch) -> None:
        for record in records_of(batch):
            await self._handle(record)

    async def _handle(self, record: Record) -> None:
        if record.value is None:
            return  # a tombstone: compaction bookkeeping
        try:
            await self._check(record)
        except KafkaError:
            raise
        except Exception as exc:  # a bug on one odd record must not stop registration
            log.exception("profile gate: %s@%d failed", record.topic, record.offset)
            await self._refuse(record, Refused(ReasonCode.INTERNAL_ERROR, type(exc).__name__))

    async def _check(self, record: Record) -> None:
        ctx = self._ctx
        owner = vendor_id_of_profile_topic(record.topic)
        known = ctx.registry.key_of(owner) if owner else None
        try:
            profile = check_vendor_profile(record.topic, record.value, known)
        except Rejected as exc:
            await self._refuse(record, exc)
            return
        if profile.vendor_id not in self._topics_ready:
            try:
                await ensure_vendor_topics(ctx, profile.vendor_id)
                self._topics_ready.add(profile.vendor_id)
            except KafkaError as exc:  # the operator creates them too; registration goes on
                log.warning("topics of vendor %s not ensured: %s", profile.vendor_id, exc)
        if ctx.registry.profiles.get(profile.vendor_id) != profile:
            value = encode(profile)
            await self._outputs.send(VENDOR_REGISTRY, value, profile.vendor_id.encode())
            await self._outputs.flush()
            ctx.registry.apply(value)  # at once: a second profile in this batch sees the key
        ctx.metrics.count("profiles.accepted")

    async def _refuse(self, record: Record, error: Rejected) -> None:
        rec = Incoming.from_record(record, record.timestamp)
        sender = VendorRecord.profile(record.topic)
        await refuse(self._ctx, rec, error, sender, outputs=self._outputs)
        await self._outputs.flush()
