"""A consumed record, independent of faust, plus the one way a bad record is turned away."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import orjson

from intentcast.broker.handler_context import Emitter, HandlerContext
from intentcast.schemas import ReasonCode

_MESSAGE_ID = re.compile(r"[0-9a-f]{32}")


def is_message_id(text: str) -> bool:
    """Whether a status can be addressed to this id (a malformed message may carry junk)."""
    return _MESSAGE_ID.fullmatch(text) is not None


@dataclass(frozen=True)
class Incoming:
    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    timestamp_ms: int = 0

    @classmethod
    def from_record(cls, record: Any, timestamp_ms: int) -> Incoming:
        """From a faust message or an aiokafka record (same attribute names; faust's timestamp
        is in seconds, aiokafka's in milliseconds, so the caller converts)."""
        return cls(
            topic=record.topic,
            partition=record.partition,
            offset=record.offset,
            key=record.key,
            value=record.value,
            timestamp_ms=timestamp_ms,
        )

    def field(self, name: str) -> str:
        """Best-effort peek at a top-level string field of an invalid message ("" if none)."""
        try:
            data = orjson.loads(self.value or b"")
        except orjson.JSONDecodeError:
            return ""
        value = data.get(name) if isinstance(data, dict) else None
        return value[:64] if isinstance(value, str) else ""

    def key_text(self) -> str:
        try:
            return (self.key or b"").decode()[:64]
        except UnicodeDecodeError:
            return ""


async def dead_letter(
    ctx: HandlerContext,
    rec: Incoming,
    reason: ReasonCode,
    detail: str,
    outputs: Emitter | None = None,
) -> None:
    """Queue `rec` for the dead-letter topic with its origin and reason, on the agents' shared
    outputs unless another component passes its own (it flushes them itself)."""
    ctx.metrics.count(f"deadletters.{reason.value}")
    await (outputs or ctx.outputs).dead_letter(
        topic=rec.topic,
        partition=rec.partition,
        offset=rec.offset,
        key=rec.key,
        value=rec.value,
        reason=reason,
        detail=detail,
    )
