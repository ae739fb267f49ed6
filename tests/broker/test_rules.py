"""Every rule of the flow, one row per refusal: the pure checks of `broker/validation.py` and the
decoder's, called directly with a message built to break exactly that rule.

`test_every_reason_code_is_produced_by_a_test` fails when a ReasonCode member has no row here
and no named test elsewhere that produces it, so a new code cannot ship untested.
"""

from __future__ import annotations

import ast
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from intentcast.agents import IntentKeys, OfferDraft, build_offer
from intentcast.broker.processors.profiles import check_vendor_profile
from intentcast.broker.records import IllegalTransitionError, IntentRecord
from intentcast.broker.refusal import Refused
from intentcast.broker.validation import (
    check_acceptance,
    check_cancel,
    check_intent,
    check_offer,
    check_profile,
)
from intentcast.schemas import (
    Acceptance,
    Cancel,
    Intent,
    IntentState,
    Offer,
    ReasonCode,
    Rejected,
    SchemaError,
    VendorProfile,
    can_transition,
    content_hash,
    decode,
    encode,
    vendor_profile_topic,
)
from intentcast.schemas.crypto import SigningKey, sign_model
from intentcast.schemas.terms import TermRef, refs_for
from intentcast.schemas.timeutil import utcnow
from tests.agents.helpers import make_intent

ROOT = Path(__file__).resolve().parents[2]
MARKETS = ("bikes", "strollers")
SKEW, LIFETIME = timedelta(minutes=5), timedelta(days=30)
VENDOR = "acme-bikes"


@dataclass
class World:
    """One open intent with one delivered offer: each row breaks one thing of it."""

    keys: IntentKeys
    vendor_key: SigningKey
    intent: Intent
    offer: Offer
    record: IntentRecord
    now: datetime

    def acceptance(self, offer: Offer | None = None, key: SigningKey | None = None) -> Acceptance:
        offer = offer or self.offer
        unsigned = Acceptance(
            intent_id=self.intent.intent_id,
            offer_id=offer.offer_id,
            offer_hash=content_hash(offer),
            accepted_at=self.now,
        )
        return sign_model(unsigned, key or self.keys.signing)

    def cancel(self, key: SigningKey | None = None) -> Cancel:
        unsigned = Cancel(intent_id=self.intent.intent_id, cancelled_at=self.now)
        return sign_model(unsigned, key or self.keys.signing)

    def new_offer(self, **draft: object) -> Offer:
        return build_offer(
            OfferDraft.model_validate({"price": Decimal("150"), **draft}),
            self.intent,
            vendor_id=VENDOR,
            key=self.vendor_key,
            now=self.now,
        )

    def profile(self, key: SigningKey | None = None, **fields: object) -> VendorProfile:
        key = key or self.vendor_key
        unsigned = VendorProfile.model_validate(
            {
                "vendor_id": VENDOR,
                "display_name": "Acme Bikes",
                "signing_key": key.public_key,
                "markets": ("bikes",),
                "accepts": refs_for(("SD-BASE", "P2B1")),
                "updated_at": self.now,
                **fields,
            }
        )
        return sign_model(unsigned, key)


def _record_of(intent: Intent, **update: object) -> IntentRecord:
    record = IntentRecord(
        intent_json=encode(intent).decode(),
        intent_hash=content_hash(intent),
        expires_at_ms=int(intent.expires_at.timestamp() * 1000),
        partition=0,
    )
    return record.model_copy(update=update)


@pytest.fixture
def world() -> World:
    keys, vendor_key = IntentKeys.generate(), SigningKey.generate()
    intent = make_intent(keys=keys)
    now = utcnow()
    offer = build_offer(OfferDraft(price=Decimal("150")), intent, vendor_id=VENDOR, key=vendor_key)
    record = _record_of(intent, delivered={offer.offer_id: encode(offer).decode()})
    return World(keys, vendor_key, intent, offer, record, now)


def _intent_check(w: World, intent: Intent, key: bytes | None = None) -> None:
    check_intent(
        intent,
        record_key=intent.intent_id.encode() if key is None else key,
        now=w.now,
        markets=MARKETS,
        max_skew=SKEW,
        max_lifetime=LIFETIME,
    )


def _offer_check(w: World, offer: Offer, record: IntentRecord | None = None, **kw: object) -> None:
    args: dict[str, object] = {
        "record_key": offer.intent_id.encode(),
        "vendor_key": w.vendor_key.public_key,
        "record": _record_of(w.intent) if record is None else record,
        "now": w.now,
        "max_per_vendor": 3,
        **kw,
    }
    check_offer(offer, **args)  # type: ignore[arg-type]


def _accept_check(w: World, acceptance: Acceptance, record: IntentRecord | None = None) -> None:
    check_acceptance(
        acceptance,
        record_key=acceptance.intent_id.encode(),
        record=w.record if record is None else record,
        now=w.now,
    )


def _cancel_check(w: World, cancel: Cancel, record: IntentRecord | None = None) -> None:
    check_cancel(
        cancel,
        record_key=cancel.intent_id.encode(),
        record=w.record if record is None else record,
        now=w.now,
    )


def _signed_intent(w: World, **update: object) -> Intent:
    return sign_model(w.intent.model_copy(update=update), w.keys.signing)


def _bad_term_hash() -> tuple[TermRef, ...]:
    first, *rest = refs_for(("SD-BASE", "P2B1"))
    return (first.model_copy(update={"sha256": "0" * 64}), *rest)


def _unknown_term() -> tuple[TermRef, ...]:
    first, *rest = refs_for(("SD-BASE", "P2B1"))
    return (first.model_copy(update={"version": "99.0"}), *rest)


def _expired_record(w: World) -> IntentRecord:
    return w.record.model_copy(update={"expires_at_ms": int(w.now.timestamp() * 1000) - 1})


# (reason, what breaks, the call) -- every rule of validation.py and of the decoder
Case = tuple[ReasonCode, str, Callable[[World], object]]
CASES: list[Case] = [
    # decoding (schemas.decode): what every processor does first
    (ReasonCode.MALFORMED_JSON, "not JSON", lambda w: decode(Intent, b"{not json")),
    (ReasonCode.MALFORMED_JSON, "not UTF-8", lambda w: decode(Intent, b'{"a": "\xff"}')),
    (ReasonCode.MESSAGE_TOO_LARGE, "over 64 KiB", lambda w: decode(Intent, b" " * 70_000)),
    (
        ReasonCode.SCHEMA_INVALID,
        "a field missing",
        lambda w: decode(Intent, encode(w.intent).replace(b'"market":"bikes",', b"")),
    ),
    (
        ReasonCode.UNKNOWN_SCHEMA_VERSION,
        "schema_version 99",
        lambda w: decode(
            Intent, encode(w.intent).replace(b'"schema_version":1', b'"schema_version":99')
        ),
    ),
    # intake
    (
        ReasonCode.SCHEMA_INVALID,
        "record key is not the intent id",
        lambda w: _intent_check(w, w.intent, key=b"other"),
    ),
    (
        ReasonCode.BAD_SIGNATURE,
        "intent signed by another key",
        lambda w: _intent_check(w, sign_model(w.intent, SigningKey.generate())),
    ),
    (
        ReasonCode.UNKNOWN_TERM,
        "a term version the roster lacks",
        lambda w: _intent_check(w, _signed_intent(w, terms=_unknown_term())),
    ),
    (
        ReasonCode.TERM_HASH_MISMATCH,
        "a term hash that is not the roster text's",
        lambda w: _intent_check(w, _signed_intent(w, terms=_bad_term_hash())),
    ),
    (
        ReasonCode.INTENT_EXPIRED,
        "expires_at in the past",
        lambda w: _intent_check(w, make_intent(expires_in=timedelta(seconds=-5))),
    ),
    (
        ReasonCode.SCHEMA_INVALID,
        "created_at in the future",
        lambda w: _intent_check(w, _signed_intent(w, created_at=w.now + timedelta(hours=1))),
    ),
    (
        ReasonCode.SCHEMA_INVALID,
        "expires_at beyond the maximum lifetime",
        lambda w: _intent_check(w, _signed_intent(w, expires_at=w.now + timedelta(days=40))),
    ),
    (
        ReasonCode.MARKET_UNKNOWN,
        "a market nobody serves",
        lambda w: _intent_check(w, make_intent(market="boats")),
    ),
    (
        ReasonCode.PII_DETECTED,
        "an e-mail address in the item",
        lambda w: _intent_check(w, make_intent(item="bike, mail me at jo@example.com")),
    ),
    # offers
    (
        ReasonCode.VENDOR_UNKNOWN,
        "vendor not registered",
        lambda w: _offer_check(w, w.new_offer(), vendor_key=None),
    ),
    (
        ReasonCode.BAD_SIGNATURE,
        "offer signed by another key than the registered one",
        lambda w: _offer_check(w, w.new_offer(), vendor_key=SigningKey.generate().public_key),
    ),
    (
        ReasonCode.INTENT_UNKNOWN,
        "no such intent",
        lambda w: check_offer(
            w.new_offer(),
            record_key=w.intent.intent_id.encode(),
            vendor_key=w.vendor_key.public_key,
            record=None,
            now=w.now,
            max_per_vendor=3,
        ),
    ),
    (
        ReasonCode.ALREADY_AGREED,
        "the intent is agreed",
        lambda w: _offer_check(
            w, w.new_offer(), record=_record_of(w.intent, state=IntentState.AGREED)
        ),
    ),
    (
        ReasonCode.INTENT_NOT_OPEN,
        "the intent is cancelled",
        lambda w: _offer_check(
            w, w.new_offer(), record=_record_of(w.intent, state=IntentState.CANCELLED)
        ),
    ),
    (
        ReasonCode.INTENT_EXPIRED,
        "the intent's time is up (not yet swept by expiry)",
        lambda w: _offer_check(w, w.new_offer(), record=_expired_record(w)),
    ),
    (
        ReasonCode.DUPLICATE_OFFER,
        "an offer id already delivered",
        lambda w: _offer_check(w, w.offer, record=w.record),
    ),
    (
        ReasonCode.TERMS_NOT_ACCEPTED,
        "one proffered term left out",
        lambda w: _offer_check(
            w,
            sign_model(
                w.new_offer().model_copy(update={"terms": refs_for(("SD-BASE",))}), w.vendor_key
            ),
        ),
    ),
    (
        ReasonCode.CURRENCY_MISMATCH,
        "offer in GBP for an intent in EUR",
        lambda w: _offer_check(w, w.new_offer(currency="GBP")),
    ),
    (
        ReasonCode.PRICE_OVER_MAX,
        "price above the intent's maximum",
        lambda w: _offer_check(w, w.new_offer(price=Decimal("201"))),
    ),
    (
        ReasonCode.OFFER_EXPIRED,
        "valid_until already past",
        lambda w: _offer_check(
            w, w.new_offer(valid_for=timedelta(minutes=2)), now=w.now + timedelta(minutes=3)
        ),
    ),
    (
        ReasonCode.TOO_MANY_OFFERS,
        "a fourth offer from one vendor",
        lambda w: _offer_check(
            w, w.new_offer(), record=_record_of(w.intent, offers_per_vendor={VENDOR: 3})
        ),
    ),
    # acceptances
    (
        ReasonCode.INTENT_UNKNOWN,
        "acceptance for no known intent",
        lambda w: check_acceptance(
            w.acceptance(), record_key=w.intent.intent_id.encode(), record=None, now=w.now
        ),
    ),
    (
        ReasonCode.BAD_SIGNATURE,
        "acceptance not signed by the intent's key",
        lambda w: _accept_check(w, w.acceptance(key=SigningKey.generate())),
    ),
    (
        ReasonCode.OFFER_NOT_DELIVERED,
        "an offer that was never delivered",
        lambda w: _accept_check(w, w.acceptance(offer=w.new_offer())),
    ),
    (
        ReasonCode.OFFER_HASH_MISMATCH,
        "offer_hash of other bytes",
        lambda w: _accept_check(
            w,
            sign_model(w.acceptance().model_copy(update={"offer_hash": "0" * 64}), w.keys.signing),
        ),
    ),
    (
        ReasonCode.OFFER_EXPIRED,
        "accepting an offer past its valid_until",
        lambda w: check_acceptance(
            w.acceptance(),
            record_key=w.intent.intent_id.encode(),
            record=w.record.model_copy(update={"expires_at_ms": 2**62}),
            now=w.now + timedelta(minutes=16),
        ),
    ),
    (
        ReasonCode.ALREADY_AGREED,
        "accepting a second offer",
        lambda w: _accept_check(
            w, w.acceptance(), record=w.record.model_copy(update={"state": IntentState.AGREED})
        ),
    ),
    # cancels
    (
        ReasonCode.INTENT_UNKNOWN,
        "cancel of no known intent",
        lambda w: check_cancel(
            w.cancel(), record_key=w.intent.intent_id.encode(), record=None, now=w.now
        ),
    ),
    (
        ReasonCode.BAD_SIGNATURE,
        "cancel not signed by the intent's key",
        lambda w: _cancel_check(w, w.cancel(key=SigningKey.generate())),
    ),
    (
        ReasonCode.INTENT_NOT_OPEN,
        "cancel of a cancelled intent",
        lambda w: _cancel_check(
            w, w.cancel(), record=w.record.model_copy(update={"state": IntentState.CANCELLED})
        ),
    ),
    (
        ReasonCode.INTENT_EXPIRED,
        "cancel after the intent's time is up",
        lambda w: _cancel_check(w, w.cancel(), record=_expired_record(w)),
    ),
    # vendor profiles
    (
        ReasonCode.BAD_SIGNATURE,
        "profile not signed by its own key",
        lambda w: check_profile(
            w.profile().model_copy(update={"signing_key": SigningKey.generate().public_key}),
            None,
        ),
    ),
    (
        ReasonCode.VENDOR_MISMATCH,
        "a registered vendor id with another key",
        lambda w: check_profile(w.profile(key=SigningKey.generate()), w.vendor_key.public_key),
    ),
    (
        ReasonCode.UNKNOWN_TERM,
        "a profile accepting a term the roster lacks",
        lambda w: check_profile(w.profile(accepts=_unknown_term()), None),
    ),
    (
        ReasonCode.VENDOR_MISMATCH,
        "a profile on another vendor's profile topic",
        lambda w: check_vendor_profile(vendor_profile_topic("other"), encode(w.profile()), None),
    ),
    (
        ReasonCode.VENDOR_MISMATCH,
        "a profile on a topic that is no profile topic",
        lambda w: check_vendor_profile("intentcast.vendor.x.feedback", encode(w.profile()), None),
    ),
]


@pytest.mark.parametrize(
    ("reason", "call"),
    [pytest.param(reason, call, id=f"{reason.value}: {what}") for reason, what, call in CASES],
)
def test_each_rule_refuses_with_its_reason(
    world: World, reason: ReasonCode, call: Callable[[World], object]
) -> None:
    with pytest.raises(Rejected) as refused:
        call(world)
    error = refused.value
    assert isinstance(error, Refused | SchemaError), "a rule of the flow or of the contract"
    assert error.reason is reason, error.detail
    assert error.detail  # the sender is told why, not only that


def test_a_message_that_breaks_no_rule_passes(world: World) -> None:
    """The baseline every row departs from: without it a row could pass for the wrong cause."""
    _intent_check(world, world.intent)
    _offer_check(world, world.new_offer())
    intent, offer = check_acceptance(
        world.acceptance(),
        record_key=world.intent.intent_id.encode(),
        record=world.record,
        now=world.now,
    )
    assert (intent.intent_id, offer.offer_id) == (world.intent.intent_id, world.offer.offer_id)
    _cancel_check(world, world.cancel())
    check_profile(world.profile(), world.vendor_key.public_key)


# Codes the pure checks cannot produce: each names the test that produces it on real Kafka or
# through a handler. The meta-test checks the test exists.
_DISCLOSURE_RULES = (
    "tests/broker/test_disclosure_rules.py::test_every_broken_binding_is_refused_with_its_reason"
)
PRODUCED_ELSEWHERE: dict[ReasonCode, str] = {
    ReasonCode.DUPLICATE_MESSAGE: "tests/broker/test_handlers_without_kafka.py::"
    "test_a_replay_is_recognised_and_a_reused_id_refused",
    ReasonCode.INTERNAL_ERROR: "tests/broker/test_handlers_without_kafka.py::"
    "test_a_bug_on_one_record_is_dead_lettered_as_internal_error",
    ReasonCode.DESTINATION_UNAVAILABLE: "tests/broker/test_destination_faults.py::"
    "test_a_missing_vendor_topic_is_dead_lettered_and_the_rest_of_the_flush_goes_through",
    ReasonCode.DESTINATION_TOO_LARGE: "tests/broker/test_destination_faults.py::"
    "test_records_too_large_for_a_vendor_topic_are_dead_lettered_and_only_those",
    ReasonCode.UNDECODABLE_BATCH: "tests/reliability/test_undecodable_input.py::"
    "test_corrupted_batches_are_dead_lettered_with_their_offsets_and_the_rest_handled",
    # the attestation checks (a real broker refuses two of them in test_retention_flow.py)
    **dict.fromkeys(
        (
            ReasonCode.RETENTION_END_MISMATCH,
            ReasonCode.DELETION_TIME_INVALID,
            ReasonCode.ALREADY_ATTESTED,
        ),
        "tests/retention/test_retention_rule.py::test_the_binding_checks_refuse_with_a_reason",
    ),
    ReasonCode.AGREEMENT_UNKNOWN: _DISCLOSURE_RULES,
    ReasonCode.NOT_AGREED_VENDOR: _DISCLOSURE_RULES,
    ReasonCode.NO_SEALING_KEY: _DISCLOSURE_RULES,
    ReasonCode.SEALING_KEY_MISMATCH: _DISCLOSURE_RULES,
    ReasonCode.TOO_MANY_DISCLOSURES: "tests/broker/test_disclosure_rules.py::"
    "test_the_intents_record_refuses_a_reused_id_and_more_than_the_limit",
}


def _test_exists(node_id: str) -> bool:
    path, _, name = node_id.partition("::")
    file = ROOT / path
    if not file.is_file():
        return False
    tree = ast.parse(file.read_text(encoding="utf-8"))
    return any(
        isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.name == name
        for node in ast.walk(tree)
    )


def test_every_reason_code_is_produced_by_a_test() -> None:
    covered = {reason for reason, _, _ in CASES}
    missing = [
        code.value for code in ReasonCode if code not in covered and code not in PRODUCED_ELSEWHERE
    ]
    assert missing == [], f"no test produces these reason codes: {missing}"
    absent = [node for node in PRODUCED_ELSEWHERE.values() if not _test_exists(node)]
    assert absent == [], f"the tests named for these codes do not exist: {absent}"


@pytest.mark.parametrize("current", list(IntentState))
@pytest.mark.parametrize("target", list(IntentState))
def test_intent_records_change_state_only_as_the_lifecycle_table_allows(
    world: World, current: IntentState, target: IntentState
) -> None:
    record = world.record.model_copy(update={"state": current})
    if can_transition(current, target):
        moved = record.transition(target, agreement_id="g1")
        assert (moved.state, moved.agreement_id) == (target, "g1")
    else:
        with pytest.raises(IllegalTransitionError, match=f"{current.value} cannot become"):
            record.transition(target)


def test_no_handler_sets_an_intent_state_but_through_transition() -> None:
    handlers = sorted((ROOT / "broker" / "processors").glob("*.py"))
    offenders = [
        f"{path.name}: {line.strip()}"
        for path in handlers
        for line in path.read_text(encoding="utf-8").splitlines()
        if '"state"' in line
    ]
    assert offenders == []
