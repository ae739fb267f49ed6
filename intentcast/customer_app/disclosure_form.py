"""The disclosure form: what the customer chose to tell the vendor of one agreement.

Only the fields ticked are read; each is checked against the very type the sealed
`DisclosedFields` message uses, and a value that does not fit is told in one sentence beside
it, before anything is sealed or sent.
"""

from __future__ import annotations

from typing import Any, Final

from pydantic import TypeAdapter, ValidationError

from intentcast.customer_app.forms import FormError
from intentcast.schemas.disclosure import DISCLOSURE_FIELDS, DisclosedFields, PostalAddress

__all__ = ["DISCLOSURE_HINTS", "parse_disclosure"]

DISCLOSURE_HINTS: Final = {
    "fields": "Tick at least one thing to tell the vendor.",
    "name": "Give a name in up to 200 plain characters.",
    "email": "Give an e-mail address such as name@example.org.",
    "phone": "Give a phone number of digits, spaces and + ( ) . -, e.g. +49 30 1234567.",
    "note": "Keep the note to 1000 plain characters.",
    "address_lines": "Give one to four address lines (street, house, flat), 100 characters each.",
    "address_city": "Name the city, in up to 64 characters.",
    "address_postal_code": "Keep the postcode to 16 characters.",
    "address_region": "Keep the region to 64 characters.",
    "address_country": "Use a two-letter ISO 3166 country code, e.g. DE.",
}
"""What to do next, per form field, when its value does not fit."""

_ADDRESS_PARTS: Final = ("lines", "city", "postal_code", "region", "country")


def _adapter(name: str) -> TypeAdapter[Any]:
    info = DisclosedFields.model_fields[name]
    return TypeAdapter(info.annotation)


_TEXT_FIELDS: Final = {name: _adapter(name) for name in ("name", "email", "phone", "note")}


def _text(form: dict[str, Any], name: str) -> str:
    value = form.get(name)
    return value.strip() if isinstance(value, str) else ""


def _address(form: dict[str, Any], problems: dict[str, str]) -> dict[str, Any] | None:
    lines = [line.strip() for line in _text(form, "address_lines").splitlines() if line.strip()]
    address = {
        "lines": lines,
        "city": _text(form, "address_city"),
        "postal_code": _text(form, "address_postal_code") or None,
        "region": _text(form, "address_region") or None,
        "country": _text(form, "address_country").upper(),
    }
    try:
        return PostalAddress.model_validate(address).model_dump(mode="json", exclude_none=True)
    except ValidationError as exc:
        for error in exc.errors():
            part = str(error["loc"][0])
            problems.setdefault(f"address_{part}", DISCLOSURE_HINTS[f"address_{part}"])
        return None


def parse_disclosure(form: dict[str, Any]) -> dict[str, Any]:
    """The fields to disclose, as `CustomerClient.disclose` takes them; :class:`FormError`
    names every ticked field that does not fit."""
    chosen = [f for f in form.get("fields") or () if f in DISCLOSURE_FIELDS]
    if not chosen:
        raise FormError({"fields": DISCLOSURE_HINTS["fields"]})
    problems: dict[str, str] = {}
    values: dict[str, Any] = {}
    for name in chosen:
        if name == "delivery_address":
            address = _address(form, problems)
            if address is not None:
                values[name] = address
            continue
        text = _text(form, name)
        try:
            if not text:
                raise ValueError(name)
            values[name] = _TEXT_FIELDS[name].validate_python(text)
        except (ValidationError, ValueError):
            problems[name] = DISCLOSURE_HINTS[name]
    if problems:
        raise FormError(problems)
    return values
