"""The vendor registry every worker keeps, folded from the processors' registry topic.

Only the processors write `intentcast.vendors.registry`, and only profiles that passed
`broker.profile_gate` (right topic, valid self-signature, first key kept), so compaction can
only ever keep an accepted profile. Each worker reads the whole topic itself and applies the
same rules again in log order, so all workers agree without coordination.
"""

from __future__ import annotations

import asyncio
import logging

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import KafkaError

from intentcast.broker.kafka_meta import topic_partitions
from intentcast.broker.settings import BrokerSettings
from intentcast.broker.validation import check_profile
from intentcast.kafkaio import Batch, consume, records_of, stop_task
from intentcast.schemas import VENDOR_REGISTRY, Rejected, VendorProfile, decode
from intentcast.schemas.topics import vendor_id_of_profile_topic

log = logging.getLogger(__name__)


class VendorRegistry:
    def __init__(self, settings: BrokerSettings) -> None:
        self._settings = settings
        self.profiles: dict[str, VendorProfile] = {}
        self._consumer: AIOKafkaConsumer | None = None
        self._task: asyncio.Task[None] | None = None
        self._position: dict[TopicPartition, int] = {}
        self._progress = asyncio.Condition()
        self._started = asyncio.Event()
        self._gate_group: str | None = None
        self._admin: AIOKafkaAdminClient | None = None

    def follow_gate(self, group_id: str) -> None:
        """Make `sync` wait for the profile gate's consumer group too (see `sync`)."""
        self._gate_group = group_id

    def key_of(self, vendor_id: str) -> str | None:
        profile = self.profiles.get(vendor_id)
        return None if profile is None else profile.signing_key

    def sealing_key_of(self, vendor_id: str) -> str | None:
        """The X25519 key the vendor's profile names for disclosures, if it names one."""
        profile = self.profiles.get(vendor_id)
        return None if profile is None else profile.sealing_key

    async def current_key(self, vendor_id: str) -> str | None:
        """The vendor's key, catching up once if it is unknown: an offer may arrive a moment
        after its vendor's first profile, before the registry folded that in."""
        await self.wait_started()
        key = self.key_of(vendor_id)
        if key is None:
            await self.sync()
            key = self.key_of(vendor_id)
        return key

    def apply(self, raw: bytes | None) -> VendorProfile | None:
        """Fold one record into the registry; return the profile if it was accepted."""
        if raw is None:
            return None
        try:
            profile = decode(VendorProfile, raw)
            check_profile(profile, self.key_of(profile.vendor_id))
        except Rejected as exc:
            log.debug("registry ignores a profile: %s", exc)
            return None
        self.profiles[profile.vendor_id] = profile
        return profile

    async def start(self) -> None:
        consumer = AIOKafkaConsumer(
            **self._settings.kafka_kwargs(),
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            client_id=f"{self._settings.app_id}-registry",
        )
        # every partition of the registry, asked of the cluster (a guess of {0} would miss
        # profiles on the others); raises with what to do if the topic does not exist
        tps = await topic_partitions(self._settings.kafka_kwargs(), [VENDOR_REGISTRY])
        await consumer.start()
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        self._consumer = consumer
        self._task = asyncio.create_task(self._run(), name="vendor-registry")
        self._started.set()
        await self.sync_registry()

    async def wait_started(self) -> None:
        """Processors that look vendors up wait here until the registry reader runs."""
        await self._started.wait()

    async def _run(self) -> None:
        assert self._consumer is not None
        await consume(self._consumer, self._fold, name="vendor registry")

    async def _fold(self, batch: Batch) -> None:
        """Apply a batch (even an empty one) and tell `sync` how far the topic is read."""
        assert self._consumer is not None
        async with self._progress:
            for record in records_of(batch):
                self.apply(record.value)
            for tp in self._consumer.assignment():  # position skips compaction gaps
                self._position[tp] = await self._consumer.position(tp)
            self._progress.notify_all()

    async def sync(self, timeout: float = 10.0) -> None:
        """Wait until every profile written before this call was checked and folded in.

        A profile reaches the registry topic in two hops (its vendor's topic, the gate, the
        registry topic), so first wait until the gate's group has committed past the end of
        every vendor profile topic (it commits only after republishing), for at most
        `timeout`; then until the registry topic is folded in up to its end.
        """
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        await self.wait_started()
        if self._gate_group is not None:
            try:
                await self._gate_caught_up(self._gate_group, deadline)
            except KafkaError as exc:
                log.warning("profile gate progress unknown (%s); reading the registry", exc)
        await self.sync_registry(max(0.5, deadline - loop.time()))

    async def _gate_caught_up(self, group: str, deadline: float) -> None:
        assert self._consumer is not None
        if self._admin is None:
            self._admin = AIOKafkaAdminClient(**self._settings.kafka_kwargs())
            await self._admin.start()
        admin = self._admin
        topics = [t for t in await admin.list_topics() if vendor_id_of_profile_topic(t)]
        described = await admin.describe_topics(topics) if topics else []
        tps = [
            TopicPartition(t["topic"], p["partition"])
            for t in described
            if t["error_code"] == 0
            for p in t["partitions"]
        ]
        pending = {tp: end for tp, end in (await self._consumer.end_offsets(tps)).items() if end}
        loop = asyncio.get_running_loop()
        while pending:
            committed = await admin.list_consumer_group_offsets(group, partitions=list(pending))
            pending = {
                tp: end
                for tp, end in pending.items()
                if tp not in committed or committed[tp].offset < end
            }
            if pending and loop.time() > deadline:
                log.warning("profile gate behind on %d profile topic(s)", len(pending))
                return
            if pending:
                await asyncio.sleep(0.1)

    async def sync_registry(self, timeout: float = 10.0) -> None:
        """Wait until everything written to the registry topic before this call is folded in."""
        await self.wait_started()
        assert self._consumer is not None
        ends = await self._consumer.end_offsets(list(self._consumer.assignment()))

        def caught_up() -> bool:
            return all(self._position.get(tp, 0) >= end for tp, end in ends.items())

        async with self._progress:
            await asyncio.wait_for(self._progress.wait_for(caught_up), timeout)

    async def stop(self) -> None:
        await stop_task(self._task)
        if self._consumer is not None:
            await self._consumer.stop()
        if self._admin is not None:
            await self._admin.close()
