"""The Disclosure contract: sealed to the vendor, signed by the intent key, bound to its box."""

from __future__ import annotations

import orjson
import pytest

from intentcast.schemas import (
    Agreement,
    DisclosedFields,
    Disclosure,
    DisclosureRecord,
    SchemaError,
    SealingKey,
    SignatureError,
    SigningKey,
    content_hash,
    decode,
    encode,
    open_disclosure,
    seal_disclosure,
    sign_model,
)
from intentcast.schemas._tools.samples import sample, sample_keys
from intentcast.schemas.crypto import seal
from intentcast.schemas.reasons import ReasonCode


def _fields(**values: object) -> DisclosedFields:
    agreement = sample(Agreement)
    return DisclosedFields.model_validate(
        {
            "disclosure_id": "0123456789abcdef0123456789abcdef",
            "intent_id": agreement.intent.intent_id,
            "agreement_id": agreement.agreement_id,
            "vendor_id": agreement.offer.vendor_id,
            **values,
        }
    )


def test_the_sample_opens_with_the_vendor_key_and_verifies_with_the_intent_key() -> None:
    keys = sample_keys()
    disclosure = sample(Disclosure)
    disclosure.verify(keys.intent_signing.public_key)
    opened = open_disclosure(disclosure, keys.vendor_sealing)
    assert opened == sample(DisclosedFields)
    assert opened.names() == disclosure.fields == ("delivery_address", "name", "note", "phone")
    assert opened.delivery_address is not None and opened.delivery_address.city == "Glasgow"


def test_seal_then_open_round_trips_and_only_the_vendor_key_opens() -> None:
    vendor, intent_key = SealingKey.generate(), sample_keys().intent_signing
    content = _fields(name="Ada", email="ada@example.org")
    disclosure = seal_disclosure(
        content, vendor_sealing_key=vendor.public_key, key=intent_key,
        disclosed_at=sample(Agreement).recorded_at,
    )  # fmt: skip
    assert decode(Disclosure, encode(disclosure)) == disclosure
    assert disclosure.fields == ("email", "name")
    assert b"Ada" not in encode(disclosure) and b"example.org" not in encode(disclosure)
    assert open_disclosure(disclosure, vendor) == content
    with pytest.raises(SchemaError, match="another key"):
        open_disclosure(disclosure, SealingKey.generate())
    stranger = SealingKey.generate()
    moved = disclosure.model_copy(update={"vendor_sealing_key": stranger.public_key})
    with pytest.raises(SchemaError, match="cannot open"):
        open_disclosure(moved, stranger)


def test_any_change_to_the_envelope_breaks_the_signature() -> None:
    keys = sample_keys()
    disclosure = sample(Disclosure)
    for update in (
        {"vendor_id": "another-vendor"},
        {"fields": ("name",)},
        {"agreement_id": "f" * 64},
        {"sealed": seal(keys.vendor_sealing.public_key, b"{}")},
    ):
        with pytest.raises(SignatureError):
            disclosure.model_copy(update=update).verify(keys.intent_signing.public_key)
    with pytest.raises(SignatureError):
        disclosure.verify(SigningKey.generate().public_key)


def test_sealed_values_lifted_into_another_envelope_are_refused() -> None:
    """The signature covers the envelope; the ids inside the box bind the values to it."""
    keys = sample_keys()
    disclosure = sample(Disclosure)
    other_id = "e" * 32
    lifted = sign_model(
        disclosure.model_copy(update={"disclosure_id": other_id}), keys.intent_signing
    )
    with pytest.raises(SchemaError, match="another disclosure"):
        open_disclosure(lifted, keys.vendor_sealing)
    fewer = sign_model(disclosure.model_copy(update={"fields": ("name",)}), keys.intent_signing)
    with pytest.raises(SchemaError, match="differ from the listed names"):
        open_disclosure(fewer, keys.vendor_sealing)


@pytest.mark.parametrize(
    ("values", "problem"),
    [
        ({}, "at least one field"),
        ({"email": "not an address"}, "email"),
        ({"phone": "call me"}, "phone"),
        ({"name": "x" * 201}, "name"),
        ({"note": "line\nbreak"}, "note"),
        ({"delivery_address": {"lines": [], "city": "Berlin", "country": "DE"}}, "lines"),
        ({"delivery_address": {"lines": ["a"], "city": "B", "country": "XX"}}, "country"),
        ({"ssn": "123"}, "ssn"),
    ],
)
def test_fields_are_typed_and_bounded(values: dict[str, object], problem: str) -> None:
    with pytest.raises(ValueError, match=problem):
        _fields(**values)


def test_names_must_be_sorted_and_unique() -> None:
    data = sample(Disclosure).model_dump(mode="json")
    for names in (["phone", "name"], ["name", "name"]):
        with pytest.raises(SchemaError) as caught:
            decode(Disclosure, orjson.dumps(data | {"fields": names}))
        assert caught.value.reason is ReasonCode.SCHEMA_INVALID


def test_the_log_record_holds_the_hash_and_names_never_a_value() -> None:
    disclosure = sample(Disclosure)
    record = DisclosureRecord.of(disclosure)
    assert record.disclosure_hash == content_hash(disclosure)
    assert record.fields == disclosure.fields
    text = encode(record)
    for value in (b"Morag", b"Byres", b"+44", b"buzzer", disclosure.sealed.encode()):
        assert value not in text
