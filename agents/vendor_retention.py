"""The vendor SDK's side of retention: call ``@on_retention_end`` when due, then attest.

The keeper follows the runtime's records (agreements in, attestation feedback in), calls the
vendor's handler at each agreement's retention end and publishes the signed attestation only
once the handler returned without raising. A handler that raises is logged and called again
later; nothing is attested for it until it succeeds.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Final, TypeVar

from intentcast.agents.declaration import VendorDeclaration
from intentcast.agents.retention_schedule import RetentionSchedule, is_attested_feedback
from intentcast.agents.transport import Outgoing, Received, VendorTransport
from intentcast.schemas.agreement import Agreement
from intentcast.schemas.canonical import decode, encode
from intentcast.schemas.errors import IntentcastError, SchemaError
from intentcast.schemas.events import OfferFeedback
from intentcast.schemas.log import EntryType, LogEntry
from intentcast.schemas.timeutil import utcnow
from intentcast.schemas.topics import AGREEMENTS, ATTESTATIONS

__all__ = ["RetentionKeeper", "RetentionStats"]

log = logging.getLogger(__name__)

POLL_S: Final = 1.0
"""How often the keeper looks for due agreements (retention ends are days apart, not ms)."""


@dataclass
class RetentionStats:
    """What the keeper did, for logs, tests and the CLI's status line."""

    tracked: int = 0
    handled: int = 0
    attested: int = 0
    confirmed: int = 0
    handler_errors: int = 0
    send_errors: int = 0


class RetentionKeeper:
    """One vendor's retention schedule and the task that works through it."""

    def __init__(
        self,
        vendor: VendorDeclaration,
        transport: VendorTransport,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.vendor = vendor
        self.transport = transport
        self.clock = clock
        self.schedule = RetentionSchedule(vendor.delete_ahead)
        self.stats = RetentionStats()
        self._task: asyncio.Task[None] | None = None

    @property
    def active(self) -> bool:
        """Only a vendor with an ``@on_retention_end`` handler tracks and attests anything."""
        return self.vendor.retention_handler is not None

    def track(self, agreement: Agreement) -> None:
        """An agreement this vendor is party to (already verified by the runtime)."""
        if self.active and not self.schedule.knows(agreement.intent.intent_id):
            self.schedule.track(agreement)
            self.stats.tracked += 1

    def feedback(self, feedback: OfferFeedback) -> None:
        """Feedback that the log holds an attestation of ours: that agreement is done."""
        if is_attested_feedback(feedback) and feedback.intent_id:
            if not self.schedule.is_attested(feedback.intent_id):
                self.stats.confirmed += 1
            self.schedule.attested(feedback.intent_id)

    async def rebuild(self, verify: Callable[[Agreement], bool]) -> None:
        """Fold the vendor's agreements and feedback topics from their start: what it holds
        and which attestations the log already has, whatever the group committed."""
        if not self.active:
            return
        vendor = self.vendor
        records = await self.transport.history((vendor.agreements_topic, vendor.feedback_topic))
        for record in records:
            if record.topic == vendor.feedback_topic:
                feedback = _decode(OfferFeedback, record)
                if feedback is not None:
                    self.feedback(feedback)
            else:
                agreement = _decode(Agreement, record)
                if agreement is not None and verify(agreement):
                    self.track(agreement)
        await self._confirm_from_log()
        log.info(
            "vendor %s: %d agreement(s) await their retention end",
            vendor.vendor_id, self.schedule.pending,
        )  # fmt: skip

    async def _confirm_from_log(self) -> None:
        """Agreements due now whose attestation the feedback no longer shows (it is kept a week)
        may still be attested: the log says so in clear (entry type and intent id), and only
        the processors write it, after checking the attestation is this vendor's."""
        due = self.schedule.peek_due(self.clock())
        if not due:
            return
        wanted = {a.intent.intent_id for a in due}
        try:
            records = await self.transport.history((AGREEMENTS,), {a.partition for a in due})
        except IntentcastError as exc:
            log.warning(
                "vendor %s: the agreement log is unreadable (%s); attestations already "
                "logged will be refused as already_attested",
                self.vendor.vendor_id,
                exc,
            )
            return  # fmt: skip
        for record in records:
            intent_id = (record.key or b"").decode("ascii", "replace")
            if intent_id not in wanted:
                continue
            try:
                entry = decode(LogEntry, record.value or b"")
            except SchemaError:
                continue  # `audit verify` reports it
            if entry.entry_type is EntryType.RETENTION_ATTESTATION:
                self.schedule.attested(intent_id)

    def start(self, stop: asyncio.Event) -> None:
        """Work through the schedule in the background until ``stop``."""
        if self.active and self._task is None:
            name = f"vendor-{self.vendor.vendor_id}-retention"
            self._task = asyncio.create_task(self._run(stop), name=name)

    async def close(self) -> None:
        """Stop the background task (a handler in progress is cancelled, never attested)."""
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task

    async def _run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            await self.run_due()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), POLL_S)

    async def run_due(self) -> int:
        """Call the handler of every agreement due now and attest those it deleted."""
        done = 0
        for agreement in self.schedule.due(self.clock()):
            if await self._delete_and_attest(agreement):
                done += 1
        return done

    async def _delete_and_attest(self, agreement: Agreement) -> bool:
        handler = self.vendor.retention_handler
        if handler is None:
            return False
        retry_at = self.clock() + self.vendor.retention_retry
        try:
            await handler(agreement)
        except Exception:
            self.stats.handler_errors += 1
            log.exception(
                "agreement %s: the retention end handler failed; not attested, trying again at %s",
                agreement.agreement_id, retry_at.isoformat(),
            )  # fmt: skip
            self.schedule.retry(agreement, retry_at)
            return False
        self.stats.handled += 1
        attestation = self.vendor.attestation(agreement)
        key = attestation.intent_id.encode("ascii")
        try:
            await self.transport.send([Outgoing(ATTESTATIONS, key, encode(attestation))])
        except IntentcastError as exc:
            self.stats.send_errors += 1
            log.warning(
                "agreement %s: deleted, but the attestation could not be sent (%s); "
                "trying again at %s", agreement.agreement_id, exc, retry_at.isoformat(),
            )  # fmt: skip
            self.schedule.retry(agreement, retry_at)
            return False
        self.stats.attested += 1
        log.info("agreement %s: deleted and attested", agreement.agreement_id)
        return True


M = TypeVar("M", Agreement, OfferFeedback)


def _decode(model: type[M], record: Received) -> M | None:
    try:
        return decode(model, record.value or b"")
    except SchemaError as exc:
        log.warning("retention rebuild skipped an unreadable record on %s[%d]@%d: %s",
                    record.topic, record.partition, record.offset, exc)  # fmt: skip
        return None
