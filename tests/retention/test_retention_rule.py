"""The retention rule (every roster term), the attestation model and its signature, and the
processors' checks of an attestation against its agreement."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from intentcast.broker.attestation_checks import (
    check_attestation_binding,
    check_attestation_signature,
)
from intentcast.broker.refusal import Refused
from intentcast.schemas import (
    ROSTER,
    ReasonCode,
    RetentionAttestation,
    SignatureError,
    SigningKey,
    agreement_retention_end,
    content_hash,
    decode,
    encode,
    retention_end,
    sign_model,
)
from intentcast.schemas._tools.samples import sample
from intentcast.schemas.agreement import Agreement
from intentcast.schemas.crypto import SealingKey
from intentcast.schemas.log import RETENTION_ATTESTATION_ENTRY, EntryType, Reader
from intentcast.schemas.retention import KEPT_AFTER_DELIVERY
from tests.agents.helpers import make_agreement

T0 = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
NEEDED_BY = T0 + timedelta(days=2)
EXPIRES = T0 + timedelta(hours=1)

EXPECTED = {
    "SD-BASE": NEEDED_BY + timedelta(days=30),
    "SD-BASE-DP": NEEDED_BY + timedelta(days=30),
    "PDC-INTENT": NEEDED_BY + timedelta(days=30),
    "P2B1": NEEDED_BY + timedelta(days=1),
    "PDC-AI": None,
    "PDC-GOOD": None,
}


def test_the_rule_covers_every_roster_term_and_retention_choice() -> None:
    assert set(EXPECTED) == set(ROSTER)
    assert {t.clauses.retention for t in ROSTER.values()} <= set(KEPT_AFTER_DELIVERY)


@pytest.mark.parametrize("term_id", sorted(EXPECTED))
def test_each_roster_term_alone_gives_its_end(term_id: str) -> None:
    end = retention_end([ROSTER[term_id]], recorded_at=T0, needed_by=NEEDED_BY, expires_at=EXPIRES)
    assert end == EXPECTED[term_id]


def test_without_needed_by_the_window_ends_at_expiry_and_never_before_the_agreement() -> None:
    p2b1 = [ROSTER["P2B1"]]
    assert retention_end(p2b1, recorded_at=T0, needed_by=None, expires_at=EXPIRES) == (
        EXPIRES + timedelta(days=1)
    )
    late = EXPIRES + timedelta(hours=5)  # recorded after the window (clock skew): counts from it
    assert retention_end(p2b1, recorded_at=late, needed_by=None, expires_at=EXPIRES) == (
        late + timedelta(days=1)
    )


def test_the_strictest_term_governs_a_set() -> None:
    terms = [ROSTER["SD-BASE"], ROSTER["P2B1"], ROSTER["PDC-AI"]]
    end = retention_end(terms, recorded_at=T0, needed_by=NEEDED_BY, expires_at=EXPIRES)
    assert end == NEEDED_BY + timedelta(days=1)
    revoked_only = [ROSTER["PDC-AI"], ROSTER["PDC-GOOD"]]
    assert retention_end(revoked_only, recorded_at=T0, needed_by=None, expires_at=EXPIRES) is None


def test_the_sample_attestation_round_trips_and_its_signature_binds_every_field() -> None:
    attestation = sample(RetentionAttestation)
    agreement = sample(Agreement)
    assert attestation.retention_end == agreement_retention_end(agreement)
    assert decode(RetentionAttestation, encode(attestation)) == attestation
    attestation.verify(agreement.vendor_key)
    for change in (
        {"deleted_at": attestation.deleted_at + timedelta(seconds=1)},
        {"agreement_id": "f" * 64},
        {"statement": "We kept it."},
    ):
        with pytest.raises(SignatureError):
            attestation.model_copy(update=change).verify(agreement.vendor_key)
    with pytest.raises(SignatureError):
        attestation.verify(SigningKey.generate().public_key)


def test_an_attestation_entry_opens_for_the_customer_and_checks_its_hash() -> None:
    attestation = sample(RetentionAttestation)
    customer = SealingKey.generate()
    entry = RETENTION_ATTESTATION_ENTRY.entry(
        attestation, partition=4, seq=1, prev_hash="a" * 64,
        readers={Reader.CUSTOMER: customer.public_key}, recorded_at=attestation.deleted_at,
    )  # fmt: skip
    assert entry.entry_type is EntryType.RETENTION_ATTESTATION
    assert entry.content_hash == content_hash(attestation)
    assert entry.intent_id == attestation.intent_id
    assert entry.open(RETENTION_ATTESTATION_ENTRY, customer) == attestation


def _attest(agreement: Agreement, key: SigningKey, **change: object) -> RetentionAttestation:
    end = agreement_retention_end(agreement)
    assert end is not None
    fields: dict[str, object] = {
        "agreement_id": agreement.agreement_id,
        "intent_id": agreement.intent.intent_id,
        "vendor_id": agreement.offer.vendor_id,
        "retention_end": end,
        "deleted_at": agreement.recorded_at + timedelta(minutes=1),
        **change,
    }
    return sign_model(RetentionAttestation.model_validate(fields), key)


SKEW = timedelta(minutes=5)


def test_a_bound_signed_attestation_passes_every_check() -> None:
    key = SigningKey.generate()
    agreement = make_agreement(key)
    attestation = _attest(agreement, key)
    now = agreement.recorded_at + timedelta(minutes=2)
    check_attestation_signature(
        attestation, record_key=attestation.intent_id.encode(), vendor_key=key.public_key
    )
    check_attestation_binding(
        attestation, agreement, already_attested=False, now=now, max_skew=SKEW
    )


@pytest.mark.parametrize(
    ("record_key", "vendor_key", "reason"),
    [
        (b"other", "own", ReasonCode.SCHEMA_INVALID),
        (None, None, ReasonCode.VENDOR_UNKNOWN),
        (None, "forger", ReasonCode.BAD_SIGNATURE),
    ],
)
def test_the_signature_checks_refuse_with_a_reason(
    record_key: bytes | None, vendor_key: str | None, reason: ReasonCode
) -> None:
    key = SigningKey.generate()
    agreement = make_agreement(key)
    attestation = _attest(agreement, key)
    keys = {"own": key.public_key, "forger": SigningKey.generate().public_key, None: None}
    with pytest.raises(Refused) as refused:
        check_attestation_signature(
            attestation,
            record_key=record_key or attestation.intent_id.encode(),
            vendor_key=keys[vendor_key],
        )
    assert refused.value.reason is reason


def test_the_binding_checks_refuse_with_a_reason() -> None:
    key = SigningKey.generate()
    agreement = make_agreement(key)
    other = make_agreement(key)
    now = agreement.recorded_at + timedelta(minutes=2)
    cases = [
        (_attest(agreement, key), None, False, ReasonCode.AGREEMENT_UNKNOWN),
        (_attest(agreement, key), other, False, ReasonCode.AGREEMENT_UNKNOWN),
        (_attest(agreement, key, vendor_id="someone-else"), agreement, False,
         ReasonCode.AGREEMENT_UNKNOWN),
        (_attest(agreement, key), agreement, True, ReasonCode.ALREADY_ATTESTED),
        (_attest(agreement, key, retention_end=now), agreement, False,
         ReasonCode.RETENTION_END_MISMATCH),
        (_attest(agreement, key, deleted_at=now + timedelta(hours=1)), agreement, False,
         ReasonCode.DELETION_TIME_INVALID),
        (_attest(agreement, key, deleted_at=agreement.recorded_at - timedelta(hours=1)),
         agreement, False, ReasonCode.DELETION_TIME_INVALID),
    ]  # fmt: skip
    for attestation, found, attested, reason in cases:
        with pytest.raises(Refused) as refused:
            check_attestation_binding(
                attestation, found, already_attested=attested, now=now, max_skew=SKEW
            )
        assert refused.value.reason is reason, attestation
