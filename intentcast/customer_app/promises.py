"""The roster's terms told in plain language: what each one promises about the customer's data.

The page shows the same words before publishing (to choose terms) and after an agreement (what
the vendor agreed to do with the data, and until when), so a person compares like with like.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Final

from intentcast.agents import DEFAULT_TERMS, ROSTER
from intentcast.schemas.retention import KEPT_AFTER_DELIVERY
from intentcast.schemas.terms import RETENTION_TEXT, Purpose, Term, TermClauses

__all__ = ["clauses_view", "roster_view", "terms_view"]

PURPOSE_TEXT: Final = {
    Purpose.SERVICE_DELIVERY: "to deliver what you asked for",
    Purpose.DATA_PORTABILITY: "to give you a copy of your data when you ask",
    Purpose.AI_TRAINING: "to train their AI systems",
    Purpose.AI_OPERATIONS: "to run their AI systems",
    Purpose.GOOD_CAUSE: "to share with others for a good cause you would support",
    Purpose.INTENT_SHARING: "to pass what you want (not who you are) to other sellers",
}

HOLDERS_TEXT: Final = {
    "first_party": "Only you hold your data.",
    "first_and_second_party": "Only you and the vendor hold your data.",
    "any_party": "The vendor may pass your data on, within these terms.",
}

TRACKING_TEXT: Final = {
    "forbidden": "No tracking of you at all.",
    "first_party_only": "No tracking off the vendor's own site, and no one else's tracking.",
}


def until_text(retention: str) -> str:
    """Until when, in words: the retention rule's delay after the delivery window."""
    kept = KEPT_AFTER_DELIVERY[retention]
    if kept is None:
        return "Until you revoke the agreement."
    days = kept.days
    return (
        f"Deleted at the latest {days} day{'s' if days != 1 else ''} after delivery "
        "(your 'needed by' time, or the intent's expiry)."
    )


def clauses_view(clauses: TermClauses) -> dict[str, Any]:
    """One term's promises, each in one sentence."""
    return {
        "purposes": [PURPOSE_TEXT[p] for p in clauses.purposes],
        "retention": clauses.retention,
        "retention_text": RETENTION_TEXT[clauses.retention],
        "until": until_text(clauses.retention),
        "third_parties": (
            "May share your data with third parties."
            if clauses.third_party_sharing
            else "Shares your data with no third party."
        ),
        "holders": HOLDERS_TEXT[clauses.data_holders],
        "tracking": TRACKING_TEXT[clauses.tracking],
    }


def _term_view(term: Term) -> dict[str, Any]:
    return {
        "id": term.id,
        "version": term.version,
        "title": term.title,
        "summary": term.summary,
        "uri": term.uri,
        "default": term.id in DEFAULT_TERMS,
        "promises": clauses_view(term.clauses),
    }


def roster_view() -> list[dict[str, Any]]:
    """Every roster term, the defaults (SD-BASE and #NoStalking) marked."""
    return [_term_view(term) for term in ROSTER.values()]


def terms_view(term_ids: Iterable[str]) -> list[dict[str, Any]]:
    """The named roster terms (an agreement's), in the roster's words."""
    return [_term_view(ROSTER[term_id]) for term_id in term_ids if term_id in ROSTER]
