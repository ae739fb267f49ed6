"""The MyTerms (IEEE 7012) roster: standard agreements a customer proffers, named by hash."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from enum import StrEnum
from types import MappingProxyType
from typing import Annotated, Final, Literal

from pydantic import AfterValidator, Field, StringConstraints

from intentcast.schemas.base import WireModel
from intentcast.schemas.canonical import content_hash
from intentcast.schemas.errors import SchemaError
from intentcast.schemas.fields import Hex64, Text
from intentcast.schemas.reasons import ReasonCode

__all__ = [
    "RETENTION_TEXT",
    "ROSTER",
    "Purpose",
    "Term",
    "TermClauses",
    "TermId",
    "TermRef",
    "TermRefs",
    "refs_for",
    "resolve_terms",
    "term_ref",
]

TermId = Annotated[str, StringConstraints(pattern=r"^[A-Z0-9][A-Z0-9-]{1,31}$", max_length=32)]
"""A roster identifier such as ``SD-BASE``."""

TermVersion = Annotated[
    str, StringConstraints(pattern=r"^[0-9]{1,3}\.[0-9]{1,3}(-[a-z0-9]{1,8})?$", max_length=16)
]


class Purpose(StrEnum):
    """What the second party may use the customer's data for."""

    SERVICE_DELIVERY = "service_delivery"
    DATA_PORTABILITY = "data_portability"
    AI_TRAINING = "ai_training"
    AI_OPERATIONS = "ai_operations"
    GOOD_CAUSE = "good_cause"
    INTENT_SHARING = "intent_sharing"


RETENTION_TEXT: Final = MappingProxyType(
    {
        "session": "Deleted right after the transaction completes, unless law requires otherwise.",
        "agreement": "Kept only while the agreement is in force, then deleted.",
        "until_revoked": "Kept until the customer revokes the agreement.",
    }
)
"""Plain-language meaning of each retention choice (used as the consent receipt termination)."""


class TermClauses(WireModel):
    """The machine-readable form of a term: what a vendor promises by accepting it."""

    data_holders: Literal["first_party", "first_and_second_party", "any_party"]
    purposes: tuple[Purpose, ...] = Field(min_length=1, max_length=6)
    retention: Literal["session", "agreement", "until_revoked"]
    tracking: Literal["forbidden", "first_party_only"]
    third_party_sharing: bool


class TermRef(WireModel):
    """A term as messages cite it: id, version and the SHA-256 of its canonical form.

    The hash pins the exact text, so a roster edit cannot silently change what was agreed.
    """

    id: TermId
    version: TermVersion
    sha256: Hex64


def _sorted_unique(refs: tuple[TermRef, ...]) -> tuple[TermRef, ...]:
    """One order for one set of terms, so equal sets give equal bytes and signatures."""
    ordered = tuple(sorted(refs, key=lambda ref: ref.id))
    if len({ref.id for ref in ordered}) != len(ordered):
        raise ValueError("a term id appears more than once")
    return ordered


TermRefs = Annotated[
    tuple[TermRef, ...], Field(min_length=1, max_length=6), AfterValidator(_sorted_unique)
]
"""The terms a message proffers or accepts: 1 to 6, unique ids, kept sorted by id."""

AcceptedTermRefs = Annotated[
    tuple[TermRef, ...], Field(max_length=16), AfterValidator(_sorted_unique)
]


class Term(WireModel):
    """One roster entry, in plain language (``summary``) and machine-readable (``clauses``)."""

    id: TermId
    version: TermVersion
    uri: Annotated[str, StringConstraints(pattern=r"^https://[^\s]+$", max_length=200)]
    title: Annotated[str, Text(80, 1)]
    summary: Annotated[str, Text(1200, 1)]
    clauses: TermClauses

    @property
    def sha256(self) -> str:
        """SHA-256 of the term's canonical JSON; what a :class:`TermRef` pins."""
        return content_hash(self)

    def ref(self) -> TermRef:
        """The reference messages carry for this term."""
        return TermRef(id=self.id, version=self.version, sha256=self.sha256)


def _term(
    term_id: str, title: str, summary: str, clauses: TermClauses, *, uri: str = "", v: str = "1.0"
) -> Term:
    uri = uri or f"https://myterms.info/agreements/{term_id}"
    return Term(id=term_id, version=v, uri=uri, title=title, summary=summary, clauses=clauses)


_SERVICE_ONLY: Final = TermClauses(
    data_holders="first_and_second_party",
    purposes=(Purpose.SERVICE_DELIVERY,),
    retention="agreement",
    tracking="forbidden",
    third_party_sharing=False,
)

_TERMS: Final = (
    _term(
        "SD-BASE",
        "Service delivery only",
        "You may use my data only to deliver what I asked for. You may not use it for "
        "advertising, profiling or anything else, may not pass it to anyone else, and must "
        "not track me. Delete it when our agreement ends.",
        _SERVICE_ONLY,
    ),
    _term(
        "SD-BASE-DP",
        "Service delivery, with data portability",
        "As SD-BASE: use my data only to deliver what I asked for, share it with no one and "
        "do not track me. In addition, give me a copy of my data in a machine-readable form "
        "whenever I ask, so I can take it elsewhere.",
        _SERVICE_ONLY.model_copy(
            update={"purposes": (Purpose.SERVICE_DELIVERY, Purpose.DATA_PORTABILITY)}
        ),
    ),
    _term(
        "PDC-AI",
        "Personal data for AI training and operations",
        "You may use my data to train and run your AI systems, besides delivering what I "
        "asked for. You may not sell it or share it with anyone else, and must not track me. "
        "Keep it only until I revoke this agreement.",
        TermClauses(
            data_holders="first_and_second_party",
            purposes=(Purpose.SERVICE_DELIVERY, Purpose.AI_TRAINING, Purpose.AI_OPERATIONS),
            retention="until_revoked",
            tracking="forbidden",
            third_party_sharing=False,
        ),
    ),
    _term(
        "PDC-GOOD",
        "Sharing data for a good cause",
        "You may share my data with others for a good cause I would support, such as "
        "research or public health, besides delivering what I asked for. Do not use it for "
        "advertising and do not track me. Stop when I revoke this agreement.",
        TermClauses(
            data_holders="any_party",
            purposes=(Purpose.SERVICE_DELIVERY, Purpose.GOOD_CAUSE),
            retention="until_revoked",
            tracking="forbidden",
            third_party_sharing=True,
        ),
    ),
    _term(
        "PDC-INTENT",
        "Sharing intent data",
        "You may share what I want to buy (my intent, not who I am) with other sellers who "
        "could serve me better, besides delivering what I asked for. Do not track me, and "
        "delete my intent data when our agreement ends.",
        TermClauses(
            data_holders="any_party",
            purposes=(Purpose.SERVICE_DELIVERY, Purpose.INTENT_SHARING),
            retention="agreement",
            tracking="forbidden",
            third_party_sharing=True,
        ),
    ),
    _term(
        "P2B1",
        "#NoStalking (Customer Commons P2B1)",
        "Don't track me off your site, and don't let others track me on your site or "
        "anywhere else. You may share my data only with parties who first agree to these "
        "terms; between us it stays first and second party. Destroy my data right after "
        "this transaction, unless the law requires you to keep it.",
        TermClauses(
            data_holders="first_and_second_party",
            purposes=(Purpose.SERVICE_DELIVERY,),
            retention="session",
            tracking="first_party_only",
            third_party_sharing=False,
        ),
        uri="https://customercommons.org/home/tools/terms/p2b1/",
        v="2.0-draft",
    ),
)

ROSTER: Final[Mapping[str, Term]] = MappingProxyType({term.id: term for term in _TERMS})
"""Every term Intentcast knows, by id; read-only."""

_REFS: Final = MappingProxyType({term.id: term.ref() for term in _TERMS})


def term_ref(term_id: str) -> TermRef:
    """The current :class:`TermRef` of a roster term, or ``SchemaError(unknown_term)``."""
    try:
        return _REFS[term_id]
    except KeyError:
        raise SchemaError(ReasonCode.UNKNOWN_TERM, f"no term {term_id[:40]!r}") from None


def refs_for(ids: Iterable[str]) -> tuple[TermRef, ...]:
    """References for several term ids, sorted by id (the order messages carry them in)."""
    return tuple(sorted((term_ref(term_id) for term_id in set(ids)), key=lambda ref: ref.id))


def resolve_terms(refs: Sequence[TermRef]) -> tuple[Term, ...]:
    """The roster terms behind ``refs``; unknown id or version raises ``unknown_term``, a hash
    that does not match the roster text raises ``term_hash_mismatch``."""
    terms = []
    for ref in refs:
        known = _REFS.get(ref.id)
        if known is None or known.version != ref.version:
            raise SchemaError(ReasonCode.UNKNOWN_TERM, f"no term {ref.id} version {ref.version}")
        if known.sha256 != ref.sha256:
            raise SchemaError(ReasonCode.TERM_HASH_MISMATCH, f"term {ref.id} hash differs")
        terms.append(ROSTER[ref.id])
    return tuple(terms)
