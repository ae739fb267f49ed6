"""Property tests over generated valid models: round trips, key-order independence, agreements."""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from intentcast.schemas import (
    GENESIS_HASH,
    MESSAGE_MODELS,
    ROSTER,
    Acceptance,
    Agreement,
    Cancel,
    DeadLetter,
    Intent,
    IntentStatus,
    Message,
    MetricsSnapshot,
    Offer,
    OfferFeedback,
    Place,
    ReasonCode,
    SealingKey,
    SigningKey,
    StatusKind,
    VendorProfile,
    Want,
    content_hash,
    decode,
    encode,
    refs_for,
    seal_offer,
    sign_model,
)
from intentcast.schemas.fields import SLUG_PATTERN
from intentcast.schemas.iso import COUNTRIES, CURRENCIES, minor_units

HEX = "0123456789abcdef"

ids = st.text(HEX, min_size=32, max_size=32)
hashes = st.text(HEX, min_size=64, max_size=64)
slugs = st.from_regex(SLUG_PATTERN, fullmatch=True)
signing_keys = st.binary(min_size=32, max_size=32).map(SigningKey.from_seed)
sealing_keys = st.binary(min_size=32, max_size=32).map(SealingKey.from_bytes)
times = st.datetimes(
    min_value=datetime(2020, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.just(UTC)
)
term_sets = st.sets(st.sampled_from(sorted(ROSTER)), min_size=1, max_size=6).map(refs_for)


def text(max_size: int, min_size: int = 0) -> st.SearchStrategy[str]:
    """Printable text: any code point except controls, DEL and surrogates."""
    alphabet = st.characters(
        codec="utf-8", exclude_categories=("Cc", "Cs"), exclude_characters="\x7f"
    )
    return st.text(alphabet, min_size=min_size, max_size=max_size)


@st.composite
def priced(draw: st.DrawFn) -> tuple[str, Decimal]:
    """A currency and an amount that respects its minor unit."""
    currency = draw(st.sampled_from(sorted(CURRENCIES)))
    places = minor_units(currency)
    amount = draw(
        st.decimals(min_value=Decimal(1) / 10**places, max_value=Decimal("99999999"), places=places)
    )
    return currency, amount


@st.composite
def intents(draw: st.DrawFn, key: SigningKey | None = None) -> Intent:
    signer = key or draw(signing_keys)
    created = draw(times)
    currency, amount = draw(priced())
    attributes = draw(
        st.dictionaries(
            st.from_regex(r"[a-z0-9_][a-z0-9_.-]{0,31}", fullmatch=True), text(64), max_size=16
        )
    )
    intent = Intent(
        intent_id=draw(ids),
        market=draw(slugs),
        want=Want(
            item=draw(text(200, 1)),
            quantity=draw(st.integers(1, 1000)),
            attributes=attributes,
        ),
        max_price=amount,
        currency=currency,
        place=Place(
            country=draw(st.sampled_from(sorted(COUNTRIES))),
            region=draw(st.none() | text(64, 1)),
            city=draw(st.none() | text(64, 1)),
        ),
        needed_by=draw(st.none() | st.just(created + timedelta(hours=3))),
        expires_at=created + timedelta(seconds=draw(st.integers(1, 10**6))),
        terms=draw(term_sets),
        signing_key=signer.public_key,
        sealing_key=draw(sealing_keys).public_key,
        created_at=created,
    )
    return sign_model(intent, signer)


@st.composite
def offers(draw: st.DrawFn, intent: Intent | None = None, key: SigningKey | None = None) -> Offer:
    signer = key or draw(signing_keys)
    created = draw(times)
    currency, amount = draw(priced())
    offer = Offer(
        offer_id=draw(ids),
        intent_id=intent.intent_id if intent else draw(ids),
        vendor_id=draw(slugs),
        price=intent.max_price if intent else amount,
        currency=intent.currency if intent else currency,
        description=draw(text(500)),
        valid_until=created + timedelta(minutes=draw(st.integers(1, 10**4))),
        terms=intent.terms if intent else draw(term_sets),
        created_at=created,
    )
    return sign_model(offer, signer)


@st.composite
def agreements(draw: st.DrawFn) -> Agreement:
    customer, vendor = draw(signing_keys), draw(signing_keys)
    intent = draw(intents(customer))
    offer = draw(offers(intent, vendor))
    acceptance = sign_model(
        Acceptance(
            intent_id=intent.intent_id,
            offer_id=offer.offer_id,
            offer_hash=content_hash(offer),
            accepted_at=draw(times),
        ),
        customer,
    )
    seq = draw(st.integers(0, 10**9))
    return Agreement.build(
        partition=draw(st.integers(0, 100)),
        seq=seq,
        prev_hash=GENESIS_HASH if seq == 0 else draw(hashes),  # seq 0 opens a chain
        intent=intent,
        offer=offer,
        acceptance=acceptance,
        vendor_key=vendor.public_key,
        recorded_at=draw(times),
    )


def _signed(model: Any, key: SigningKey) -> Any:
    return sign_model(model, key)


finite = st.floats(allow_nan=False, allow_infinity=False, width=64)
metric_names = st.from_regex(r"[a-z0-9_.:-]{1,128}", fullmatch=True)

messages: st.SearchStrategy[Message] = st.one_of(
    intents(),
    offers(),
    agreements(),
    agreements().map(lambda a: a.receipt()),
    st.builds(
        lambda i, t, k: _signed(Cancel(intent_id=i, cancelled_at=t), k), ids, times, signing_keys
    ),
    st.builds(
        lambda k, v, name, markets, terms, t: _signed(
            VendorProfile(
                vendor_id=v,
                display_name=name,
                signing_key=k.public_key,
                markets=tuple(markets),
                accepts=terms,
                updated_at=t,
            ),
            k,
        ),
        signing_keys,
        slugs,
        text(80, 1),
        st.lists(slugs, min_size=1, max_size=32, unique=True),
        term_sets,
        times,
    ),
    st.builds(lambda o, k: seal_offer(o, k.public_key), offers(), sealing_keys),
    st.builds(
        IntentStatus,
        intent_id=ids,
        status=st.sampled_from(StatusKind),
        reason=st.none() | st.sampled_from(ReasonCode),
        detail=text(300),
        agreement_id=st.none() | hashes,
        at=times,
    ),
    st.builds(
        OfferFeedback,
        offer_id=text(64),
        intent_id=text(64),
        vendor_id=slugs,
        reason=st.none() | st.sampled_from(ReasonCode),
        detail=text(300),
        at=times,
    ),
    st.builds(
        lambda value, key, reason, detail, t: DeadLetter.from_record(
            topic="intentcast.offers.submitted",
            partition=1,
            offset=42,
            value=value,
            key=key,
            reason=reason,
            detail=detail,
            received_at=t,
        ),
        st.none() | st.binary(max_size=5000),
        st.none() | st.binary(max_size=2000),
        st.sampled_from(ReasonCode),
        st.text(max_size=600),
        times,
    ),
    st.builds(
        MetricsSnapshot,
        source=text(64, 1),
        at=times,
        counters=st.dictionaries(metric_names, st.integers(0, 2**63 - 1), max_size=20),
        gauges=st.dictionaries(metric_names, finite, max_size=20),
        latencies_ms=st.dictionaries(
            metric_names,
            st.dictionaries(st.sampled_from(["p50", "p95", "p99", "max", "count"]), finite),
            max_size=5,
        ),
    ),
)
"""Any valid top-level message."""


def _shuffled(value: Any, rng: random.Random) -> Any:
    if isinstance(value, dict):
        keys = list(value)
        rng.shuffle(keys)
        return {key: _shuffled(value[key], rng) for key in keys}
    if isinstance(value, list):
        return [_shuffled(item, rng) for item in value]
    return value


@settings(max_examples=60, deadline=None)
@given(message=messages)
def test_round_trip_every_model(message: Message) -> None:
    data = encode(message)
    decoded = decode(type(message), data)
    assert decoded == message
    assert encode(decoded) == data
    assert MESSAGE_MODELS[message.kind] is type(message)


@settings(max_examples=40, deadline=None)
@given(message=messages, seed=st.integers())
def test_hash_ignores_key_order_of_input(message: Message, seed: int) -> None:
    messy = _shuffled(message.model_dump(mode="json"), random.Random(seed))
    raw = json.dumps(messy, indent=3, ensure_ascii=True)  # spaces, escapes, other order
    assert content_hash(decode(type(message), raw)) == content_hash(message)


@settings(max_examples=25, deadline=None)
@given(record=agreements())
def test_built_agreements_verify_and_round_trip(record: Agreement) -> None:
    record.verify()
    assert decode(Agreement, encode(record)) == record
    assert record.acceptance.offer_hash == record.offer_hash
