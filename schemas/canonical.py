"""Canonical JSON, hashing and the decode boundary: the bytes every signature and hash is over.

Canonical form (see docs/protocol.md): ``orjson`` with sorted keys, no whitespace, UTF-8;
fields whose value is ``null`` are omitted (so a later optional field does not change the
bytes of older messages); decimals are strings; timestamps are ``...T..:..:..mmmZ``.
"""

from __future__ import annotations

import hashlib
from typing import Any, Final, TypeVar

import orjson
from pydantic import BaseModel, ValidationError

from intentcast.schemas.errors import SchemaError
from intentcast.schemas.reasons import ReasonCode

__all__ = [
    "MAX_MESSAGE_BYTES",
    "canonical_bytes",
    "canonical_json",
    "content_hash",
    "decode",
    "encode",
    "schema_error_from",
    "sha256_hex",
    "signing_bytes",
]

M = TypeVar("M", bound=BaseModel)

MAX_MESSAGE_BYTES: Final = 64 * 1024
"""Largest accepted wire message; checked before parsing so a huge record costs nothing."""

_MAX_DETAIL: Final = 300
_MAX_ERRORS: Final = 3


def canonical_json(data: Any) -> bytes:
    """Sorted-key, whitespace-free UTF-8 JSON of plain data (dicts, lists, str, int, bool)."""
    return orjson.dumps(data, option=orjson.OPT_SORT_KEYS)


def _dump(model: BaseModel, exclude: set[str] | None = None) -> dict[str, Any]:
    return model.model_dump(mode="json", exclude=exclude, exclude_none=True)


def canonical_bytes(model: BaseModel) -> bytes:
    """The canonical bytes of a whole model, signature included (what is hashed and sent)."""
    return canonical_json(_dump(model))


def signing_bytes(model: BaseModel) -> bytes:
    """The canonical bytes without the ``signature`` field: exactly what a signer signs."""
    return canonical_json(_dump(model, exclude={"signature"}))


def sha256_hex(data: bytes) -> str:
    """Lower-case hex SHA-256, the only hash on the wire."""
    return hashlib.sha256(data).hexdigest()


def content_hash(model: BaseModel) -> str:
    """SHA-256 of the canonical bytes; names a message (e.g. the offer an acceptance accepts)."""
    return sha256_hex(canonical_bytes(model))


def encode(model: BaseModel) -> bytes:
    """Wire bytes of a message; identical to :func:`canonical_bytes` so hashes match the wire."""
    return canonical_bytes(model)


def _loc(loc: tuple[int | str, ...]) -> str:
    return ".".join(str(part) for part in loc) or "(message)"


def schema_error_from(exc: ValidationError) -> SchemaError:
    """Translate pydantic's error into ours, naming fields but never echoing input values."""
    errors = exc.errors(include_url=False, include_input=False, include_context=False)
    if any(err["type"] == "json_invalid" for err in errors):
        return SchemaError(ReasonCode.MALFORMED_JSON, "not valid JSON")
    parts = [f"{_loc(err['loc'])}: {err['msg']}" for err in errors[:_MAX_ERRORS]]
    if len(errors) > _MAX_ERRORS:
        parts.append(f"and {len(errors) - _MAX_ERRORS} more")
    detail = "; ".join(parts)
    if len(detail) > _MAX_DETAIL:
        detail = detail[: _MAX_DETAIL - 3] + "..."
    return SchemaError(ReasonCode.SCHEMA_INVALID, detail)


def decode(model_type: type[M], data: bytes | str, *, max_bytes: int = MAX_MESSAGE_BYTES) -> M:
    """Parse and validate wire bytes into ``model_type``; raises only :class:`SchemaError`.

    Validation is strict (no "12" for 12, no 1 for true) so that what was signed is what
    we re-encode; an unknown ``schema_version`` is reported as ``unknown_schema_version``.
    """
    if isinstance(data, str):
        if len(data) > max_bytes:  # each character is at least one UTF-8 byte
            raise SchemaError(ReasonCode.MESSAGE_TOO_LARGE, f"more than {max_bytes} bytes")
        try:
            data = data.encode("utf-8")
        except UnicodeEncodeError:
            raise SchemaError(ReasonCode.MALFORMED_JSON, "not valid UTF-8") from None
    if len(data) > max_bytes:
        raise SchemaError(ReasonCode.MESSAGE_TOO_LARGE, f"{len(data)} bytes > {max_bytes}")
    try:
        return model_type.model_validate_json(data, strict=True)
    except ValidationError as exc:
        raise schema_error_from(exc) from None
    except SchemaError:
        raise
    except (ValueError, RecursionError) as exc:  # defensive: the parser should not get here
        raise SchemaError(ReasonCode.MALFORMED_JSON, type(exc).__name__) from None
