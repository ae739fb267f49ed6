"""When each of a vendor's agreements must be deleted, and which deletions are attested already.

The schedule is rebuilt from the vendor's own topics after every start: its agreements copy
says what it holds and until when, its feedback says which attestations the processors
logged. It keeps no file of its own, so a vendor that moves to another machine loses nothing.
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from intentcast.schemas.agreement import Agreement
from intentcast.schemas.events import OfferFeedback
from intentcast.schemas.reasons import ReasonCode
from intentcast.schemas.retention import ATTESTED_FEEDBACK, agreement_retention_end

__all__ = ["RetentionSchedule", "is_attested_feedback"]


def is_attested_feedback(feedback: OfferFeedback) -> bool:
    """Whether ``feedback`` says the log holds this vendor's attestation for its intent."""
    if feedback.reason is ReasonCode.ALREADY_ATTESTED:
        return True
    return feedback.reason is None and feedback.detail == ATTESTED_FEEDBACK


@dataclass(order=True)
class _Due:
    at: datetime
    agreement_id: str
    agreement: Agreement = field(compare=False)


class RetentionSchedule:
    """Agreements by the time their ``@on_retention_end`` handler is due, earliest first.

    One agreement per intent, so an intent id names an agreement. Those kept until revoked
    have no end and are never due.
    """

    def __init__(self, ahead: timedelta = timedelta(0)) -> None:
        self._ahead = ahead
        self._heap: list[_Due] = []
        self._ends: dict[str, datetime | None] = {}  # intent_id -> retention end
        self._done: set[str] = set()  # intent ids whose attestation the log holds

    def track(self, agreement: Agreement) -> datetime | None:
        """Schedule ``agreement`` (once per intent); its retention end, None if until revoked."""
        intent_id = agreement.intent.intent_id
        if intent_id in self._ends:
            return self._ends[intent_id]
        end = agreement_retention_end(agreement)
        self._ends[intent_id] = end
        if end is not None and intent_id not in self._done:
            heapq.heappush(self._heap, _Due(end - self._ahead, agreement.agreement_id, agreement))
        return end

    def knows(self, intent_id: str) -> bool:
        """Whether an agreement for ``intent_id`` is tracked already."""
        return intent_id in self._ends

    def attested(self, intent_id: str) -> None:
        """The log holds the attestation of this intent's agreement: never due again."""
        self._done.add(intent_id)

    def is_attested(self, intent_id: str) -> bool:
        return intent_id in self._done

    def end_of(self, intent_id: str) -> datetime | None:
        """The retention end of the agreement tracked for ``intent_id`` (None: none or no end)."""
        return self._ends.get(intent_id)

    def due(self, now: datetime) -> list[Agreement]:
        """Take every agreement whose handler is due by ``now`` and not attested yet."""
        out = []
        while self._heap and self._heap[0].at <= now:
            item = heapq.heappop(self._heap)
            if item.agreement.intent.intent_id not in self._done:
                out.append(item.agreement)
        return out

    def peek_due(self, now: datetime) -> list[Agreement]:
        """What :meth:`due` would take at ``now``, left in place."""
        return [
            item.agreement for item in self._heap
            if item.at <= now and item.agreement.intent.intent_id not in self._done
        ]  # fmt: skip

    def retry(self, agreement: Agreement, at: datetime) -> None:
        """Call the handler for ``agreement`` again at ``at`` (it failed, or was not sent)."""
        heapq.heappush(self._heap, _Due(at, agreement.agreement_id, agreement))

    @property
    def pending(self) -> int:
        """Agreements still waiting for their retention end (or a retry)."""
        return sum(1 for item in self._heap if item.agreement.intent.intent_id not in self._done)

    def next_at(self) -> datetime | None:
        """When the next handler is due, if any is."""
        return self._heap[0].at if self._heap else None
