"""Negative test vectors: messages every decoder and processor must refuse, with the reason.

Positive vectors show what to produce; these show what to turn away, and with which code, so
that another implementation refuses the same messages for the same reasons. Each case names
the *stage* that refuses it (see :data:`STAGES`); docs/vendors.md explains how to run them.
"""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any, Final

from intentcast.schemas._tools.samples import SAMPLE_TIME, sample, sample_keys
from intentcast.schemas.agreement import ConsentReceipt
from intentcast.schemas.base import SignedModel
from intentcast.schemas.canonical import MAX_MESSAGE_BYTES, canonical_json, encode, signing_bytes
from intentcast.schemas.crypto import SigningKey, sign_model
from intentcast.schemas.events import MetricsSnapshot
from intentcast.schemas.intent import Intent
from intentcast.schemas.offer import Offer, VendorProfile
from intentcast.schemas.reasons import ReasonCode
from intentcast.schemas.terms import refs_for
from intentcast.schemas.timeutil import format_utc

__all__ = ["NEGATIVE_NOW", "STAGES", "build_negative_vectors"]

NEGATIVE_NOW: Final = SAMPLE_TIME + timedelta(minutes=3)
"""The processors' clock for the rule stages: after the sample offer, before it expires."""

STAGES: Final = {
    "decode": "Decoding the bytes as `kind` fails with `reason` (no key or state needed).",
    "verify": "The bytes decode, but the signature does not verify (intent and profile: with "
    "their own signing_key; offer: with context.vendor_public_key).",
    "terms": "The bytes decode and verify, but a term reference does not resolve in the roster.",
    "intent_rules": "Intake: decodes and verifies, then the processors' intent rules at "
    "context.now with context.markets refuse it (record key = its intent_id).",
    "offer_rules": "Offer handling: decodes, then the offer rules at context.now against "
    "context.intent (open, no offers yet) refuse it (record key = its intent_id).",
}


def _data(message: Any) -> dict[str, Any]:
    return dict(json.loads(encode(message)))


def _text(data: dict[str, Any]) -> str:
    return canonical_json(data).decode()


def _resigned(data: dict[str, Any], key: SigningKey) -> str:
    """Re-sign edited data the way a (mistaken) producer would: over its canonical bytes."""
    unsigned = {k: v for k, v in data.items() if k != "signature"}
    return _text({**unsigned, "signature": key.sign(canonical_json(unsigned))})


def _edit(message: Any, **changes: Any) -> dict[str, Any]:
    data = _data(message)
    data.update(changes)
    return data


def _signed(model: type[SignedModel], key: SigningKey, **fields: Any) -> str:
    return encode(sign_model(model(**fields), key)).decode()


def _decode_cases() -> list[dict[str, Any]]:
    offer, intent, metrics = sample(Offer), sample(Intent), sample(MetricsSnapshot)
    profile = sample(VendorProfile)
    text = encode(offer).decode()
    want = _data(intent)["want"]
    sig = offer.signature
    flip = {"A": "B", "Q": "R", "g": "h", "w": "x"}  # unused low bits set: non-canonical
    bad_sig = sig[:-1] + flip[sig[-1]]
    key = intent.signing_key
    bad_key = key[:-1] + ("B" if key[-1] == "A" else chr(ord(key[-1]) + 1))
    malformed, invalid = ReasonCode.MALFORMED_JSON, ReasonCode.SCHEMA_INVALID
    rows: list[tuple[str, str, str | bytes, ReasonCode, str]] = [
        ("truncated", "offer", text[:40], malformed, "Not JSON at all."),
        ("not_utf8", "offer", text.replace("Side-by-side", "Side\udcffby").encode(
            "utf-8", "surrogateescape"), malformed, "A byte that is not UTF-8 (0xff): refuse, "
         "never replace it with U+FFFD (a lenient decoder would then sign other text)."),
        ("lone_surrogate", "offer", text.replace("Side-by-side", "Side \\ud800 side"), malformed,
         "A \\ud800 escape with no low surrogate is not a Unicode character."),
        ("duplicate_key", "offer", text.replace('"price":"389.99"',
         '"price":"1","price":"389.99"'), malformed, "A key twice in one object (I-JSON, "
         "RFC 7493): parsers disagree on which value wins, so the message is refused."),
        ("duplicate_nested_key", "intent", encode(intent).decode().replace(
            '"item":', '"item":"pram","item":'), malformed, "The same, inside `want`."),
        ("nan", "metrics", encode(metrics).decode().replace('"consumer.lag":2', '"consumer.lag"'
         ":NaN"), malformed, "NaN and Infinity are not JSON."),
        ("trailing_text", "offer", text + " x", malformed, "Anything but whitespace after the "
         "value."),
        ("bom", "offer", "\ufeff" + text, malformed, "A UTF-8 byte order mark before the value."),
        ("too_large", "offer", text + " " * (MAX_MESSAGE_BYTES + 1 - len(text)),
         ReasonCode.MESSAGE_TOO_LARGE, f"{MAX_MESSAGE_BYTES + 1} bytes (the sample offer and "
         "spaces): over 64 KiB, refused before parsing."),
        ("schema_version_2", "offer", _text(_edit(offer, schema_version=2)),
         ReasonCode.UNKNOWN_SCHEMA_VERSION, "A version this decoder does not know."),
        ("unknown_field", "offer", _text(_edit(offer, discount="5")), invalid, "Unknown "
         "fields are refused, not ignored."),
        ("wrong_kind", "offer", _text(_edit(offer, kind="intent")), invalid, "kind must be "
         "the topic's message kind."),
        ("quantity_as_string", "intent", _text(_edit(intent, want={**want, "quantity": "1"})),
         invalid, 'Strict types: "1" is not 1.'),
        ("bool_as_integer", "consent_receipt", _text(_edit(sample(ConsentReceipt),
         sensitive=0)), invalid, "Strict types: 0 is not false."),
        ("price_as_number", "offer", text.replace('"389.99"', "389.99"), invalid, "Money is a "
         "JSON string, never a number."),
        ("price_zero", "offer", _text(_edit(offer, price="0")), invalid, "Money is positive."),
        ("price_nine_integer_digits", "offer", _text(_edit(offer, price="100000000")), invalid,
         "At most 8 digits before the point."),
        ("price_five_decimals", "offer", _text(_edit(offer, price="1.00001")), invalid,
         "At most 4 decimals (and never more than the currency has)."),
        ("price_finer_than_currency", "offer", _text(_edit(offer, currency="JPY",
         price="389.99")), invalid, "JPY has no minor unit (schemas/currencies.json)."),
        ("price_three_decimals_gbp", "offer", _text(_edit(offer, price="389.999")), invalid,
         "GBP has 2 decimals."),
        ("price_with_sign", "offer", _text(_edit(offer, price="+389.99")), invalid, "Only "
         "digits, a point and an exponent."),
        ("price_with_underscore", "offer", _text(_edit(offer, price="1_000")), invalid,
         "Python's Decimal would read 1_000; the contract does not."),
        ("price_without_integer_digit", "offer", _text(_edit(offer, price=".5")), invalid,
         "A digit is needed before the point."),
        ("time_without_zone", "offer", _text(_edit(offer, created_at="2026-11-29T04:02:00")),
         invalid, "Timestamps need Z or an offset."),
        ("time_with_space", "offer", _text(_edit(offer, created_at="2026-11-29 04:02:00Z")),
         invalid, "RFC 3339 date-time: T, not a space."),
        ("time_not_a_date", "offer", _text(_edit(offer, created_at="2026-02-30T04:02:00Z")),
         invalid, "A date that does not exist."),
        ("time_leap_second", "offer", _text(_edit(offer, created_at="2026-12-31T23:59:60Z")),
         invalid, "Leap seconds are not accepted."),
        ("currency_unknown", "offer", _text(_edit(offer, currency="ABC")), invalid, "Not an "
         "ISO 4217 code."),
        ("currency_withdrawn", "offer", _text(_edit(offer, currency="HRK")), invalid, "HRK "
         "was withdrawn in 2023 (schemas/currencies.json lists the accepted codes)."),
        ("country_not_iso", "intent", _text(_edit(intent, place={"country": "UK"})), invalid,
         "GB, not UK."),
        ("attribute_key_upper_case", "intent", _text(_edit(intent, want={**want,
         "attributes": {"Fold": "compact"}})), invalid, "Attribute keys are [a-z0-9_.-]."),
        ("text_with_newline", "offer", _text(_edit(offer, description="two\nlines")), invalid,
         "Text fields refuse C0 control characters..."),
        ("text_with_del", "offer", _text(_edit(offer, description="rub\x7fout")), invalid,
         "...and DEL."),
        ("id_upper_case", "offer", _text(_edit(offer, offer_id=offer.offer_id.upper())),
         invalid, "Ids are lower-case hex."),
        ("signature_padded", "offer", _text(_edit(offer, signature=sig + "==")), invalid,
         "base64url without padding."),
        ("signature_standard_alphabet", "offer", _text(_edit(offer, signature="+" + sig[1:])),
         invalid, "base64url, not base64: - and _, never + and /."),
        ("signature_non_canonical", "offer", _text(_edit(offer, signature=bad_sig)), invalid,
         "The last character of a 64-byte signature carries 4 unused bits; they must be 0 "
         "(it is one of A, Q, g, w)."),
        ("key_non_canonical", "intent", _text(_edit(intent, signing_key=bad_key)), invalid,
         "The last character of a 32-byte key carries 2 unused bits; they must be 0."),
        ("terms_empty", "offer", _text(_edit(offer, terms=[])), invalid, "1 to 6 terms."),
        ("terms_repeated", "offer", _text(_edit(offer, terms=[_data(offer)["terms"][0]] * 2)),
         invalid, "A term id appears once."),
        ("valid_until_before_created", "offer", _text(_edit(offer,
         valid_until=format_utc(offer.created_at))), invalid, "valid_until must be after "
         "created_at."),
        ("expires_before_created", "intent", _text(_edit(intent,
         expires_at=format_utc(intent.created_at))), invalid, "expires_at must be after "
         "created_at."),
        ("markets_repeated", "vendor_profile", _text(_edit(profile, markets=["toys", "toys"])),
         invalid, "A market appears once."),
    ]  # fmt: skip
    return [_row(*row, stage="decode") for row in rows]


def _row(
    name: str, kind: str, raw: str | bytes, reason: ReasonCode, why: str, *, stage: str
) -> dict[str, Any]:
    case: dict[str, Any] = {"name": name, "kind": kind, "stage": stage, "reason": reason.value}
    if isinstance(raw, bytes):
        case["hex"] = raw.hex()
    elif len(raw.encode()) > MAX_MESSAGE_BYTES:
        body = raw.rstrip(" ")
        case["text"], case["pad_with_spaces_to"] = body, len(raw.encode())
    else:
        case["text"] = raw
    case["why"] = why
    return case


def _rule_cases() -> list[dict[str, Any]]:
    keys = sample_keys()
    vendor, customer = keys.vendor_signing, keys.intent_signing
    offer, intent, profile = sample(Offer), sample(Intent), sample(VendorProfile)
    o, i = dict(offer), dict(intent)
    o.pop("signature")
    i.pop("signature")
    later = {"created_at": NEGATIVE_NOW - timedelta(minutes=1)}
    tampered = _data(offer)
    tampered["price"] = "1"
    rows: list[tuple[str, str, str, str, ReasonCode, str]] = [
        ("offer_tampered", "offer", "verify", _text(tampered), ReasonCode.BAD_SIGNATURE,
         "The price was changed after signing."),
        ("offer_unsigned", "offer", "verify", _text({k: v for k, v in _data(offer).items()
         if k != "signature"}), ReasonCode.BAD_SIGNATURE, "No signature: it decodes (the "
         "default is \"\") but never verifies."),
        ("offer_signed_by_another_key", "offer", "verify", _signed(Offer, customer, **o),
         ReasonCode.BAD_SIGNATURE, "Signed with a key that is not the vendor's."),
        ("offer_signed_over_other_bytes", "offer", "verify", _text({**_data(offer),
         "signature": vendor.sign(signing_bytes(offer).replace(b'"kind"', b'"kind" '))}),
         ReasonCode.BAD_SIGNATURE, "Signed over non-canonical bytes (a space added)."),
        ("profile_tampered", "vendor_profile", "verify", _text(_edit(profile,
         display_name="Pram Palace Edinburgh")), ReasonCode.BAD_SIGNATURE, "A self-signed "
         "profile changed after signing."),
        ("intent_unknown_term_version", "intent", "terms", _resigned(_edit(intent,
         terms=[{**_data(intent)["terms"][1], "version": "9.9"}]), customer),
         ReasonCode.UNKNOWN_TERM, "SD-BASE 9.9 is not in the roster."),
        ("intent_term_hash_mismatch", "intent", "terms", _resigned(_edit(intent,
         terms=[{**_data(intent)["terms"][1], "sha256": "0" * 64}]), customer),
         ReasonCode.TERM_HASH_MISMATCH, "The hash does not match the roster text."),
        ("intent_market_unknown", "intent", "intent_rules", _signed(Intent, customer,
         **{**i, "market": "yachts"}), ReasonCode.MARKET_UNKNOWN, "No such market topic."),
        ("intent_expired", "intent", "intent_rules", _signed(Intent, customer,
         **{**i, "expires_at": NEGATIVE_NOW - timedelta(seconds=1), "needed_by": None}),
         ReasonCode.INTENT_EXPIRED, "expires_at is before context.now."),
        ("intent_created_in_the_future", "intent", "intent_rules", _signed(Intent, customer,
         **{**i, "created_at": NEGATIVE_NOW + timedelta(seconds=301)}),
         ReasonCode.SCHEMA_INVALID, "created_at more than 300 s (INTENTCAST_MAX_CLOCK_SKEW"
         "_SECONDS) after context.now."),
        ("intent_with_email", "intent", "intent_rules", _signed(Intent, customer,
         **{**i, "want": {**dict(intent.want), "item": "pram, mail jo@example.com"}}),
         ReasonCode.PII_DETECTED, "Personal data in the item."),
        ("offer_other_terms", "offer", "offer_rules", _signed(Offer, vendor,
         **{**o, "terms": refs_for(["SD-BASE"])}), ReasonCode.TERMS_NOT_ACCEPTED,
         "The offer must carry exactly the intent's terms."),
        ("offer_other_currency", "offer", "offer_rules", _signed(Offer, vendor,
         **{**o, "currency": "EUR"}), ReasonCode.CURRENCY_MISMATCH, "EUR for a GBP intent."),
        ("offer_over_max_price", "offer", "offer_rules", _signed(Offer, vendor,
         **{**o, "price": "450.01"}), ReasonCode.PRICE_OVER_MAX, "Above max_price (450)."),
        ("offer_expired", "offer", "offer_rules", _signed(Offer, vendor, **{**o, **later,
         "valid_until": NEGATIVE_NOW - timedelta(seconds=1)}), ReasonCode.OFFER_EXPIRED,
         "valid_until is before context.now."),
        ("offer_unknown_intent", "offer", "offer_rules", _signed(Offer, vendor,
         **{**o, "intent_id": "0" * 32}), ReasonCode.INTENT_UNKNOWN, "No open intent with "
         "this id (keyed by it, so it lands on that id's partition)."),
        ("offer_unknown_vendor", "offer", "offer_rules", _signed(Offer, vendor,
         **{**o, "vendor_id": "nobody-here"}), ReasonCode.VENDOR_UNKNOWN, "No registered "
         "profile for this vendor_id (only pram-palace is registered in the context)."),
    ]  # fmt: skip
    return [_row(n, k, raw, r, why, stage=stage) for n, k, stage, raw, r, why in rows]


def build_negative_vectors() -> dict[str, Any]:
    """Every negative case, rebuilt from code; ``generate`` writes schemas/vectors/negative.json."""
    keys = sample_keys()
    return {
        "vectors_version": 1,
        "description": "Messages that must be refused, each with the reason code the "
        "Intentcast processors give. `text` is the record value as UTF-8 (`hex` when it is "
        "not UTF-8; `pad_with_spaces_to` = append spaces up to that many bytes). See "
        "docs/vendors.md, 'Negative vectors'.",
        "stages": STAGES,
        "context": {
            "now": format_utc(NEGATIVE_NOW),
            "markets": ["baby-gear"],
            "intent": encode(sample(Intent)).decode(),
            "vendor_id": sample(VendorProfile).vendor_id,
            "vendor_public_key": keys.vendor_signing.public_key,
            "max_clock_skew_seconds": 300,
        },
        "cases": _decode_cases() + _rule_cases(),
    }
