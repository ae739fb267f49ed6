"""The vendor transport on a real cluster: profile, registration wait, one consumer group.

It publishes the signed profile to the vendor's own topic, waits until the processors list
it in the registry (an offer sent before would be refused as `vendor_unknown`), then consumes
the vendor's topics with `kafkaio.consume`, committing a batch only after its offers were
acknowledged (``acks=all``, idempotent producer).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Collection, Sequence
from typing import Final

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord, TopicPartition
from aiokafka.errors import KafkaError

from intentcast.agents.declaration import Subscription
from intentcast.agents.errors import (
    PublishError,
    RegistrationError,
    TopicMissingError,
    VendorConfigError,
)
from intentcast.agents.kafka import (
    kafka_errors,
    make_consumer,
    make_producer,
    random_client_id,
    send,
)
from intentcast.agents.lookup import latest_for_key
from intentcast.agents.settings import ClientSettings
from intentcast.agents.topic_history import read_to_end
from intentcast.agents.transport import Outgoing, RecordsHandler
from intentcast.kafkaio import POLL_MS, Batch, consume, records_of
from intentcast.schemas.canonical import decode, encode
from intentcast.schemas.errors import SchemaError
from intentcast.schemas.offer import VendorProfile
from intentcast.schemas.topics import VENDOR_REGISTRY, vendor_profile_topic

__all__ = ["KafkaTransport"]

log = logging.getLogger(__name__)

MAX_RECORDS: Final = 200
PROFILE_METADATA_WAIT_S: Final = 5.0
"""How long one look for the profile topic lasts before the SDK tells the operator and waits."""
PROFILE_RETRY_MAX_S: Final = 30.0
REGISTRATION_NAG_S: Final = 10.0
"""How often the SDK reminds the operator while it waits to appear in the registry."""


class KafkaTransport:
    """One vendor instance's producer and consumer on the cluster ``settings`` name."""

    def __init__(self, settings: ClientSettings | None = None) -> None:
        self._settings = settings or ClientSettings()
        self._client_id = random_client_id("vendor")
        self._producer: AIOKafkaProducer | None = None
        self._consumer: AIOKafkaConsumer | None = None

    async def register(self, profile: VendorProfile, stop: asyncio.Event) -> bool:
        """Publish ``profile``, then wait until the registry lists it with this key."""
        self._client_id = random_client_id(f"vendor-{profile.vendor_id}")
        self._producer = make_producer(self._settings, self._client_id)
        with kafka_errors("starting the vendor's producer"):
            await self._producer.start()
        if not await self._publish_profile(self._producer, profile, stop):
            return False  # stopped while waiting for the profile topic
        try:
            return await self._await_registration(self._producer, profile, stop)
        except TimeoutError:
            raise RegistrationError(profile.vendor_id, "no metadata for it in time") from None
        except KafkaError as exc:
            raise RegistrationError(profile.vendor_id, f"{type(exc).__name__}: {exc}") from exc

    async def _publish_profile(
        self, producer: AIOKafkaProducer, profile: VendorProfile, stop: asyncio.Event
    ) -> bool:
        """Write the signed profile to the vendor's own topic, waiting politely until it exists.

        Vendors cannot create topics (in secure mode no principal but the processors may), so
        a missing profile topic is the operator's to create; until then the SDK says so and
        retries with a growing pause. Returns False if the vendor was stopped meanwhile.
        """
        vendor_id = profile.vendor_id
        topic = vendor_profile_topic(vendor_id)
        pause = 1.0
        while not stop.is_set():
            try:
                with kafka_errors(f"looking up {topic}", topic=topic):
                    await asyncio.wait_for(producer.partitions_for(topic), PROFILE_METADATA_WAIT_S)
            except (TimeoutError, TopicMissingError):
                log.warning(
                    "vendor %s: its profile topic %s does not exist yet; ask the operator to run "
                    "`intentcast principals add vendor %s` (secure cluster) or "
                    "`intentcast topics create --vendor %s`; retrying in %.0fs",
                    vendor_id, topic, vendor_id, vendor_id, pause,
                )  # fmt: skip
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), pause)
                pause = min(pause * 2, PROFILE_RETRY_MAX_S)
                continue
            await send(producer, topic, vendor_id, encode(profile))
            return True
        return False

    async def _await_registration(
        self, producer: AIOKafkaProducer, profile: VendorProfile, stop: asyncio.Event
    ) -> bool:
        """Read the registry from its start until it lists this vendor id with this key.

        The registry topic is the processors' answer, readable by everyone, so the SDK waits
        for its own entry instead of racing the processors with its first offer.
        """
        vendor_id, wanted = profile.vendor_id, profile.vendor_id.encode()
        parts = await asyncio.wait_for(
            producer.partitions_for(VENDOR_REGISTRY), PROFILE_METADATA_WAIT_S
        )
        tps = [TopicPartition(VENDOR_REGISTRY, p) for p in sorted(parts)]
        consumer = make_consumer(self._settings, self._client_id, offset_reset="earliest")
        await consumer.start()
        waited = 0.0

        async def look(batch: Batch) -> bool:
            nonlocal waited
            for record in records_of(batch):
                listed = _listed_profile(record.key, record.value, wanted)
                if listed is None:
                    continue
                if listed.signing_key != profile.signing_key:
                    raise VendorConfigError(
                        f"vendor id {vendor_id!r} is registered with another key; choose "
                        "another vendor id or run with the key it was registered with"
                    )
                log.info("vendor %s registered", vendor_id)
                return True
            waited += POLL_MS / 1000
            if waited >= REGISTRATION_NAG_S:
                log.warning(
                    "vendor %s: not in the registry yet; are the processors running "
                    "(`intentcast broker run`)?",
                    vendor_id,
                )
                waited = 0.0
            return False

        try:
            consumer.assign(tps)
            await consumer.seek_to_beginning(*tps)
            return await consume(consumer, look, name=f"vendor {vendor_id} registry", stop=stop)
        finally:
            with contextlib.suppress(KafkaError):
                await consumer.stop()

    async def subscribe(self, subscription: Subscription) -> None:
        """Join the vendor's group; topics that do not exist yet join when metadata shows them."""
        if subscription.share_load:
            consumer = make_consumer(
                self._settings, self._client_id, group_id=subscription.group_id,
                offset_reset="earliest",
            )  # fmt: skip
        else:  # a group of its own: sees every intent, but only new ones
            own_group = f"{subscription.group_id}.{self._client_id.rsplit('-', 1)[1]}"
            consumer = make_consumer(
                self._settings, self._client_id, group_id=own_group, offset_reset="latest"
            )
        self._consumer = consumer
        with kafka_errors("starting the vendor's consumer"):
            await consumer.start()
        # Subscribing after start: aiokafka's start would wait for every subscribed topic to
        # exist, but the per-vendor topics appear only once the processors saw the profile.
        # The group simply rebalances when metadata shows them.
        consumer.subscribe(list(subscription.topics))

    async def consume(self, handle: RecordsHandler, stop: asyncio.Event) -> None:
        """Handle and commit batches until ``stop``; a Kafka error ends it, translated."""
        consumer = self._consumer
        if consumer is None:
            raise VendorConfigError("the transport is not subscribed; call subscribe() first")

        async def each_batch(batch: Batch) -> None:
            if batch:
                await handle(records_of(batch))

        with kafka_errors("consuming"):
            await consume(
                consumer, each_batch, name="vendor", stop=stop, max_records=MAX_RECORDS,
                commit=True,
            )  # fmt: skip

    async def send(self, records: Sequence[Outgoing]) -> None:
        """Send every record, then wait until Kafka acknowledged each one (or raise)."""
        if not records:
            return
        producer = self._producer
        if producer is None:
            raise VendorConfigError("the transport is not registered; call register() first")
        with kafka_errors("sending offers", PublishError, topic=records[0].topic):
            acks = [await producer.send(r.topic, value=r.value, key=r.key) for r in records]
            await asyncio.gather(*acks)

    async def history(
        self, topics: Sequence[str], partitions: Collection[int] | None = None
    ) -> list[ConsumerRecord[bytes, bytes]]:
        """Every record ``topics`` hold now, read outside the group (which stays as it is)."""
        return await read_to_end(
            self._settings, topics, client_id=f"{self._client_id}-history",
            partitions=None if partitions is None else (lambda _count: partitions),
        )  # fmt: skip

    def assignment(self) -> frozenset[tuple[str, int]]:
        """Partitions the group gave this instance right now (empty before it joined)."""
        if self._consumer is None:
            return frozenset()
        return frozenset((tp.topic, tp.partition) for tp in self._consumer.assignment())

    async def latest(self, topic: str, key: str) -> bytes | None:
        """The last record keyed ``key`` on ``topic``, read from its partition with no group."""
        return await latest_for_key(self._settings, topic, key)

    async def close(self) -> None:
        """Leave the group at once (others take over), then flush and stop the producer."""
        consumer, self._consumer = self._consumer, None
        producer, self._producer = self._producer, None
        if consumer is not None:
            with contextlib.suppress(KafkaError):
                await consumer.stop()
        if producer is not None:
            with contextlib.suppress(KafkaError):
                await producer.stop()


def _listed_profile(key: bytes | None, value: bytes | None, wanted: bytes) -> VendorProfile | None:
    """The registry entry of the vendor keyed ``wanted``; other and unreadable ones skipped."""
    if key != wanted:
        return None
    try:
        return decode(VendorProfile, value or b"")
    except SchemaError as exc:
        log.warning("skipped an unreadable registry record: %s", exc)
        return None
