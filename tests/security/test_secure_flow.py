"""The whole flow in secure mode with the real principals, and attacks on what it promises.

Processors run as `processors`, ACME as `vendor-acme-bikes`, a second vendor as `vendor-alpha`
and customers as the shared `customer`. Covered here and not in tests/flow: confidentiality of
delivered offers against another customer, unlinkability of two intents of one client, exact
and altered offer replays, the per-vendor offer limit, and a registered vendor signing for
another one.
"""

from __future__ import annotations

import asyncio
import base64
from collections.abc import AsyncIterator
from decimal import Decimal
from typing import Any

import orjson
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import TopicAuthorizationFailedError

from intentcast.agents import (
    CustomerClient,
    IntentHandle,
    IntentKeys,
    OfferDraft,
    Vendor,
    build_offer,
)
from intentcast.processes import Processors
from intentcast.schemas import (
    DEAD_LETTERS,
    OFFERS_DELIVERED,
    OFFERS_SUBMITTED,
    VENDOR_REGISTRY,
    DeadLetter,
    DeliveredOffer,
    Intent,
    Offer,
    OfferFeedback,
    ReasonCode,
    SchemaError,
    SigningKey,
    decode,
    encode,
    open_offer,
    sign_model,
    vendor_feedback_topic,
    vendor_profile_topic,
)
from intentcast.schemas.terms import ROSTER
from tests.conftest import wait_for
from tests.security.conftest import FLOW_VENDOR, OTHER_VENDOR, VENDOR, SecureKafka
from tests.security.helpers import records_for_key
from tests.security.probes import can_read

pytestmark = pytest.mark.kafka


@pytest.fixture(scope="module")
async def alpha(
    secure_kafka: SecureKafka, secure_processors: Processors
) -> AsyncIterator[tuple[Vendor, list[OfferFeedback]]]:
    """Vendor alpha: registered, answers nothing itself; the tests send its offers by hand."""
    vendor = Vendor(
        VENDOR, key=SigningKey.generate(), markets=["strollers"], accepts=sorted(ROSTER),
        settings=secure_kafka.client_settings(f"vendor-{VENDOR}"),
    )  # fmt: skip
    heard: list[OfferFeedback] = []

    @vendor.on_intent("strollers")
    async def decline(intent: Intent) -> None:
        return None

    @vendor.on_feedback
    async def keep(feedback: OfferFeedback) -> None:
        heard.append(feedback)

    task = asyncio.create_task(vendor.run())
    yield vendor, heard
    vendor.stop()
    await asyncio.gather(task, return_exceptions=True)


@pytest.fixture
def customer(secure_kafka: SecureKafka) -> CustomerClient:
    return CustomerClient(secure_kafka.client_settings("customer"))


async def _publish(client: CustomerClient, market: str = "bikes", **kw: Any) -> IntentHandle:
    options: dict[str, Any] = {
        "item": "tandem bike", "max_price": Decimal("200"), "currency": "EUR",
        "country": "DE", "city": "Berlin", "terms": ["SD-BASE", "P2B1"], "intake_timeout": 90.0,
        **kw,
    }  # fmt: skip
    return await client.publish(market=market, **options)


async def _first_offer(handle: IntentHandle) -> list[Offer]:
    async for offer in handle.offers(timeout=60.0):
        return [offer]
    raise AssertionError(f"no offer delivered to {handle.intent_id}")


async def test_full_flow_with_real_principals(
    acme_vendor: Vendor, customer: CustomerClient
) -> None:
    async with customer:
        handle = await _publish(customer)
        offers = await _first_offer(handle)
        assert [o.vendor_id for o in offers] == [FLOW_VENDOR]
        agreement = await handle.accept(offers[0], timeout=60)
        agreement.verify()
        assert agreement.offer == offers[0]
        assert customer.receipts


async def test_another_customer_learns_nothing_but_the_intent_id(
    secure_kafka: SecureKafka, acme_vendor: Vendor, customer: CustomerClient
) -> None:
    """Both customers hold the shared principal; only the intent key opens the sealed offer."""
    async with customer:
        handle = await _publish(customer, item="kids bike")
        offers = await _first_offer(handle)
        records = await records_for_key(
            secure_kafka.kwargs("customer"), OFFERS_DELIVERED, handle.intent_id
        )
    outsider = IntentKeys.generate()  # another customer: another intent's key
    for record in records:
        delivered = decode(DeliveredOffer, record.value or b"")
        with pytest.raises(SchemaError):
            open_offer(delivered, outsider.sealing)
        assert open_offer(delivered, handle.keys.sealing) == offers[0]  # the owner can
        visible = orjson.loads(record.value or b"")
        assert set(visible) == {"kind", "schema_version", "intent_id", "sealed"}
        assert visible["intent_id"] == handle.intent_id
        ciphertext = base64.urlsafe_b64decode(
            visible["sealed"] + "=" * (-len(visible["sealed"]) % 4)
        )
        headers = b"".join(v for _, v in record.headers)
        offer = offers[0]
        for secret in (offer.vendor_id, offer.offer_id, offer.description, '"price"'):
            for blob in (ciphertext, headers, record.value or b""):
                assert secret.encode() not in blob, f"{secret!r} is readable without the key"


def _leaves(value: Any, path: str = "") -> dict[str, Any]:
    if isinstance(value, dict):
        return {
            k: v for key, item in value.items() for k, v in _leaves(item, f"{path}.{key}").items()
        }
    if isinstance(value, list):
        return {
            k: v for i, item in enumerate(value) for k, v in _leaves(item, f"{path}[{i}]").items()
        }
    return {path: value}


async def test_two_intents_of_one_client_share_only_what_the_customer_said(
    acme_vendor: Vendor, customer: CustomerClient
) -> None:
    """Fresh keys, ids and Kafka client ids per intent: nothing links the two."""
    async with customer:
        first = await _publish(
            customer, market="groceries", item="oat milk", max_price=Decimal("5")
        )
        second = await _publish(
            customer, market="groceries", item="oat milk", max_price=Decimal("5")
        )
        a = _leaves(orjson.loads(encode(first.intent)))
        b = _leaves(orjson.loads(encode(second.intent)))
        shared = {path for path in a if path in b and a[path] == b[path]}
        said = {".market", ".want.item", ".want.quantity", ".want.attributes", ".max_price",
                ".currency", ".place.country", ".place.city", ".place.region", ".kind",
                ".schema_version", ".needed_by"}  # fmt: skip
        said |= {p for p in a if p.startswith(".terms[")}  # the terms, by id, version and hash
        assert shared <= said, f"linkable fields: {sorted(shared - said)}"
        for unique in (".intent_id", ".signing_key", ".sealing_key", ".signature"):
            assert a[unique] != b[unique]
        assert first.client_id != second.client_id
        assert first.client_id.split("-", 1)[1] not in second.client_id


async def _feedback(heard: list[OfferFeedback], offer_id: str, reason: ReasonCode | None) -> None:
    await wait_for(
        lambda: any(f.offer_id == offer_id and f.reason == reason for f in heard),
        timeout=60, what=f"feedback {reason} for {offer_id}",
    )  # fmt: skip


async def test_replays_and_the_offer_limit(
    secure_kafka: SecureKafka,
    alpha: tuple[Vendor, list[OfferFeedback]],
    customer: CustomerClient,
) -> None:
    vendor, heard = alpha
    limit = secure_kafka.broker_settings().max_offers_per_vendor
    send = await _producer(secure_kafka, f"vendor-{VENDOR}")
    try:
        async with customer:
            handle = await _publish(customer, market="strollers", item="twin stroller")
            intent = handle.intent
            offers = [
                build_offer(
                    OfferDraft(price=Decimal(150 - i)), intent, vendor_id=VENDOR, key=vendor.key
                )
                for i in range(limit + 1)
            ]
            await send(encode(offers[0]), intent.intent_id)
            await _feedback(heard, offers[0].offer_id, None)
            # the same bytes again: absorbed, never delivered twice
            await send(encode(offers[0]), intent.intent_id)
            # the same offer id with another price, properly signed: refused as a duplicate
            altered = offers[0].model_copy(update={"price": Decimal("1"), "signature": ""})
            altered = sign_model(altered, vendor.key)
            await send(encode(altered), intent.intent_id)
            await _feedback(heard, altered.offer_id, ReasonCode.DUPLICATE_OFFER)
            for offer in offers[1:limit]:
                await send(encode(offer), intent.intent_id)
                await _feedback(heard, offer.offer_id, None)
            await send(encode(offers[limit]), intent.intent_id)
            await _feedback(heard, offers[limit].offer_id, ReasonCode.TOO_MANY_OFFERS)
            delivered = await records_for_key(
                secure_kafka.kwargs("customer"), OFFERS_DELIVERED, intent.intent_id, at_least=limit
            )
            assert len(delivered) == limit, "one delivery per accepted offer, replays included"
    finally:
        await send.close()


async def test_a_vendor_cannot_sign_for_another_registered_vendor(
    secure_kafka: SecureKafka,
    alpha: tuple[Vendor, list[OfferFeedback]],
    acme_vendor: Vendor,
    customer: CustomerClient,
) -> None:
    vendor, _ = alpha
    send = await _producer(secure_kafka, f"vendor-{VENDOR}")
    try:
        async with customer:
            handle = await _publish(customer, market="strollers", item="pram")
            forged = build_offer(
                OfferDraft(price=Decimal("10")),
                handle.intent,
                vendor_id=FLOW_VENDOR,
                key=vendor.key,
            )
            await send(encode(forged), handle.intent_id)
            letters = await records_for_key(
                secure_kafka.kwargs("admin"), DEAD_LETTERS, handle.intent_id, partitions=1
            )
            reasons = [decode(DeadLetter, r.value or b"").reason for r in letters]
            assert ReasonCode.BAD_SIGNATURE in reasons
            assert not [o async for o in handle.offers(timeout=2.0)]
    finally:
        await send.close()


async def test_a_vendor_reads_its_own_refusals_and_no_other_vendor_can(
    secure_kafka: SecureKafka,
    alpha: tuple[Vendor, list[OfferFeedback]],
    customer: CustomerClient,
) -> None:
    """A bad signature, a schema-invalid offer naming alpha and a refused profile all reach
    vendor-alpha on its own feedback topic (and the operator's dead letters); vendor-acme-bikes
    is refused that topic by the broker."""
    vendor, heard = alpha
    send = await _producer(secure_kafka, f"vendor-{VENDOR}")
    try:
        async with customer:
            handle = await _publish(customer, market="strollers", item="travel cot")
            draft = OfferDraft(price=Decimal("30"))
            forged = build_offer(draft, handle.intent, vendor_id=VENDOR, key=SigningKey.generate())
            await send(encode(forged), handle.intent_id)
            await _feedback(heard, forged.offer_id, ReasonCode.BAD_SIGNATURE)
            unpriced = build_offer(draft, handle.intent, vendor_id=VENDOR, key=vendor.key)
            invalid = encode(unpriced).replace(b'"price":"30",', b"")
            assert invalid != encode(unpriced)
            await send(invalid, handle.intent_id)
            await _feedback(heard, unpriced.offer_id, ReasonCode.SCHEMA_INVALID)
            letters = await records_for_key(
                secure_kafka.kwargs("admin"), DEAD_LETTERS, handle.intent_id, at_least=2,
                partitions=1,
            )  # fmt: skip
            reasons = {decode(DeadLetter, r.value or b"").reason for r in letters}
            assert {ReasonCode.BAD_SIGNATURE, ReasonCode.SCHEMA_INVALID} <= reasons
            assert not [o async for o in handle.offers(timeout=2.0)]
        # its profile, signed by a key that is not the one it names: refused bad_signature
        profile = sign_model(
            vendor.profile().model_copy(update={"signature": ""}), SigningKey.generate()
        )
        producer = AIOKafkaProducer(acks="all", **secure_kafka.kwargs(f"vendor-{VENDOR}"))
        await producer.start()
        try:
            await producer.send_and_wait(
                vendor_profile_topic(VENDOR), encode(profile), key=VENDOR.encode()
            )
        finally:
            await producer.stop()
        await wait_for(
            lambda: any(
                f.reason is ReasonCode.BAD_SIGNATURE and f.offer_id == "" and f.intent_id == ""
                and f.detail.startswith("profile: ") for f in heard
            ),
            timeout=60, what="alpha told of its refused profile",
        )  # fmt: skip
        assert all(f.vendor_id == VENDOR for f in heard)
    finally:
        await send.close()
    for user, allowed in ((f"vendor-{VENDOR}", True), (f"vendor-{FLOW_VENDOR}", False)):
        admin = AIOKafkaAdminClient(**secure_kafka.kwargs(user))
        await admin.start()
        try:
            topic = vendor_feedback_topic(VENDOR)
            assert await can_read(secure_kafka.kwargs(user), admin, topic) is allowed, user
        finally:
            await admin.close()


async def test_a_vendor_cannot_register_a_profile_under_another_vendor_id(
    secure_kafka: SecureKafka,
    alpha: tuple[Vendor, list[OfferFeedback]],
    customer: CustomerClient,
) -> None:
    """vendor-alpha claims the unused id alpha-two: refused by the ACLs, then by the binding."""
    vendor, _ = alpha
    claim = Vendor(
        OTHER_VENDOR, key=vendor.key, markets=["strollers"], accepts=sorted(ROSTER)
    ).profile()
    producer = AIOKafkaProducer(acks="all", **secure_kafka.kwargs(f"vendor-{VENDOR}"))
    await producer.start()
    try:
        # the other vendor's own profile topic: only vendor-alpha-two may write it
        with pytest.raises(TopicAuthorizationFailedError):
            await producer.send_and_wait(
                vendor_profile_topic(OTHER_VENDOR), encode(claim), key=OTHER_VENDOR.encode()
            )
        # everywhere alpha may write: its own profile topic and the offers topic
        for topic in (vendor_profile_topic(VENDOR), OFFERS_SUBMITTED):
            await producer.send_and_wait(topic, encode(claim), key=OTHER_VENDOR.encode())
        letters = await records_for_key(
            secure_kafka.kwargs("admin"), DEAD_LETTERS, OTHER_VENDOR, at_least=2, partitions=1
        )
        refused = {
            (d.source_topic, d.reason) for d in (decode(DeadLetter, r.value) for r in letters)
        }
        assert (vendor_profile_topic(VENDOR), ReasonCode.VENDOR_MISMATCH) in refused
        async with customer:
            handle = await _publish(customer, market="strollers", item="buggy")
            offer = build_offer(
                OfferDraft(price=Decimal("20")), handle.intent, vendor_id=OTHER_VENDOR,
                key=vendor.key,
            )  # fmt: skip
            await producer.send_and_wait(
                OFFERS_SUBMITTED, encode(offer), key=offer.intent_id.encode()
            )
            letters = await records_for_key(
                secure_kafka.kwargs("admin"), DEAD_LETTERS, handle.intent_id, partitions=1
            )
            reasons = {decode(DeadLetter, r.value or b"").reason for r in letters}
            assert reasons & {ReasonCode.VENDOR_UNKNOWN, ReasonCode.BAD_SIGNATURE}
            assert not [o async for o in handle.offers(timeout=2.0)]
        listed = await records_for_key(
            secure_kafka.kwargs("customer"), VENDOR_REGISTRY, VENDOR, partitions=1
        )
        assert listed, "alpha's own profile is registered"
        assert not await _registry_lists(secure_kafka, OTHER_VENDOR)
    finally:
        await producer.stop()


async def _registry_lists(kafka: SecureKafka, vendor_id: str) -> bool:
    """Whether the registry topic holds any record for this vendor id (read to its end)."""
    consumer = AIOKafkaConsumer(enable_auto_commit=False, **kafka.kwargs("customer"))
    await consumer.start()
    tp = TopicPartition(VENDOR_REGISTRY, 0)
    try:
        consumer.assign([tp])
        await consumer.seek_to_beginning(tp)
        end = (await consumer.end_offsets([tp]))[tp]
        found = False
        while await consumer.position(tp) < end:
            batch = await consumer.getmany(tp, timeout_ms=500)
            found |= any(r.key == vendor_id.encode() for r in batch.get(tp, []))
        return found
    finally:
        await consumer.stop()


class _Sender:
    def __init__(self, producer: Any) -> None:
        self.producer = producer

    async def __call__(self, value: bytes, key: str) -> None:
        await self.producer.send_and_wait(OFFERS_SUBMITTED, value, key=key.encode())

    async def close(self) -> None:
        await self.producer.stop()


async def _producer(kafka: SecureKafka, user: str) -> _Sender:
    producer = AIOKafkaProducer(acks="all", enable_idempotence=True, **kafka.kwargs(user))
    await producer.start()
    return _Sender(producer)
