"""Grading: every offer the vendor sent for the kit's intents, against the contract.

Pure functions over what was observed (raw records of `intentcast.offers.submitted`, the
registered profile), so each rule is testable without Kafka. An offer is read in layers: the
record's key and partition, the raw JSON's currency and decimals, then the decoded offer
(canonical bytes, signature, terms, validity), so one mistake is reported as itself and not
only as "does not decode".
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any, Final

from intentcast.agents.conformance.clauses import (
    ACCEPTED_INPUT,
    CANONICAL,
    KEYS,
    MESSAGES,
    MONEY,
    OFFER_RULES,
    OFFER_VALIDITY,
    SANDBOX,
    UNSERVED,
    Clause,
)
from intentcast.agents.conformance.plan import ABOUT_TO_EXPIRE_CASE, LENIENT_CASE
from intentcast.agents.conformance.report import CheckResult, Status
from intentcast.schemas.canonical import decode, encode
from intentcast.schemas.crypto import verify_model
from intentcast.schemas.errors import SchemaError
from intentcast.schemas.intent import Intent
from intentcast.schemas.iso import minor_units
from intentcast.schemas.offer import Offer, VendorProfile
from intentcast.schemas.partitioning import key_partition, record_key

__all__ = [
    "OFFER_CHECKS",
    "ObservedOffer",
    "SentIntent",
    "grade_offers",
    "intent_id_of",
    "offers_per_case",
]

_MONEY_SYNTAX: Final = re.compile(r"^[0-9]+(\.[0-9]+)?([eE][+-]?[0-9]{1,4})?$")


@dataclass(frozen=True)
class SentIntent:
    """A test intent as the processors accepted it, and whether the vendor should answer it."""

    name: str
    intent: Intent
    served: bool


@dataclass(frozen=True)
class ObservedOffer:
    """One record of `intentcast.offers.submitted` that names a test intent."""

    key: bytes | None
    value: bytes
    partition: int
    timestamp_ms: int


def intent_id_of(key: bytes | None, value: bytes) -> str | None:
    """The intent a record is about: the value's `intent_id`, else the record key."""
    try:
        data = json.loads(value)
    except ValueError:
        data = None
    if isinstance(data, dict) and isinstance(data.get("intent_id"), str):
        return str(data["intent_id"])
    if key is not None:
        return key.decode("utf-8", errors="replace")
    return None


# -- offers --------------------------------------------------------------------------------


@dataclass
class _Findings:
    """Problems found per check, in the order offers were read."""

    problems: dict[str, list[str]]
    looked: set[str]
    warnings: set[str]

    def saw(self, check: str) -> None:
        self.looked.add(check)

    def fail(self, check: str, detail: str) -> None:
        self.looked.add(check)
        self.problems.setdefault(check, []).append(detail)


@dataclass(frozen=True)
class _OfferCheck:
    check: str
    title: str
    clause: Clause
    warn_only: bool = False


OFFER_CHECKS: Final = (
    _OfferCheck("answers", "answers every intent it can serve", SANDBOX),
    _OfferCheck("lenient-input", "answers an intent in a non-canonical spelling", ACCEPTED_INPUT),
    _OfferCheck("record-key", "record key is the intent_id", KEYS),
    _OfferCheck("partition", "partition is murmur2(key) of the intent's", KEYS),
    _OfferCheck("offer-schema", "offer decodes as schema version 1", MESSAGES),
    _OfferCheck("canonical", "offer sent as its canonical bytes", CANONICAL),
    _OfferCheck("vendor-id", "offer names the vendor", OFFER_RULES),
    _OfferCheck("signature", "signature verifies with the registered key", OFFER_RULES),
    _OfferCheck("terms", "terms are the intent's, exactly", OFFER_RULES),
    _OfferCheck("currency", "currency is the intent's", OFFER_RULES),
    _OfferCheck("decimals", "price has no more decimals than the currency", MONEY),
    _OfferCheck("valid-until", "valid_until is not after the intent's expires_at", OFFER_VALIDITY),
    _OfferCheck("not-expired", "no offer for an intent that has expired", OFFER_VALIDITY),
    _OfferCheck("ignores-unserved", "no offer for an intent it does not serve", UNSERVED),
    _OfferCheck("price", "price at most max_price", OFFER_RULES, warn_only=True),
)
"""Every offer check in report order; `price` only warns (a business choice, refused by the
processors as price_over_max)."""


def grade_offers(
    vendor_id: str,
    profile: VendorProfile,
    sent: Iterable[SentIntent],
    offers: Iterable[ObservedOffer],
    partitions: int,
    waited_seconds: float,
) -> list[CheckResult]:
    """Grade every observed offer; a check nothing could exercise is ``skip``."""
    by_id = {s.intent.intent_id: s for s in sent}
    findings = _Findings({}, set(), set())
    answered: dict[str, int] = {}
    for observed in offers:
        intent_id = intent_id_of(observed.key, observed.value)
        case = by_id.get(intent_id or "")
        if case is None:
            continue
        answered[case.intent.intent_id] = answered.get(case.intent.intent_id, 0) + 1
        _grade_one(vendor_id, profile, case, observed, partitions, findings)
    if not any(case.served for case in by_id.values()):
        findings.fail("answers", "the profile accepts no roster term: the vendor serves nothing")
    for case in by_id.values():
        if case.name == LENIENT_CASE:
            problem = (
                f"{case.name}: no offer within {waited_seconds:.0f} s; decode intents as "
                'protocol.md\'s "Accepted input" says, not only in their canonical form'
            )
            _expect(findings, "lenient-input", bool(answered.get(case.intent.intent_id)), problem)
        elif case.served and case.name != ABOUT_TO_EXPIRE_CASE:
            if answered.get(case.intent.intent_id):
                findings.saw("answers")
            else:
                findings.fail("answers", f"{case.name}: no offer within {waited_seconds:.0f} s")
        elif not case.served:
            findings.saw("ignores-unserved")
            if answered.get(case.intent.intent_id):
                findings.fail(
                    "ignores-unserved",
                    f"{case.name}: {answered[case.intent.intent_id]} offer(s) for an intent "
                    f"proffering {_unaccepted(case.intent, profile)}",
                )
    return [_result(check, findings) for check in OFFER_CHECKS]


def offers_per_case(sent: Iterable[SentIntent], offers: Iterable[ObservedOffer]) -> dict[str, int]:
    """How many offers each case got, by case name."""
    names = {s.intent.intent_id: s.name for s in sent}
    counts = dict.fromkeys(names.values(), 0)
    for observed in offers:
        name = names.get(intent_id_of(observed.key, observed.value) or "")
        if name is not None:
            counts[name] += 1
    return counts


def _unaccepted(intent: Intent, profile: VendorProfile) -> str:
    return ", ".join(ref.id for ref in intent.terms if ref not in profile.accepts)


def _result(check: _OfferCheck, findings: _Findings) -> CheckResult:
    problems = tuple(findings.problems.get(check.check, ()))
    if problems:
        status = Status.WARN if check.warn_only else Status.FAIL
    elif check.check in findings.looked:
        status = Status.PASS
    else:
        status = Status.SKIP
        problems = ("nothing to check: no offer or no such intent",)
    return CheckResult(check.check, check.title, check.clause, status, problems)


def _grade_one(
    vendor_id: str,
    profile: VendorProfile,
    case: SentIntent,
    observed: ObservedOffer,
    partitions: int,
    findings: _Findings,
) -> None:
    intent = case.intent
    name = case.name
    key = record_key(intent.intent_id)
    if observed.key == key:
        findings.saw("record-key")
    else:
        shown = observed.key.decode("utf-8", "replace")[:70] if observed.key else "none"
        findings.fail("record-key", f"{name}: key {shown!r}, not the UTF-8 of the intent_id")
    expected = key_partition(key, partitions)
    if observed.partition == expected:
        findings.saw("partition")
    else:
        findings.fail(
            "partition",
            f"{name}: partition {observed.partition}, the intent's is {expected} of {partitions} "
            "(Kafka's default partitioner, murmur2; librdkafka needs partitioner=murmur2_random)",
        )
    _grade_raw_money(name, intent, observed.value, findings)
    try:
        offer = decode(Offer, observed.value)
    except SchemaError as exc:
        findings.fail("offer-schema", f"{name}: {exc.reason.value}: {exc.detail}")
        return
    findings.saw("offer-schema")
    _grade_offer(vendor_id, profile, case, offer, observed, findings)


def _grade_raw_money(name: str, intent: Intent, value: bytes, findings: _Findings) -> None:
    """Currency and decimals from the JSON itself: an offer with one decimal too many does not
    decode, and must still be reported as a decimals mistake."""
    try:
        data: Any = json.loads(value)
    except ValueError:
        return
    if not isinstance(data, dict):
        return
    currency, price = data.get("currency"), data.get("price")
    if currency == intent.currency:
        findings.saw("currency")
    else:
        findings.fail(
            "currency", f"{name}: currency {currency!r}, the intent's is {intent.currency}"
        )
    if not isinstance(price, str) or _MONEY_SYNTAX.fullmatch(price) is None:
        return  # not money at all: offer-schema says so
    try:
        decimals = max(0, -int(Decimal(price).normalize().as_tuple().exponent))
    except (InvalidOperation, ValueError):
        return
    allowed = minor_units(currency) if isinstance(currency, str) else None
    if allowed is None:
        return
    if decimals <= allowed:
        findings.saw("decimals")
    else:
        findings.fail(
            "decimals", f"{name}: price {price} has {decimals} decimals; {currency} has {allowed}"
        )


def _grade_offer(
    vendor_id: str,
    profile: VendorProfile,
    case: SentIntent,
    offer: Offer,
    observed: ObservedOffer,
    findings: _Findings,
) -> None:
    intent, name = case.intent, case.name
    if observed.value == encode(offer):
        findings.saw("canonical")
    else:
        findings.fail("canonical", f"{name}: the bytes are not the offer's canonical form")
    _expect(findings, "vendor-id", offer.vendor_id == vendor_id,
            f"{name}: vendor_id {offer.vendor_id!r}")  # fmt: skip
    try:
        verify_model(offer, profile.signing_key)
        findings.saw("signature")
    except SchemaError as exc:
        findings.fail("signature", f"{name}: {exc.detail} with {profile.signing_key}")
    _expect(findings, "terms", offer.terms == intent.terms,
            f"{name}: terms {_refs(offer)}, the intent proffers {_refs(intent)}")  # fmt: skip
    _expect(findings, "price", offer.price <= intent.max_price,
            f"{name}: price {offer.price} over max_price {intent.max_price} "
            "(the processors refuse it: price_over_max)")  # fmt: skip
    _expect(findings, "valid-until", offer.valid_until <= intent.expires_at,
            f"{name}: valid_until {_at(offer.valid_until)} is after the intent's expires_at "
            f"{_at(intent.expires_at)}")  # fmt: skip
    sent_at = datetime.fromtimestamp(observed.timestamp_ms / 1000, UTC)
    _expect(findings, "not-expired", offer.created_at < intent.expires_at
            and sent_at < intent.expires_at,
            f"{name}: offer created {_at(offer.created_at)}, sent {_at(sent_at)}, after the "
            f"intent expired at {_at(intent.expires_at)}")  # fmt: skip


def _expect(findings: _Findings, check: str, holds: bool, problem: str) -> None:
    if holds:
        findings.saw(check)
    else:
        findings.fail(check, problem)


def _refs(message: Offer | Intent) -> str:
    return "[" + ", ".join(f"{r.id} v{r.version} {r.sha256[:8]}…" for r in message.terms) + "]"


def _at(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
