"""The clauses of docs/protocol.md that a third party implements from the text alone (issue #14).

Each test pins one sentence of the contract to the code, so that the docs and the reference
implementation cannot drift apart again.
"""

from __future__ import annotations

import json
import math
import re
import statistics
import struct
import time
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from intentcast.schemas import (
    MESSAGE_MODELS,
    DeadLetter,
    Intent,
    MetricsSnapshot,
    Offer,
    ReasonCode,
    SchemaError,
    decode,
    encode,
    sign_model,
    signing_bytes,
    verify_model,
)
from intentcast.schemas.canonical import canonical_json, format_float
from intentcast.schemas.defaults import field_defaults
from intentcast.schemas.fields import MONEY_INPUT_PATTERN, MONEY_PATTERN
from intentcast.schemas.generate import PACKAGE_DIR, REPO_DIR
from intentcast.schemas.samples import sample, sample_keys

VECTORS = json.loads((PACKAGE_DIR / "vectors" / "vectors.json").read_text())
PROTOCOL = (REPO_DIR / "docs" / "protocol.md").read_text()
OFFER = sample(Offer)
OFFER_TEXT = encode(OFFER).decode()


# -- 1. canonical encoding: what generic JSON libraries get wrong ---------------------------


@pytest.mark.parametrize(
    ("edit", "key"),
    [
        (('"price":"389.99"', '"price":"1","price":"389.99"'), "price"),
        (('"price":"389.99"', '"price":"389.99","price":"1"'), "price"),
        (('"id":"P2B1"', '"id":"P2B1","id":"P2B1"'), "id"),  # inside a list element
    ],
)
def test_a_duplicate_key_is_malformed_json_whichever_value_would_win(
    edit: tuple[str, str], key: str
) -> None:
    with pytest.raises(SchemaError) as err:
        decode(Offer, OFFER_TEXT.replace(*edit, 1))
    assert err.value.reason is ReasonCode.MALFORMED_JSON
    assert f"duplicate key {key!r}" in err.value.detail


@pytest.mark.parametrize("literal", ["NaN", "Infinity", "-Infinity"])
def test_nan_and_infinity_are_not_json(literal: str) -> None:
    text = encode(sample(MetricsSnapshot)).decode().replace(":2,", f":{literal},", 1)
    with pytest.raises(SchemaError) as err:
        decode(MetricsSnapshot, text)
    assert err.value.reason is ReasonCode.MALFORMED_JSON


def test_the_duplicate_key_check_costs_little_next_to_a_decode() -> None:
    """Measured, not assumed: the extra parse is well under half a decode (about a fifth)."""
    from intentcast.schemas.canonical import check_interoperable_json

    raw = encode(sample(Intent))

    def per_call(fn: object, n: int = 300) -> float:
        runs = []
        for _ in range(5):
            start = time.perf_counter()
            for _ in range(n):
                fn()  # type: ignore[operator]
            runs.append((time.perf_counter() - start) / n)
        return statistics.median(runs)

    check = per_call(lambda: check_interoperable_json(raw))
    full = per_call(lambda: decode(Intent, raw))
    assert check < 0.5 * full, (check, full)


def test_text_is_written_raw_including_u2028_and_html_characters() -> None:
    case = next(c for c in VECTORS["messages"] if c["name"] == "offer_text")
    text = json.loads(case["canonical"])["description"]
    assert "\u2028" in text and "\u2029" in text and "<b>&</b>" in text
    assert "\u2028".encode() in case["canonical"].encode()  # raw bytes E2 80 A8, not \u2028
    assert "\\u" not in case["canonical"]


def test_integers_above_2_53_stay_exact() -> None:
    case = next(c for c in VECTORS["messages"] if c["name"] == "dead_letter_big_offset")
    assert '"source_offset":9007199254740993' in case["canonical"]
    assert decode(DeadLetter, case["canonical"]).source_offset == 2**53 + 1


# -- 5. floats: ECMAScript Number::toString ---------------------------------------------------

ECMASCRIPT = {  # written by node -e 'console.log(String(x))' for each x
    2.0: "2",
    -0.0: "0",
    0.1: "0.1",
    0.1 + 0.2: "0.30000000000000004",
    1e-6: "0.000001",
    1.5e-6: "0.0000015",
    1e-7: "1e-7",
    123e-20: "1.23e-18",
    1e16: "10000000000000000",
    1.2345678901234568e20: "123456789012345680000",
    1e21: "1e+21",
    1.5e300: "1.5e+300",
    5e-324: "5e-324",
    1.7976931348623157e308: "1.7976931348623157e+308",
    -1234.5678: "-1234.5678",
    4.35: "4.35",
    0.000123: "0.000123",
    999999999999999900000.0: "999999999999999900000",
}


@pytest.mark.parametrize(("value", "text"), ECMASCRIPT.items(), ids=str)
def test_floats_are_written_as_ecmascript_writes_them(value: float, text: str) -> None:
    assert format_float(value) == text


def test_the_float_vectors_are_the_encoder_s_output() -> None:
    for case in VECTORS["numbers"]["float"]:
        assert format_float(float(case["input"])) == case["canonical"]
    metrics = sample(MetricsSnapshot).model_copy(update={"gauges": {"g": 2.0, "h": 1e-6}})
    assert b'"gauges":{"g":2,"h":0.000001}' in encode(metrics)


@settings(max_examples=500, deadline=None)
@given(st.floats(allow_nan=False, allow_infinity=False))
def test_the_float_form_reads_back_as_the_same_double_with_the_fewest_digits(x: float) -> None:
    text = format_float(x)
    assert float(text) == x or (x == 0 and text == "0")
    assert re.fullmatch(r"-?(0|[1-9][0-9]*)(\.[0-9]*[1-9])?(e[+-][1-9][0-9]*)?", text)
    mantissa = text.lstrip("-").split("e")[0].replace(".", "").strip("0")
    assert len(mantissa) <= len(repr(abs(x)).split("e")[0].replace(".", "").strip("0")) or x == 0


@settings(max_examples=300, deadline=None)
@given(st.integers(0, 2**64 - 1))
def test_the_float_form_holds_for_any_bit_pattern(bits: int) -> None:
    x = struct.unpack("<d", bits.to_bytes(8, "little"))[0]
    if math.isfinite(x):
        assert float(format_float(x)) == x


def test_an_integer_in_a_float_field_reads_as_that_float() -> None:
    text = encode(sample(MetricsSnapshot)).decode()
    assert decode(MetricsSnapshot, text.replace('"consumer.lag":2', '"consumer.lag":2.0')) == (
        decode(MetricsSnapshot, text)
    )


# -- 2. fields with defaults -----------------------------------------------------------------


@pytest.mark.parametrize("kind", sorted(MESSAGE_MODELS))
def test_the_published_defaults_table_is_the_models(kind: str) -> None:
    assert VECTORS["defaults"][kind] == field_defaults(MESSAGE_MODELS[kind])


def test_a_default_left_out_is_signed_over_as_if_it_were_there() -> None:
    keys = sample_keys()
    offer = sign_model(
        Offer(**{**dict(OFFER), "description": ""}), keys.vendor_signing
    )  # description "" is the default
    sent = json.loads(encode(offer))
    for name in ("kind", "schema_version", "description"):
        del sent[name]
    received = decode(Offer, json.dumps(sent))
    verify_model(received, keys.vendor_signing.public_key)
    assert b'"description":""' in signing_bytes(received)
    assert b'"kind":"offer"' in signing_bytes(received)


def test_the_canonical_form_always_holds_every_defaulted_field() -> None:
    for kind, model in MESSAGE_MODELS.items():
        data = json.loads(encode(sample(model)))
        for path in field_defaults(model):
            node = data
            parts = path.split(".")
            for part in parts[:-1]:
                node = node[part.removesuffix("[]")]
                node = node[0] if part.endswith("[]") else node
            assert parts[-1] in node, (kind, path)


# -- 4. money ---------------------------------------------------------------------------------

_money = st.decimals(
    min_value=Decimal("0.0001"), max_value=Decimal("99999999.9999"), places=4
) | st.decimals(min_value=Decimal("0.0001"), max_value=Decimal("1e12"))


def _price_accepted(text: str, currency: str = "KWD") -> bool:
    data = json.loads(OFFER_TEXT)
    data.update(price=text, currency=currency)
    try:
        decode(Offer, canonical_json(data))
    except SchemaError as exc:
        reason = exc.reason
    else:
        return True
    assert reason is ReasonCode.SCHEMA_INVALID
    return False


@settings(max_examples=300, deadline=None)
@given(_money)
def test_the_money_pattern_matches_exactly_the_canonical_amounts_the_decoder_takes(
    amount: Decimal,
) -> None:
    from intentcast.schemas.fields import format_money

    text = format_money(amount)
    in_pattern = re.fullmatch(MONEY_PATTERN, text) is not None
    exponent = amount.normalize().as_tuple().exponent
    assert isinstance(exponent, int)
    within_minor_units = -exponent <= 3  # KWD, one of the 3-decimal currencies
    assert _price_accepted(text) == (in_pattern and within_minor_units), text


@pytest.mark.parametrize(
    ("text", "ok"),
    [
        ("0", False),
        ("0.0001", True),
        ("1", True),
        ("99999999", True),
        ("99999999.9999", True),
        ("100000000", False),
        ("123456789012", False),
        ("1.50", False),
        ("01", False),
        ("1e2", False),
    ],
)
def test_the_money_pattern(text: str, ok: bool) -> None:
    assert (re.fullmatch(MONEY_PATTERN, text) is not None) is ok


@pytest.mark.parametrize(
    ("text", "ok"),
    [
        ("450", True),
        ("450.00", True),
        ("4.5E+2", True),
        ("0450", True),
        ("+450", False),
        ("-450", False),
        (" 450", False),
        ("1_000", False),
        (".5", False),
        ("5.", False),
        ("NaN", False),
        ("Infinity", False),
    ],
)
def test_money_input_is_a_small_grammar_not_whatever_decimal_reads(text: str, ok: bool) -> None:
    assert (re.fullmatch(MONEY_INPUT_PATTERN, text) is not None) is ok
    assert _price_accepted(text, "GBP") is ok


def test_money_must_be_a_json_string() -> None:
    with pytest.raises(SchemaError, match="JSON string"):
        decode(Offer, OFFER_TEXT.replace('"389.99"', "389.99"))


def test_the_money_json_schema_is_the_pattern() -> None:
    schema = json.loads((PACKAGE_DIR / "json" / "Offer.json").read_text())
    assert schema["properties"]["price"]["pattern"] == MONEY_PATTERN
    assert MONEY_PATTERN in PROTOCOL or "8 digits before the point" in PROTOCOL
