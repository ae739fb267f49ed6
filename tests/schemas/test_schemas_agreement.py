"""Agreement records: built ones verify, tampered ones do not; the consent receipt."""

from __future__ import annotations

from decimal import Decimal

import pytest

from intentcast.schemas import (
    GENESIS_HASH,
    Agreement,
    ReasonCode,
    SchemaError,
    SignatureError,
    SigningKey,
    content_hash,
    sign_model,
    term_ref,
)
from intentcast.schemas._tools.samples import sample, sample_keys

KEYS = sample_keys()
AGREEMENT = sample(Agreement)


def _rebuilt(record: Agreement, **parts: object) -> Agreement:
    """Same record with parts replaced and a freshly computed id (an attacker can do that)."""
    fields = {
        "partition": record.partition,
        "seq": record.seq,
        "prev_hash": record.prev_hash,
        "intent": record.intent,
        "offer": record.offer,
        "acceptance": record.acceptance,
        "vendor_key": record.vendor_key,
        "recorded_at": record.recorded_at,
        **parts,
    }
    return Agreement.build(**fields)  # type: ignore[arg-type]


def test_sample_agreement() -> None:
    AGREEMENT.verify()
    assert AGREEMENT.prev_hash == GENESIS_HASH
    assert AGREEMENT.agreement_id == AGREEMENT.computed_id()
    assert {AGREEMENT.intent_hash, AGREEMENT.offer_hash, AGREEMENT.acceptance_hash} == {
        content_hash(AGREEMENT.intent),
        content_hash(AGREEMENT.offer),
        content_hash(AGREEMENT.acceptance),
    }


def test_changed_field_breaks_the_id() -> None:
    tampered = AGREEMENT.model_copy(update={"seq": 5})
    with pytest.raises(SchemaError, match="agreement_id"):
        tampered.verify()


def test_changed_price_breaks_the_vendor_signature() -> None:
    cheaper = AGREEMENT.offer.model_copy(update={"price": Decimal("1")})
    with pytest.raises(SignatureError):
        _rebuilt(AGREEMENT, offer=cheaper).verify()


def test_resigned_offer_breaks_the_acceptance_hash() -> None:
    cheaper = sign_model(
        AGREEMENT.offer.model_copy(update={"price": Decimal("1")}), KEYS.vendor_signing
    )
    with pytest.raises(SchemaError) as err:
        _rebuilt(AGREEMENT, offer=cheaper).verify()
    assert err.value.reason is ReasonCode.OFFER_HASH_MISMATCH


def test_swapped_signatures_fail() -> None:
    swapped = AGREEMENT.acceptance.model_copy(update={"signature": AGREEMENT.intent.signature})
    with pytest.raises(SignatureError):
        _rebuilt(AGREEMENT, acceptance=swapped).verify()
    with pytest.raises(SignatureError):
        _rebuilt(AGREEMENT, vendor_key=SigningKey.generate().public_key).verify()


def test_terms_must_match_between_parts() -> None:
    other_terms = (term_ref("SD-BASE"),)
    offer = sign_model(
        AGREEMENT.offer.model_copy(update={"terms": other_terms}), KEYS.vendor_signing
    )
    acceptance = sign_model(
        AGREEMENT.acceptance.model_copy(update={"offer_hash": content_hash(offer)}),
        KEYS.intent_signing,
    )
    with pytest.raises(SchemaError) as err:
        _rebuilt(AGREEMENT, offer=offer, acceptance=acceptance).verify()
    assert err.value.reason is ReasonCode.TERMS_NOT_ACCEPTED


def test_consent_receipt() -> None:
    receipt = AGREEMENT.receipt()
    assert receipt.consent_receipt_id == AGREEMENT.agreement_id
    assert receipt.jurisdiction == "GB"
    assert receipt.public_key == AGREEMENT.intent.signing_key
    assert receipt.pii_principal_id.startswith("intent:")
    assert AGREEMENT.intent.signing_key not in receipt.pii_principal_id
    assert receipt.policy_url == (
        "https://customercommons.org/home/tools/terms/p2b1/",
        "https://myterms.info/agreements/SD-BASE",
    )
    purposes = receipt.services[0].purposes
    assert purposes[0].termination.startswith("Deleted right after")
    kantara = receipt.to_kantara()
    assert kantara["version"] == "KI-CR-v1.1.0"
    assert kantara["consentTimestamp"] == int(AGREEMENT.recorded_at.timestamp())
    assert kantara["services"][0]["purposes"][0]["consentType"] == "EXPLICIT"
