"""What the SDK does with each record, on both transports (in memory and on a real broker).

Each test serves a vendor through the `harness` fixture, once on `InMemoryTransport` and once
on Kafka with the real processors registering it: decoding, validation, the skip rules and
signing must behave the same whichever transport carries the records.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from datetime import timedelta
from decimal import Decimal

import pytest

from intentcast.agents import (
    Agreement,
    Intent,
    OfferDraft,
    OfferFeedback,
    SigningKey,
    Vendor,
)
from intentcast.schemas.crypto import verify_model
from intentcast.schemas.reasons import ReasonCode
from intentcast.schemas.timeutil import utcnow
from tests.agents.harness import Harness
from tests.agents.helpers import make_agreement, make_intent


def quoting_vendor(
    unique: Callable[[str], str], accepts: tuple[str, ...] = ("SD-BASE", "P2B1")
) -> tuple[Vendor, str]:
    """A vendor on a market of its own that offers 100, declines "nothing", fails on "boom"."""
    vendor_id, market = unique("v"), unique("bikes")
    key = SigningKey.from_seed(hashlib.sha256(vendor_id.encode()).digest())
    vendor = Vendor(vendor_id, key=key, markets=[market], accepts=accepts)

    @vendor.on_intent(market)
    async def quote(intent: Intent) -> OfferDraft | None:
        if intent.want.item == "boom":
            raise RuntimeError("handler bug")
        if intent.want.item == "nothing":
            return None
        return OfferDraft(price=Decimal("100"))

    return vendor, market


async def test_intents_the_vendor_must_not_answer_are_skipped_and_counted(
    harness: Harness, unique: Callable[[str], str]
) -> None:
    vendor, market = quoting_vendor(unique)
    async with harness.serving(vendor) as running:
        unaccepted = make_intent(market=market, terms=("SD-BASE", "PDC-AI"))
        assert await harness.send_intent(unaccepted) is None
        assert running.stats.skipped_terms == 1 and running.stats.declined == 0
        expired = make_intent(market=market, expires_in=timedelta(seconds=-5))
        assert await harness.send_intent(expired) is None
        assert running.stats.skipped_expired == 1
        forged = make_intent(market=market).model_copy(update={"max_price": Decimal("1")})
        assert await harness.send_intent(forged) is None
        assert running.stats.invalid == 1
        assert running.stats.offers_sent == 0


async def test_answers_are_signed_offers_of_the_exact_terms_each_sent_once(
    harness: Harness, unique: Callable[[str], str]
) -> None:
    vendor, market = quoting_vendor(unique, accepts=("SD-BASE", "P2B1", "PDC-GOOD"))
    async with harness.serving(vendor) as running:
        intent = make_intent(market=market, terms=("SD-BASE",))
        offer = await harness.send_intent(intent)
        assert offer is not None and offer.price == Decimal("100")
        verify_model(offer, vendor.key.public_key)
        assert offer.terms == intent.terms and offer.vendor_id == vendor.vendor_id
        again = await harness.send_intent(intent)  # redelivered: answered once
        assert again == offer and running.stats.duplicates == 1
        assert await harness.send_intent(make_intent(market=market, item="boom")) is None
        assert await harness.send_intent(make_intent(market=market, item="nothing")) is None
        assert running.stats.handler_errors == 1 and running.stats.declined == 1
        assert await harness.send_intent(make_intent(market=market)) is not None
        assert running.stats.offers_sent == 2 and running.stats.intents_seen == 5


async def test_feedback_and_verified_agreements_reach_their_handlers(
    harness: Harness, unique: Callable[[str], str]
) -> None:
    vendor, market = quoting_vendor(unique)
    feedback: list[OfferFeedback] = []
    agreements: list[Agreement] = []

    @vendor.on_feedback
    async def note(item: OfferFeedback) -> None:
        feedback.append(item)

    @vendor.on_agreement
    async def keep(item: Agreement) -> None:
        agreements.append(item)

    async with harness.serving(vendor) as running:
        refused = OfferFeedback(
            offer_id="a" * 32, intent_id="b" * 32, vendor_id=vendor.vendor_id,
            reason=ReasonCode.PRICE_OVER_MAX, detail="above max", at=utcnow(),
        )  # fmt: skip
        await harness.send_feedback(refused)
        assert feedback == [refused] and running.stats.feedback_received == 1
        ours = make_agreement(vendor.key, vendor.vendor_id, market)
        await harness.send_agreement(ours)
        stranger = make_agreement(SigningKey.generate(), vendor.vendor_id, market)
        await harness.send_agreement(stranger)  # recorded with another vendor key: skipped
        assert agreements == [ours]
        assert running.stats.agreements_received == 1 and running.stats.invalid == 1


async def test_the_in_memory_transport_says_when_no_vendor_reads_a_record(
    unique: Callable[[str], str],
) -> None:
    """A test that forgot to serve the vendor gets told what to do, not a hang."""
    from intentcast.agents import InMemoryTransport, NotHandledError

    vendor, market = quoting_vendor(unique)
    kafka = InMemoryTransport()
    with pytest.raises(NotHandledError, match="serving"):
        await kafka.send_intent(make_intent(market=market))
    async with vendor.serving(kafka):
        other = make_intent(market=unique("cars"))
        with pytest.raises(NotHandledError, match="consumes"):
            await kafka.send_intent(other)
        assert await kafka.send_intent(make_intent(market=market)) is not None
    assert [r.key for r in kafka.topics[vendor.profile_topic]] == [vendor.vendor_id.encode()]


async def test_serving_again_on_the_same_memory_transport_reads_on_from_the_commit(
    unique: Callable[[str], str],
) -> None:
    """As on Kafka, the vendor's group remembers what it handled: a restart answers only new
    intents."""
    from intentcast.agents import InMemoryTransport

    vendor, market = quoting_vendor(unique)
    kafka = InMemoryTransport()
    async with vendor.serving(kafka):
        assert await kafka.send_intent(kafka.new_intent(market=market)) is not None
    async with vendor.serving(kafka) as restarted:
        assert await kafka.send_intent(kafka.new_intent(market=market)) is not None
        assert restarted.stats.intents_seen == 1
    assert len(kafka.offers()) == 2
