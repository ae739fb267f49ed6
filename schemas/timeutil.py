"""UTC timestamps with one textual form, so signed bytes do not depend on a clock's precision."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Annotated, Final

from pydantic import PlainSerializer, PlainValidator, WithJsonSchema

__all__ = ["UtcDateTime", "format_utc", "parse_utc", "utcnow"]

# RFC 3339 section 5.6 only (fromisoformat alone would also take "20261129T04", week dates...).
_RFC3339: Final = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?([Zz]|[+-]\d{2}:\d{2})"
)
_MIN_YEAR: Final = 1970  # consent receipts carry epoch seconds, so nothing earlier


def _to_ms(value: datetime) -> datetime:
    """Normalise an aware datetime: UTC, truncated (not rounded) to milliseconds."""
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError("timestamp must carry a time zone (naive datetimes are refused)")
    try:
        utc = value.astimezone(UTC)
    except OverflowError as exc:
        raise ValueError("timestamp out of range") from exc
    if utc.year < _MIN_YEAR:
        raise ValueError(f"timestamp before {_MIN_YEAR}")
    return utc.replace(microsecond=utc.microsecond // 1000 * 1000)


def parse_utc(value: object) -> datetime:
    """Accept an aware datetime or an RFC 3339 string; return it normalised (see :func:`_to_ms`)."""
    if isinstance(value, datetime):
        return _to_ms(value)
    if not isinstance(value, str):
        raise ValueError("timestamp must be an RFC 3339 string")
    match = _RFC3339.fullmatch(value)
    if match is None:
        raise ValueError("timestamp must be RFC 3339, e.g. 2026-11-29T04:00:00.123Z")
    fraction = (match.group(7) or "")[:3].ljust(3, "0")
    offset = match.group(8).upper()
    text = "{}-{}-{}T{}:{}:{}.{}{}".format(*match.groups()[:6], fraction, offset)
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError as exc:
        raise ValueError("timestamp is not a real date and time") from exc
    return _to_ms(parsed)


def format_utc(value: datetime) -> str:
    """The one wire form: ``YYYY-MM-DDTHH:MM:SS.mmmZ`` (always three fraction digits and Z)."""
    # model values are already normalised, so the common case skips the conversion; C-level
    # isoformat is several times cheaper than strftime on the processors' hot path
    utc = value if value.tzinfo is UTC and value.microsecond % 1000 == 0 else _to_ms(value)
    return utc.isoformat(timespec="milliseconds")[:-6] + "Z"


def utcnow() -> datetime:
    """Now, already in the form a model would store it, so equality survives a round trip."""
    return _to_ms(datetime.now(UTC))


def _serialize(value: datetime) -> str:
    return format_utc(value)


UtcDateTime = Annotated[
    datetime,
    PlainValidator(parse_utc),
    PlainSerializer(_serialize, return_type=str, when_used="json"),
    WithJsonSchema(
        {
            "type": "string",
            "format": "date-time",
            "pattern": r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$",
            "description": "UTC, millisecond precision, e.g. 2026-11-29T04:00:00.123Z",
        }
    ),
]
"""An aware datetime normalised to UTC milliseconds; serialises as ``2026-11-29T04:00:00.123Z``."""
