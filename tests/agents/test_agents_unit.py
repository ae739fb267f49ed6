"""Unit tests of the SDK without a broker: offers from drafts, skip rules, declaration errors."""

from __future__ import annotations

import hashlib
import random
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from aiokafka.partitioner import DefaultPartitioner, murmur2
from hypothesis import given
from hypothesis import strategies as st
from pydantic import SecretStr

from intentcast import agents
from intentcast.agents import (
    ClientSettings,
    OfferDraft,
    SettingsError,
    Vendor,
    VendorConfigError,
    build_offer,
)
from intentcast.agents.dedupe import RecentIds
from intentcast.agents.partitions import partition_for
from intentcast.schemas.crypto import SigningKey, verify_model
from intentcast.schemas.errors import SchemaError
from intentcast.schemas.intent import Intent
from intentcast.schemas.reasons import ReasonCode
from tests.agents.helpers import make_intent

KEY = SigningKey.from_seed(hashlib.sha256(b"test:unit-vendor").digest())


def make_vendor(accepts: tuple[str, ...] = ("SD-BASE", "P2B1"), **kwargs: object) -> Vendor:
    return Vendor("unit-vendor", key=KEY, markets=["bikes"], accepts=accepts, **kwargs)  # type: ignore[arg-type]


# -- offers from drafts ------------------------------------------------------------------


def test_offer_copies_the_intent_terms_exactly_and_verifies() -> None:
    intent = make_intent(terms=("P2B1", "SD-BASE", "PDC-GOOD"))
    offer = build_offer(OfferDraft(price=Decimal("150.5")), intent, vendor_id="v-1", key=KEY)
    assert offer.terms == intent.terms
    assert offer.intent_id == intent.intent_id and offer.vendor_id == "v-1"
    assert offer.currency == "EUR"  # defaulted from the intent
    verify_model(offer, KEY.public_key)
    assert offer.valid_until == intent.expires_at  # 15 minutes, capped at the intent's 10


def test_offer_validity_defaults_to_15_minutes_within_a_longer_intent() -> None:
    intent = make_intent(expires_in=timedelta(hours=1))
    offer = build_offer(OfferDraft(price=Decimal("150.5")), intent, vendor_id="v-1", key=KEY)
    assert offer.valid_until - offer.created_at == timedelta(minutes=15)


def test_offer_honours_explicit_currency_and_valid_until() -> None:
    intent = make_intent(expires_in=timedelta(hours=3))
    until = datetime.now(UTC) + timedelta(hours=2)
    draft = OfferDraft(price=Decimal("99"), currency="USD", valid_until=until)
    offer = build_offer(draft, intent, vendor_id="v-1", key=KEY)
    assert offer.currency == "USD"
    assert abs(offer.valid_until - until) < timedelta(milliseconds=1)


def test_offers_get_fresh_ids() -> None:
    intent = make_intent()
    draft = OfferDraft(price=Decimal("10"))
    ids = {build_offer(draft, intent, vendor_id="v-1", key=KEY).offer_id for _ in range(5)}
    assert len(ids) == 5


def test_sdk_offer_id_is_shared_by_a_vendors_instances_and_secret_to_others() -> None:
    """Two instances of a vendor (one key) name their offer for an intent alike, so the
    processors refuse the survivor's repeat; another key cannot compute or collide with it."""
    intent, other = make_intent(), make_intent()
    same = agents.offer_id_for(KEY, intent.intent_id)
    assert same == agents.offer_id_for(SigningKey.from_seed(KEY.seed), intent.intent_id)
    assert len(same) == 32 and int(same, 16) >= 0
    assert agents.offer_id_for(KEY, other.intent_id) != same
    assert agents.offer_id_for(SigningKey.generate(), intent.intent_id) != same
    draft = OfferDraft(price=Decimal("10"))
    offer = build_offer(draft, intent, vendor_id="v-1", key=KEY, offer_id=same)
    assert offer.offer_id == same
    verify_model(offer, KEY.public_key)


def test_draft_too_precise_for_currency_is_a_schema_error() -> None:
    with pytest.raises(SchemaError) as info:
        build_offer(OfferDraft(price=Decimal("1.005")), make_intent(), vendor_id="v", key=KEY)
    assert info.value.reason is ReasonCode.SCHEMA_INVALID


# -- declaration-time errors ---------------------------------------------------------------


def test_unknown_term_fails_at_construction() -> None:
    with pytest.raises(VendorConfigError, match="NOT-A-TERM"):
        make_vendor(accepts=("SD-BASE", "NOT-A-TERM"))


def test_bad_vendor_id_fails_at_construction() -> None:
    with pytest.raises(VendorConfigError):
        Vendor("Bad Id", key=KEY, markets=["bikes"], accepts=["SD-BASE"])


def test_market_not_served_fails_at_decoration() -> None:
    vendor = make_vendor()
    with pytest.raises(VendorConfigError, match="cars"):
        vendor.on_intent("cars")


def test_sync_handler_fails_at_decoration() -> None:
    vendor = make_vendor()

    def quote(intent: Intent) -> None:
        return None

    with pytest.raises(VendorConfigError, match="async def"):
        vendor.on_intent("bikes")(quote)  # type: ignore[type-var]


def test_second_handler_for_a_market_fails() -> None:
    vendor = make_vendor()

    @vendor.on_intent("bikes")
    async def first(intent: Intent) -> None:
        return None

    with pytest.raises(VendorConfigError, match="already"):
        vendor.on_intent("bikes")


def test_missing_handler_is_reported_before_start() -> None:
    with pytest.raises(VendorConfigError, match="bikes"):
        make_vendor().check_ready()


async def test_decorator_returns_the_function_itself() -> None:
    vendor = make_vendor()

    async def quote(intent: Intent) -> OfferDraft:
        return OfferDraft(price=intent.max_price)

    assert vendor.on_intent("bikes")(quote) is quote
    draft = await quote(make_intent())
    assert draft.price == Decimal("200")


# -- profile ----------------------------------------------------------------------------


def test_profile_is_signed_with_vendor_key() -> None:
    profile = make_vendor().profile()
    profile.verify()
    assert [ref.id for ref in profile.accepts] == ["P2B1", "SD-BASE"]


# -- LRU dedupe ------------------------------------------------------------------------


def test_recent_ids_forgets_least_recently_seen() -> None:
    recent = RecentIds(maxsize=2)
    assert not recent.seen("a") and not recent.seen("b")
    assert recent.seen("a")  # refreshes a, so b is now the oldest
    assert not recent.seen("c")
    assert "b" not in recent and "a" in recent and len(recent) == 2


# -- partitions ------------------------------------------------------------------------


def test_partition_matches_known_java_murmur2() -> None:
    # Kafka's Java Utils.murmur2("21".getBytes()) == -973932308 (its own unit test vector).
    assert murmur2(b"21") & 0xFFFFFFFF == (-973932308) & 0xFFFFFFFF
    assert partition_for("21", 6) == (-973932308 & 0x7FFFFFFF) % 6


@given(key=st.text(min_size=1, max_size=64), partitions=st.integers(1, 64))
def test_partition_equals_aiokafka_default_partitioner(key: str, partitions: int) -> None:
    expected = DefaultPartitioner()(key.encode(), list(range(partitions)), [])
    assert partition_for(key, partitions) == expected


def test_partition_of_random_intent_ids() -> None:
    for _ in range(200):
        key = random.randbytes(16).hex()
        expected = (murmur2(key.encode()) & 0x7FFFFFFF) % 6
        assert partition_for(key, 6) == expected


# -- settings and exports -----------------------------------------------------------------


def test_settings_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("INTENTCAST_BOOTSTRAP", "kafka:9093")
    monkeypatch.setenv("INTENTCAST_PARTITIONS", "12")
    settings = ClientSettings()
    assert settings.partitions == 12
    assert settings.kafka_kwargs()["bootstrap_servers"] == "kafka:9093"


def test_sasl_without_credentials_is_refused_early() -> None:
    with pytest.raises(SettingsError, match="SASL"):
        ClientSettings(security_protocol="SASL_PLAINTEXT")


def test_sasl_kwargs() -> None:
    settings = ClientSettings(
        security_protocol="SASL_PLAINTEXT",
        sasl_username="u",
        sasl_password=SecretStr("p"),
    )
    kwargs = settings.kafka_kwargs()
    assert kwargs["sasl_plain_password"] == "p" and kwargs["sasl_mechanism"] == "SCRAM-SHA-512"


def test_impossible_sizes_raise_the_sdks_settings_error_not_a_bare_value_error() -> None:
    """One `except ClientError` catches every SDK error, argument mistakes included."""
    with pytest.raises(SettingsError, match="maxsize"):
        RecentIds(0)
    with pytest.raises(SettingsError, match="partition"):
        partition_for("x", 0)
