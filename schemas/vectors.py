"""Deterministic cross-language test vectors: canonical bytes, hashes, signatures, sealing."""

from __future__ import annotations

from decimal import Decimal
from typing import Any, Final

import nacl.signing

from intentcast.schemas.agreement import Agreement
from intentcast.schemas.base import Message, SignedModel
from intentcast.schemas.canonical import canonical_bytes, canonical_json, sha256_hex, signing_bytes
from intentcast.schemas.crypto import b64e
from intentcast.schemas.fields import format_money
from intentcast.schemas.samples import deterministic_seal, sample_keys, sample_messages
from intentcast.schemas.terms import ROSTER
from intentcast.schemas.timeutil import format_utc, parse_utc

__all__ = ["VECTORS_VERSION", "build_vectors", "messy_input"]

VECTORS_VERSION: Final = 1

_TIMESTAMPS: Final = (
    "2026-11-29T04:00:00Z",
    "2026-11-29T04:00:00.1Z",
    "2026-11-29T04:00:00.123456789Z",
    "2026-11-29T05:30:00.999+01:30",
    "2026-11-28T23:00:00.5-05:00",
    "2026-11-29t04:00:00.123z",
)
_MONEY: Final = ("450.00", "450", "0.50", "389.990", "4.5E+2", "1000000.0001")
_BYTES: Final = (b"", b"f", b"fo", b"foo", bytes(range(256))[:33], b"\xff\xfe\xfd")


def _reversed_keys(value: Any) -> Any:
    """The same JSON with every object's keys in reverse order: not canonical, same meaning."""
    if isinstance(value, dict):
        return {key: _reversed_keys(value[key]) for key in sorted(value, reverse=True)}
    if isinstance(value, list):
        return [_reversed_keys(item) for item in value]
    return value


def messy_input(message: Message) -> dict[str, Any]:
    """A valid but non-canonical JSON object for ``message``, without its signature.

    Keys are out of order and optional fields are written as explicit nulls, so a decoder
    that gets the canonical bytes right from it has the encoding rules right.
    """
    data = message.model_dump(mode="json", exclude={"signature"})
    return dict(_reversed_keys(data))


def _case(message: Message, seed: bytes | None) -> dict[str, Any]:
    canonical = canonical_bytes(message)
    case: dict[str, Any] = {
        "description": f"{type(message).__name__}: {type(message).__doc__ or ''}".split("\n")[0],
        "kind": message.kind,
        "input": messy_input(message),
        "canonical": canonical.decode(),
        "sha256": sha256_hex(canonical),
    }
    if isinstance(message, SignedModel) and seed is not None:
        case["signing_bytes"] = signing_bytes(message).decode()
        case["signer_seed_hex"] = seed.hex()
        case["public_key"] = b64e(bytes.fromhex(_verify_key_hex(seed)))
        case["signature"] = message.signature
    if isinstance(message, Agreement):
        without_id = message.model_dump(mode="json", exclude={"agreement_id"}, exclude_none=True)
        case["agreement_id_bytes"] = canonical_json(without_id).decode()
        case["agreement_id"] = message.agreement_id
    return case


def _verify_key_hex(seed: bytes) -> str:
    """The public key straight from libsodium, not through our wrapper."""
    return bytes(nacl.signing.SigningKey(seed).verify_key).hex()


def build_vectors() -> dict[str, Any]:
    """Every vector, rebuilt from code; ``generate`` writes it and a test compares the file."""
    keys = sample_keys()
    messages = sample_messages()
    intent_seed = keys.intent_signing.seed
    vendor_seed = keys.vendor_signing.seed
    signer = {
        "intent": intent_seed,
        "acceptance": intent_seed,
        "cancel": intent_seed,
        "offer": vendor_seed,
        "vendor_profile": vendor_seed,
    }
    offer_bytes = canonical_bytes(messages["offer"])
    sealing = keys.intent_sealing
    return {
        "vectors_version": VECTORS_VERSION,
        "description": "Intentcast wire-contract test vectors; see docs/protocol.md. Keys are "
        "derived from public labels: never use them for anything real.",
        "keys": {
            "intent_signing": {
                "seed_hex": intent_seed.hex(),
                "public_key": keys.intent_signing.public_key,
            },
            "vendor_signing": {
                "seed_hex": vendor_seed.hex(),
                "public_key": keys.vendor_signing.public_key,
            },
            "intent_sealing": {
                "private_key_hex": sealing.raw.hex(),
                "public_key": sealing.public_key,
            },
        },
        "timestamps": [{"input": t, "canonical": format_utc(parse_utc(t))} for t in _TIMESTAMPS],
        "money": [{"input": m, "canonical": format_money(Decimal(m))} for m in _MONEY],
        "base64url": [{"hex": b.hex(), "b64url": b64e(b)} for b in _BYTES],
        "messages": [_case(message, signer.get(kind)) for kind, message in messages.items()],
        "sealed_box": {
            "description": "crypto_box_seal of the sample offer's canonical bytes to the intent "
            "sealing key, with a fixed ephemeral key so the bytes are reproducible. A decoder "
            "must open `sealed` with the private key and get `plaintext` exactly.",
            "recipient_private_key_hex": sealing.raw.hex(),
            "recipient_public_key": sealing.public_key,
            "ephemeral_secret_hex": keys.ephemeral_seed.hex(),
            "plaintext": offer_bytes.decode(),
            "sealed": deterministic_seal(sealing.public_key, offer_bytes, keys.ephemeral_seed),
        },
        "terms": {
            term_id: {
                "version": term.version,
                "canonical": canonical_bytes(term).decode(),
                "sha256": term.sha256,
            }
            for term_id, term in sorted(ROSTER.items())
        },
    }
