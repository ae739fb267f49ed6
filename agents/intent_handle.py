"""One published intent: its offers as they arrive, accepting one, cancelling, its status."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from typing import Final

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.errors import KafkaError

from intentcast.agents.errors import (
    AgreementError,
    BadAgreementError,
    ClientError,
    DisclosureError,
    IntentRejectedError,
    ReplyTimeoutError,
)
from intentcast.agents.kafka import send
from intentcast.agents.receipts import Receipt
from intentcast.agents.replies import ReplyReader
from intentcast.agents.wallet import IntentKeys
from intentcast.schemas.agreement import Agreement
from intentcast.schemas.canonical import content_hash, encode
from intentcast.schemas.crypto import sign_model
from intentcast.schemas.disclosure import Disclosure
from intentcast.schemas.errors import SchemaError
from intentcast.schemas.events import IntentStatus, StatusKind
from intentcast.schemas.intent import Cancel, Intent
from intentcast.schemas.log import LogEntry
from intentcast.schemas.offer import Acceptance, Offer
from intentcast.schemas.timeutil import utcnow
from intentcast.schemas.topics import ACCEPTANCES, CANCELS, DISCLOSURES, INTENTS_SUBMITTED

__all__ = ["IntentHandle"]

CLOSED: Final = frozenset({StatusKind.AGREED, StatusKind.EXPIRED, StatusKind.CANCELLED})
"""Statuses after which nothing more can happen to an intent."""


class IntentHandle:
    """A published intent and the Kafka clients that serve only it.

    Each handle has its own producer and consumer with a random client id, so the broker sees
    no connection, client id or idempotence sequence shared by two intents of one customer.
    Created by :meth:`agents.customer.CustomerClient.publish`; close it (or the client) when
    done.
    """

    def __init__(
        self,
        *,
        intent: Intent,
        keys: IntentKeys,
        partition: int,
        client_id: str,
        producer: AIOKafkaProducer,
        consumer: AIOKafkaConsumer,
        on_receipt: Callable[[Receipt], None],
    ) -> None:
        self.intent = intent
        self.keys = keys
        self.partition = partition
        self.client_id = client_id
        self._producer = producer
        self._consumer = consumer
        self._on_receipt = on_receipt
        self._replies = ReplyReader(consumer, intent, keys.sealing)
        self._closed = False
        self._submitted = False
        self.agreement: Agreement | None = None
        self.receipt: Receipt | None = None

    @property
    def log_entry(self) -> LogEntry | None:
        """The agreement log's entry that records our agreement (opened with the intent's key
        and checked against it when it arrived): where to find it again in an audit."""
        if self.agreement is None:
            return None
        wanted = self.agreement.agreement_id
        return next((e for e in self._replies.entries if e.content_hash == wanted), None)

    @property
    def intent_id(self) -> str:
        """The intent's random id (also its Kafka key)."""
        return self.intent.intent_id

    @property
    def status(self) -> IntentStatus | None:
        """The last status the processors sent for this intent, if any."""
        return self._replies.statuses[-1] if self._replies.statuses else None

    @property
    def statuses(self) -> tuple[IntentStatus, ...]:
        """Every status received, oldest first."""
        return tuple(self._replies.statuses)

    @property
    def received(self) -> tuple[Offer, ...]:
        """Every offer delivered so far (opened, checked, deduplicated), in arrival order."""
        return tuple(self._replies.offers)

    @property
    def skipped(self) -> int:
        """Reply records skipped: other intents' records plus unreadable ones of ours."""
        return self._replies.other_intents + self._replies.unreadable

    def closed_without_agreement(self) -> str | None:
        """``"cancelled"`` or ``"expired"`` if the processors closed the intent unagreed."""
        if self.agreement is not None:
            return None
        for status in self._replies.statuses:
            if status.status in (StatusKind.EXPIRED, StatusKind.CANCELLED):
                return str(status.status)
        return None

    def _is_closed(self) -> bool:
        return any(s.status in CLOSED for s in self._replies.statuses)

    async def submit(self, intake_timeout: float) -> None:
        """Send the intent and wait for intake's verdict; done once, by ``publish``.

        The reader is positioned at the end of the reply partitions first, so it reads every
        reply to this intent and nothing older.
        """
        if self._submitted:
            raise ClientError(f"intent {self.intent_id} was already submitted")
        self._submitted = True
        await self._replies.start_at_end(self.partition)
        await send(self._producer, INTENTS_SUBMITTED, self.intent_id, encode(self.intent))
        decided = await self._replies.wait_until(
            lambda: bool(self._replies.statuses), intake_timeout
        )
        if not decided:
            raise ReplyTimeoutError("intake status", intake_timeout)
        first = self._replies.statuses[0]
        if first.status is StatusKind.REJECTED:
            raise IntentRejectedError(self.intent_id, first.reason, first.detail)

    async def offers(self, timeout: float = 30.0) -> AsyncIterator[Offer]:
        """Yield every delivered offer (earlier ones first) until ``timeout`` seconds pass.

        Ends early when the intent closes (agreed, expired, cancelled). Each offer was opened
        with this intent's sealing key and carries the vendor's signature and our exact terms.
        """
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        index = 0
        while True:
            while index < len(self._replies.offers):
                yield self._replies.offers[index]
                index += 1
            remaining = deadline - loop.time()
            if self._is_closed() or remaining <= 0:
                return
            await self._replies.wait_until(self._more_offers_or_closed(index), remaining)

    def _more_offers_or_closed(self, seen: int) -> Callable[[], bool]:
        return lambda: len(self._replies.offers) > seen or self._is_closed()

    async def accept(self, offer: Offer, timeout: float = 30.0) -> Agreement:
        """Accept ``offer``; return the verified agreement once it is in the log.

        Raises :class:`AgreementError` when the processors refuse the acceptance or the
        intent closes otherwise, :class:`ReplyTimeoutError` when nothing decisive arrives.
        """
        if all(known.offer_id != offer.offer_id for known in self._replies.offers):
            raise ClientError(f"offer {offer.offer_id} was not delivered to this intent")
        acceptance = Acceptance(
            intent_id=self.intent_id,
            offer_id=offer.offer_id,
            offer_hash=content_hash(offer),
            accepted_at=utcnow(),
        )
        acceptance = sign_model(acceptance, self.keys.signing)
        mark = len(self._replies.statuses)
        await send(self._producer, ACCEPTANCES, self.intent_id, encode(acceptance))

        def settled() -> bool:
            return self._agreement_for(offer) is not None or self._refusal(mark, offer) is not None

        if not await self._replies.wait_until(settled, timeout):
            raise ReplyTimeoutError("agreement", timeout)
        agreement = self._agreement_for(offer)
        refusal = self._refusal(mark, offer)
        if agreement is None and refusal is not None:
            raise AgreementError(self.intent_id, refusal.status, refusal.reason, refusal.detail)
        if agreement is None:  # cannot happen: settled() held
            raise ReplyTimeoutError("agreement", timeout)
        self._check(agreement, offer, acceptance)
        self.agreement = agreement
        self.receipt = Receipt.of(agreement)
        self._on_receipt(self.receipt)
        return agreement

    def _agreement_for(self, offer: Offer) -> Agreement | None:
        for agreement in self._replies.agreements:
            if agreement.acceptance.offer_id == offer.offer_id:
                return agreement
        return None

    def _refusal(self, mark: int, offer: Offer) -> IntentStatus | None:
        for status in self._replies.statuses[mark:]:
            if status.status is StatusKind.REJECTED and status.offer_id in (None, offer.offer_id):
                return status
            if status.status in (StatusKind.EXPIRED, StatusKind.CANCELLED):
                return status
        return None

    def _check(self, agreement: Agreement, offer: Offer, acceptance: Acceptance) -> None:
        """Verify the record offline and that it binds exactly our intent, offer, acceptance."""
        try:
            agreement.verify()
        except SchemaError as exc:
            raise BadAgreementError(f"agreement {agreement.agreement_id}: {exc}") from None
        if content_hash(agreement.intent) != content_hash(self.intent):
            raise BadAgreementError("the agreement records a different intent")
        if content_hash(agreement.offer) != content_hash(offer):
            raise BadAgreementError("the agreement records a different offer")
        if agreement.acceptance.offer_hash != acceptance.offer_hash:
            raise BadAgreementError("the agreement records a different acceptance")

    async def resume(self) -> None:
        """Read the replies of an intent sent earlier (by another process), from now on."""
        if self._submitted:
            raise ClientError(f"intent {self.intent_id} is already being read")
        self._submitted = True
        await self._replies.start_at_end(self.partition)

    async def submit_disclosure(self, disclosure: Disclosure, timeout: float = 30.0) -> None:
        """Send a signed, sealed disclosure and wait until the processors delivered it.

        Built by :meth:`agents.customer.CustomerClient.disclose`, which finds the vendor's
        sealing key. Raises :class:`DisclosureError` when it is refused.
        """
        if disclosure.intent_id != self.intent_id:
            raise ClientError("the disclosure is for another intent")
        if not self._submitted:
            raise ClientError("the intent was not submitted or resumed by this handle")
        mark = len(self._replies.statuses)
        await send(self._producer, DISCLOSURES, self.intent_id, encode(disclosure))

        def outcome() -> IntentStatus | None:
            for status in self._replies.statuses[mark:]:
                if status.disclosure_id == disclosure.disclosure_id:
                    return status
                if status.status is StatusKind.REJECTED and status.detail.startswith(
                    "disclosure: "
                ):
                    return status
            return None

        if not await self._replies.wait_until(lambda: outcome() is not None, timeout):
            raise ReplyTimeoutError("disclosure status", timeout)
        status = outcome()
        if status is not None and status.status is StatusKind.REJECTED:
            detail = status.detail.removeprefix("disclosure: ")
            raise DisclosureError(disclosure.disclosure_id, status.reason, detail)

    async def cancel(self, timeout: float | None = None) -> None:
        """Withdraw the intent (signed with its key); with ``timeout``, wait for ``cancelled``."""
        cancel = sign_model(
            Cancel(intent_id=self.intent_id, cancelled_at=utcnow()), self.keys.signing
        )
        mark = len(self._replies.statuses)
        await send(self._producer, CANCELS, self.intent_id, encode(cancel))
        if timeout is None:
            return
        done = await self._replies.wait_until(
            lambda: any(s.status in CLOSED for s in self._replies.statuses[mark:]), timeout
        )
        if not done:
            raise ReplyTimeoutError("cancellation status", timeout)

    async def close(self) -> None:
        """Stop reading replies and close this intent's Kafka clients (flushing the producer)."""
        if self._closed:
            return
        self._closed = True
        await self._replies.close()
        with contextlib.suppress(KafkaError):  # closing: nothing useful to do with an error
            await self._consumer.stop()
        with contextlib.suppress(KafkaError):
            await self._producer.stop()

    async def __aenter__(self) -> IntentHandle:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()
