"""Everything the processors write goes through one idempotent, acks=all producer.

faust's own producer is neither idempotent nor acks=all outside transactions, so processors
write their outputs here and await the acknowledgements before the input offset is committed:
at-least-once delivery with duplicates removed downstream by deterministic ids.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

from aiokafka import AIOKafkaProducer

from broker.settings import BrokerSettings
from schemas import (
    DEAD_LETTERS,
    INTENT_STATUS,
    DeadLetter,
    IntentStatus,
    OfferFeedback,
    ReasonCode,
    StatusKind,
    encode,
    utcnow,
    vendor_feedback_topic,
)

Headers = Sequence[tuple[str, bytes]]


class Outputs:
    """A lazily started producer plus helpers for the messages every processor sends."""

    def __init__(self, settings: BrokerSettings) -> None:
        self._settings = settings
        self._producer: AIOKafkaProducer | None = None
        self._lock = asyncio.Lock()
        self._pending: list[asyncio.Future[Any]] = []

    async def producer(self) -> AIOKafkaProducer:
        if self._producer is None:
            async with self._lock:
                if self._producer is None:
                    producer = AIOKafkaProducer(
                        **self._settings.kafka_kwargs(),
                        acks="all",
                        enable_idempotence=True,
                        linger_ms=1,
                        request_timeout_ms=30000,
                        client_id=f"{self._settings.app_id}-outputs",
                    )
                    await producer.start()
                    self._producer = producer
        return self._producer

    async def stop(self) -> None:
        if self._producer is not None:
            await self.flush()
            await self._producer.stop()
            self._producer = None

    async def send(
        self,
        topic: str,
        value: bytes,
        key: bytes | None,
        *,
        partition: int | None = None,
        headers: Headers | None = None,
    ) -> None:
        """Queue a record; `flush()` waits for every queued record to be acknowledged."""
        producer = await self.producer()
        fut = await producer.send(
            topic, value, key=key, partition=partition, headers=list(headers or [])
        )
        self._pending.append(fut)

    async def flush(self) -> None:
        """Wait for all queued records; raise if any failed (the input is then not acked)."""
        pending, self._pending = self._pending, []
        if pending:
            await asyncio.gather(*pending)

    async def status(
        self,
        intent_id: str,
        status: StatusKind,
        *,
        reason: ReasonCode | None = None,
        detail: str = "",
        agreement_id: str | None = None,
    ) -> None:
        event = IntentStatus(
            intent_id=intent_id,
            status=status,
            reason=reason,
            detail=detail[:300],
            agreement_id=agreement_id,
            at=utcnow(),
        )
        await self.send(INTENT_STATUS, encode(event), intent_id.encode())

    async def dead_letter(
        self,
        *,
        topic: str,
        partition: int,
        offset: int,
        key: bytes | None,
        value: bytes | None,
        reason: ReasonCode,
        detail: str,
    ) -> None:
        """Kafka Connect style: the record, plus headers naming its origin and the reason."""
        letter = DeadLetter.from_record(
            topic=topic,
            partition=partition,
            offset=offset,
            value=value,
            key=key,
            reason=reason,
            detail=detail,
        )
        headers = [
            ("intentcast.dlq.topic", topic.encode()),
            ("intentcast.dlq.partition", str(partition).encode()),
            ("intentcast.dlq.offset", str(offset).encode()),
            ("intentcast.dlq.reason", reason.value.encode()),
            ("intentcast.dlq.detail", detail[:500].encode()),
        ]
        await self.send(DEAD_LETTERS, encode(letter), key, headers=headers)

    async def feedback(
        self,
        *,
        vendor_id: str,
        offer_id: str,
        intent_id: str,
        reason: ReasonCode | None,
        detail: str = "",
    ) -> None:
        event = OfferFeedback(
            offer_id=offer_id[:64],
            intent_id=intent_id[:64],
            vendor_id=vendor_id,
            reason=reason,
            detail=detail[:300],
            at=utcnow(),
        )
        await self.send(vendor_feedback_topic(vendor_id), encode(event), intent_id.encode())
