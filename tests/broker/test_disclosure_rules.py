"""The processors' rules for a disclosure: only the envelope in clear, checked against the log."""

from __future__ import annotations

import pytest

from intentcast.broker.pii import find_pii
from intentcast.broker.processors.disclosures import (
    AgreedParties,
    _check_record,
    check_disclosure,
)
from intentcast.broker.records import IntentRecord
from intentcast.broker.refusal import Refused
from intentcast.schemas import (
    Agreement,
    DisclosedFields,
    Disclosure,
    IntentState,
    ReasonCode,
    SigningKey,
    content_hash,
    encode,
    sign_model,
)
from intentcast.schemas._tools.samples import sample, sample_keys

DISCLOSURE = sample(Disclosure)
AGREEMENT = sample(Agreement)
AGREED = AgreedParties(
    agreement_id=AGREEMENT.agreement_id,
    intent_signing_key=AGREEMENT.intent.signing_key,
    intent_sealing_key=AGREEMENT.intent.sealing_key,
    vendor_id=AGREEMENT.offer.vendor_id,
)
VENDOR_KEY = sample_keys().vendor_sealing.public_key


def _check(
    disclosure: Disclosure = DISCLOSURE,
    *,
    key: bytes | None = DISCLOSURE.intent_id.encode(),
    agreed: AgreedParties | None = AGREED,
    vendor_key: str | None = VENDOR_KEY,
) -> None:
    check_disclosure(disclosure, record_key=key, agreed=agreed, vendor_sealing_key=vendor_key)


def test_a_disclosure_bound_to_its_agreement_and_vendor_passes() -> None:
    _check()


def _resigned(**update: str) -> Disclosure:
    return sign_model(DISCLOSURE.model_copy(update=update), sample_keys().intent_signing)


@pytest.mark.parametrize(
    ("reason", "case"),
    [
        (ReasonCode.SCHEMA_INVALID, {"key": b"another-key"}),
        (ReasonCode.AGREEMENT_UNKNOWN, {"agreed": None}),
        (ReasonCode.BAD_SIGNATURE, {"disclosure": sign_model(DISCLOSURE, SigningKey.generate())}),
        (ReasonCode.AGREEMENT_UNKNOWN, {"disclosure": _resigned(agreement_id="a" * 64)}),
        (ReasonCode.NOT_AGREED_VENDOR, {"disclosure": _resigned(vendor_id="another-vendor")}),
        (ReasonCode.NO_SEALING_KEY, {"vendor_key": None}),
        (ReasonCode.SEALING_KEY_MISMATCH, {"vendor_key": sample_keys().intent_sealing.public_key}),
    ],
    ids=[
        "record-key", "no-agreement", "signature", "other-agreement", "other-vendor",
        "no-sealing-key", "stale-sealing-key",
    ],
)  # fmt: skip
def test_every_broken_binding_is_refused_with_its_reason(
    reason: ReasonCode, case: dict[str, object]
) -> None:
    with pytest.raises(Refused) as refused:
        _check(**case)  # type: ignore[arg-type]
    assert refused.value.reason is reason
    assert "Morag" not in refused.value.detail  # a detail never echoes a value


def test_disclosure_reasons_are_told_to_the_customer_only() -> None:
    codes = (
        ReasonCode.AGREEMENT_UNKNOWN, ReasonCode.NOT_AGREED_VENDOR, ReasonCode.NO_SEALING_KEY,
        ReasonCode.SEALING_KEY_MISMATCH,
    )  # fmt: skip
    for code in codes[1:]:
        assert {a.value for a in code.audience} == {"customer"}
    # shared with deletion attestations, where the vendor is the one told: the refusal path
    # tells the sender, so a disclosure's refusal still goes to its customer only
    assert "customer" in {a.value for a in ReasonCode.AGREEMENT_UNKNOWN.audience}
    assert ReasonCode.NO_SEALING_KEY.retriable


def test_what_a_disclosure_carries_would_be_refused_in_an_intent() -> None:
    """The PII screen stays: personal data has one way in, sealed in a disclosure."""
    opened = sample(DisclosedFields)
    address = opened.delivery_address
    assert address is not None
    assert find_pii([opened.phone or ""]) == "phone number"
    assert find_pii([" ".join(address.lines)]) == "street address"
    assert find_pii(["ada@example.org"]) == "e-mail address"


def test_the_intents_record_refuses_a_reused_id_and_more_than_the_limit() -> None:
    intent = AGREEMENT.intent
    record = IntentRecord(
        intent_json=encode(intent).decode(), intent_hash=content_hash(intent),
        expires_at_ms=0, partition=0, agreement_id=AGREEMENT.agreement_id,
        disclosures={DISCLOSURE.disclosure_id: "0" * 64},
    ).transition(IntentState.AGREED, agreed_vendor=AGREEMENT.offer.vendor_id)  # fmt: skip
    with pytest.raises(Refused) as reused:
        _check_record(DISCLOSURE, record, limit=10)
    assert reused.value.reason is ReasonCode.DUPLICATE_MESSAGE
    another = _resigned(disclosure_id="b" * 32)
    _check_record(another, record, limit=2)
    with pytest.raises(Refused) as full:
        _check_record(another, record, limit=1)
    assert full.value.reason is ReasonCode.TOO_MANY_DISCLOSURES
    _check_record(DISCLOSURE, None, limit=1)  # after expiry the record is gone: the log decides
