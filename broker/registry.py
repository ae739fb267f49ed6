"""The vendor registry every worker keeps, folded from the vendor profiles topic.

Each worker reads the whole (compacted) topic itself, applying the same deterministic rules in
log order (valid self-signature, first key wins), so all workers agree without coordination.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from aiokafka import AIOKafkaConsumer, TopicPartition

from broker.refusal import Refused
from broker.settings import BrokerSettings
from broker.validation import check_profile
from schemas import VENDOR_PROFILES, SchemaError, VendorProfile, decode

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

    def key_of(self, vendor_id: str) -> str | None:
        profile = self.profiles.get(vendor_id)
        return None if profile is None else profile.signing_key

    def apply(self, raw: bytes | None) -> VendorProfile | None:
        """Fold one record into the registry; return the profile if it was accepted."""
        if raw is None:
            return None
        try:
            profile = decode(VendorProfile, raw)
            check_profile(profile, self.key_of(profile.vendor_id))
        except (SchemaError, Refused) as exc:
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
        await consumer.start()
        partitions = consumer.partitions_for_topic(VENDOR_PROFILES) or {0}
        tps = [TopicPartition(VENDOR_PROFILES, p) for p in sorted(partitions)]
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        self._consumer = consumer
        self._task = asyncio.create_task(self._run(), name="vendor-registry")
        self._started.set()
        await self.sync()

    async def wait_started(self) -> None:
        """Processors that look vendors up wait here until the registry reader runs."""
        await self._started.wait()

    async def _run(self) -> None:
        assert self._consumer is not None
        while True:
            batch = await self._consumer.getmany(timeout_ms=500)
            async with self._progress:
                for records in batch.values():
                    for record in records:
                        self.apply(record.value)
                for tp in self._consumer.assignment():  # position skips compaction gaps
                    self._position[tp] = await self._consumer.position(tp)
                self._progress.notify_all()

    async def sync(self, timeout: float = 10.0) -> None:
        """Wait until everything written to the topic before this call has been folded in."""
        await self.wait_started()
        assert self._consumer is not None
        ends = await self._consumer.end_offsets(list(self._consumer.assignment()))

        def caught_up() -> bool:
            return all(self._position.get(tp, 0) >= end for tp, end in ends.items())

        async with self._progress:
            await asyncio.wait_for(self._progress.wait_for(caught_up), timeout)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self._consumer is not None:
            await self._consumer.stop()
