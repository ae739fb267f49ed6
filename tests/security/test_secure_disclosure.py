"""Disclosure in secure mode with the real principals: only the agreed vendor reads it.

ACME (as `vendor-acme-bikes`) makes an agreement with a customer (as the shared `customer`),
which discloses an address to it. The broker itself refuses another vendor's principal the
disclosures topic of ACME, and the customer principal the processors' disclosures input;
what the operator can read there holds no value in clear.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from decimal import Decimal

import pytest
from aiokafka.admin import AIOKafkaAdminClient

from intentcast.agents import CustomerClient, ReceivedDisclosure, Vendor
from intentcast.examples import acme
from intentcast.processes import Processors
from intentcast.schemas import DISCLOSURES, vendor_disclosures_topic
from intentcast.schemas.terms import ROSTER
from tests.conftest import wait_for
from tests.security.conftest import FLOW_VENDOR, VENDOR, SecureKafka
from tests.security.helpers import records_for_key
from tests.security.probes import can_read

pytestmark = pytest.mark.kafka

FIELDS = {
    "name": "Hedy Lamarr",
    "delivery_address": {"lines": ["Am Markt 3"], "city": "Wien", "country": "AT"},
}


@pytest.fixture(scope="module")
async def acme_shop(
    secure_kafka: SecureKafka, secure_processors: Processors
) -> AsyncIterator[tuple[Vendor, list[ReceivedDisclosure]]]:
    vendor = Vendor(
        FLOW_VENDOR, key=acme.KEY, markets=["bikes"], accepts=sorted(ROSTER),
        settings=secure_kafka.client_settings(f"vendor-{FLOW_VENDOR}"),
    )  # fmt: skip
    vendor.on_intent("bikes")(acme.quote)
    got: list[ReceivedDisclosure] = []

    @vendor.on_disclosure
    async def keep(disclosure: ReceivedDisclosure) -> None:
        got.append(disclosure)

    task = asyncio.create_task(vendor.run())
    yield vendor, got
    vendor.stop()
    await asyncio.gather(task, return_exceptions=True)


async def _readable(kafka: SecureKafka, user: str, topic: str) -> bool:
    admin = AIOKafkaAdminClient(**kafka.kwargs(user))
    await admin.start()
    try:
        return await can_read(kafka.kwargs(user), admin, topic)
    finally:
        await admin.close()


async def test_only_the_agreed_vendors_principal_reads_the_disclosure(
    secure_kafka: SecureKafka, acme_shop: tuple[Vendor, list[ReceivedDisclosure]]
) -> None:
    _, got = acme_shop
    async with CustomerClient(secure_kafka.client_settings("customer")) as customer:
        handle = await customer.publish(
            market="bikes", item="touring bike", max_price=Decimal("200"), currency="EUR",
            country="AT", terms=["SD-BASE", "P2B1"], intake_timeout=90.0,
        )  # fmt: skip
        offer = None
        async for delivered in handle.offers(timeout=60.0):
            if delivered.vendor_id == FLOW_VENDOR:
                offer = delivered
                break
        assert offer is not None
        agreement = await handle.accept(offer, timeout=60)
        disclosure = await customer.disclose(agreement, FIELDS)
    await wait_for(lambda: bool(got), timeout=60, what="ACME's disclosure handler")
    assert got[-1].disclosure == disclosure
    assert got[-1].fields.name == "Hedy Lamarr"

    own = vendor_disclosures_topic(FLOW_VENDOR)
    assert await _readable(secure_kafka, f"vendor-{FLOW_VENDOR}", own)
    assert not await _readable(secure_kafka, f"vendor-{VENDOR}", own), "another vendor read it"
    assert not await _readable(secure_kafka, "customer", own)
    assert not await _readable(secure_kafka, "customer", DISCLOSURES)
    assert not await _readable(secure_kafka, "monitor", own)

    # what travelled, as the operator can read it: the envelope in clear, the values sealed
    for topic in (DISCLOSURES, own):
        records = await records_for_key(
            secure_kafka.kwargs("admin"), topic, agreement.intent.intent_id
        )
        for record in records:
            assert b"Hedy" not in record.value and b"Markt" not in record.value
            assert b'"fields":["delivery_address","name"]' in record.value
