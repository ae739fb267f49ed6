"""Canonical JSON, hashing and the decode boundary: the bytes every signature and hash is over.

Canonical form (see docs/protocol.md): ``orjson`` with sorted keys, no whitespace, UTF-8;
fields whose value is ``null`` are omitted (so a later optional field does not change the
bytes of older messages); decimals are strings; timestamps are ``...T..:..:..mmmZ``; floats
are written as ECMAScript's ``Number::toString`` writes them (RFC 8785), so that a JavaScript
``JSON.stringify`` and every other language can produce the same bytes.

Decoding refuses what other languages' parsers would silently read differently: an object
with a duplicate key (``malformed_json``), since "last wins" in one parser is "first wins" or
an error in another, and a signature would then cover a message its verifier never saw.
"""

from __future__ import annotations

import functools
import hashlib
import json
import math
from decimal import Decimal
from typing import Any, Final, TypeVar

import orjson
from pydantic import BaseModel, ValidationError

from intentcast.schemas.errors import SchemaError
from intentcast.schemas.reasons import ReasonCode

__all__ = [
    "MAX_MESSAGE_BYTES",
    "CanonicalFloat",
    "canonical_bytes",
    "canonical_json",
    "check_interoperable_json",
    "content_hash",
    "decode",
    "encode",
    "format_float",
    "schema_error_from",
    "sha256_hex",
    "signing_bytes",
]

M = TypeVar("M", bound=BaseModel)

MAX_MESSAGE_BYTES: Final = 64 * 1024
"""Largest accepted wire message; checked before parsing so a huge record costs nothing."""

_MAX_DETAIL: Final = 300
_MAX_ERRORS: Final = 3


_EXPONENT_LIMIT: Final = 21  # ECMAScript writes integers below 1e21 digit by digit
_SMALL_LIMIT: Final = -6  # and fractions down to 1e-6 as 0.000001


def format_float(value: float) -> str:
    """A finite float as ECMAScript ``Number::toString`` writes it (ECMA-262 6.1.6.1.20).

    This is RFC 8785's number form: the shortest digits that read back as the same double
    (Python's ``repr`` finds the same ones), as an integer below 1e21 (``2.0`` -> ``2``), a
    plain fraction down to 1e-6, otherwise ``d.ddde+NN``/``d.ddde-NN``. ``-0.0`` is ``0``.
    """
    if not math.isfinite(value):
        raise ValueError("NaN and infinities have no JSON form")
    if value == 0:
        return "0"
    if value < 0:
        return "-" + format_float(-value)
    sign_, digit_tuple, exponent = Decimal(repr(value)).as_tuple()
    digits = "".join(map(str, digit_tuple)).rstrip("0")
    assert isinstance(exponent, int) and not sign_
    k = len(digits)
    n = exponent + len(digit_tuple)  # value = 0.<digits> * 10**n
    if k <= n <= _EXPONENT_LIMIT:
        return digits + "0" * (n - k)
    if 0 < n <= _EXPONENT_LIMIT:
        return f"{digits[:n]}.{digits[n:]}"
    if _SMALL_LIMIT < n <= 0:
        return "0." + "0" * -n + digits
    e = n - 1
    mantissa = digits if k == 1 else f"{digits[0]}.{digits[1:]}"
    return f"{mantissa}e{'+' if e >= 0 else '-'}{abs(e)}"


class CanonicalFloat(float):
    """A float that :func:`canonical_json` writes by :func:`format_float`.

    orjson writes a plain float its own way (``2.0``) but hands a subclass to ``default``;
    :func:`_dump` wraps the floats of models that have float fields, so only those messages
    (metrics) pay for the formatting and everything else stays on orjson's fast path.
    """

    __slots__ = ()


def _wrap_floats(value: Any) -> Any:
    if isinstance(value, float):
        return CanonicalFloat(value)
    if isinstance(value, dict):
        return {key: _wrap_floats(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_wrap_floats(item) for item in value]
    return value


def _schema_has_floats(node: Any) -> bool:
    if isinstance(node, dict):
        return node.get("type") == "float" or any(map(_schema_has_floats, node.values()))
    if isinstance(node, list | tuple):
        return any(map(_schema_has_floats, node))
    return False


@functools.cache
def _has_floats(model_type: type[BaseModel]) -> bool:
    """Whether a model (or one nested in it) has a float field; asked once per class."""
    return _schema_has_floats(model_type.__pydantic_core_schema__)


def _default(value: Any) -> Any:
    if isinstance(value, CanonicalFloat):
        return orjson.Fragment(format_float(value).encode())
    raise TypeError(f"{type(value).__name__} has no canonical JSON form")


def canonical_json(data: Any) -> bytes:
    """Sorted-key, whitespace-free UTF-8 JSON of plain data (dicts, lists, str, int, bool).

    Floats must come as :class:`CanonicalFloat` (the model functions below wrap them); a
    plain float would be written in orjson's own form (``2.0``), which is not canonical.
    """
    return orjson.dumps(data, default=_default, option=orjson.OPT_SORT_KEYS)


def _dump(model: BaseModel, exclude: set[str] | None = None) -> dict[str, Any]:
    data = model.model_dump(mode="json", exclude=exclude, exclude_none=True)
    return _wrap_floats(data) if _has_floats(type(model)) else data


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


class _DuplicateKeyError(ValueError):
    def __init__(self, key: str) -> None:
        super().__init__(key)
        self.key = key


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    obj = dict(pairs)
    if len(obj) != len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise _DuplicateKeyError(key)
            seen.add(key)
    return obj


class _NotJsonError(ValueError):
    """NaN or Infinity: Python's parser reads them, pydantic's too, JSON has no such thing."""


def _no_constants(name: str) -> Any:
    raise _NotJsonError(name)


def check_interoperable_json(data: bytes) -> None:
    """Refuse JSON with an object holding one key twice (I-JSON, RFC 7493 section 2.3), and
    the NaN and Infinity literals pydantic's parser would otherwise read.

    Our parser (pydantic's) keeps the last value, as orjson, Go and JavaScript do, while
    others keep the first or fail: a message with a duplicate key means different things
    to different readers, so it is refused as ``malformed_json``. pydantic has no option
    for it, so the stdlib parser reads the bytes first with a pairs hook (before the schema,
    so the reason does not depend on what else is wrong). Measured on the 2-core CI machine it
    is 14-20 % of a decode (20-26 us of 110-130 us for an offer or an intent, 44 of 300 us for
    an agreement), less than a fifth of the signature check that follows. Anything it cannot
    parse is left to pydantic, which gives the precise reason.
    """
    try:
        json.loads(data, object_pairs_hook=_unique_keys, parse_constant=_no_constants)
    except _DuplicateKeyError as exc:
        raise SchemaError(
            ReasonCode.MALFORMED_JSON, f"duplicate key {exc.key[:40]!r} in an object"
        ) from None
    except _NotJsonError as exc:
        raise SchemaError(ReasonCode.MALFORMED_JSON, f"{exc} is not JSON") from None
    except (ValueError, RecursionError):
        return  # not JSON, or not UTF-8: pydantic refuses it with malformed_json


def decode(model_type: type[M], data: bytes | str, *, max_bytes: int = MAX_MESSAGE_BYTES) -> M:
    """Parse and validate wire bytes into ``model_type``; raises only :class:`SchemaError`.

    Validation is strict (no "12" for 12, no 1 for true) so that what was signed is what
    we re-encode; an unknown ``schema_version`` is reported as ``unknown_schema_version``;
    an object with a duplicate key is ``malformed_json`` (see :func:`check_interoperable_json`).
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
    check_interoperable_json(data)
    try:
        return model_type.model_validate_json(data, strict=True)
    except ValidationError as exc:
        raise schema_error_from(exc) from None
    except SchemaError:
        raise
    except (ValueError, RecursionError) as exc:  # defensive: the parser should not get here
        raise SchemaError(ReasonCode.MALFORMED_JSON, type(exc).__name__) from None
