"""The compose form of the customer app: what the person typed, checked field by field.

Each field is checked against the very types the wire contract uses (so the page can never
accept what intake would refuse for its shape), and each problem is told in one sentence
beside the field it concerns, never as a pydantic dump.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any, Final

from pydantic import TypeAdapter, ValidationError
from pydantic_core import ErrorDetails

from intentcast.agents import DEFAULT_TERMS, ROSTER
from intentcast.schemas.fields import Currency, Money, Slug
from intentcast.schemas.intent import Place, Want

__all__ = ["FIELD_HINTS", "FormError", "IntentDraft", "parse_draft"]

FIELD_HINTS: Final = {
    "market": "Use lower-case letters, digits and dashes, e.g. bikes.",
    "item": "Say what you want in up to 200 plain characters, e.g. city bike.",
    "quantity": "Use a whole number from 1 to 1000.",
    "max_price": "Give the most you will pay as a number above zero, e.g. 200 or 199.99.",
    "currency": "Use a three-letter ISO 4217 code, e.g. EUR or USD.",
    "country": "Use a two-letter ISO 3166 country code, e.g. DE or FR.",
    "city": "Name a city in up to 64 plain characters (never a street address).",
    "region": "Name a region in up to 64 plain characters (never a street address).",
    "attributes": "Use up to 16 lines of key=value, keys in lower case (e.g. colour=red).",
    "terms": "Pick between one and six terms from the roster.",
    "expires_in_minutes": "Keep the intent open between 1 minute and 7 days.",
    "needed_by": "Give a date and time in the future, or leave it empty.",
}
"""What to do next, per field, when its value does not fit."""

_MAX_OPEN: Final = timedelta(days=7)
_MONEY: Final = TypeAdapter(Money)
_CURRENCY: Final = TypeAdapter(Currency)
_SLUG: Final = TypeAdapter(Slug)


class FormError(ValueError):
    """The form cannot make an intent; ``fields`` maps each bad field to one sentence."""

    def __init__(self, fields: dict[str, str]) -> None:
        super().__init__("; ".join(f"{k}: {v}" for k, v in fields.items()))
        self.fields = fields


@dataclass(frozen=True)
class IntentDraft:
    """Everything `CustomerClient.publish` needs, already checked."""

    market: str
    item: str
    quantity: int
    attributes: dict[str, str]
    max_price: Decimal
    currency: str
    country: str
    region: str | None
    city: str | None
    terms: tuple[str, ...]
    expires_in: timedelta
    needed_by: datetime | None = None

    def publish_kwargs(self) -> dict[str, Any]:
        """Keyword arguments for :meth:`CustomerClient.publish`."""
        return {
            "market": self.market, "item": self.item, "quantity": self.quantity,
            "attributes": self.attributes, "max_price": self.max_price,
            "currency": self.currency, "country": self.country, "region": self.region,
            "city": self.city, "terms": list(self.terms), "expires_in": self.expires_in,
            "needed_by": self.needed_by,
        }  # fmt: skip


def _sentence(name: str, error: ErrorDetails) -> str:
    """One plain sentence for one pydantic error of field ``name``: empty, or what fits."""
    if error["type"] == "missing" or (
        error["type"] == "string_too_short" and error.get("ctx", {}).get("min_length") == 1
    ):
        return "Please fill this in."
    return FIELD_HINTS.get(name, "This value does not fit; check it and try again.")


def _text(form: dict[str, Any], name: str) -> str:
    value = form.get(name)
    return value.strip() if isinstance(value, str) else ""


def _optional(form: dict[str, Any], name: str) -> str | None:
    return _text(form, name) or None


def _attributes(text: str) -> dict[str, str]:
    pairs: dict[str, str] = {}
    for line in text.splitlines():
        if not line.strip():
            continue
        key, sep, value = line.partition("=")
        if not sep or not key.strip():
            raise ValueError(line)
        pairs[key.strip().lower()] = value.strip()
    return pairs


def _whole(text: str, default: int) -> int:
    return int(text) if text else default


def _needed_by(text: str) -> datetime | None:
    if not text:
        return None
    moment = datetime.fromisoformat(text)
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def parse_draft(form: dict[str, Any], now: datetime) -> IntentDraft:
    """Check the compose form; raise :class:`FormError` naming every field that does not fit."""
    problems: dict[str, str] = {}

    def check(name: str, run: Any) -> Any:
        try:
            return run()
        except ValidationError as exc:
            problems.setdefault(name, _sentence(name, exc.errors()[0]))
        except (ValueError, TypeError, ArithmeticError):
            problems.setdefault(name, FIELD_HINTS[name])
        return None

    market = check("market", lambda: _SLUG.validate_python(_text(form, "market")))
    quantity = check("quantity", lambda: _whole(_text(form, "quantity"), 1))
    attributes = check("attributes", lambda: _attributes(_text(form, "attributes")))
    if quantity is not None:
        item = _text(form, "item")
        try:
            Want(item=item, quantity=quantity, attributes=attributes or {})
        except ValidationError as exc:
            for error in exc.errors():
                name = str(error["loc"][0])
                problems.setdefault(name, _sentence(name, error))
    price = check("max_price", lambda: _MONEY.validate_python(_text(form, "max_price")))
    currency = check("currency", lambda: _CURRENCY.validate_python(_text(form, "currency").upper()))
    country, region, city = (
        _text(form, "country").upper(), _optional(form, "region"), _optional(form, "city"),
    )  # fmt: skip
    try:
        Place(country=country, region=region, city=city)
    except ValidationError as exc:
        for error in exc.errors():
            name = str(error["loc"][0])
            problems.setdefault(name, _sentence(name, error))
    terms = tuple(t for t in form.get("terms") or () if isinstance(t, str))
    if not 1 <= len(terms) <= 6 or any(t not in ROSTER for t in terms):
        problems["terms"] = FIELD_HINTS["terms"]
    minutes = check("expires_in_minutes", lambda: float(_text(form, "expires_in_minutes") or 10))
    if minutes is not None and not 1 <= minutes <= _MAX_OPEN.total_seconds() / 60:
        problems["expires_in_minutes"] = FIELD_HINTS["expires_in_minutes"]
    needed_by = check("needed_by", lambda: _needed_by(_text(form, "needed_by")))
    if needed_by is not None and needed_by <= now:
        problems["needed_by"] = FIELD_HINTS["needed_by"]
    if problems:
        raise FormError(problems)
    return IntentDraft(
        market=market, item=_text(form, "item"), quantity=quantity, attributes=attributes,
        max_price=price, currency=currency, country=country, region=region, city=city,
        terms=terms or DEFAULT_TERMS, expires_in=timedelta(minutes=minutes), needed_by=needed_by,
    )  # fmt: skip
