"""The vendor SDK on a real broker: intents in from a market topic, signed offers out."""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from decimal import Decimal

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from intentcast.agents import ClientSettings, OfferDraft, Vendor
from intentcast.agents.partitions import partition_for
from intentcast.schemas.canonical import decode, encode
from intentcast.schemas.crypto import SigningKey, verify_model
from intentcast.schemas.events import OfferFeedback
from intentcast.schemas.intent import Intent
from intentcast.schemas.offer import Offer, VendorProfile
from intentcast.schemas.reasons import ReasonCode
from intentcast.schemas.timeutil import utcnow
from intentcast.schemas.topics import OFFERS_SUBMITTED, market_topic, vendor_profile_topic
from tests.agents.conftest import PARTITIONS
from tests.agents.helpers import make_intent
from tests.conftest import wait_for
from tests.watchers import TopicWatcher

# vendors wait for the real processors to register them before answering intents
pytestmark = [pytest.mark.kafka, pytest.mark.usefixtures("flow_topics", "processors")]

MakeTopics = Callable[..., Awaitable[None]]


def new_vendor(vendor_id: str, market: str, bootstrap: str) -> Vendor:
    key = SigningKey.from_seed(hashlib.sha256(vendor_id.encode()).digest())
    return Vendor(
        vendor_id,
        key=key,
        markets=[market],
        accepts=["SD-BASE", "P2B1"],
        settings=ClientSettings(bootstrap=bootstrap),
    )


@asynccontextmanager
async def running(vendor: Vendor) -> AsyncIterator[asyncio.Task[None]]:
    """Run a vendor in the background; stop it cleanly afterwards and surface its errors."""
    task = asyncio.create_task(vendor.run())
    try:
        yield task
    finally:
        vendor.stop()
        await asyncio.wait_for(task, 30)


async def publish_intents(producer: AIOKafkaProducer, market: str, intents: list[Intent]) -> None:
    """Play the intake's step 2: the validated intent to its market topic, keyed by intent id."""
    for intent in intents:
        await producer.send_and_wait(
            market_topic(market), encode(intent), key=intent.intent_id.encode()
        )


async def test_vendor_answers_an_intent_with_a_signed_offer_of_the_exact_terms(
    kafka_bootstrap: str,
    unique: Callable[[str], str],
    make_topics: MakeTopics,
    producer: AIOKafkaProducer,
    tail: Callable[[str], Awaitable[TopicWatcher]],
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The vendor's topics are missing at start: it waits for its profile topic and says how
    to create it, and tolerates missing feedback and agreement topics."""
    caplog.set_level(logging.WARNING, logger="intentcast.agents.vendor_runtime")
    market = unique("bikes")
    await make_topics(market_topic(market), partitions=PARTITIONS)
    vendor = new_vendor(unique("v"), market, kafka_bootstrap)

    @vendor.on_intent(market)
    async def quote(intent: Intent) -> OfferDraft:
        return OfferDraft(price=intent.max_price - 20, description="fast delivery")

    offers_out = await tail(OFFERS_SUBMITTED)
    intent = make_intent(market=market, terms=("SD-BASE", "P2B1"))
    async with running(vendor):
        hint = f"intentcast topics create --vendor {vendor.vendor_id}"
        await wait_for(lambda: hint in caplog.text, what="the hint to create the profile topic")
        assert not vendor.assignment, "it must not consume before its profile is published"
        await make_topics(vendor.profile_topic, partitions=1)
        await publish_intents(producer, market, [intent])

        async def offer_seen() -> bool:
            return any(r.key == intent.intent_id.encode() for r in await offers_out.poll())

        await wait_for(offer_seen, what="the offer on intentcast.offers.submitted")

    [sent] = [r for r in offers_out.records if r.key == intent.intent_id.encode()]
    offer = decode(Offer, sent.value)
    verify_model(offer, vendor.key.public_key)
    assert offer.terms == intent.terms
    assert offer.price == Decimal("180") and offer.currency == intent.currency
    assert sent.partition == partition_for(intent.intent_id, PARTITIONS)
    assert vendor.stats.offers_sent == 1

    profiles = AIOKafkaConsumer(
        vendor.profile_topic, bootstrap_servers=kafka_bootstrap, auto_offset_reset="earliest"
    )
    await profiles.start()
    try:
        record = await asyncio.wait_for(profiles.getone(), 30)
    finally:
        await profiles.stop()
    assert record.key == vendor.vendor_id.encode()
    profile = decode(VendorProfile, record.value)
    assert profile.signing_key == vendor.key.public_key
    profile.verify()


async def test_two_instances_share_the_market_partitions(
    kafka_bootstrap: str,
    unique: Callable[[str], str],
    make_topics: MakeTopics,
    producer: AIOKafkaProducer,
) -> None:
    market = unique("bikes")
    vendor_id = unique("v")
    await make_topics(market_topic(market), partitions=PARTITIONS)
    await make_topics(vendor_profile_topic(vendor_id), partitions=1)
    answered: dict[str, list[str]] = {"a": [], "b": []}
    instances = []
    for name in ("a", "b"):
        vendor = new_vendor(vendor_id, market, kafka_bootstrap)

        @vendor.on_intent(market)
        async def quote(intent: Intent, name: str = name) -> OfferDraft:
            answered[name].append(intent.intent_id)
            return OfferDraft(price=Decimal("1"))

        instances.append(vendor)

    async with running(instances[0]), running(instances[1]):

        def split() -> bool:
            parts = [v.assignment for v in instances]
            return all(parts) and len(parts[0] | parts[1]) == PARTITIONS

        await wait_for(split, what="both instances to own market partitions")
        intents = [make_intent(market=market) for _ in range(40)]
        await publish_intents(producer, market, intents)
        await wait_for(
            lambda: sum(v.stats.offers_sent for v in instances) == len(intents),
            what="every intent answered",
        )
    assert answered["a"] and answered["b"]
    assert not set(answered["a"]) & set(answered["b"])
    assert set(answered["a"]) | set(answered["b"]) == {i.intent_id for i in intents}


async def test_a_failing_handler_does_not_stop_the_vendor(
    kafka_bootstrap: str,
    unique: Callable[[str], str],
    make_topics: MakeTopics,
    producer: AIOKafkaProducer,
) -> None:
    market = unique("bikes")
    await make_topics(market_topic(market), partitions=PARTITIONS)
    vendor = new_vendor(unique("v"), market, kafka_bootstrap)
    await make_topics(vendor.profile_topic, partitions=1)

    @vendor.on_intent(market)
    async def quote(intent: Intent) -> OfferDraft:
        if intent.want.item == "boom":
            raise RuntimeError("bug in the vendor's code")
        return OfferDraft(price=Decimal("5"))

    async with running(vendor) as task:
        await publish_intents(producer, market, [make_intent(market=market, item="boom")])
        await wait_for(lambda: vendor.stats.handler_errors == 1, what="the handler error")
        await publish_intents(producer, market, [make_intent(market=market)])
        await wait_for(lambda: vendor.stats.offers_sent == 1, what="the next offer")
        assert not task.done()


async def test_vendor_picks_up_its_feedback_topic_created_after_start(
    kafka_bootstrap: str,
    unique: Callable[[str], str],
    make_topics: MakeTopics,
    producer: AIOKafkaProducer,
) -> None:
    """The per-vendor topics may appear after the vendor started (created by processors)."""
    market = unique("bikes")
    await make_topics(market_topic(market), partitions=PARTITIONS)
    vendor = new_vendor(unique("v"), market, kafka_bootstrap)
    await make_topics(vendor.profile_topic, partitions=1)
    received: list[OfferFeedback] = []

    @vendor.on_intent(market)
    async def quote(intent: Intent) -> None:
        return None

    @vendor.on_feedback
    async def feedback(item: OfferFeedback) -> None:
        received.append(item)

    async with running(vendor):
        await wait_for(lambda: bool(vendor.assignment), what="the market assignment")
        await make_topics(vendor.feedback_topic, partitions=PARTITIONS)
        note = OfferFeedback(
            offer_id="a" * 32, intent_id="b" * 32, vendor_id=vendor.vendor_id,
            reason=ReasonCode.PRICE_OVER_MAX, detail="above max", at=utcnow(),
        )  # fmt: skip
        await producer.send_and_wait(vendor.feedback_topic, encode(note), key=b"b" * 32)
        await wait_for(lambda: bool(received), what="the feedback", timeout=60)
    assert received == [note] and vendor.stats.feedback_received == 1


async def test_an_unreadable_registry_is_an_sdk_error_that_says_what_to_do(
    kafka_bootstrap: str,
    unique: Callable[[str], str],
    make_topics: MakeTopics,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A registry topic that does not exist (no processors ever ran on this cluster) must not
    escape as aiokafka's or asyncio's timeout."""
    from intentcast.agents import KafkaTransport, RegistrationError, kafka_transport

    monkeypatch.setattr(kafka_transport, "VENDOR_REGISTRY", unique("no-registry"))
    vendor = new_vendor(unique("v"), unique("bikes"), kafka_bootstrap)
    await make_topics(vendor.profile_topic, partitions=1)
    transport = KafkaTransport(vendor.settings)
    try:
        with pytest.raises(RegistrationError, match="intentcast broker run"):
            await transport.register(vendor.profile(), asyncio.Event())
    finally:
        await transport.close()
