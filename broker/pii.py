"""Screen intent free text for personal data, so customers do not unmask themselves by accident.

An intent must reveal only what attracts offers. E-mail addresses, phone numbers and street
addresses in the item text, attributes or place fields identify a person, so intake refuses
them with `pii_detected` and says which kind it saw (never echoing the value itself).
"""

from __future__ import annotations

import re
from collections.abc import Iterable

_EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}")
# 7+ digits once separators are ignored, optionally with a leading +: phone-like
_PHONE = re.compile(r"(?<![\w.])\+?\d[\d\s().-]{6,}\d(?![\w.])")
_STREET_WORDS = (
    r"street|st\.|road|rd\.|avenue|ave\.|lane|ln\.|drive|dr\.|boulevard|blvd|way|court|ct\.|"
    r"place|pl\.|square|terrace|crescent|close|strasse|straße|str\.|weg|gasse|platz|allee|"
    r"rue|calle|via|avenida|straat|laan"
)
# a house number next to a street word, in either order ("12 Baker Street", "Hauptstr. 5")
_STREET = re.compile(
    rf"(\b\d{{1,5}}[a-z]?\s+(?:[\w'-]+\s+){{0,3}}(?:{_STREET_WORDS})(?!\w))"
    rf"|((?:[\w'-]+\s*)(?:{_STREET_WORDS})\s+\d{{1,5}}[a-z]?\b)",
    re.IGNORECASE,
)
_POSTCODE_UK = re.compile(r"\b[A-Z]{1,2}\d[A-Z\d]?\s*\d[A-Z]{2}\b")


def find_pii(texts: Iterable[str]) -> str | None:
    """Return the kind of personal data found ("e-mail address", ...), or None."""
    for text in texts:
        if _EMAIL.search(text):
            return "e-mail address"
        if _PHONE.search(text):
            return "phone number"
        if _STREET.search(text) or _POSTCODE_UK.search(text):
            return "street address"
    return None
