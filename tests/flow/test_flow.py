"""The whole flow on a real Kafka with the real processors and the example vendors.

Every refused message is checked for its reason: on the customer's status topic, the vendor's
private feedback, or the dead-letter topic.
"""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from aiokafka import AIOKafkaProducer

from intentcast.agents import (
    ClientSettings,
    CustomerClient,
    IntentKeys,
    OfferDraft,
    Vendor,
    build_offer,
)
from intentcast.broker.audit import verify_log
from intentcast.broker.settings import BrokerSettings
from intentcast.processes import Processors
from intentcast.schemas import (
    ACCEPTANCES,
    AGREEMENTS,
    INTENTS_SUBMITTED,
    OFFERS_SUBMITTED,
    Acceptance,
    EntryType,
    IntentStatus,
    LogEntry,
    OfferFeedback,
    ReasonCode,
    SigningKey,
    content_hash,
    decode,
    encode,
    refs_for,
    sign_model,
    utcnow,
    vendor_feedback_topic,
)
from tests.agents.helpers import make_intent
from tests.watchers import TopicWatcher, dead_letter_for, status_of, watcher

pytestmark = pytest.mark.kafka


def _client(bootstrap: str) -> CustomerClient:
    return CustomerClient(ClientSettings(bootstrap=bootstrap))


async def _publish(client: CustomerClient, terms: tuple[str, ...], **kw: object) -> object:
    return await client.publish(
        market="bikes", item="tandem bike", max_price=Decimal("200"), currency="EUR",
        country="DE", city="Berlin", terms=list(terms), intake_timeout=90.0, **kw,  # type: ignore[arg-type]
    )  # fmt: skip


async def test_full_flow_agreement_receipt_and_audit(
    kafka_bootstrap: str, vendors: dict[str, Vendor], processors: Processors
) -> None:
    feedback = await watcher(kafka_bootstrap, vendor_feedback_topic("premium-wheels"))
    skipped_before = vendors["careful-cycles"].stats.skipped_terms
    async with _client(kafka_bootstrap) as client:
        handle = await client.publish(
            market="bikes", item="tandem bike", max_price=Decimal("200"), currency="EUR",
            country="DE", city="Berlin", terms=["SD-BASE", "P2B1", "PDC-AI"], intake_timeout=90,
        )  # fmt: skip
        offers = [o async for o in handle.offers(timeout=20.0)]
        # only acme's offer passes: careful declines PDC-AI, premium is over the ceiling
        assert [o.vendor_id for o in offers] == ["acme-bikes"]
        rejected = await feedback.wait(
            lambda r: decode(OfferFeedback, r.value).intent_id == handle.intent_id,
            "premium's feedback",
        )
        fb = decode(OfferFeedback, rejected.value)
        assert fb.reason is not None
        assert fb.reason.value == "price_over_max"
        assert vendors["careful-cycles"].stats.skipped_terms > skipped_before

        agreement = await handle.accept(offers[0], timeout=60)
        agreement.verify()
        assert agreement.offer == offers[0]
        assert agreement.intent.intent_id == handle.intent_id
        assert [t.id for t in agreement.terms] == sorted(["SD-BASE", "P2B1", "PDC-AI"])
        assert client.receipts, "the customer keeps its own receipt"
    await feedback.consumer.stop()
    audit = await verify_log(BrokerSettings(bootstrap=kafka_bootstrap))
    assert audit.ok, audit.breaks
    assert audit.verified >= 1


async def test_expired_and_invalid_intents_are_refused_with_reasons(
    kafka_bootstrap: str,
    processors: Processors,
    producer: AIOKafkaProducer,
    statuses: TopicWatcher,
    dead_letters: TopicWatcher,
) -> None:
    expired = make_intent(expires_in=timedelta(seconds=-5))
    unknown_market = make_intent(market="submarines")
    pii = make_intent(item="bike, call me on +44 7700 900123")
    for intent in (expired, unknown_market, pii):
        await producer.send_and_wait(
            INTENTS_SUBMITTED, encode(intent), key=intent.intent_id.encode()
        )
    await producer.send_and_wait(INTENTS_SUBMITTED, b"{not json", key=b"junk-key")
    for intent, reason in (
        (expired, "intent_expired"),
        (unknown_market, "market_unknown"),
        (pii, "pii_detected"),
    ):
        record = await statuses.wait(status_of(intent.intent_id, "rejected"), reason, 90)
        assert decode(IntentStatus, record.value).reason.value == reason  # type: ignore[union-attr]
        await dead_letters.wait(dead_letter_for(intent.intent_id.encode(), reason), reason)
    letter = await dead_letters.wait(dead_letter_for(b"junk-key", "malformed_json"), "junk")
    headers = dict(letter.headers)
    assert headers["intentcast.dlq.topic"] == INTENTS_SUBMITTED.encode()
    assert headers["intentcast.dlq.reason"] == b"malformed_json"


async def test_open_intent_expires_and_is_dropped(
    kafka_bootstrap: str, processors: Processors, statuses: TopicWatcher
) -> None:
    # the intent table's changelog: a dropped record is a tombstone for the intent's key
    table = await watcher(
        kafka_bootstrap, f"{processors.env['INTENTCAST_APP_ID']}-intents-changelog"
    )
    async with _client(kafka_bootstrap) as client:
        handle = await client.publish(
            market="groceries", item="oat milk", max_price=Decimal("5"), currency="EUR",
            country="DE", expires_in=timedelta(seconds=3), intake_timeout=90,
        )  # fmt: skip
        await statuses.wait(status_of(handle.intent_id, "expired"), "expiry", 30)
    key = handle.intent_id.encode()
    try:
        stored = await table.wait(lambda r: r.key == key and r.value is not None, "stored", 30)
        dropped = await table.wait(lambda r: r.key == key and r.value is None, "dropped", 30)
        assert (dropped.partition, dropped.offset) > (stored.partition, stored.offset)
    finally:
        await table.consumer.stop()


async def test_forged_signature_wrong_terms_and_undelivered_acceptance(
    kafka_bootstrap: str,
    processors: Processors,
    vendors: dict[str, Vendor],
    producer: AIOKafkaProducer,
    statuses: TopicWatcher,
    dead_letters: TopicWatcher,
) -> None:
    feedback = await watcher(kafka_bootstrap, vendor_feedback_topic("acme-bikes"))
    keys = IntentKeys.generate()
    intent = make_intent(keys=keys, market="groceries", terms=("SD-BASE",), max_price="50")
    key = intent.intent_id.encode()
    await producer.send_and_wait(INTENTS_SUBMITTED, encode(intent), key=key)
    await statuses.wait(status_of(intent.intent_id, "accepted"), "intake")

    # a forger claims to be acme-bikes but signs with its own key: dead-lettered
    forged = build_offer(
        OfferDraft(price=Decimal("10")), intent, vendor_id="acme-bikes", key=SigningKey.generate()
    )
    await producer.send_and_wait(OFFERS_SUBMITTED, encode(forged), key=key)
    await dead_letters.wait(dead_letter_for(key, "bad_signature"), "forged offer")

    # acme's own key, but the offer accepts another term: acme hears why on its feedback topic
    acme_key = vendors["acme-bikes"].key
    fewer = build_offer(
        OfferDraft(price=Decimal("10")), intent, vendor_id="acme-bikes", key=acme_key
    ).model_copy(update={"terms": refs_for(["P2B1"])}, deep=True)
    fewer = sign_model(fewer.model_copy(update={"signature": ""}), acme_key)
    await producer.send_and_wait(OFFERS_SUBMITTED, encode(fewer), key=key)
    await feedback.wait(
        lambda r: (
            decode(OfferFeedback, r.value).offer_id == fewer.offer_id
            and decode(OfferFeedback, r.value).reason == ReasonCode.TERMS_NOT_ACCEPTED
        ),
        "terms feedback",
    )

    # the customer accepts an offer that was never delivered
    acceptance = sign_model(
        Acceptance(
            intent_id=intent.intent_id,
            offer_id=forged.offer_id,
            offer_hash=content_hash(forged),
            accepted_at=utcnow(),
        ),
        keys.signing,
    )
    await producer.send_and_wait(ACCEPTANCES, encode(acceptance), key=key)
    record = await statuses.wait(status_of(intent.intent_id, "rejected"), "acceptance refusal")
    assert decode(IntentStatus, record.value).reason.value == "offer_not_delivered"  # type: ignore[union-attr]
    await feedback.consumer.stop()


async def test_double_acceptance_makes_one_agreement(
    kafka_bootstrap: str,
    processors: Processors,
    vendors: dict[str, Vendor],
    producer: AIOKafkaProducer,
    statuses: TopicWatcher,
) -> None:
    async with _client(kafka_bootstrap) as client:
        handle = await client.publish(
            market="bikes", item="kids bike", max_price=Decimal("150"), currency="EUR",
            country="FR", terms=["SD-BASE"], intake_timeout=90,
        )  # fmt: skip
        offers = [o async for o in handle.offers(timeout=15.0)]
        assert offers
        agreement = await handle.accept(offers[0], timeout=60)
        # the same acceptance again, replayed raw
        again = sign_model(
            Acceptance(
                intent_id=handle.intent_id,
                offer_id=offers[0].offer_id,
                offer_hash=content_hash(offers[0]),
                accepted_at=utcnow(),
            ),
            handle.keys.signing,
        )
        await producer.send_and_wait(ACCEPTANCES, encode(again), key=handle.intent_id.encode())
        record = await statuses.wait(status_of(handle.intent_id, "rejected"), "second accept")
        assert decode(IntentStatus, record.value).reason.value == "already_agreed"  # type: ignore[union-attr]
    ids = []
    async for _, _, value in _log(kafka_bootstrap):
        entry = decode(LogEntry, value or b"")
        if entry.intent_id == handle.intent_id and entry.entry_type is EntryType.AGREEMENT:
            ids.append(entry.content_hash)
    assert ids == [agreement.agreement_id]


def _log(bootstrap: str):  # type: ignore[no-untyped-def]
    from intentcast.broker.audit import iter_log

    return iter_log(BrokerSettings(bootstrap=bootstrap))


async def test_tampered_record_is_caught_by_audit(
    kafka_bootstrap: str, processors: Processors, producer: AIOKafkaProducer
) -> None:
    """Runs last in this module: it leaves a broken link in the shared log on purpose."""
    settings = BrokerSettings(bootstrap=kafka_bootstrap)
    before = await verify_log(settings)
    assert before.ok, before.breaks
    last: LogEntry | None = None
    async for _, _, value in _log(kafka_bootstrap):
        last = decode(LogEntry, value or b"")
    assert last is not None, "earlier tests recorded agreements"
    # a raw producer appends a copy of the last entry, linked, claiming another content
    tampered = last.model_copy(update={
        "seq": last.seq + 1, "prev_hash": last.entry_id, "content_hash": "1" * 64,
    })  # fmt: skip
    meta = await producer.send_and_wait(
        AGREEMENTS, encode(tampered), key=last.intent_id.encode(), partition=last.partition
    )
    after = await verify_log(settings)
    assert not after.ok
    first = after.first_break
    assert first is not None
    assert (first.partition, first.offset) == (last.partition, meta.offset)
    assert "does not verify" in first.problem
