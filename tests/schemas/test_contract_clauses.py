"""The clauses of docs/protocol.md that a third party implements from the text alone (issue #14).

Each test pins one sentence of the contract to the code, so that the docs and the reference
implementation cannot drift apart again.
"""

from __future__ import annotations

import json
import math
import random
import re
import statistics
import struct
import time
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import BaseModel

from intentcast.broker.principals import Kind, Op, Pattern, Principal, Resource
from intentcast.schemas import (
    MESSAGE_MODELS,
    Agreement,
    DeadLetter,
    Intent,
    MetricsSnapshot,
    Offer,
    ReasonCode,
    SchemaError,
    decode,
    encode,
    resolve_terms,
    sign_model,
    spec_for,
    verify_model,
)
from intentcast.schemas._tools.asyncapi import asyncapi_document
from intentcast.schemas._tools.generate import PACKAGE_DIR, REPO_DIR
from intentcast.schemas._tools.samples import (
    SAMPLE_INTENT_ID,
    SAMPLE_PARTITION,
    SAMPLE_PARTITIONS,
    SAMPLE_TIME,
    sample,
    sample_keys,
    sample_messages,
)
from intentcast.schemas.canonical import canonical_json, format_float, sha256_hex, signing_bytes
from intentcast.schemas.crypto import b64d
from intentcast.schemas.defaults import field_defaults
from intentcast.schemas.fields import MONEY_INPUT_PATTERN, MONEY_PATTERN
from intentcast.schemas.partitioning import KAFKA_TEST_KEYS, key_partition, murmur2, record_key
from intentcast.schemas.terms import RETENTION_TEXT
from intentcast.schemas.topics import CORE_TOPICS, TEMPLATE_TOPICS, TopicSpec

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
    assert f"`{MONEY_PATTERN}`" in PROTOCOL and f"`{MONEY_INPUT_PATTERN}`" in PROTOCOL


# -- 6. the consent receipt --------------------------------------------------------------------


def test_the_receipt_principal_hashes_the_key_text_not_the_key_bytes() -> None:
    agreement = sample(Agreement)
    receipt = agreement.receipt()
    text = agreement.intent.signing_key
    assert receipt.pii_principal_id == "intent:" + sha256_hex(text.encode("ascii"))[:16]
    assert receipt.pii_principal_id != "intent:" + sha256_hex(b64d(text))[:16]
    vector = VECTORS["receipt"]
    assert vector["pii_principal_id"] == receipt.pii_principal_id
    assert vector["kantara"] == receipt.to_kantara()


def test_every_receipt_field_comes_from_the_agreement_as_the_docs_say() -> None:
    agreement = sample(Agreement)
    receipt = agreement.receipt()
    terms = resolve_terms(agreement.terms)
    assert receipt.consent_receipt_id == agreement.agreement_id
    assert receipt.consent_timestamp == agreement.recorded_at
    assert receipt.jurisdiction == agreement.intent.place.country
    assert receipt.public_key == agreement.intent.signing_key
    assert [(c.pii_controller, c.public_key) for c in receipt.pii_controllers] == [
        (agreement.offer.vendor_id, agreement.vendor_key)
    ]
    assert receipt.policy_url == tuple(term.uri for term in terms)
    (service,) = receipt.services
    assert service.service == agreement.intent.want.item
    assert [p.purpose for p in service.purposes] == [f"{t.id}: {t.title}" for t in terms]
    assert [p.termination for p in service.purposes] == [
        RETENTION_TEXT[t.clauses.retention] for t in terms
    ]
    assert [p.third_party_disclosure for p in service.purposes] == [
        t.clauses.third_party_sharing for t in terms
    ]
    kantara = receipt.to_kantara()
    assert kantara["consentTimestamp"] == int(agreement.recorded_at.timestamp())  # floor, s
    assert kantara["policyUrl"] == " ".join(receipt.policy_url)
    assert "receipt()" in PROTOCOL and "43 base64url characters" in PROTOCOL


# -- 7. record keys and partitions -------------------------------------------------------------


def test_murmur2_is_kafka_s_own() -> None:
    from aiokafka.partitioner import murmur2 as aiokafka_murmur2

    from intentcast.agents.partitions import partition_for

    for text, expected in KAFKA_TEST_KEYS.items():
        assert murmur2(text.encode()) == expected
    rng = random.Random(7)
    for n in range(500):
        key = rng.randbytes(n % 67)
        assert murmur2(key) & 0xFFFFFFFF == aiokafka_murmur2(key)
        assert key_partition(key, 6) == partition_for(key, 6)
        assert key_partition(key, 6) == (aiokafka_murmur2(key) & 0x7FFFFFFF) % 6


def test_the_partition_vectors_are_the_partitioner_s() -> None:
    part = VECTORS["partitioning"]
    for case in part["cases"]:
        key = record_key(case["key"])
        assert key.hex() == case["key_hex"]
        assert (murmur2(key), key_partition(key, part["partitions"])) == (
            case["murmur2"],
            case["partition"],
        )


def test_the_record_key_is_what_the_processors_require() -> None:
    from intentcast.broker.refusal import Refused
    from intentcast.broker.validation import check_offer

    offer = sample(Offer)
    assert record_key(offer.intent_id) == offer.intent_id.encode()
    with pytest.raises(Refused) as err:  # the 16 bytes the hex spells are not the key
        check_offer(
            offer,
            record_key=bytes.fromhex(offer.intent_id),
            vendor_key=None,
            record=None,
            now=SAMPLE_TIME,
            max_per_vendor=3,
        )
    assert err.value.reason is ReasonCode.SCHEMA_INVALID


def test_every_intent_keyed_topic_has_the_same_partition_count() -> None:
    """The docs say the offers topic has as many partitions as the market topics: it does."""
    from intentcast.broker.settings import BrokerSettings
    from intentcast.broker.topic_admin import planned_core, planned_vendor

    settings = BrokerSettings(partitions=7)
    planned = {t.name: t.partitions for t in planned_core(settings)}
    planned |= {t.name: t.partitions for t in planned_vendor("pram-palace", settings)}
    for name, partitions in planned.items():
        if name.endswith(".ticks"):
            continue
        spec = spec_for(name)
        assert partitions == spec.partition_count(7), name
    assert planned["intentcast.offers.submitted"] == planned["intentcast.market.bikes"] == 7


# -- 9. the samples agree with each other ------------------------------------------------------


def test_the_samples_name_the_partition_their_intent_id_hashes_to() -> None:
    messages = sample_messages()
    partition = key_partition(record_key(SAMPLE_INTENT_ID), SAMPLE_PARTITIONS)
    assert partition == SAMPLE_PARTITION == 4
    agreement = messages["agreement"]
    dead = messages["dead_letter"]
    assert isinstance(agreement, Agreement) and isinstance(dead, DeadLetter)
    assert agreement.intent.intent_id == SAMPLE_INTENT_ID
    assert agreement.partition == partition
    assert dead.source_partition == partition
    assert dead.key_b64 is not None and b64d(dead.key_b64) == record_key(SAMPLE_INTENT_ID)
    ids = {getattr(m, "intent_id", SAMPLE_INTENT_ID) for m in messages.values()}
    assert ids == {SAMPLE_INTENT_ID}


def test_the_frozen_v1_samples_are_the_current_samples() -> None:
    """One source: schemas/samples/v1 holds what sample_messages() builds (metrics.json keeps
    the float spelling of before issue #14, 2.0, which still decodes to the same values)."""
    for kind, message in sample_messages().items():
        frozen = (PACKAGE_DIR / "samples" / "v1" / f"{kind}.json").read_bytes()
        assert decode(MESSAGE_MODELS[kind], frozen) == message, kind


# -- 10. topic facts: one source, and it agrees with the ACLs ----------------------------------

_PEOPLE = {
    "processors": Principal(Kind.PROCESSORS),
    "customer": Principal(Kind.CUSTOMER),
    "monitor": Principal(Kind.MONITOR),
    "auditor": Principal(Kind.AUDITOR),
    "vendor-acme": Principal(Kind.VENDOR, "acme"),
    "vendor-zed": Principal(Kind.VENDOR, "zed"),
}


def _allowed(principal: Principal, topic: str, op: Op) -> bool:
    return any(
        rule.resource is Resource.TOPIC
        and op in rule.ops
        and (topic == rule.name if rule.pattern is Pattern.LITERAL else topic.startswith(rule.name))
        for rule in principal.rules()
    )


def _expand(names: tuple[str, ...]) -> set[str]:
    out: set[str] = set()
    for name in names:
        if name == "vendor-{vendor_id}":
            out.add("vendor-acme")  # the vendor the topic is named after
        elif name == "vendor-*":
            out |= {"vendor-acme", "vendor-zed"}
        elif name != "admin":  # the super user: no ACL needed
            out.add(name)
    return out


@pytest.mark.parametrize("spec", [*CORE_TOPICS, *TEMPLATE_TOPICS], ids=lambda s: s.name)
def test_producers_and_consumers_are_what_the_acls_allow(spec: TopicSpec) -> None:
    topic = spec.name.format(market="bikes", vendor_id="acme")
    for op, declared in ((Op.WRITE, spec.producers), (Op.READ, spec.consumers)):
        allowed = {name for name, who in _PEOPLE.items() if _allowed(who, topic, op)}
        assert _expand(declared) <= allowed, (op, "declared but refused by the ACLs")
        # only the processors' prefixed ACLs reach further than the flow needs
        assert allowed - _expand(declared) <= {"processors"}, (op, allowed)


def test_principal_names_are_the_scram_users_of_security_md() -> None:
    security = (REPO_DIR / "docs" / "security.md").read_text()
    names = {
        n for spec in (*CORE_TOPICS, *TEMPLATE_TOPICS) for n in spec.producers + spec.consumers
    }
    for name in names - {"vendor-{vendor_id}", "vendor-*", "admin"}:
        assert Principal.parse(name).username == name
        assert f"`{name}`" in security
    assert "`vendor-<id>`" in security and "`admin`" in security
    assert "`processors`, `customer`, `vendor-<id>`, `monitor`" in PROTOCOL


def test_the_asyncapi_partition_counts_are_the_topic_admin_s() -> None:
    from intentcast.broker.settings import BrokerSettings
    from intentcast.broker.topic_admin import planned_core

    doc = asyncapi_document()
    counts = {
        ch["address"]: ch["bindings"]["kafka"]["partitions"] for ch in doc["channels"].values()
    }
    for planned in planned_core(BrokerSettings()):
        if planned.name in counts:
            assert counts[planned.name] == planned.partitions, planned.name
    assert counts["intentcast.vendor.{vendor_id}.profile"] == 1
    assert counts["intentcast.offers.submitted"] == counts["intentcast.market.{market}"] == 6


# -- 12. the processing rules state the processors' settings -----------------------------------


def test_the_documented_limits_are_the_processors_defaults() -> None:
    from intentcast.broker.settings import BrokerSettings

    settings = BrokerSettings()
    text = " ".join(PROTOCOL.split())  # the prose wraps lines anywhere
    documented = {name: float(value) for name, value in re.findall(r"`([A-Z_]+)` \[(\d+)\]", text)}
    assert documented == {
        "MAX_CLOCK_SKEW_SECONDS": settings.max_clock_skew_seconds,
        "MAX_EXPIRY_DAYS": settings.max_expiry_days,
        "MAX_OFFERS_PER_VENDOR": settings.max_offers_per_vendor,
        "MAX_DISCLOSURES_PER_AGREEMENT": settings.max_disclosures_per_agreement,
    }
    markets = ", ".join(f"`{m}`" for m in settings.markets)
    assert f"by default {markets}" in text
    assert f"`INTENTCAST_PARTITIONS` ({settings.partitions} by default" in text
    reasons = (REPO_DIR / "docs" / "reasons.md").read_text()
    assert f"{settings.max_offers_per_vendor} by default" in reasons
    assert f"{settings.max_disclosures_per_agreement} by default" in reasons


def _leaf_fields() -> dict[str, set[str]]:
    """Field names by what they hold, across every message and the models nested in them."""
    from intentcast.schemas.defaults import _nested_models

    kinds: dict[str, set[str]] = {"money": set(), "time": set(), "float": set(), "other": set()}
    seen: set[type[BaseModel]] = set()

    def walk(model: type[BaseModel]) -> None:
        if model in seen:
            return
        seen.add(model)
        for name, field in model.model_fields.items():
            text = repr(field.annotation)
            kind = (
                "money" if "Decimal" in text
                else "time" if "datetime" in text
                else "float" if "float" in text
                else "other"
            )  # fmt: skip
            kinds[kind].add(name)
            for nested, _ in _nested_models(field.annotation):
                walk(nested)

    for model in MESSAGE_MODELS.values():
        walk(model)
    return kinds


def test_the_field_lists_other_languages_normalise_by_are_complete() -> None:
    """Other languages find money, timestamps and floats by field name: the lists must hold."""
    kinds = _leaf_fields()
    assert kinds["money"] == {"price", "max_price"}
    named = {"at", "valid_until", "needed_by", "retention_end", "consent_timestamp"}
    assert {n for n in kinds["time"] if not n.endswith("_at")} == named
    assert not {n for n in kinds["other"] | kinds["money"] if n.endswith("_at")}
    assert kinds["float"] == {"gauges", "latencies_ms"}
    text = " ".join(PROTOCOL.split())
    assert (
        "`*_at`, `at`, `valid_until`, `needed_by`, `retention_end` and `consent_timestamp`" in text
    )
    assert "the floats are the values of `gauges` and `latencies_ms`" in text
