"""Reads the replies to one intent from the one partition they are on, with no consumer group."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition
from aiokafka.errors import KafkaError

from intentcast.agents.errors import ClientError, KafkaUnavailableError
from intentcast.agents.kafka import kafka_errors
from intentcast.kafkaio import Batch, consume, stop_task
from intentcast.schemas.agreement import Agreement
from intentcast.schemas.canonical import decode
from intentcast.schemas.crypto import SealingKey
from intentcast.schemas.errors import SchemaError
from intentcast.schemas.events import IntentStatus
from intentcast.schemas.intent import Intent
from intentcast.schemas.log import AGREEMENT_ENTRY, EntryType, LogEntry
from intentcast.schemas.offer import DeliveredOffer, Offer, open_offer
from intentcast.schemas.reasons import ReasonCode
from intentcast.schemas.topics import AGREEMENTS, INTENT_STATUS, OFFERS_DELIVERED

__all__ = ["REPLY_TOPICS", "ReplyReader"]

log = logging.getLogger(__name__)

REPLY_TOPICS = (OFFERS_DELIVERED, INTENT_STATUS, AGREEMENTS)
"""Topics a customer reads; keyed by intent id with one partition count, so one number each."""


class ReplyReader:
    """Collects the statuses, offers and agreements of one intent in the background.

    Records of other intents share the partition; they are skipped (and counted) unread:
    offers are sealed, and a customer has no business with anyone else's statuses.
    """

    def __init__(self, consumer: AIOKafkaConsumer, intent: Intent, sealing: SealingKey) -> None:
        self._consumer = consumer
        self._intent = intent
        self._key = intent.intent_id.encode("ascii")
        self._sealing = sealing
        self._cond = asyncio.Condition()
        self._task: asyncio.Task[None] | None = None
        self.statuses: list[IntentStatus] = []
        self.offers: list[Offer] = []
        self.agreements: list[Agreement] = []
        self.entries: list[LogEntry] = []  # the log entry of each agreement, for receipts
        self.other_intents = 0
        self.unreadable = 0
        self.error: ClientError | None = None

    async def start_at_end(self, partition: int) -> None:
        """Assign ``partition`` of every reply topic and start after its current end.

        Called before the intent is sent, so every reply is read and no older record is.
        """
        tps = [TopicPartition(topic, partition) for topic in REPLY_TOPICS]
        with kafka_errors("positioning the reply reader"):
            self._consumer.assign(tps)
            ends = await self._consumer.end_offsets(tps)
            for tp in tps:
                self._consumer.seek(tp, ends[tp])
        self._task = asyncio.create_task(self._run(), name=f"replies-{self._intent.intent_id}")

    async def close(self) -> None:
        """Stop reading (the consumer itself is stopped by its owner)."""
        await stop_task(self._task)
        self._task = None

    async def wait_until(self, predicate: Callable[[], bool], timeout: float) -> bool:
        """Wait until ``predicate()`` holds (True) or ``timeout`` seconds pass (False)."""
        async with self._cond:
            try:
                await asyncio.wait_for(
                    self._cond.wait_for(lambda: self.error is not None or predicate()), timeout
                )
            except TimeoutError:
                return predicate()
        if self.error is not None:
            raise self.error
        return True

    async def _run(self) -> None:
        try:
            await consume(self._consumer, self._handle_batch, name="reply reader")
        except KafkaError as exc:
            self.error = KafkaUnavailableError(f"reading replies: {type(exc).__name__}: {exc}")
            async with self._cond:
                self._cond.notify_all()

    async def _handle_batch(self, batch: Batch) -> None:
        changed = False
        for tp, records in batch.items():
            for record in records:
                changed |= self._handle(tp.topic, record)
        if changed:
            async with self._cond:
                self._cond.notify_all()

    def _handle(self, topic: str, record: ConsumerRecord[bytes, bytes]) -> bool:
        if record.key != self._key:
            self.other_intents += 1
            return False
        try:
            if topic == INTENT_STATUS:
                self.statuses.append(decode(IntentStatus, record.value or b""))
            elif topic == OFFERS_DELIVERED:
                return self._add_offer(decode(DeliveredOffer, record.value or b""))
            elif topic == AGREEMENTS:
                return self._add_entry(decode(LogEntry, record.value or b""))
        except SchemaError as exc:
            self.unreadable += 1
            log.warning(
                "intent %s: skipped an unreadable record on %s[%d]@%d: %s",
                self._intent.intent_id, topic, record.partition, record.offset, exc,
            )  # fmt: skip
            return False
        return True

    def _add_entry(self, entry: LogEntry) -> bool:
        """Our agreement, opened from the log with the intent's key; other entry types about
        this intent (disclosures, attestations) are for their own readers."""
        if entry.entry_type is not EntryType.AGREEMENT:
            return False
        agreement = entry.open(AGREEMENT_ENTRY, self._sealing)  # checks hash, intent, link
        if agreement.intent.intent_id != self._intent.intent_id:
            raise SchemaError(ReasonCode.SCHEMA_INVALID, "agreement names another intent")
        self.agreements.append(agreement)
        self.entries.append(entry)
        return True

    def _add_offer(self, delivered: DeliveredOffer) -> bool:
        offer = open_offer(delivered, self._sealing)  # SchemaError when it is not sealed to our key
        if not offer.signature:
            raise SchemaError(ReasonCode.BAD_SIGNATURE, "offer carries no vendor signature")
        if offer.terms != self._intent.terms:
            raise SchemaError(
                ReasonCode.TERMS_NOT_ACCEPTED, "offer does not accept our exact terms"
            )
        if any(known.offer_id == offer.offer_id for known in self.offers):
            return False  # delivery is at least once
        self.offers.append(offer)
        return True
