"""The vendor SDK's `@vendor.on_disclosure` and the customer's side of a disclosure, in memory.

The in-memory transport carries the records; the sealing, signing, opening and every check
are the SDK's own, as on Kafka (the flow on a real broker is tests/flow/test_flow_disclosure.py).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable

import pytest

from intentcast.agents import (
    ClientError,
    InMemoryTransport,
    Intent,
    IntentKeys,
    OfferDraft,
    ReceivedDisclosure,
    SealingKey,
    SigningKey,
    Vendor,
    VendorConfigError,
)
from intentcast.agents.disclosures import build_disclosure, sealing_key_for, vendor_sealing_key
from intentcast.schemas import Agreement, Disclosure, SchemaError, sign_model
from intentcast.schemas.canonical import encode
from tests.agents.helpers import make_agreement

ADDRESS = {"lines": ["Hauptstr. 5"], "city": "Berlin", "postal_code": "10115", "country": "DE"}


def _vendor(unique: Callable[[str], str]) -> tuple[Vendor, list[ReceivedDisclosure]]:
    vendor_id = unique("v")
    key = SigningKey.from_seed(hashlib.sha256(vendor_id.encode()).digest())
    vendor = Vendor(vendor_id, key=key, markets=["bikes"], accepts=["SD-BASE", "P2B1"])
    got: list[ReceivedDisclosure] = []

    @vendor.on_intent("bikes")
    async def quote(intent: Intent) -> OfferDraft | None:
        return None

    @vendor.on_disclosure
    async def ship(disclosure: ReceivedDisclosure) -> None:
        got.append(disclosure)

    return vendor, got


def _agreed(vendor: Vendor) -> tuple[Agreement, IntentKeys]:
    keys = IntentKeys.generate()
    return make_agreement(vendor.key, vendor_id=vendor.vendor_id, keys=keys), keys


def _disclosure(vendor: Vendor, agreement: Agreement, keys: IntentKeys) -> Disclosure:
    fields = {"name": "Ada Lovelace", "delivery_address": ADDRESS, "phone": "+49 30 1234567"}
    return build_disclosure(
        agreement, fields, key=keys.signing, vendor_sealing_key=vendor.sealing_key.public_key
    )


async def test_the_handler_gets_the_opened_fields_with_their_agreement_once(
    unique: Callable[[str], str],
) -> None:
    vendor, got = _vendor(unique)
    transport = InMemoryTransport()
    agreement, keys = _agreed(vendor)
    disclosure = _disclosure(vendor, agreement, keys)
    async with vendor.serving(transport) as running:
        await transport.send_agreement(agreement)
        await transport.send_disclosure(disclosure)
        await transport.send_disclosure(disclosure)  # delivered at least once
    assert [d.disclosure_id for d in got] == [disclosure.disclosure_id]
    received = got[0]
    assert received.agreement == agreement
    assert received.names == ("delivery_address", "name", "phone")
    assert received.fields.name == "Ada Lovelace"
    assert received.fields.delivery_address is not None
    assert received.fields.delivery_address.lines == ("Hauptstr. 5",)
    assert (running.stats.disclosures_received, running.stats.duplicates) == (1, 1)
    assert b"Ada" not in encode(disclosure)  # what travels is sealed


async def test_after_a_restart_the_agreement_is_found_again_on_the_vendors_own_topic(
    unique: Callable[[str], str],
) -> None:
    vendor, got = _vendor(unique)
    transport = InMemoryTransport()
    agreement, keys = _agreed(vendor)
    async with vendor.serving(transport):
        await transport.send_agreement(agreement)
    async with vendor.serving(transport) as running:  # a new runtime remembers nothing
        await transport.send_disclosure(_disclosure(vendor, agreement, keys))
    assert len(got) == 1 and running.stats.disclosures_received == 1


async def test_disclosures_that_do_not_check_out_never_reach_the_handler(
    unique: Callable[[str], str],
) -> None:
    vendor, got = _vendor(unique)
    transport = InMemoryTransport()
    agreement, keys = _agreed(vendor)
    unknown, unknown_keys = _agreed(vendor)  # never sent to the vendor's agreements topic
    forged = sign_model(_disclosure(vendor, agreement, keys), SigningKey.generate())
    other_key = SealingKey.generate()
    misdirected = build_disclosure(
        agreement, {"name": "Ada"}, key=keys.signing, vendor_sealing_key=other_key.public_key
    )
    async with vendor.serving(transport) as running:
        await transport.send_agreement(agreement)
        for bad in (forged, misdirected, _disclosure(vendor, unknown, unknown_keys)):
            await transport.send_disclosure(bad)
    assert got == []
    assert running.stats.invalid == 3 and running.stats.disclosures_received == 0


def test_the_profile_carries_a_sealing_key_derived_from_the_seed_unless_one_is_given() -> None:
    key = SigningKey.from_seed(bytes(32))
    vendor = Vendor("derived", key=key, markets=["bikes"], accepts=["SD-BASE"])
    assert vendor.sealing_key.public_key == sealing_key_for(key).public_key
    assert vendor.sealing_key.public_key != SealingKey.from_bytes(key.seed).public_key
    assert vendor.profile().sealing_key == vendor.sealing_key.public_key
    vendor.profile().verify()
    chosen = SealingKey.generate()
    custom = Vendor("custom", key=key, markets=["bikes"], accepts=["SD-BASE"], sealing_key=chosen)
    assert custom.profile().sealing_key == chosen.public_key


def test_a_disclosure_handler_is_declared_once_and_async(unique: Callable[[str], str]) -> None:
    vendor, _ = _vendor(unique)

    async def again(disclosure: ReceivedDisclosure) -> None: ...

    with pytest.raises(VendorConfigError, match="already registered"):
        vendor.on_disclosure(again)
    fresh = Vendor(unique("w"), key=SigningKey.generate(), markets=["bikes"], accepts=["SD-BASE"])
    with pytest.raises(VendorConfigError, match="async def"):
        fresh.on_disclosure(lambda d: None)  # type: ignore[type-var]


def test_the_customer_seals_only_to_the_agreed_vendors_own_profile(
    unique: Callable[[str], str],
) -> None:
    vendor, _ = _vendor(unique)
    agreement, keys = _agreed(vendor)
    assert vendor_sealing_key(vendor.profile(), agreement) == vendor.sealing_key.public_key
    impostor = Vendor(
        vendor.vendor_id, key=SigningKey.generate(), markets=["bikes"], accepts=["SD-BASE"]
    )
    with pytest.raises(ClientError, match="another key than agreed"):
        vendor_sealing_key(impostor.profile(), agreement)
    with pytest.raises(ClientError, match="not in the registry"):
        vendor_sealing_key(None, agreement)
    keyless = vendor.profile().model_copy(update={"sealing_key": None})
    with pytest.raises(ClientError, match="publishes no sealing key"):
        vendor_sealing_key(sign_model(keyless, vendor.key), agreement)
    with pytest.raises(ClientError, match="not the keys of the agreement"):
        build_disclosure(
            agreement, {"name": "Ada"}, key=SigningKey.generate(),
            vendor_sealing_key=vendor.sealing_key.public_key,
        )  # fmt: skip
    with pytest.raises(SchemaError):
        build_disclosure(
            agreement, {"shoe_size": "42"}, key=keys.signing,
            vendor_sealing_key=vendor.sealing_key.public_key,
        )  # fmt: skip
