"""Constrained field types shared by every message: ids, codes, money, keys, bounded text."""

from __future__ import annotations

import secrets
from decimal import Decimal
from typing import Annotated, Final

from pydantic import AfterValidator, Field, PlainSerializer, StringConstraints, WithJsonSchema

from intentcast.schemas.crypto import b64d
from intentcast.schemas.errors import SchemaError
from intentcast.schemas.iso import COUNTRIES, CURRENCIES, minor_units

__all__ = [
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


def _normalise_money(value: Decimal) -> Decimal:
    return Decimal(format_money(value))


Money = Annotated[
    Decimal,
    Field(gt=0, max_digits=12, decimal_places=4),
    AfterValidator(_normalise_money),
    PlainSerializer(format_money, return_type=str, when_used="json"),
    WithJsonSchema(
        {
            "type": "string",
            "pattern": r"^(0|[1-9][0-9]{0,11})(\.[0-9]{0,3}[1-9])?$",
            "description": "Positive decimal as a string, canonical form: no exponent, "
            "no trailing zeros (12.5, 100, 0.99); at most 12 digits and 4 decimals.",
        }
    ),
]
"""A positive amount; 12 significant digits, at most 4 decimals; canonical text ``12.5``."""


def _check_key(text: str) -> str:
    try:
        b64d(text)
    except SchemaError as exc:
        raise ValueError(exc.detail) from None
    return text


PublicKey = Annotated[
    str,
    StringConstraints(pattern=r"^[A-Za-z0-9_-]{43}$", max_length=43),
    AfterValidator(_check_key),
]
"""A 32-byte Ed25519 or X25519 public key in unpadded base64url (43 characters)."""


def _check_signature(text: str) -> str:
    return _check_key(text) if text else text


Signature = Annotated[
    str,
    StringConstraints(pattern=r"^([A-Za-z0-9_-]{86})?$", max_length=100),
    AfterValidator(_check_signature),
]
"""A 64-byte Ed25519 signature in unpadded base64url (86 characters), or "" when unsigned."""
