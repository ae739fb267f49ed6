"""The customer client: publish an anonymous intent on your own terms, read offers, accept one."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Mapping
from datetime import datetime, timedelta
from decimal import Decimal
from types import TracebackType
from typing import Any

from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError

from intentcast.agents.disclosures import build_disclosure, vendor_sealing_key
from intentcast.agents.errors import ClientError, WalletError
from intentcast.agents.intent_handle import IntentHandle
from intentcast.agents.intents import DEFAULT_TERMS, build_intent
from intentcast.agents.kafka import (
    kafka_errors,
    make_consumer,
    make_producer,
    partition_count,
    random_client_id,
)
from intentcast.agents.lookup import latest_for_key
from intentcast.agents.partitions import partition_for
from intentcast.agents.receipts import Receipt
from intentcast.agents.replies import REPLY_TOPICS
from intentcast.agents.retention_status import AgreementRetention, DroppedKeys
from intentcast.agents.retention_sync import sync_from_log
from intentcast.agents.settings import ClientSettings
from intentcast.agents.wallet import IntentKeys, Wallet
from intentcast.schemas.agreement import Agreement
from intentcast.schemas.canonical import decode
from intentcast.schemas.disclosure import Disclosure
from intentcast.schemas.errors import SchemaError
from intentcast.schemas.intent import Intent
from intentcast.schemas.offer import VendorProfile
from intentcast.schemas.topics import OFFERS_DELIVERED, VENDOR_REGISTRY

__all__ = ["DEFAULT_TERMS", "CustomerClient"]

log = logging.getLogger(__name__)


class CustomerClient:
    """Publishes intents and collects their agreements' receipts.

    The client holds no Kafka connection of its own: every intent gets fresh keys, a fresh id
    and its own short-lived producer and consumer (random client ids, no consumer group), so
    nothing the broker or a vendor sees links two intents. With a :class:`Wallet`, intent keys
    and receipts are also written to disk; without one they live only in memory.
    """

    def __init__(self, settings: ClientSettings | None = None, wallet: Wallet | None = None):
        self.settings = settings or ClientSettings()
        self.wallet = wallet
        self.receipts: list[Receipt] = []
        self._handles: list[IntentHandle] = []

    async def __aenter__(self) -> CustomerClient:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    async def close(self) -> None:
        """Close every intent handle this client opened; the wallet learns which intents
        closed without an agreement, so their keys can go."""
        handles, self._handles = self._handles, []
        for handle in handles:
            await handle.close()
            closed = handle.closed_without_agreement()
            if self.wallet is not None and closed is not None:
                self.wallet.mark_closed(handle.intent_id, closed)

    def _need_wallet(self) -> Wallet:
        if self.wallet is None:
            raise WalletError("retention is tracked in a wallet; create the client with one")
        return self.wallet

    async def sync_retention(self) -> list[AgreementRetention]:
        """Each agreement in the wallet with its retention end and whether the vendor attested
        deletion, after reading the log for attestations that came since the last look."""
        wallet = self._need_wallet()
        await sync_from_log(self.settings, wallet)
        return wallet.retention()

    def drop_due_keys(self, now: datetime | None = None) -> list[DroppedKeys]:
        """Drop the private keys nothing needs any more (closed unagreed, or past an agreement's
        retention end, unless kept); run :meth:`sync_retention` first to fetch attestations
        while the keys that open them are still there."""
        return self._need_wallet().drop_due(now)

    async def publish(
        self,
        *,
        market: str,
        item: str,
        max_price: Decimal,
        currency: str,
        country: str,
        region: str | None = None,
        city: str | None = None,
        quantity: int = 1,
        attributes: dict[str, str] | None = None,
        terms: list[str] | tuple[str, ...] = DEFAULT_TERMS,
        needed_by: datetime | None = None,
        expires_in: timedelta = timedelta(minutes=10),
        intake_timeout: float = 30.0,
    ) -> IntentHandle:
        """Sign and send a new intent; return its handle once intake accepted it.

        Raises :class:`~schemas.errors.SchemaError` for an invalid intent (before anything is
        sent), :class:`IntentRejectedError` if intake refuses it, :class:`ReplyTimeoutError`
        if intake does not answer within ``intake_timeout`` seconds.
        """
        keys = IntentKeys.generate()
        intent = build_intent(
            keys, market=market, item=item, max_price=max_price, currency=currency,
            country=country, region=region, city=city, quantity=quantity,
            attributes=attributes, terms=terms, needed_by=needed_by, expires_in=expires_in,
        )  # fmt: skip
        if self.wallet is not None:
            self.wallet.add_keys(intent.intent_id, keys, expires_at=intent.expires_at)
        handle = await self._open(intent, keys)
        try:
            await handle.submit(intake_timeout)
        except BaseException:
            await handle.close()
            raise
        self._handles.append(handle)
        return handle

    async def _open(self, intent: Intent, keys: IntentKeys) -> IntentHandle:
        """Start this intent's own producer and consumer and find its reply partition."""
        client_id = random_client_id()
        producer = make_producer(self.settings, client_id)
        consumer = make_consumer(self.settings, client_id)
        try:
            with kafka_errors(f"connecting to Kafka at {self.settings.bootstrap}"):
                await producer.start()
                await consumer.start()
            partition = await self._reply_partition(producer, intent.intent_id)
        except BaseException:
            with contextlib.suppress(KafkaError):
                await consumer.stop()
            with contextlib.suppress(KafkaError):
                await producer.stop()
            raise
        return IntentHandle(
            intent=intent, keys=keys, partition=partition, client_id=client_id,
            producer=producer, consumer=consumer, on_receipt=self._keep_receipt,
        )  # fmt: skip

    async def _reply_partition(self, producer: AIOKafkaProducer, intent_id: str) -> int:
        """The partition of the reply topics for ``intent_id``, from the real partition count."""
        counts = {topic: await partition_count(producer, topic) for topic in REPLY_TOPICS}
        if len(set(counts.values())) != 1:
            raise ClientError(
                f"reply topics have different partition counts {counts}; the deployment is "
                "inconsistent (every intent-keyed topic needs the same count)"
            )
        count = counts[OFFERS_DELIVERED]
        if count != self.settings.partitions:
            log.warning(
                "%s has %d partitions but settings say %d; using the cluster's count",
                OFFERS_DELIVERED, count, self.settings.partitions,
            )  # fmt: skip
        return partition_for(intent_id, count)

    async def disclose(
        self,
        agreement: Agreement | Receipt,
        fields: Mapping[str, Any],
        *,
        keys: IntentKeys | None = None,
        timeout: float = 30.0,
    ) -> Disclosure:
        """Disclose ``fields`` to the vendor of ``agreement`` only; return the disclosure sent.

        ``fields`` holds any of ``name``, ``delivery_address`` (``lines``, ``city``,
        ``postal_code``, ``region``, ``country``), ``email``, ``phone`` and ``note``. They
        are sealed to the key in the vendor's registered profile (which must be signed by the
        key the agreement records) and signed with the intent's key: from ``keys``, an open
        handle of this client, or the wallet. Returns once the processors delivered it and
        chained its record (hash and field names) into the agreement log; raises
        :class:`DisclosureError` when they refuse it, ``SchemaError`` for an invalid field.
        """
        if isinstance(agreement, Receipt):
            agreement = agreement.agreement
        intent = agreement.intent
        keys = keys or self._keys_of(intent.intent_id)
        raw = await latest_for_key(self.settings, VENDOR_REGISTRY, agreement.offer.vendor_id)
        try:
            profile = None if raw is None else decode(VendorProfile, raw)
        except SchemaError:
            profile = None
        disclosure = build_disclosure(
            agreement, fields, key=keys.signing,
            vendor_sealing_key=vendor_sealing_key(profile, agreement),
        )  # fmt: skip
        handle = next((h for h in self._handles if h.intent_id == intent.intent_id), None)
        if handle is not None:
            await handle.submit_disclosure(disclosure, timeout)
        else:
            handle = await self._open(intent, keys)
            try:
                await handle.resume()
                await handle.submit_disclosure(disclosure, timeout)
            finally:
                await handle.close()
        if self.wallet is not None:
            self.wallet.add_disclosure(disclosure, dict(fields))
        return disclosure

    def _keys_of(self, intent_id: str) -> IntentKeys:
        for handle in self._handles:
            if handle.intent_id == intent_id:
                return handle.keys
        keys = None if self.wallet is None else self.wallet.keys(intent_id)
        if keys is None:
            raise ClientError(
                f"no keys for intent {intent_id}: disclose from the wallet that published it"
            )
        return keys

    def _keep_receipt(self, receipt: Receipt) -> None:
        self.receipts.append(receipt)
        if self.wallet is not None:
            self.wallet.add_receipt(receipt)
