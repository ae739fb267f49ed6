"""Keys, signatures and sealed boxes: what verifies, and that any change breaks it."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from intentcast.schemas import (
    Cancel,
    Intent,
    Offer,
    SchemaError,
    SealingKey,
    SignatureError,
    SignedModel,
    SigningKey,
    encode,
    open_offer,
    seal_offer,
    sign_model,
    verify_model,
)
from intentcast.schemas._tools.samples import sample, sample_keys, sample_messages
from intentcast.schemas.canonical import signing_bytes
from intentcast.schemas.crypto import b64d, b64e, seal, verify_signature

KEYS = sample_keys()
SAMPLES = sample_messages()
INTENT = sample(Intent)
OFFER = sample(Offer)
SIGNED = {
    "intent": KEYS.intent_signing,
    "acceptance": KEYS.intent_signing,
    "cancel": KEYS.intent_signing,
    "offer": KEYS.vendor_signing,
    "vendor_profile": KEYS.vendor_signing,
}


@given(st.binary(max_size=200))
def test_b64_round_trip(data: bytes) -> None:
    text = b64e(data)
    assert "=" not in text
    assert b64d(text) == data


@pytest.mark.parametrize("bad", ["a", "ab=", "ab+/", "ab c", "AB", "Zh", "é"])
def test_b64_refuses_bad_or_non_canonical(bad: str) -> None:
    with pytest.raises(SchemaError):
        b64d(bad)


def test_keys_round_trip_and_hide_secrets() -> None:
    key = SigningKey.generate()
    assert SigningKey.from_seed(key.seed).public_key == key.public_key
    assert len(key.public_key) == 43
    assert key.seed.hex() not in repr(key)
    box = SealingKey.generate()
    assert SealingKey.from_bytes(box.raw).public_key == box.public_key
    with pytest.raises(SchemaError):
        SigningKey.from_seed(b"short")


@pytest.mark.parametrize("kind", sorted(SIGNED))
def test_signed_samples_verify(kind: str) -> None:
    verify_model(SAMPLES[kind], SIGNED[kind].public_key)


@pytest.mark.parametrize("kind", sorted(SIGNED))
def test_other_key_fails(kind: str) -> None:
    with pytest.raises(SignatureError):
        verify_model(SAMPLES[kind], SigningKey.generate().public_key)


@settings(max_examples=200, deadline=None)
@given(kind=st.sampled_from(sorted(SIGNED)), data=st.data())
def test_flipping_any_byte_breaks_verification(kind: str, data: st.DataObject) -> None:
    message = SAMPLES[kind]
    key = SIGNED[kind].public_key
    body = bytearray(signing_bytes(message))
    assert isinstance(message, SignedModel)
    sig = bytearray(b64d(message.signature))
    target = data.draw(st.sampled_from(["body", "sig"]))
    buf = body if target == "body" else sig
    index = data.draw(st.integers(0, len(buf) - 1))
    buf[index] ^= data.draw(st.integers(1, 255))
    with pytest.raises(SignatureError):
        verify_signature(key, bytes(body), b64e(bytes(sig)))


def test_unsigned_and_garbage_signatures_fail() -> None:
    unsigned = INTENT.model_copy(update={"signature": ""})
    with pytest.raises(SignatureError, match="not signed"):
        verify_model(unsigned, KEYS.intent_signing.public_key)
    with pytest.raises(SignatureError):
        verify_signature("not a key", b"x", "AAAA")
    with pytest.raises(SignatureError):
        verify_signature(KEYS.intent_signing.public_key, b"x", b64e(b"\0" * 64))


def test_signature_covers_everything_but_itself() -> None:
    intent = INTENT
    resigned = sign_model(intent.model_copy(update={"signature": ""}), KEYS.intent_signing)
    assert resigned.signature == intent.signature  # Ed25519 is deterministic
    assert b'"signature"' not in signing_bytes(intent)


def test_sealed_offer_opens_only_with_its_key() -> None:
    offer = OFFER
    delivered = seal_offer(offer, KEYS.intent_sealing.public_key)
    assert delivered.sealed != seal_offer(offer, KEYS.intent_sealing.public_key).sealed
    assert open_offer(delivered, KEYS.intent_sealing) == offer
    with pytest.raises(SchemaError, match="cannot open"):
        open_offer(delivered, SealingKey.generate())
    tampered = delivered.model_copy(update={"sealed": delivered.sealed[:-2] + "AA"})
    with pytest.raises(SchemaError):
        open_offer(tampered, KEYS.intent_sealing)


def test_sealed_offer_for_another_intent_is_refused() -> None:
    delivered = seal_offer(OFFER, KEYS.intent_sealing.public_key)
    moved = delivered.model_copy(update={"intent_id": "0" * 32})
    with pytest.raises(SchemaError, match="another intent"):
        open_offer(moved, KEYS.intent_sealing)


def test_seal_round_trip_raw() -> None:
    key = SealingKey.generate()
    assert key.open(seal(key.public_key, encode(sample(Cancel)))) == encode(sample(Cancel))
