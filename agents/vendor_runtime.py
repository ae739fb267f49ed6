"""The running part of a vendor: decide about each record, send offers, over any transport.

It reads a `VendorDeclaration` (one way: a declaration knows nothing of its runtime) and
talks to the world only through a `VendorTransport`, so the same decoding, validation,
term checks and signing run on Kafka and in a unit test's memory.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TypeVar

from intentcast.agents.declaration import VendorDeclaration
from intentcast.agents.dedupe import RecentIds
from intentcast.agents.disclosures import open_received
from intentcast.agents.drafts import build_offer, offer_id_for
from intentcast.agents.errors import VendorConfigError
from intentcast.agents.transport import Outgoing, Received, VendorTransport
from intentcast.agents.vendor_retention import RetentionKeeper
from intentcast.schemas.agreement import Agreement
from intentcast.schemas.canonical import decode, encode
from intentcast.schemas.disclosure import Disclosure
from intentcast.schemas.errors import SchemaError
from intentcast.schemas.events import OfferFeedback
from intentcast.schemas.intent import Intent
from intentcast.schemas.offer import Offer
from intentcast.schemas.timeutil import utcnow
from intentcast.schemas.topics import OFFERS_SUBMITTED

__all__ = ["VendorRuntime", "VendorStats"]

log = logging.getLogger(__name__)

M = TypeVar("M", Intent, OfferFeedback, Agreement, Disclosure)


@dataclass
class VendorStats:
    """Counters of one vendor process, for logs and the CLI's status line."""

    intents_seen: int = 0
    duplicates: int = 0
    invalid: int = 0
    skipped_terms: int = 0
    skipped_expired: int = 0
    declined: int = 0
    offers_sent: int = 0
    handler_errors: int = 0
    feedback_received: int = 0
    agreements_received: int = 0
    disclosures_received: int = 0


class VendorRuntime:
    """Serves one declaration over one transport, a batch at a time.

    Handle every record of a batch, wait until the transport acknowledged every offer it
    produced, and only then let the transport commit. A crash in between means redelivery
    (the dedupe below and the processors' duplicate-offer check absorb it), never a lost
    intent.
    """

    def __init__(
        self,
        vendor: VendorDeclaration,
        transport: VendorTransport,
        stats: VendorStats | None = None,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.vendor = vendor
        self.transport = transport
        self.stats = stats if stats is not None else VendorStats()
        self.retention = RetentionKeeper(vendor, transport, clock)
        """Each agreement's retention end, the ``@on_retention_end`` calls and attestations."""
        self._recent = RecentIds(vendor.dedupe_size)
        self._disclosed = RecentIds(vendor.dedupe_size)
        # agreements read lately, by agreement id: what a disclosure is checked against
        self._agreements: dict[str, Agreement] = {}
        self._stop = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    # -- lifecycle -------------------------------------------------------------------------

    async def start(self) -> None:
        """Register the profile, join the group and start consuming in the background."""
        vendor = self.vendor
        vendor.check_ready()
        self._stop.clear()
        try:
            if not await self.transport.register(vendor.profile(), self._stop):
                return  # stopped while waiting to be registered
            await self.transport.subscribe(vendor.subscription())
            await self.retention.rebuild(self._is_ours)
        except BaseException:
            await self.transport.close()
            raise
        if vendor.retention_handler is None:
            log.info("vendor %s has no @vendor.on_retention_end handler: it attests no "
                     "deletion", vendor.vendor_id)  # fmt: skip
        self._task = asyncio.create_task(
            self.transport.consume(self._handle_records, self._stop),
            name=f"vendor-{vendor.vendor_id}",
        )
        self.retention.start(self._stop)
        log.info("vendor %s serving %s", vendor.vendor_id, ", ".join(vendor.markets))

    def stop(self) -> None:
        """Ask the loop to end after the current batch."""
        self._stop.set()

    async def wait(self) -> None:
        """Until the loop ends; re-raises its error."""
        if self._task is not None:
            await asyncio.shield(self._task)

    async def close(self) -> None:
        """Stop the loop after the current batch, then flush, commit and close the transport."""
        self._stop.set()
        if self._task is not None:
            # its error, if any, was (or will be) raised by wait()
            with contextlib.suppress(Exception, asyncio.CancelledError):
                await self._task
            self._task = None
        await self.retention.close()
        await self.transport.close()

    def assignment(self) -> frozenset[tuple[str, int]]:
        """Market partitions this instance owns right now (the group splits them)."""
        markets = self.vendor.topics_for_markets
        return frozenset(tp for tp in self.transport.assignment() if tp[0] in markets)

    # -- decisions -------------------------------------------------------------------------

    async def handle_intent(self, intent: Intent, now: datetime | None = None) -> Offer | None:
        """Decide about one intent and return the signed offer to send, if any.

        Skips (and counts) duplicates, intents with a bad signature, terms this vendor does not
        accept and expired intents; a handler that raises is logged and counted, never fatal.
        """
        vendor, stats = self.vendor, self.stats
        stats.intents_seen += 1
        if self._recent.seen(intent.intent_id):
            stats.duplicates += 1
            return None
        handler = vendor.intent_handler(intent.market)
        try:
            intent.verify()
        except SchemaError as exc:
            stats.invalid += 1
            log.warning("intent %s skipped: %s", intent.intent_id, exc)
            return None
        if handler is None:
            stats.invalid += 1
            log.warning("intent %s: no handler for market %s", intent.intent_id, intent.market)
            return None
        if not vendor.accepts_terms(intent):
            stats.skipped_terms += 1
            return None
        moment = now or utcnow()
        if intent.expires_at <= moment:
            stats.skipped_expired += 1
            return None
        try:
            draft = await handler(intent)
            if draft is None:
                stats.declined += 1
                return None
            return build_offer(
                draft, intent, vendor_id=vendor.vendor_id, key=vendor.key, now=moment,
                offer_id=offer_id_for(vendor.key, intent.intent_id),
            )  # fmt: skip
        except Exception:
            stats.handler_errors += 1
            log.exception("intent %s: the intent handler failed", intent.intent_id)
            return None

    async def handle_feedback(self, feedback: OfferFeedback) -> None:
        """Count feedback and pass it to the handler, if any; handler errors are logged."""
        self.stats.feedback_received += 1
        self.retention.feedback(feedback)
        handler = self.vendor.feedback_handler
        if handler is not None:
            try:
                await handler(feedback)
            except Exception:
                self.stats.handler_errors += 1
                log.exception("feedback for offer %s: the handler failed", feedback.offer_id)

    def _is_ours(self, agreement: Agreement) -> bool:
        """Whether an agreement copy verifies and binds this vendor and its key."""
        vendor = self.vendor
        try:
            agreement.verify()
            if agreement.offer.vendor_id != vendor.vendor_id:
                raise VendorConfigError("agreement names another vendor")
            if agreement.vendor_key != vendor.key.public_key:
                raise VendorConfigError("agreement was recorded with another vendor key")
        except (SchemaError, VendorConfigError) as exc:
            self.stats.invalid += 1
            log.warning("agreement %s skipped: %s", agreement.agreement_id, exc)
            return False
        return True

    async def handle_agreement(self, agreement: Agreement) -> None:
        """Check an agreement copy is ours and valid, track its retention end, then pass it
        to the handler, if any."""
        if not self._is_ours(agreement):
            return
        self.stats.agreements_received += 1
        self.retention.track(agreement)
        self._remember(agreement)
        handler = self.vendor.agreement_handler
        if handler is not None:
            try:
                await handler(agreement)
            except Exception:
                self.stats.handler_errors += 1
                log.exception("agreement %s: the handler failed", agreement.agreement_id)

    def _remember(self, agreement: Agreement) -> None:
        self._agreements[agreement.agreement_id] = agreement
        while len(self._agreements) > self.vendor.dedupe_size:
            del self._agreements[next(iter(self._agreements))]

    async def _agreement_for(self, disclosure: Disclosure) -> Agreement | None:
        """The agreement a disclosure names: read lately, or found again on our own topic."""
        known = self._agreements.get(disclosure.agreement_id)
        if known is not None:
            return known
        raw = await self.transport.latest(self.vendor.agreements_topic, disclosure.intent_id)
        if raw is None:
            return None
        try:
            agreement = decode(Agreement, raw)
            agreement.verify()
        except SchemaError:
            return None
        if agreement.vendor_key != self.vendor.key.public_key:
            return None
        self._remember(agreement)
        return agreement

    async def handle_disclosure(self, disclosure: Disclosure) -> None:
        """Open a disclosure, check it against its agreement, then pass it to the handler.

        Only field names are ever logged: the values are the customer's personal data.
        """
        vendor, stats = self.vendor, self.stats
        if disclosure.disclosure_id in self._disclosed:
            stats.duplicates += 1
            return
        agreement = await self._agreement_for(disclosure)
        try:
            if agreement is None:
                raise VendorConfigError(f"no agreement {disclosure.agreement_id} of ours")
            received = open_received(
                disclosure, agreement, vendor_id=vendor.vendor_id, sealing=vendor.sealing_key
            )
        except (SchemaError, VendorConfigError) as exc:
            stats.invalid += 1
            log.warning("disclosure %s skipped: %s", disclosure.disclosure_id, exc)
            return
        self._disclosed.seen(disclosure.disclosure_id)
        stats.disclosures_received += 1
        handler = vendor.disclosure_handler
        if handler is None:
            log.warning(
                "disclosure %s (%s) for agreement %s: no @vendor.on_disclosure handler",
                disclosure.disclosure_id, ", ".join(received.names), disclosure.agreement_id,
            )  # fmt: skip
            return
        try:
            await handler(received)
        except Exception:
            stats.handler_errors += 1
            log.exception("disclosure %s: the handler failed", disclosure.disclosure_id)

    # -- one batch -------------------------------------------------------------------------

    async def _handle_records(self, records: Sequence[Received]) -> None:
        vendor = self.vendor
        intents: list[Intent] = []
        for record in records:
            if record.topic in vendor.topics_for_markets:
                intent = self._decode_intent(record)
                if intent is not None:
                    intents.append(intent)
            elif record.topic == vendor.feedback_topic:
                feedback = self._decode(OfferFeedback, record)
                if feedback is not None:
                    await self.handle_feedback(feedback)
            elif record.topic == vendor.agreements_topic:
                agreement = self._decode(Agreement, record)
                if agreement is not None:
                    await self.handle_agreement(agreement)
            elif record.topic == vendor.disclosures_topic:
                disclosure = self._decode(Disclosure, record)
                if disclosure is not None:
                    await self.handle_disclosure(disclosure)
        offers = await self._answer(intents)
        if offers:
            await self.transport.send(
                [Outgoing(OFFERS_SUBMITTED, o.intent_id.encode("ascii"), encode(o)) for o in offers]
            )
            self.stats.offers_sent += len(offers)

    async def _answer(self, intents: list[Intent]) -> list[Offer]:
        """Run the handler for each intent, at most ``max_in_flight`` at once (1 keeps order)."""
        limit = self.vendor.max_in_flight
        if limit == 1:
            answers = [await self.handle_intent(intent) for intent in intents]
        else:
            gate = asyncio.Semaphore(limit)

            async def limited(intent: Intent) -> Offer | None:
                async with gate:
                    return await self.handle_intent(intent)

            answers = list(await asyncio.gather(*(limited(i) for i in intents)))
        return [offer for offer in answers if offer is not None]

    def _decode_intent(self, record: Received) -> Intent | None:
        intent = self._decode(Intent, record)
        if intent is None:
            return None
        if self.vendor.topics_for_markets[record.topic] != intent.market:
            self.stats.invalid += 1
            log.warning(
                "intent %s on %s names market %s", intent.intent_id, record.topic, intent.market
            )
            return None
        if record.key != intent.intent_id.encode("ascii"):
            log.warning("intent %s arrived with another key on %s", intent.intent_id, record.topic)
        return intent

    def _decode(self, model: type[M], record: Received) -> M | None:
        try:
            return decode(model, record.value or b"")
        except SchemaError as exc:
            self.stats.invalid += 1
            log.warning("skipped an unreadable record on %s[%d]@%d: %s",
                        record.topic, record.partition, record.offset, exc)  # fmt: skip
            return None
