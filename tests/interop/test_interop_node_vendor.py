"""The wire contract is enough: a vendor in Node.js, sending through Kafka's console producer.

Its profile registers, its offer is delivered to a Python customer and accepted into a verified
agreement, and a tampered offer is dead-lettered as bad_signature. The vendor serves
`electronics`, a market no Python example vendor listens on. (It lives beside the flow tests
for the session's one `processors` fixture; the Node helpers are in tests/interop/.)
"""

from __future__ import annotations

import asyncio
from decimal import Decimal

import pytest
from aiokafka import AIOKafkaConsumer

from intentcast.agents import ClientSettings, CustomerClient
from intentcast.broker.settings import BrokerSettings
from intentcast.broker.topic_admin import create_all
from intentcast.processes import Processors
from intentcast.schemas import (
    OFFERS_SUBMITTED,
    VENDOR_REGISTRY,
    Offer,
    VendorProfile,
    decode,
    market_topic,
    vendor_profile_topic,
)
from tests.conftest import wait_for
from tests.interop.node import VECTORS, VENDOR_ID, console_produce, node, vendor_args
from tests.watchers import TopicWatcher, dead_letter_for, watcher

pytestmark = pytest.mark.kafka


async def test_node_vendor_offer_is_accepted_and_a_tampered_one_refused(
    kafka_bootstrap: str, processors: Processors, dead_letters: TopicWatcher
) -> None:
    profile = node("profile", *vendor_args("--markets", "electronics", "--roster", str(VECTORS)))
    assert profile.returncode == 0, profile.stderr
    # the operator's step (`intentcast topics create --vendor node-bikes`), after the
    # processors started: their pattern subscription must pick the new profile topic up
    await create_all(BrokerSettings(bootstrap=kafka_bootstrap), vendors=[VENDOR_ID])
    topic = vendor_profile_topic(VENDOR_ID)
    await asyncio.to_thread(console_produce, kafka_bootstrap, topic, profile.stdout)
    sent = decode(VendorProfile, profile.stdout.split(b"\t", 1)[1].strip())
    await _wait_registered(kafka_bootstrap, sent)
    market = await watcher(kafka_bootstrap, market_topic("electronics"))
    async with CustomerClient(ClientSettings(bootstrap=kafka_bootstrap)) as client:
        handle = await client.publish(
            market="electronics", item="usb-c charger", max_price=Decimal("40"), currency="EUR",
            country="DE", terms=["SD-BASE", "P2B1"], intake_timeout=90,
        )  # fmt: skip
        # the vendor reads the intent's bytes as intake published them on the market topic
        record = await market.wait(lambda r: r.key == handle.intent_id.encode(), "market intent")
        await market.consumer.stop()
        good = node("offer", *vendor_args("--price", "35.50"), stdin=record.value)
        bad = node("offer", *vendor_args("--price", "30", "--tamper"), stdin=record.value)
        assert good.returncode == 0 and bad.returncode == 0, good.stderr + bad.stderr
        offer_sent = decode(Offer, good.stdout.split(b"\t", 1)[1].strip())
        await asyncio.to_thread(
            console_produce, kafka_bootstrap, OFFERS_SUBMITTED, good.stdout + bad.stdout
        )

        offers = []
        async for offer in handle.offers(timeout=60):
            offers.append(offer)
            break
        assert [(o.vendor_id, o.offer_id) for o in offers] == [(VENDOR_ID, offer_sent.offer_id)]
        await dead_letters.wait(
            dead_letter_for(handle.intent_id.encode(), "bad_signature"), "tampered offer"
        )
        agreement = await handle.accept(offers[0], timeout=60)
        agreement.verify()
        assert agreement.offer.vendor_id == VENDOR_ID and str(agreement.offer.price) == "35.5"


async def _wait_registered(bootstrap: str, profile: VendorProfile) -> None:
    """Until the processors republished exactly this profile to the registry topic."""
    consumer = AIOKafkaConsumer(
        VENDOR_REGISTRY, bootstrap_servers=bootstrap, auto_offset_reset="earliest"
    )
    await consumer.start()
    try:

        async def listed() -> bool:
            batch = await consumer.getmany(timeout_ms=200)
            return any(
                r.key == VENDOR_ID.encode() and decode(VendorProfile, r.value) == profile
                for records in batch.values()
                for r in records
            )

        await wait_for(listed, timeout=60, what="the Node vendor's profile in the registry")
    finally:
        await consumer.stop()
