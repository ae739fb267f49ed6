"""Canonical encoding and the decode boundary: same meaning gives same bytes; bad input gives
only SchemaError."""

from __future__ import annotations

import contextlib
import json
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from intentcast.schemas import (
    MAX_MESSAGE_BYTES,
    MESSAGE_MODELS,
    Cancel,
    Intent,
    ReasonCode,
    SchemaError,
    decode,
    encode,
    utcnow,
)
from intentcast.schemas._tools.samples import sample
from intentcast.schemas.canonical import canonical_bytes, canonical_json

INTENT = sample(Intent)
CANCEL = sample(Cancel)
INTENT_BYTES = encode(INTENT)


def test_canonical_json_is_sorted_compact_utf8() -> None:
    assert (
        canonical_json({"b": 1, "a": [True, None, "é"]}) == '{"a":[true,null,"é"],"b":1}'.encode()
    )


def test_decimals_and_timestamps_normalise() -> None:
    base = INTENT.model_dump(mode="json")
    base.update(
        max_price="450.000",
        created_at="2026-11-29T05:00:00.123999+01:00",
        expires_at="2026-11-29T06:00:00.123456Z",
    )
    base["place"]["region"] = None
    intent = decode(Intent, json.dumps(base))
    assert intent.max_price == Decimal("450")
    dumped = json.loads(canonical_bytes(intent))
    assert dumped["max_price"] == "450"
    assert dumped["created_at"] == "2026-11-29T04:00:00.123Z"
    assert dumped["expires_at"] == "2026-11-29T06:00:00.123Z"
    assert "region" not in dumped["place"]  # null fields are omitted from canonical form


def test_naive_and_non_rfc3339_times_are_refused() -> None:
    base = INTENT.model_dump(mode="json")
    for bad in ("2026-11-29T04:00:00", "2026-11-29", "20261129T040000Z", "2026-02-30T00:00:00Z"):
        with pytest.raises(SchemaError) as err:
            decode(Intent, json.dumps({**base, "created_at": bad}))
        assert err.value.reason is ReasonCode.SCHEMA_INVALID
    with pytest.raises(ValueError, match="time zone"):
        CANCEL.model_validate({**CANCEL.model_dump(), "cancelled_at": datetime(2026, 1, 1)})


def test_aware_datetimes_normalise_to_utc_ms() -> None:
    tz = timezone(timedelta(hours=-5))
    value = datetime(2026, 11, 28, 23, 0, 0, 999999, tzinfo=tz)
    cancel = CANCEL.model_copy()
    checked = type(cancel).model_validate({**cancel.model_dump(), "cancelled_at": value})
    assert checked.cancelled_at == datetime(2026, 11, 29, 4, 0, 0, 999000, tzinfo=UTC)
    assert utcnow().microsecond % 1000 == 0


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"", ReasonCode.MALFORMED_JSON),
        (b"{", ReasonCode.MALFORMED_JSON),
        (b"\xff\xfe{}", ReasonCode.MALFORMED_JSON),
        (b'{"item": "\\ud800"}', ReasonCode.MALFORMED_JSON),
        (b"[" * 50_000 + b"]" * 50_000, ReasonCode.MESSAGE_TOO_LARGE),
        (b"[" * 30_000 + b"]" * 30_000, ReasonCode.MALFORMED_JSON),
        (b'{"a":' * 10_000 + b"1" + b"}" * 10_000, ReasonCode.MALFORMED_JSON),
        (b"[]", ReasonCode.SCHEMA_INVALID),
        (b"null", ReasonCode.SCHEMA_INVALID),
        (b"{}", ReasonCode.SCHEMA_INVALID),
        (b" " * (MAX_MESSAGE_BYTES + 1), ReasonCode.MESSAGE_TOO_LARGE),
        (INTENT_BYTES.replace(b'"schema_version":1', b'"schema_version":2'),
         ReasonCode.UNKNOWN_SCHEMA_VERSION),
        (INTENT_BYTES.replace(b'"schema_version":1', b'"schema_version":"1"'),
         ReasonCode.SCHEMA_INVALID),
        (INTENT_BYTES.replace(b'"quantity":1', b'"quantity":"1"'), ReasonCode.SCHEMA_INVALID),
        (INTENT_BYTES.replace(b'"kind":"intent"', b'"kind":"offer"'), ReasonCode.SCHEMA_INVALID),
        (INTENT_BYTES[:-1] + b',"extra":1}', ReasonCode.SCHEMA_INVALID),
        (INTENT_BYTES.replace(b'"currency":"GBP"', b'"currency":"XXX"'),
         ReasonCode.SCHEMA_INVALID),
        (INTENT_BYTES.replace(b'"max_price":"450"', b'"max_price":"NaN"'),
         ReasonCode.SCHEMA_INVALID),
        (INTENT_BYTES.replace(b'"max_price":"450"', b'"max_price":"-1"'),
         ReasonCode.SCHEMA_INVALID),
    ],
)  # fmt: skip
def test_bad_input_gives_schema_error_with_reason(data: bytes, reason: ReasonCode) -> None:
    with pytest.raises(SchemaError) as err:
        decode(Intent, data)
    assert err.value.reason is reason
    assert len(err.value.detail) <= 300


def test_detail_names_fields_not_values() -> None:
    secret = "alice@example.com"
    bad = INTENT_BYTES.replace(b'"market":"baby-gear"', f'"market":"{secret}"'.encode())
    with pytest.raises(SchemaError) as err:
        decode(Intent, bad)
    assert "market" in err.value.detail
    assert secret not in str(err.value)


def test_str_input_and_max_bytes() -> None:
    assert decode(Intent, INTENT_BYTES.decode()) == INTENT
    with pytest.raises(SchemaError) as err:
        decode(Intent, INTENT_BYTES, max_bytes=100)
    assert err.value.reason is ReasonCode.MESSAGE_TOO_LARGE
    with pytest.raises(SchemaError) as err:
        decode(Intent, '{"a": "\ud800"}')
    assert err.value.reason is ReasonCode.MALFORMED_JSON


json_values = st.recursive(
    st.none() | st.booleans() | st.floats() | st.integers() | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=30,
)


@settings(max_examples=300, deadline=None)
@given(
    data=st.one_of(
        st.binary(max_size=2000),
        st.text(max_size=500).map(lambda s: s.encode("utf-8", "surrogatepass")),
        json_values.map(lambda v: json.dumps(v).encode()),
        st.integers(1, 20_000).map(lambda n: b'{"want":' * n),
        st.integers(0, len(INTENT_BYTES) - 1).flatmap(
            lambda i: st.binary(min_size=1, max_size=3).map(
                lambda b: INTENT_BYTES[:i] + b + INTENT_BYTES[i + 1 :]
            )
        ),
    ),
    kind=st.sampled_from(sorted(MESSAGE_MODELS)),
)
def test_decode_raises_only_schema_error(data: bytes, kind: str) -> None:
    with contextlib.suppress(SchemaError):  # anything else fails the test
        decode(MESSAGE_MODELS[kind], data)
