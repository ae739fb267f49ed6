"""The intents the kit publishes on a vendor's sandbox market, chosen from its profile.

Together they touch every rule an offer can break: currencies of 0, 2 and 3 decimals, one
term and several, text a generic JSON library mangles (U+2028, characters outside the BMP,
strings at their length limit), an intent in a spelling only a lenient decoder reads, an
intent about to expire, and, when the profile leaves a roster term out, an intent the vendor
must not answer.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal
from typing import Final

from intentcast.schemas.offer import VendorProfile
from intentcast.schemas.terms import ROSTER, TermRef, term_ref

__all__ = [
    "ABOUT_TO_EXPIRE",
    "ABOUT_TO_EXPIRE_CASE",
    "LENIENT_CASE",
    "UNUSUAL_ATTRIBUTES",
    "UNUSUAL_ITEM",
    "PlannedIntent",
    "plan_for",
]

ABOUT_TO_EXPIRE: Final = timedelta(seconds=15)
"""Lifetime of the intent about to expire: enough to reach a vendor, too short for the SDK's
default 15-minute offer validity, so a vendor that does not cap `valid_until` shows it."""
ABOUT_TO_EXPIRE_CASE: Final = "about-to-expire"
"""Its case name: an answer is welcome but not required (the vendor may see it too late)."""
LENIENT_CASE: Final = "lenient-spelling"
"""Its case name: graded by its own check, since it tests the vendor's decoder."""
LIFETIME: Final = timedelta(minutes=30)
"""Lifetime of the other intents: longer than any sane default offer validity."""

_MAX_ITEM: Final = 200
_MAX_ATTRIBUTE: Final = 64

UNUSUAL_ITEM: Final = (
    "cargo bike\u2028line separator\u2029paragraph 🚲 \U0001d4b0\U0001d4c3 " * 8
)[:_MAX_ITEM]
"""200 code points (the limit) with U+2028, U+2029 and non-BMP characters, written raw in
canonical JSON: a JSON library that escapes them, or counts UTF-16 units, breaks here."""
UNUSUAL_ATTRIBUTES: Final = {
    "colour": "ultraviolet 🟣\u2028or \u2029 deep red",
    "escapes": 'a "quoted" back\\slash </script> & <b>',
    "long.key_with-every_allowed-char": ("é😀ñ" * 22)[:_MAX_ATTRIBUTE],
    "0": "",
}
"""Attribute keys and values at their limits (32-character key, 64-code-point value, empty)."""


@dataclass(frozen=True)
class PlannedIntent:
    """One test intent before it is signed: what it is for, and whether the vendor serves it."""

    name: str
    purpose: str
    currency: str
    max_price: Decimal
    terms: tuple[TermRef, ...]
    served: bool = True
    lenient: bool = False
    expires_in: timedelta = LIFETIME
    item: str = "city bike"
    attributes: dict[str, str] = field(default_factory=dict)

    @property
    def term_ids(self) -> list[str]:
        return [ref.id for ref in self.terms]


def _roster_refs() -> list[TermRef]:
    return [term_ref(term_id) for term_id in sorted(ROSTER)]


def plan_for(profile: VendorProfile) -> list[PlannedIntent]:
    """The intents for this vendor: served ones use only terms its profile accepts exactly."""
    accepted = sorted(set(profile.accepts) & set(_roster_refs()), key=lambda ref: ref.id)
    unaccepted = [ref for ref in _roster_refs() if ref not in set(profile.accepts)]
    plan: list[PlannedIntent] = []
    if accepted:
        every = tuple(accepted)
        one = (accepted[0],)
        plan += [
            PlannedIntent(
                "jpy", "a currency without decimals (JPY)", "JPY", Decimal("48000"), every
            ),
            PlannedIntent(
                "gbp", "a currency of 2 decimals (GBP), one term", "GBP", Decimal("449.99"), one
            ),
            PlannedIntent(
                "kwd", "a currency of 3 decimals (KWD)", "KWD", Decimal("129.755"), every
            ),
            PlannedIntent(
                "unusual-text",
                "U+2028, non-BMP characters, strings at their limits",
                "EUR",
                Decimal("310.5"),
                every,
                item=UNUSUAL_ITEM,
                attributes=dict(UNUSUAL_ATTRIBUTES),
            ),
            PlannedIntent(
                LENIENT_CASE,
                "a non-canonical spelling: keys reversed, spaces, \\u escapes, a trailing zero, "
                "+02:00 times, a default left out",
                "EUR",
                Decimal("250.5"),
                every,
                item="café racer",
                lenient=True,
            ),
            PlannedIntent(
                ABOUT_TO_EXPIRE_CASE,
                f"an intent that expires {ABOUT_TO_EXPIRE.seconds} s after it is sent",
                "EUR",
                Decimal("99.9"),
                every,
                expires_in=ABOUT_TO_EXPIRE,
            ),
        ]
    if unaccepted:
        terms = tuple(sorted({unaccepted[0], *accepted[:1]}, key=lambda ref: ref.id))
        plan.append(
            PlannedIntent(
                "unaccepted-terms",
                f"proffers {unaccepted[0].id}, which the profile does not accept",
                "EUR",
                Decimal("200"),
                terms,
                served=False,
            )
        )
    return plan
