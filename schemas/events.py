"""Broker-side records: intent status, dead letters, vendor feedback and metrics snapshots."""

from __future__ import annotations

import base64
import hashlib
from datetime import datetime
from enum import StrEnum
from typing import Annotated, Final, Literal

from pydantic import Field, StringConstraints

from intentcast.schemas.base import Message
from intentcast.schemas.crypto import b64e
from intentcast.schemas.fields import B64URL_PATTERN, Hex64, MessageId, Slug, Text
from intentcast.schemas.reasons import ReasonCode
from intentcast.schemas.timeutil import UtcDateTime, utcnow

__all__ = [
    "DeadLetter",
    "IntentStatus",
    "MetricsSnapshot",
    "OfferFeedback",
    "StatusKind",
]

DEAD_LETTER_PAYLOAD_BYTES: Final = 4096
DEAD_LETTER_KEY_BYTES: Final = 1024
_INT64_MAX: Final = 2**63 - 1

_B64 = Annotated[str, StringConstraints(pattern=f"^{B64URL_PATTERN}$")]
_TopicName = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9._-]{1,249}$")]
_MetricName = Annotated[str, StringConstraints(pattern=r"^[a-z0-9_.:{}=,-]{1,128}$")]
_Finite = Annotated[float, Field(allow_inf_nan=False)]
_Count = Annotated[int, Field(ge=0, le=_INT64_MAX)]


def _clip(text: str, limit: int) -> str:
    """Shorten free text to ``limit`` and drop control characters (details come from errors)."""
    clean = "".join(ch if ch.isprintable() else " " for ch in text)
    return clean if len(clean) <= limit else clean[: limit - 3] + "..."


class StatusKind(StrEnum):
    """What happened to an intent, as told to its customer."""

    ACCEPTED = "accepted"
    REJECTED = "rejected"
    OFFER_DELIVERED = "offer_delivered"
    AGREED = "agreed"
    EXPIRED = "expired"
    CANCELLED = "cancelled"
    RETENTION_ATTESTED = "retention_attested"
    DISCLOSED = "disclosed"


class IntentStatus(Message):
    """A status update for one intent, so the customer learns why nothing happened too."""

    kind: Literal["intent_status"] = "intent_status"
    intent_id: MessageId
    status: StatusKind
    reason: ReasonCode | None = None
    detail: Annotated[str, Text(300)] = ""
    agreement_id: Hex64 | None = None
    offer_id: MessageId | None = None
    disclosure_id: MessageId | None = None
    at: UtcDateTime


class DeadLetter(Message):
    """A record that could not be processed, kept with enough to diagnose and replay it.

    Only the first 4096 bytes of the value are kept (with its full size and hash), so a dead
    letter can never be larger than the limit that sent it here.
    """

    kind: Literal["dead_letter"] = "dead_letter"
    source_topic: _TopicName
    source_partition: int = Field(ge=0, le=2**31 - 1)
    source_offset: int = Field(ge=0, le=_INT64_MAX)
    reason: ReasonCode
    detail: Annotated[str, Text(500)] = ""
    payload_b64: Annotated[_B64, Field(max_length=5462)]
    payload_size: int = Field(ge=0, le=2**31 - 1)
    payload_sha256: Hex64
    key_b64: Annotated[_B64, Field(max_length=1366)] | None = None
    received_at: UtcDateTime

    @classmethod
    def from_record(
        cls,
        *,
        topic: str,
        partition: int,
        offset: int,
        value: bytes | None,
        key: bytes | None,
        reason: ReasonCode,
        detail: str = "",
        received_at: datetime | None = None,
    ) -> DeadLetter:
        """Build a dead letter from a raw Kafka record, truncating what must be truncated."""
        raw = value or b""
        return cls(
            source_topic=topic,
            source_partition=partition,
            source_offset=offset,
            reason=reason,
            detail=_clip(detail, 500),
            payload_b64=b64e(raw[:DEAD_LETTER_PAYLOAD_BYTES]),
            payload_size=len(raw),
            payload_sha256=hashlib.sha256(raw).hexdigest(),
            key_b64=None if key is None else b64e(key[:DEAD_LETTER_KEY_BYTES]),
            received_at=received_at or utcnow(),
        )

    def payload(self) -> bytes:
        """The kept (possibly truncated) payload bytes."""
        return base64.urlsafe_b64decode(self.payload_b64 + "=" * (-len(self.payload_b64) % 4))


class OfferFeedback(Message):
    """Private news for a vendor about one of its offers: delivered (reason None) or why not.

    Ids are plain bounded text, not validated ids, because the offer may have been refused
    precisely for carrying a malformed one (the processor then sends "").
    """

    kind: Literal["offer_feedback"] = "offer_feedback"
    offer_id: Annotated[str, Text(64)] = ""
    intent_id: Annotated[str, Text(64)] = ""
    vendor_id: Slug
    reason: ReasonCode | None = None
    detail: Annotated[str, Text(300)] = ""
    at: UtcDateTime


LatencyStat = Literal["p50", "p95", "p99", "max", "count"]


class MetricsSnapshot(Message):
    """A process's counters, gauges and latency percentiles at one moment, for the monitor."""

    kind: Literal["metrics"] = "metrics"
    source: Annotated[str, Text(64, 1)]
    at: UtcDateTime
    counters: dict[_MetricName, _Count] = Field(default_factory=dict, max_length=512)
    gauges: dict[_MetricName, _Finite] = Field(default_factory=dict, max_length=512)
    latencies_ms: dict[_MetricName, dict[LatencyStat, _Finite]] = Field(
        default_factory=dict, max_length=64
    )
