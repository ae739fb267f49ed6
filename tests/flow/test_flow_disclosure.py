"""Disclosure on a real Kafka with the real processors: only the chosen vendor reads it.

A customer agrees with a vendor, discloses a name, an address and an e-mail to it, and the
vendor's `@vendor.on_disclosure` gets exactly those values; another vendor's disclosures topic
holds nothing; the log chains a record of the hash and field names (no value); a disclosure
for another vendor than the agreed one, or signed by another key, is refused with its reason.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from decimal import Decimal
from pathlib import Path

import pytest
from aiokafka import AIOKafkaProducer

from intentcast.agents import (
    ClientSettings,
    CustomerClient,
    Intent,
    IntentHandle,
    OfferDraft,
    ReceivedDisclosure,
    SigningKey,
    Vendor,
    Wallet,
)
from intentcast.agents.disclosures import build_disclosure
from intentcast.broker.audit import verify_log
from intentcast.broker.settings import BrokerSettings
from intentcast.broker.topic_admin import create_all
from intentcast.processes import Processors
from intentcast.schemas import (
    AGREEMENTS,
    DISCLOSURES,
    DisclosureRecord,
    IntentStatus,
    LogEntry,
    ReasonCode,
    content_hash,
    decode,
    encode,
    sign_model,
    vendor_disclosures_topic,
)
from intentcast.schemas.log import DISCLOSURE_ENTRY, EntryType
from tests.conftest import wait_for
from tests.watchers import TopicWatcher, dead_letter_for, status_of, watcher

pytestmark = pytest.mark.kafka

ADDRESS = {"lines": ["Flat 3", "12 Torstrasse"], "city": "Berlin", "postal_code": "10119",
           "country": "DE"}  # fmt: skip
PARTITIONS = BrokerSettings().partitions
FIELDS = {"name": "Grace Hopper", "delivery_address": ADDRESS, "email": "grace@example.org"}


class Shop:
    """A vendor of the test's own on `bikes` that undercuts everyone and keeps what it got."""

    def __init__(self, vendor_id: str, bootstrap: str) -> None:
        self.got: list[ReceivedDisclosure] = []
        self.vendor = Vendor(
            vendor_id, key=SigningKey.generate(), markets=["bikes"], accepts=["SD-BASE", "P2B1"],
            settings=ClientSettings(bootstrap=bootstrap),
            instances_share_load=False,  # from the end: no offers for older tests' intents
        )  # fmt: skip

        @self.vendor.on_intent("bikes")
        async def quote(intent: Intent) -> OfferDraft:
            return OfferDraft(price=Decimal("1"))

        @self.vendor.on_disclosure
        async def ship(disclosure: ReceivedDisclosure) -> None:
            self.got.append(disclosure)

    def owns_the_market(self) -> bool:
        return len(self.vendor.assignment) == PARTITIONS


@pytest.fixture
async def shops(
    kafka_bootstrap: str, ready_processors: Processors, unique: Callable[[str], str]
) -> AsyncIterator[tuple[Shop, Shop]]:
    chosen, other = Shop(unique("chosen"), kafka_bootstrap), Shop(unique("other"), kafka_bootstrap)
    ids = [chosen.vendor.vendor_id, other.vendor.vendor_id]
    await create_all(BrokerSettings(bootstrap=kafka_bootstrap), vendors=ids)
    async with chosen.vendor, other.vendor:  # registered and subscribed
        for shop in (chosen, other):
            # a group of its own starts at the end: only once it owns the market's partitions
            # is an intent published now sure to reach it
            await wait_for(
                shop.owns_the_market, timeout=90, what=f"{shop.vendor.vendor_id}'s partitions"
            )
        yield chosen, other


async def _agree(client: CustomerClient, shop: Shop) -> IntentHandle:
    handle = await client.publish(
        market="bikes", item="cargo bike", max_price=Decimal("200"), currency="EUR",
        country="DE", city="Berlin", terms=["SD-BASE", "P2B1"], intake_timeout=90,
    )  # fmt: skip
    ours = None
    async for offer in handle.offers(timeout=60.0):
        if offer.vendor_id == shop.vendor.vendor_id:
            ours = offer
            break
    assert ours is not None, "the chosen vendor made no offer"
    await handle.accept(ours, timeout=60)
    return handle


async def _log_entries(log: TopicWatcher, intent_id: str, count: int) -> list[LogEntry]:
    key = intent_id.encode()

    async def enough() -> bool:
        await log.poll()
        return bool(sum(r.key == key for r in log.records) >= count)

    await wait_for(enough, timeout=60, what=f"{count} log entries of the intent")
    return [decode(LogEntry, r.value) for r in log.records if r.key == key]


async def test_only_the_chosen_vendor_reads_the_disclosure_and_the_log_keeps_its_hash(
    kafka_bootstrap: str, shops: tuple[Shop, Shop], tmp_path: Path
) -> None:
    chosen, other = shops
    log = await watcher(kafka_bootstrap, AGREEMENTS)
    elsewhere = await watcher(kafka_bootstrap, vendor_disclosures_topic(other.vendor.vendor_id))
    wallet = Wallet(tmp_path / "wallet.json")
    try:
        async with CustomerClient(ClientSettings(bootstrap=kafka_bootstrap), wallet) as client:
            handle = await _agree(client, chosen)
            receipt = client.receipts[0]
            disclosure = await client.disclose(receipt, FIELDS)
        await wait_for(lambda: bool(chosen.got), timeout=60, what="the vendor's handler")
        received = chosen.got[0]
        assert received.disclosure == disclosure
        assert received.agreement == receipt.agreement
        assert received.fields.name == "Grace Hopper"
        assert received.fields.email == "grace@example.org"
        assert received.fields.delivery_address is not None
        assert received.fields.delivery_address.lines == ("Flat 3", "12 Torstrasse")

        # later, from the wallet alone (a new client, no open handle): a second disclosure
        async with CustomerClient(ClientSettings(bootstrap=kafka_bootstrap), wallet) as later:
            note = await later.disclose(receipt, {"note": "Leave it with the neighbour."})
        await wait_for(lambda: len(chosen.got) == 2, timeout=60, what="the second disclosure")
        assert chosen.got[1].fields.note == "Leave it with the neighbour."
        assert [d["vendor_id"] for d in wallet.disclosures()] == [chosen.vendor.vendor_id] * 2

        agreement_entry, *entries = await _log_entries(log, handle.intent_id, 3)
        assert agreement_entry.entry_type is EntryType.AGREEMENT
        assert [e.entry_type for e in entries] == [EntryType.DISCLOSURE] * 2
        assert [e.content_hash for e in entries] == [content_hash(disclosure), content_hash(note)]
        keys = handle.keys
        record = entries[0].open(DISCLOSURE_ENTRY, keys.sealing)
        assert record == DisclosureRecord.of(disclosure)
        assert record.fields == ("delivery_address", "email", "name")
        raw = b"".join(r.value for r in log.records)
        for value in (b"Grace", b"Torstrasse", b"example.org", b"neighbour"):
            assert value not in raw

        await asyncio.sleep(2)
        assert await elsewhere.poll() == [], "another vendor's disclosures topic holds nothing"
        assert other.got == []
    finally:
        await log.consumer.stop()
        await elsewhere.consumer.stop()
    audit = await verify_log(BrokerSettings(bootstrap=kafka_bootstrap))
    assert audit.ok, audit.breaks


async def test_a_disclosure_for_another_vendor_or_with_a_bad_signature_is_refused(
    kafka_bootstrap: str,
    shops: tuple[Shop, Shop],
    producer: AIOKafkaProducer,
    statuses: TopicWatcher,
    dead_letters: TopicWatcher,
) -> None:
    chosen, other = shops
    disclosures = await watcher(kafka_bootstrap, vendor_disclosures_topic(other.vendor.vendor_id))
    try:
        async with CustomerClient(ClientSettings(bootstrap=kafka_bootstrap)) as client:
            handle = await _agree(client, chosen)
            agreement = client.receipts[0].agreement
        keys = handle.keys
        key = agreement.intent.intent_id.encode()
        # the intent's own key, but addressed to a vendor it made no agreement with
        wrong_vendor = build_disclosure(
            agreement,
            {"name": "Grace"},
            key=keys.signing,
            vendor_sealing_key=other.vendor.sealing_key.public_key,
        ).model_copy(update={"vendor_id": other.vendor.vendor_id})
        wrong_vendor = sign_model(wrong_vendor, keys.signing)
        forged = sign_model(
            build_disclosure(
                agreement, {"name": "Grace"}, key=keys.signing,
                vendor_sealing_key=chosen.vendor.sealing_key.public_key,
            ),
            SigningKey.generate(),
        )  # fmt: skip
        for bad in (wrong_vendor, forged):
            await producer.send_and_wait(DISCLOSURES, encode(bad), key=key)
        for reason in (ReasonCode.NOT_AGREED_VENDOR, ReasonCode.BAD_SIGNATURE):
            found = await statuses.wait(
                lambda r, code=reason: (
                    bool(status_of(agreement.intent.intent_id, "rejected")(r))
                    and decode(IntentStatus, r.value).reason is code
                ),
                reason.value,
            )
            assert decode(IntentStatus, found.value).detail.startswith("disclosure: ")
            await dead_letters.wait(dead_letter_for(key, reason.value), reason.value)
        await asyncio.sleep(1)
        assert chosen.got == [] and other.got == []
        assert await disclosures.poll() == []
    finally:
        await disclosures.consumer.stop()
