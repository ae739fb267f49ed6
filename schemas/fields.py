"""Constrained field types shared by every message: ids, codes, money, keys, bounded text."""

from __future__ import annotations

import re
import secrets
from decimal import Decimal
from typing import Annotated, Any, Final

from pydantic import (
    AfterValidator,
    BeforeValidator,
    Field,
    JsonValue,
    PlainSerializer,
    StringConstraints,
    ValidationInfo,
    WithJsonSchema,
)

from intentcast.schemas.crypto import b64d
from intentcast.schemas.errors import SchemaError
from intentcast.schemas.iso import COUNTRIES, CURRENCIES, minor_units

__all__ = [
    "B64URL_PATTERN",
    "CountryCode",
    "Currency",
    "Hex64",
    "MessageId",
    "Money",
    "PublicKey",
    "Signature",
    "Slug",
    "Text",
    "check_precision",
    "format_money",
    "minor_unit_rules",
    "money_pattern",
    "new_id",
]

SLUG_PATTERN: Final = r"^[a-z0-9][a-z0-9-]{1,62}$"
# Printable text: no C0 controls or DEL, so a value cannot forge lines in logs or terminals.
_PRINTABLE: Final = r"^[^\x00-\x1f\x7f]*$"

Slug = Annotated[str, StringConstraints(pattern=SLUG_PATTERN, max_length=63)]
"""Market and vendor ids: lower-case, usable verbatim inside Kafka topic names."""

MessageId = Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{32}$", max_length=32)]
"""128 random bits as 32 lower-case hex digits; see :func:`new_id`."""

Hex64 = Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{64}$", max_length=64)]
"""A SHA-256 digest in lower-case hex."""


def new_id() -> str:
    """A fresh :data:`MessageId`; random, so ids reveal nothing about who or when."""
    return secrets.token_hex(16)


def Text(max_length: int, min_length: int = 0) -> StringConstraints:  # noqa: N802 - reads as a type
    """Printable text of bounded length (a factory so each field states its own bound)."""
    return StringConstraints(pattern=_PRINTABLE, min_length=min_length, max_length=max_length)


def _check_currency(code: str) -> str:
    if code not in CURRENCIES:
        raise ValueError("not an active ISO 4217 currency code")
    return code


Currency = Annotated[
    str,
    StringConstraints(pattern=r"^[A-Z]{3}$", max_length=3),
    AfterValidator(_check_currency),
    Field(json_schema_extra={"enum": sorted(CURRENCIES)}),
]
"""An active ISO 4217 alphabetic code such as ``EUR``."""


def _check_country(code: str) -> str:
    if code not in COUNTRIES:
        raise ValueError("not an ISO 3166-1 alpha-2 country code")
    return code


CountryCode = Annotated[
    str,
    StringConstraints(pattern=r"^[A-Z]{2}$", max_length=2),
    AfterValidator(_check_country),
    Field(json_schema_extra={"enum": sorted(COUNTRIES)}),
]
"""An ISO 3166-1 alpha-2 code such as ``GB``; the coarsest useful place."""


def format_money(value: Decimal) -> str:
    """Canonical decimal text: plain digits, no exponent, no trailing fraction zeros."""
    return format(value.normalize(), "f")


def check_precision(amount: Decimal, currency: str, field: str) -> None:
    """Refuse an amount finer than the currency's minor unit (0.5 JPY cannot be paid)."""
    exponent = amount.as_tuple().exponent
    if isinstance(exponent, int) and -exponent > minor_units(currency):
        raise ValueError(f"{field} has more decimals than {currency} allows")


MONEY_INTEGER_DIGITS: Final = 8
MONEY_DECIMALS: Final = 4
MONEY_INPUT_PATTERN: Final = r"^[0-9]+(\.[0-9]+)?([eE][+-]?[0-9]{1,4})?$"
"""What a decoder takes for money: a JSON string of digits, an optional fraction and exponent.

Nothing else (no sign, blank, ``_``, ``.5`` or ``5.``, and no JSON number): the text must
mean the same decimal in every language, and a JSON number is a binary float in most.
"""
_MONEY_INPUT: Final = re.compile(MONEY_INPUT_PATTERN)


def money_pattern(decimals: int = MONEY_DECIMALS) -> str:
    """The canonical form with at most ``decimals``: no exponent, no leading or trailing zeros,
    1-8 integer digits (the limits of ``Field(max_digits=12, decimal_places=4)``), above 0."""
    integer = f"[1-9][0-9]{{0,{MONEY_INTEGER_DIGITS - 1}}}"
    if decimals == 0:
        return f"^{integer}$"
    fraction = rf"\.[0-9]{{0,{decimals - 1}}}[1-9]"
    return f"^({integer}({fraction})?|0{fraction})$"


MONEY_PATTERN: Final = money_pattern()


def minor_unit_rules(field: str) -> list[JsonValue]:
    """JSON Schema ``allOf`` rules: ``field`` has no more decimals than its ``currency``."""
    by_units: dict[int, list[JsonValue]] = {}
    for code in sorted(CURRENCIES):
        by_units.setdefault(minor_units(code), []).append(code)
    return [
        {
            "if": {"properties": {"currency": {"enum": codes}}, "required": ["currency"]},
            "then": {"properties": {field: {"pattern": money_pattern(units)}}},
        }
        for units, codes in sorted(by_units.items())
    ]


def _money_input(value: Any, info: ValidationInfo) -> Any:
    """From JSON, accept only :data:`MONEY_INPUT_PATTERN` strings (Python callers pass Decimals)."""
    if info.mode != "json":
        return value
    if not isinstance(value, str):
        raise ValueError('money must be a JSON string such as "389.99"')
    if _MONEY_INPUT.fullmatch(value) is None:
        raise ValueError("money must be digits with an optional fraction and exponent")
    return Decimal(value)


def _normalise_money(value: Decimal) -> Decimal:
    """Checked here too, not only by ``max_digits``: pydantic releases differ on how they
    count a Decimal's integer digits (2.13 lets "100000000" through with 12 and 4), and the
    contract's limit must not move with the installed pydantic."""
    if value.adjusted() >= MONEY_INTEGER_DIGITS:
        raise ValueError(f"money has at most {MONEY_INTEGER_DIGITS} integer digits")
    return Decimal(format_money(value))


Money = Annotated[
    Decimal,
    BeforeValidator(_money_input),
    Field(gt=0, max_digits=MONEY_INTEGER_DIGITS + MONEY_DECIMALS, decimal_places=MONEY_DECIMALS),
    AfterValidator(_normalise_money),
    PlainSerializer(format_money, return_type=str, when_used="json"),
    WithJsonSchema(
        {
            "type": "string",
            "pattern": MONEY_PATTERN,
            "description": "Positive decimal as a string, canonical form: no exponent, "
            "no trailing zeros (12.5, 100, 0.99); at most 8 digits before the point and 4 "
            "after it, and never more decimals than the currency has (schemas/currencies.json).",
        }
    ),
]
"""A positive amount: at most 8 integer digits and 4 decimals; canonical text ``12.5``."""


def _check_key(text: str) -> str:
    try:
        b64d(text)
    except SchemaError as exc:
        raise ValueError(exc.detail) from None
    return text


B64URL_PATTERN: Final = (
    r"([A-Za-z0-9_-]{4})*([A-Za-z0-9_-][AQgw]|[A-Za-z0-9_-]{2}[AEIMQUYcgkosw048])?"
)
"""Canonical unpadded base64url of any length: the unused low bits of the last character are 0
(4 of them after 2 characters of a group, 2 after 3), and a group never ends after 1."""

PublicKey = Annotated[
    str,
    StringConstraints(pattern=r"^[A-Za-z0-9_-]{43}$", max_length=43),
    AfterValidator(_check_key),  # says "non-canonical base64url" when the last bits are set
    Field(json_schema_extra={"pattern": r"^[A-Za-z0-9_-]{42}[AEIMQUYcgkosw048]$"}),
]
"""A 32-byte Ed25519 or X25519 public key in unpadded base64url (43 characters)."""


def _check_signature(text: str) -> str:
    return _check_key(text) if text else text


Signature = Annotated[
    str,
    StringConstraints(pattern=r"^([A-Za-z0-9_-]{86})?$", max_length=100),
    AfterValidator(_check_signature),
    Field(json_schema_extra={"pattern": r"^([A-Za-z0-9_-]{85}[AQgw])?$"}),
]
"""A 64-byte Ed25519 signature in unpadded base64url (86 characters), or "" when unsigned."""
