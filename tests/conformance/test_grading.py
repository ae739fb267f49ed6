"""The grading rules without Kafka: observed records in, one verdict per check out."""

from __future__ import annotations

import hashlib
import json
from decimal import Decimal

from intentcast.agents.conformance import Status
from intentcast.agents.conformance.checks import (
    ObservedOffer,
    SentIntent,
    grade_offers,
)
from intentcast.agents.conformance.registration import grade_registration
from intentcast.agents.drafts import OfferDraft, build_offer
from intentcast.schemas.canonical import encode
from intentcast.schemas.crypto import SigningKey, sign_model
from intentcast.schemas.offer import Offer, VendorProfile
from intentcast.schemas.partitioning import key_partition, record_key
from intentcast.schemas.terms import ROSTER, term_ref
from intentcast.schemas.timeutil import utcnow
from intentcast.schemas.topics import sandbox_market
from tests.agents.helpers import make_intent

VENDOR_ID = "unit-vendor"
MARKET = sandbox_market(VENDOR_ID)
KEY = SigningKey.from_seed(hashlib.sha256(b"test:conformance-grading").digest())
PARTITIONS = 6


def _profile(markets: tuple[str, ...] = (MARKET,), key: SigningKey = KEY) -> VendorProfile:
    profile = VendorProfile(
        vendor_id=VENDOR_ID, display_name="Unit", signing_key=KEY.public_key, markets=markets,
        accepts=tuple(term_ref(t) for t in sorted(ROSTER)), updated_at=utcnow(),
    )  # fmt: skip
    return sign_model(profile, key)


def _case() -> tuple[SentIntent, Offer]:
    intent = make_intent(market=MARKET, currency="JPY", max_price="48000")
    offer = build_offer(OfferDraft(price=Decimal("43200")), intent, vendor_id=VENDOR_ID, key=KEY)
    return SentIntent("jpy", intent, served=True), offer


def _observed(value: bytes, intent_id: str, *, key: bytes | None = None) -> ObservedOffer:
    key = record_key(intent_id) if key is None else key
    return ObservedOffer(key, value, key_partition(record_key(intent_id), PARTITIONS), 0)


def _grade(sent: SentIntent, *observed: ObservedOffer) -> dict[str, Status]:
    results = grade_offers(VENDOR_ID, _profile(), [sent], observed, PARTITIONS, 5.0)
    return {r.check: r.status for r in results}


def test_a_right_offer_passes_every_check_that_applies() -> None:
    sent, offer = _case()
    verdicts = _grade(sent, _observed(encode(offer), offer.intent_id))
    assert {c for c, s in verdicts.items() if s is not Status.PASS} == {
        "ignores-unserved",
        "lenient-input",
    }
    assert verdicts["ignores-unserved"] is Status.SKIP  # no unserved intent was sent
    assert verdicts["lenient-input"] is Status.SKIP  # nor one in a lenient spelling


def test_no_offer_fails_answers_only() -> None:
    sent, _ = _case()
    verdicts = _grade(sent)
    assert verdicts["answers"] is Status.FAIL
    assert {c for c, s in verdicts.items() if s is Status.FAIL} == {"answers"}


def test_spaces_in_the_json_fail_canonical_only() -> None:
    sent, offer = _case()
    spaced = json.dumps(json.loads(encode(offer)), ensure_ascii=False).encode()
    verdicts = _grade(sent, _observed(spaced, offer.intent_id))
    assert {c for c, s in verdicts.items() if s is Status.FAIL} == {"canonical"}


def test_a_value_that_is_not_json_fails_the_schema_and_is_found_by_its_key() -> None:
    sent, offer = _case()
    verdicts = _grade(sent, _observed(b"\xff not json", offer.intent_id))
    assert verdicts["offer-schema"] is Status.FAIL and verdicts["answers"] is Status.PASS
    assert verdicts["signature"] is Status.SKIP  # nothing decoded to verify


def test_registration_missing_unlisted_and_badly_signed() -> None:
    _, missing = grade_registration(VENDOR_ID, MARKET, None)
    assert [r.status for r in missing] == [Status.FAIL, Status.SKIP, Status.SKIP]
    assert "not in the registry" in missing[0].details[0]
    _, unlisted = grade_registration(VENDOR_ID, MARKET, encode(_profile(("bikes",))))
    assert unlisted[2].status is Status.FAIL and "--sandbox" in unlisted[2].details[0]
    forged = _profile(key=SigningKey.generate())  # signed by a key the profile does not name
    profile, bad = grade_registration(VENDOR_ID, MARKET, encode(forged))
    assert profile is None and bad[1].status is Status.FAIL
    good, ok = grade_registration(VENDOR_ID, MARKET, encode(_profile()))
    assert good is not None and [r.status for r in ok] == [Status.PASS] * 3


def test_a_profile_that_accepts_no_roster_term_serves_nothing_and_fails_answers() -> None:
    profile = _profile().model_copy(update={"accepts": ()})
    results = grade_offers(VENDOR_ID, profile, [], [], PARTITIONS, 5.0)
    answers = next(r for r in results if r.check == "answers")
    assert answers.status is Status.FAIL and "accepts no roster term" in answers.details[0]
