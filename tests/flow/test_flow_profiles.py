"""Vendor profiles on the real processors: the topic binds the vendor id, the first key stays.

Each vendor writes its profile to its own `intentcast.vendor.<id>.profile`; the processors
republish accepted profiles to `intentcast.vendors.registry`. The vendor topics here are
created after the processors started, so their pattern subscription must find them.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from intentcast.agents import Vendor
from intentcast.broker.settings import BrokerSettings
from intentcast.broker.topic_admin import create_all
from intentcast.processes import Processors
from intentcast.schemas import (
    VENDOR_REGISTRY,
    DeadLetter,
    SigningKey,
    VendorProfile,
    decode,
    encode,
    vendor_profile_topic,
)
from tests.conftest import wait_for
from tests.watchers import TopicWatcher, dead_letter_for

pytestmark = pytest.mark.kafka


def _profile(vendor_id: str, key: SigningKey) -> VendorProfile:
    return Vendor(vendor_id, key=key, markets=["bikes"], accepts=["SD-BASE"]).profile()


async def _registry(bootstrap: str, vendor_ids: set[str]) -> list[VendorProfile]:
    """Every registry record (from the beginning) of these vendors, in log order."""
    consumer = AIOKafkaConsumer(
        VENDOR_REGISTRY, bootstrap_servers=bootstrap, auto_offset_reset="earliest"
    )
    await consumer.start()
    try:
        tps = list(consumer.assignment())
        ends = await consumer.end_offsets(tps)
        found: list[VendorProfile] = []

        async def read_to_end() -> bool:
            batch = await consumer.getmany(timeout_ms=200)
            for records in batch.values():
                found.extend(
                    decode(VendorProfile, r.value)
                    for r in records
                    if r.key is not None and r.key.decode() in vendor_ids
                )
            return all([await consumer.position(tp) >= ends[tp] for tp in tps])

        await wait_for(read_to_end, what="the registry topic read to its end")
        return found
    finally:
        await consumer.stop()


async def test_the_first_key_stays_and_a_profile_binds_to_its_topic(
    kafka_bootstrap: str,
    processors: Processors,
    producer: AIOKafkaProducer,
    dead_letters: TopicWatcher,
    unique: Callable[[str], str],
) -> None:
    vendor_id, squatter_id = unique("pv"), unique("pw")
    await create_all(BrokerSettings(bootstrap=kafka_bootstrap), vendors=[vendor_id])
    topic = vendor_profile_topic(vendor_id)
    first, second = SigningKey.generate(), SigningKey.generate()
    genuine = _profile(vendor_id, first)
    await producer.send_and_wait(topic, encode(genuine), key=vendor_id.encode())

    async def registered() -> bool:
        return genuine in await _registry(kafka_bootstrap, {vendor_id})

    await wait_for(registered, timeout=60, interval=0.5, what="the genuine profile registered")

    # a later profile with another key, on the vendor's own topic: after compaction it would
    # be the only record there, so it must never reach the registry
    forged = _profile(vendor_id, second)
    await producer.send_and_wait(topic, encode(forged), key=vendor_id.encode())
    letter = await dead_letters.wait(
        dead_letter_for(vendor_id.encode(), "vendor_mismatch"), "the key change refused"
    )
    assert decode(DeadLetter, letter.value).source_topic == topic

    # a profile naming another (unregistered) vendor id on this vendor's topic
    squat = _profile(squatter_id, second)
    await producer.send_and_wait(topic, encode(squat), key=squatter_id.encode())
    await dead_letters.wait(
        dead_letter_for(squatter_id.encode(), "vendor_mismatch"), "the squatted id refused"
    )

    listed = await _registry(kafka_bootstrap, {vendor_id, squatter_id})
    assert listed and all(p.vendor_id == vendor_id for p in listed)
    assert {p.signing_key for p in listed} == {first.public_key}, "compaction could keep a forgery"
