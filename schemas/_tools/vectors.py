"""Deterministic cross-language test vectors: canonical bytes, hashes, signatures, sealing.

Besides one case per message kind (from :mod:`schemas._tools.samples`), the vectors hold the cases
other languages get wrong (see docs/protocol.md, "Canonical encoding in other languages"):
text with U+2028 and HTML characters, integers above 2**53, floats, omitted defaults and
non-canonical spellings of money and time.
"""

from __future__ import annotations

import json
from datetime import timedelta
from decimal import Decimal
from typing import Any, Final

import nacl.signing

from intentcast.schemas._tools.samples import (
    SAMPLE_PARTITIONS,
    SAMPLE_TIME,
    SampleKeys,
    deterministic_seal,
    log_ephemeral,
    sample,
    sample_keys,
    sample_messages,
)
from intentcast.schemas.agreement import Agreement, ConsentReceipt
from intentcast.schemas.base import Message, SignedModel
from intentcast.schemas.canonical import (
    canonical_bytes,
    canonical_json,
    content_hash,
    format_float,
    sha256_hex,
    signing_bytes,
)
from intentcast.schemas.crypto import b64e, sign_model
from intentcast.schemas.defaults import field_defaults
from intentcast.schemas.disclosure import Disclosure
from intentcast.schemas.events import DeadLetter, MetricsSnapshot
from intentcast.schemas.fields import format_money
from intentcast.schemas.intent import Intent, Want
from intentcast.schemas.log import LogEntry
from intentcast.schemas.models import MESSAGE_MODELS
from intentcast.schemas.offer import Offer, VendorProfile
from intentcast.schemas.partitioning import KAFKA_TEST_KEYS, key_partition, murmur2, record_key
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
_MONEY: Final = ("450.00", "450", "0.50", "389.990", "4.5E+2", "1000000.0001", "0450", "1e2")
_BYTES: Final = (b"", b"f", b"fo", b"foo", bytes(range(256))[:33], b"\xff\xfe\xfd")
_FLOATS: Final = (
    "2.0", "100.0", "0.1", "0.30000000000000004", "-2.5", "-0.0", "1e-06", "1.5e-06", "1e-07",
    "1e+16", "1.2345678901234568e+20", "1e+21", "1.5e+21", "5e-324",
    "1.7976931348623157e+308", "123.456e2", "1E2",
)  # fmt: skip
_INTEGERS: Final = ("0", "-0", "1207", "9007199254740991", "9007199254740993", str(2**63 - 1))
_STRINGS: Final = (
    r'"\u2028 and \u2029"', r'"\u00e9\u00C9"', r'"\/"', r'"\ud83d\udc76"', '"<b>&amp;</b>"',
    r'"quote \" backslash \\"', r'"\u0001\b\f\n\r\t\u001f"', '"\u007f\u0085\ufeff"',
)  # fmt: skip
_TEXT: Final = (
    'Twin stroller\u2028folds flat\u2029\u00abGr\u00f6\u00dfe\u00bb \U0001f476 "twins" '
    "back\\slash <b>&</b> 50/50"
)
"""Offer text that catches encoders: U+2028/U+2029 (Go escapes them), HTML characters (Go and
some others escape them), non-ASCII and a non-BMP character (raw, never \\u escapes)."""


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


def _case(
    message: Message, seed: bytes | None, data: dict[str, Any] | None = None
) -> dict[str, Any]:
    canonical = canonical_bytes(message)
    case: dict[str, Any] = {
        "name": message.kind,
        "description": f"{type(message).__name__}: {type(message).__doc__ or ''}".split("\n")[0],
        "kind": message.kind,
        "input": messy_input(message) if data is None else data,
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


def _without(data: dict[str, Any], *paths: str) -> dict[str, Any]:
    """A copy of ``data`` without the fields at the dotted ``paths``."""
    out = json.loads(json.dumps(data))
    for path in paths:
        *parents, last = path.split(".")
        node = out
        for part in parents:
            node = node[part]
        del node[last]
    return dict(out)


def _named(name: str, description: str, case: dict[str, Any]) -> dict[str, Any]:
    return {**case, "name": name, "description": description}


def _trap_cases() -> list[dict[str, Any]]:
    """The cases that catch what generic JSON libraries do differently (docs/protocol.md)."""
    keys = sample_keys()
    intent, offer = sample(Intent), sample(Offer)
    vendor, customer = keys.vendor_signing, keys.intent_signing
    text_offer = sign_model(
        Offer(
            **{**dict(offer), "offer_id": "b1b2c3d4e5f60718293a4b5c6d7e8f91", "description": _TEXT}
        ),
        vendor,
    )
    plain_offer = sign_model(
        Offer(**{**dict(offer), "offer_id": "c1b2c3d4e5f60718293a4b5c6d7e8f92", "description": ""}),
        vendor,
    )
    bare_id = "6f0c6a1e9b2d4c7f8a3e1d2c4b6a8f91"
    bare_intent = sign_model(
        Intent(**{**dict(intent), "intent_id": bare_id, "want": Want(item="cot")}), customer
    )
    offset = 2**53 + 1
    big = DeadLetter(**{**dict(sample(DeadLetter)), "source_offset": offset})
    metrics = MetricsSnapshot(
        source="processor-1",
        at=SAMPLE_TIME + timedelta(minutes=20),
        counters={"big": 2**63 - 1, "safe": 2**53 - 1, "zero": 0},
        gauges={f"g{i:02d}": float(text) for i, text in enumerate(_FLOATS)},
    )
    lenient = messy_input(intent)
    lenient.update(
        max_price="4.5E+2",
        created_at="2026-11-29T05:00:00.123999+01:00",
        expires_at="2026-11-29T07:30:00.1234+01:30",
        needed_by="2026-11-29t07:00:00.123456789z",
    )
    receipt = sample(ConsentReceipt)
    receipt_input = messy_input(receipt)
    receipt_input["consent_timestamp"] = "2026-11-29T05:05:01.123456+01:00"
    omitted_offer = _without(messy_input(plain_offer), "kind", "schema_version", "description")
    omitted_intent = _without(
        messy_input(bare_intent), "kind", "schema_version", "want.quantity", "want.attributes"
    )
    return [
        _named(
            "offer_text",
            "Text with U+2028, U+2029, <, >, &, non-ASCII and a non-BMP character: all written "
            "raw, never as \\u escapes (Go's encoder escapes U+2028/U+2029 and HTML).",
            _case(text_offer, vendor.seed),
        ),
        _named(
            "offer_defaults_omitted",
            'kind, schema_version and description ("") left out of the input: the canonical '
            "form and the signature hold them with their defaults.",
            _case(plain_offer, vendor.seed, data=omitted_offer),
        ),
        _named(
            "intent_defaults_omitted",
            "want.quantity (1), want.attributes ({}), kind and schema_version left out: a "
            "verifier signs over the form with the defaults.",
            _case(bare_intent, customer.seed, data=omitted_intent),
        ),
        _named(
            "intent_lenient_forms",
            "The sample intent with money as 4.5E+2 and times with offsets, 4-9 fraction "
            "digits and lower-case t/z: a decoder normalises them, so the canonical bytes and "
            "the signature are the sample's.",
            _case(intent, customer.seed, data=lenient),
        ),
        _named(
            "consent_receipt_offset_time",
            "consent_timestamp, the one timestamp not named *_at, with an offset: normalise "
            "it like the others (UTC, milliseconds, truncated).",
            _case(receipt, None, data=receipt_input),
        ),
        _named(
            "dead_letter_big_offset",
            f"source_offset {offset} (2**53 + 1): read JSON integers as integers, not doubles "
            f"(JavaScript's JSON.parse and Go's interface{{}} make it {offset - 1}).",
            _case(big, None),
        ),
        _named(
            "metrics_numbers",
            "Integers up to 2**63 - 1 stay exact; floats are written as ECMAScript's "
            "Number::toString writes them (2.0 -> 2, 1e-06 -> 0.000001, 1e+21 stays 1e+21).",
            _case(metrics, None),
        ),
    ]


def _partitions() -> dict[str, Any]:
    """Record key -> murmur2 -> partition, for the sample ids and Kafka's own test keys."""
    ids = [sample(Intent).intent_id, "6f0c6a1e9b2d4c7f8a3e1d2c4b6a8f91", "0" * 32, "f" * 32]
    keys = [*ids, sample(VendorProfile).vendor_id, *KAFKA_TEST_KEYS, ""]
    return {
        "description": "Records are keyed by the UTF-8 bytes of the id's text (an intent's "
        "32 hex characters; a vendor id for profiles). Kafka's default partitioner: "
        "partition = (murmur2(key) & 0x7fffffff) % partitions, murmur2 as Kafka's "
        "Utils.murmur2 (seed 0x9747b28c), shown here as a signed 32-bit integer.",
        "partitions": SAMPLE_PARTITIONS,
        "cases": [
            {
                "key": key,
                "key_hex": record_key(key).hex(),
                "murmur2": murmur2(record_key(key)),
                "partition": key_partition(record_key(key), SAMPLE_PARTITIONS),
            }
            for key in keys
        ],
    }


def _log_entry(keys: SampleKeys) -> dict[str, Any]:
    entry = sample(LogEntry)
    readers = {
        "customer": keys.intent_sealing,
        "processors": keys.processors_sealing,
        "auditor": keys.auditor_sealing,
    }
    return {
        "description": "The sample agreement as its log entry. content = canonical bytes of the "
        "agreement; ciphertext = base64url(nonce || crypto_secretbox(content, nonce, "
        "content_key)); each reader's `sealed` = crypto_box_seal(content_key) to its public key "
        "(fixed ephemeral secrets here so the bytes are reproducible); entry_id = SHA-256 of "
        "the canonical entry without entry_id. A reader opens `sealed` with its private key, "
        "decrypts the ciphertext, and checks content_hash == the agreement's agreement_id.",
        "entry": entry.model_dump(mode="json"),
        "content": canonical_bytes(sample(Agreement)).decode(),
        "content_key_hex": keys.log_content_key.hex(),
        "nonce_hex": keys.log_nonce.hex(),
        "entry_id_input": canonical_json(
            entry.model_dump(mode="json", exclude={"entry_id"}, exclude_none=True)
        ).decode(),
        "readers": {
            role: {
                "private_key_hex": key.raw.hex(),
                "public_key": key.public_key,
                "ephemeral_secret_hex": log_ephemeral(key.public_key).hex(),
            }
            for role, key in readers.items()
        },
    }


def _receipt(agreement: Agreement) -> dict[str, Any]:
    """How a consent receipt is derived from its agreement (schemas.agreement.receipt)."""
    receipt = agreement.receipt()
    signing_key = agreement.intent.signing_key
    return {
        "description": "pii_principal_id = 'intent:' + the first 16 hex digits of SHA-256 over "
        "the intent's signing_key as its 43 ASCII base64url characters (not the 32 key "
        "bytes). The other fields come from the agreement (docs/protocol.md, 'Consent "
        "receipts'); `kantara` is the receipt in Kantara's own camelCase form.",
        "signing_key": signing_key,
        "sha256_of_signing_key_text": sha256_hex(signing_key.encode("ascii")),
        "pii_principal_id": receipt.pii_principal_id,
        "consent_receipt_id": receipt.consent_receipt_id,
        "kantara": receipt.to_kantara(),
    }


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
        "disclosure": intent_seed,
        "offer": vendor_seed,
        "vendor_profile": vendor_seed,
        "retention_attestation": vendor_seed,
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
        "numbers": {
            "description": "JSON number text in -> canonical text out. `integer` fields are "
            "exact integers (up to 2**63 - 1); `float` fields are IEEE doubles written as "
            "ECMAScript Number::toString writes them (RFC 8785, section 3.2.2.3).",
            "integer": [{"input": t, "canonical": str(int(t))} for t in _INTEGERS],
            "float": [{"input": t, "canonical": format_float(float(t))} for t in _FLOATS],
        },
        "strings": [
            {"input": text, "canonical": canonical_json(json.loads(text)).decode()}
            for text in _STRINGS
        ],
        "defaults": {kind: field_defaults(model) for kind, model in MESSAGE_MODELS.items()},
        "messages": [_case(message, signer.get(kind)) for kind, message in messages.items()]
        + _trap_cases(),
        "partitioning": _partitions(),
        "receipt": _receipt(sample(Agreement)),
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
        "disclosure": {
            "description": "The sample disclosure's sealed values: crypto_box_seal of the "
            "canonical disclosed_fields to the vendor's sealing key (the same fixed ephemeral "
            "key). Open `sealed` (the disclosure's `sealed`) and get `plaintext` exactly; "
            "`disclosure_hash` is the disclosure's content hash, the log record's content_hash.",
            "recipient_private_key_hex": keys.vendor_sealing.raw.hex(),
            "recipient_public_key": keys.vendor_sealing.public_key,
            "plaintext": canonical_bytes(messages["disclosed_fields"]).decode(),
            "sealed": sample(Disclosure).sealed,
            "disclosure_hash": content_hash(sample(Disclosure)),
        },
        "log_entry": _log_entry(keys),
        "terms": {
            term_id: {
                "version": term.version,
                "canonical": canonical_bytes(term).decode(),
                "sha256": term.sha256,
            }
            for term_id, term in sorted(ROSTER.items())
        },
    }
