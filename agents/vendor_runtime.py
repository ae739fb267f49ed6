"""The running part of a vendor: profile, one consumer group, offers out, commits after acks."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import TYPE_CHECKING, Final, TypeVar

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord, TopicPartition
from aiokafka.errors import CommitFailedError, KafkaError
from aiokafka.structs import OffsetAndMetadata

from intentcast.agents.errors import PublishError, TopicMissingError, VendorConfigError
from intentcast.agents.kafka import (
    kafka_errors,
    make_consumer,
    make_producer,
    random_client_id,
    send,
)
from intentcast.agents.settings import ClientSettings
from intentcast.schemas.agreement import Agreement
from intentcast.schemas.canonical import decode, encode
from intentcast.schemas.errors import SchemaError
from intentcast.schemas.events import OfferFeedback
from intentcast.schemas.intent import Intent
from intentcast.schemas.offer import Offer, VendorProfile
from intentcast.schemas.topics import OFFERS_SUBMITTED, VENDOR_REGISTRY

if TYPE_CHECKING:
    from intentcast.agents.vendor import Vendor

__all__ = ["VendorRuntime"]

log = logging.getLogger(__name__)

Batch = dict[TopicPartition, list[ConsumerRecord[bytes, bytes]]]
M = TypeVar("M", Intent, OfferFeedback, Agreement, VendorProfile)
MAX_RECORDS: Final = 200
POLL_MS: Final = 500
PROFILE_METADATA_WAIT_S: Final = 5.0
"""How long one look for the profile topic lasts before the SDK tells the operator and waits."""
PROFILE_RETRY_MAX_S: Final = 30.0
REGISTRATION_NAG_S: Final = 10.0
"""How often the SDK reminds the operator while it waits to appear in the registry."""


class VendorRuntime:
    """Consumes a vendor's topics and sends its offers, committing only what was handled.

    One batch at a time: handle every record, wait until Kafka acknowledged every offer the
    batch produced, then commit. A crash in between means redelivery (the vendor's dedupe and
    the processors' duplicate-offer check absorb it), never a lost intent.
    """

    def __init__(self, vendor: Vendor, settings: ClientSettings, stop: asyncio.Event) -> None:
        self._vendor = vendor
        self._stop = stop
        client_id = random_client_id(f"vendor-{vendor.vendor_id}")
        self._settings, self._client_id = settings, client_id
        self._producer: AIOKafkaProducer = make_producer(settings, client_id)
        if vendor.instances_share_load:
            self._consumer: AIOKafkaConsumer = make_consumer(
                settings, client_id, group_id=vendor.group_id, offset_reset="earliest"
            )
        else:  # a group of its own: sees every intent, but only new ones
            own_group = f"{vendor.group_id}.{client_id.rsplit('-', 1)[1]}"
            self._consumer = make_consumer(
                settings, client_id, group_id=own_group, offset_reset="latest"
            )
        self._task: asyncio.Task[None] | None = None

    @property
    def topics(self) -> list[str]:
        """Market topics plus the vendor's private feedback and agreements topics."""
        vendor = self._vendor
        return [*vendor.topics_for_markets, vendor.feedback_topic, vendor.agreements_topic]

    def assignment(self) -> frozenset[tuple[str, int]]:
        """Market partitions this instance owns right now (the group splits them)."""
        markets = self._vendor.topics_for_markets
        return frozenset(
            (tp.topic, tp.partition) for tp in self._consumer.assignment() if tp.topic in markets
        )

    async def start(self) -> None:
        """Register the profile, join the group and start the consume loop."""
        vendor = self._vendor
        try:
            with kafka_errors("starting the vendor's producer"):
                await self._producer.start()
            if not await self._publish_profile():
                return  # stopped while waiting for the profile topic
            if not await self._await_registration():
                return  # stopped while waiting for the processors
            with kafka_errors("starting the vendor's consumer"):
                await self._consumer.start()
            # Subscribing after start: aiokafka's start would wait for every subscribed topic
            # to exist, but the per-vendor topics appear only once the processors saw the
            # profile. The group simply rebalances when metadata shows them.
            self._consumer.subscribe(self.topics)
        except BaseException:
            await self._shutdown()
            raise
        self._task = asyncio.create_task(self._loop(), name=f"vendor-{vendor.vendor_id}")
        log.info("vendor %s serving %s", vendor.vendor_id, ", ".join(vendor.markets))

    async def _publish_profile(self) -> bool:
        """Write the signed profile to the vendor's own topic, waiting politely until it exists.

        Vendors cannot create topics (in secure mode no principal but the processors may), so
        a missing profile topic is the operator's to create; until then the SDK says so and
        retries with a growing pause. Returns False if the vendor was stopped meanwhile.
        """
        vendor = self._vendor
        topic = vendor.profile_topic
        pause = 1.0
        while not self._stop.is_set():
            try:
                with kafka_errors(f"looking up {topic}", topic=topic):
                    await asyncio.wait_for(
                        self._producer.partitions_for(topic), PROFILE_METADATA_WAIT_S
                    )
            except (TimeoutError, TopicMissingError):
                log.warning(
                    "vendor %s: its profile topic %s does not exist yet; ask the operator to run "
                    "`intentcast principals add vendor %s` (secure cluster) or "
                    "`intentcast topics create --vendor %s`; retrying in %.0fs",
                    vendor.vendor_id, topic, vendor.vendor_id, vendor.vendor_id, pause,
                )  # fmt: skip
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._stop.wait(), pause)
                pause = min(pause * 2, PROFILE_RETRY_MAX_S)
                continue
            await send(self._producer, topic, vendor.vendor_id, encode(vendor.profile()))
            return True
        return False

    async def _await_registration(self) -> bool:
        """Wait until the processors list this profile in the registry, then start answering.

        An offer sent before the processors registered its vendor would be refused as
        `vendor_unknown`; the registry topic is the processors' answer, readable by everyone,
        so the SDK waits for its own entry (with this key) instead of racing it.
        """
        vendor = self._vendor
        consumer = make_consumer(self._settings, self._client_id, offset_reset="earliest")
        with kafka_errors("reading the vendor registry", topic=VENDOR_REGISTRY):
            await consumer.start()
        try:
            tps: list[TopicPartition] = []
            waited = 0.0
            while not self._stop.is_set():
                if not tps:
                    parts = await asyncio.wait_for(
                        self._producer.partitions_for(VENDOR_REGISTRY), PROFILE_METADATA_WAIT_S
                    )
                    tps = [TopicPartition(VENDOR_REGISTRY, p) for p in sorted(parts)]
                    consumer.assign(tps)
                    await consumer.seek_to_beginning(*tps)
                batch = await consumer.getmany(timeout_ms=POLL_MS)
                for records in batch.values():
                    for record in records:
                        if record.key != vendor.vendor_id.encode():
                            continue
                        profile = self._decode(VendorProfile, VENDOR_REGISTRY, record)
                        if profile is None:
                            continue
                        if profile.signing_key != vendor.key.public_key:
                            raise VendorConfigError(
                                f"vendor id {vendor.vendor_id!r} is registered with another key"
                            )
                        log.info("vendor %s registered", vendor.vendor_id)
                        return True
                waited += POLL_MS / 1000
                if waited >= REGISTRATION_NAG_S:
                    log.warning(
                        "vendor %s: not in the registry yet; are the processors "
                        "running (`intentcast broker run`)?",
                        vendor.vendor_id,
                    )
                    waited = 0.0
            return False
        finally:
            with contextlib.suppress(KafkaError):
                await consumer.stop()

    async def wait(self) -> None:
        """Until the loop ends; re-raises its error."""
        if self._task is not None:
            await asyncio.shield(self._task)

    async def close(self) -> None:
        """Stop the loop after the current batch, then flush, commit and close the clients."""
        self._stop.set()
        if self._task is not None:
            with contextlib.suppress(Exception, asyncio.CancelledError):
                await self._task
            self._task = None
        await self._shutdown()

    async def _shutdown(self) -> None:
        with contextlib.suppress(KafkaError):
            await self._consumer.stop()  # leaves the group at once, so others take over
        with contextlib.suppress(KafkaError):
            await self._producer.stop()  # flushes what is still buffered

    async def _loop(self) -> None:
        while not self._stop.is_set():
            with kafka_errors("consuming"):
                batch: Batch = await self._consumer.getmany(
                    timeout_ms=POLL_MS, max_records=MAX_RECORDS
                )
            if batch:
                await self._handle_batch(batch)
                await self._commit(batch)

    async def _handle_batch(self, batch: Batch) -> None:
        vendor = self._vendor
        intents: list[Intent] = []
        for tp, records in batch.items():
            for record in records:
                if tp.topic in vendor.topics_for_markets:
                    intent = self._decode_intent(tp.topic, record)
                    if intent is not None:
                        intents.append(intent)
                elif tp.topic == vendor.feedback_topic:
                    feedback = self._decode(OfferFeedback, tp.topic, record)
                    if feedback is not None:
                        await vendor.handle_feedback(feedback)
                elif tp.topic == vendor.agreements_topic:
                    agreement = self._decode(Agreement, tp.topic, record)
                    if agreement is not None:
                        await vendor.handle_agreement(agreement)
        offers = await self._answer(intents)
        await self._send_all(offers)

    async def _answer(self, intents: list[Intent]) -> list[Offer]:
        """Run the handler for each intent, at most ``max_in_flight`` at once (1 keeps order)."""
        vendor = self._vendor
        if vendor.max_in_flight == 1:
            answers = [await vendor.handle_intent(intent) for intent in intents]
        else:
            gate = asyncio.Semaphore(vendor.max_in_flight)

            async def limited(intent: Intent) -> Offer | None:
                async with gate:
                    return await vendor.handle_intent(intent)

            answers = list(await asyncio.gather(*(limited(i) for i in intents)))
        return [offer for offer in answers if offer is not None]

    async def _send_all(self, offers: list[Offer]) -> None:
        """Send the offers and wait until Kafka acknowledged every one (or raise)."""
        if not offers:
            return
        with kafka_errors("sending offers", PublishError, topic=OFFERS_SUBMITTED):
            acks = [
                await self._producer.send(
                    OFFERS_SUBMITTED, value=encode(o), key=o.intent_id.encode("ascii")
                )
                for o in offers
            ]
            await asyncio.gather(*acks)
        self._vendor.stats.offers_sent += len(offers)

    async def _commit(self, batch: Batch) -> None:
        offsets = {tp: OffsetAndMetadata(recs[-1].offset + 1, "") for tp, recs in batch.items()}
        try:
            await self._consumer.commit(offsets)
        except (CommitFailedError, KafkaError) as exc:
            # The group rebalanced meanwhile: the new owner re-reads these records, and dedupe
            # plus the processors' duplicate-offer check make that harmless.
            log.warning("vendor %s: commit failed (%s); records will be redelivered",
                        self._vendor.vendor_id, exc)  # fmt: skip

    def _decode_intent(self, topic: str, record: ConsumerRecord[bytes, bytes]) -> Intent | None:
        intent = self._decode(Intent, topic, record)
        if intent is not None and self._vendor.topics_for_markets[topic] != intent.market:
            self._vendor.stats.invalid += 1
            log.warning("intent %s on %s names market %s", intent.intent_id, topic, intent.market)
            return None
        if intent is not None and record.key != intent.intent_id.encode("ascii"):
            log.warning("intent %s arrived with another key on %s", intent.intent_id, topic)
        return intent

    def _decode(self, model: type[M], topic: str, record: ConsumerRecord[bytes, bytes]) -> M | None:
        try:
            return decode(model, record.value or b"")
        except SchemaError as exc:
            self._vendor.stats.invalid += 1
            log.warning("skipped an unreadable record on %s[%d]@%d: %s",
                        topic, record.partition, record.offset, exc)  # fmt: skip
            return None
