"""The customer client on a real broker, with the processors' replies written by the test.

The client waits for replies the processors would send (intake status, delivered offers,
agreement). These tests play those roles by hand, only to unblock and check the client; the
whole flow with the real processors is proven by the flow tests.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from decimal import Decimal

import pytest

from intentcast.agents import (
    ClientSettings,
    CustomerClient,
    IntentHandle,
    IntentRejectedError,
    ReplyTimeoutError,
)
from intentcast.agents.partitions import partition_for
from intentcast.schemas.canonical import decode
from intentcast.schemas.events import StatusKind
from intentcast.schemas.intent import Intent
from intentcast.schemas.reasons import ReasonCode
from intentcast.schemas.topics import (
    INTENTS_SUBMITTED,
)
from tests.agents.conftest import PARTITIONS, FakeIntake
from tests.conftest import wait_for
from tests.watchers import TopicWatcher

pytestmark = [pytest.mark.kafka, pytest.mark.usefixtures("flow_topics")]

Tail = Callable[[str], Awaitable[TopicWatcher]]


async def publish(client: CustomerClient, market: str, intake: float = 20.0) -> IntentHandle:
    return await client.publish(
        market=market, item="city bike", max_price=Decimal("200"), currency="EUR",
        country="DE", city="Berlin", terms=["SD-BASE", "P2B1"], intake_timeout=intake,
    )  # fmt: skip


async def test_published_intent_is_keyed_signed_and_on_its_partition(
    kafka_bootstrap: str, unique: Callable[[str], str], fake_intake: FakeIntake, tail: Tail
) -> None:
    """The test answers ``accepted`` in intake's place, only so ``publish`` can return."""
    market = unique("bikes")
    seen = fake_intake(market)
    submitted = await tail(INTENTS_SUBMITTED)
    async with CustomerClient(ClientSettings(bootstrap=kafka_bootstrap)) as client:
        handle = await publish(client, market)
        assert handle.status is not None and handle.status.status is StatusKind.ACCEPTED
    key = handle.intent_id.encode()

    async def landed() -> bool:
        return any(r.key == key for r in await submitted.poll())

    await wait_for(landed, what="the intent on intentcast.intents.submitted")
    [record] = [r for r in submitted.records if r.key == key]
    intent = decode(Intent, record.value)
    intent.verify()
    assert intent == handle.intent and [i.intent_id for i in seen] == [handle.intent_id]
    assert record.partition == partition_for(handle.intent_id, PARTITIONS)


async def test_two_intents_share_no_key_id_or_client_id(
    kafka_bootstrap: str, unique: Callable[[str], str], fake_intake: FakeIntake
) -> None:
    """Unlinkability: fresh keys, ids and Kafka client ids for every intent of one client."""
    market = unique("bikes")
    fake_intake(market)
    async with CustomerClient(ClientSettings(bootstrap=kafka_bootstrap)) as client:
        first = await publish(client, market)
        second = await publish(client, market)
    a, b = first.intent, second.intent
    assert a.intent_id != b.intent_id
    assert a.signing_key != b.signing_key and a.sealing_key != b.sealing_key
    assert first.client_id != second.client_id
    assert first.keys.signing.seed != second.keys.signing.seed


async def test_rejected_intent_raises_with_the_reason(
    kafka_bootstrap: str, unique: Callable[[str], str], fake_intake: FakeIntake
) -> None:
    """The test plays intake and refuses, to check the client surfaces the reason code."""
    market = unique("bikes")
    fake_intake(market, refuse=ReasonCode.PII_DETECTED)
    async with CustomerClient(ClientSettings(bootstrap=kafka_bootstrap)) as client:
        with pytest.raises(IntentRejectedError) as info:
            await publish(client, market)
    assert info.value.reason is ReasonCode.PII_DETECTED


async def test_no_intake_answer_is_a_timeout(
    kafka_bootstrap: str, unique: Callable[[str], str]
) -> None:
    """With no intake running for this market, publish gives up with a clear error."""
    async with CustomerClient(ClientSettings(bootstrap=kafka_bootstrap)) as client:
        with pytest.raises(ReplyTimeoutError, match="intake status"):
            await publish(client, unique("bikes"), intake=1.0)
