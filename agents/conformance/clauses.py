"""The clauses of docs/protocol.md that the conformance kit's checks test.

A failed check names its clause as a link into protocol.md (a heading's anchor, as GitHub
renders it, plus the bold lead of the paragraph when one heading covers several rules), so a
vendor developer reads the rule it broke, not the kit's source. A test keeps every clause
resolvable: its heading exists in protocol.md and the paragraph lead is in that section.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final

__all__ = [
    "ACCEPTED_INPUT",
    "CANONICAL",
    "CLAUSES",
    "KEYS",
    "MESSAGES",
    "MONEY",
    "OFFER_RULES",
    "OFFER_VALIDITY",
    "PROFILE_RULES",
    "PROTOCOL_DOC",
    "SANDBOX",
    "UNSERVED",
    "Clause",
    "heading_anchor",
]

PROTOCOL_DOC: Final = "docs/protocol.md"

_NOT_IN_ANCHOR: Final = re.compile(r"[^\w\- ]", re.UNICODE)


def heading_anchor(heading: str) -> str:
    """GitHub's anchor for a Markdown heading: lower case, punctuation dropped, spaces to '-'."""
    return _NOT_IN_ANCHOR.sub("", heading.strip().lower().replace("`", "")).replace(" ", "-")


@dataclass(frozen=True)
class Clause:
    """One rule of the contract: a heading of protocol.md, and the paragraph's bold lead."""

    heading: str
    paragraph: str | None = None

    @property
    def anchor(self) -> str:
        """Where the rule is: ``docs/protocol.md#<anchor>``."""
        return f"{PROTOCOL_DOC}#{heading_anchor(self.heading)}"

    def __str__(self) -> str:
        return self.anchor + (f" ({self.paragraph})" if self.paragraph else "")


MESSAGES: Final = Clause("Messages")
CANONICAL: Final = Clause("Canonical encoding")
ACCEPTED_INPUT: Final = Clause("Accepted input and the bytes that are verified")
MONEY: Final = Clause("Money")
KEYS: Final = Clause("Keys and partitions")
PROFILE_RULES: Final = Clause("What the processors check", "Profiles")
OFFER_RULES: Final = Clause("What the processors check", "Offers")
SANDBOX: Final = Clause("The sandbox market")
OFFER_VALIDITY: Final = Clause("Offer validity")
UNSERVED: Final = Clause("Intents a vendor does not serve")

CLAUSES: Final = (
    MESSAGES, CANONICAL, ACCEPTED_INPUT, MONEY, KEYS, PROFILE_RULES, OFFER_RULES, SANDBOX,
    OFFER_VALIDITY, UNSERVED,
)  # fmt: skip
"""Every clause a check cites."""
