"""The vendor SDK keeps retention: it calls @on_retention_end when an agreement's end comes,
attests only after the handler succeeded, retries a failing one, and rebuilds its schedule
from its own topics after a restart (in memory here; tests/retention/test_retention_flow.py
runs it on a real broker)."""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Callable
from datetime import timedelta

from intentcast.agents import Agreement, InMemoryTransport, SigningKey, Vendor
from intentcast.schemas import AGREEMENTS, OfferFeedback, agreement_retention_end, encode
from intentcast.schemas.crypto import SealingKey
from intentcast.schemas.log import RETENTION_ATTESTATION_ENTRY, Reader
from intentcast.schemas.retention import ATTESTED_FEEDBACK
from intentcast.schemas.timeutil import utcnow
from tests.agents.helpers import make_agreement

SOON = timedelta(days=60)  # calls the handler this long ahead: every test agreement is due now


def deleting_vendor(
    unique: Callable[[str], str], *, ahead: timedelta = SOON, fail_first: int = 0
) -> tuple[Vendor, list[Agreement]]:
    vendor_id = unique("v")
    key = SigningKey.from_seed(hashlib.sha256(vendor_id.encode()).digest())
    vendor = Vendor(
        vendor_id, key=key, markets=[unique("m")], accepts=("SD-BASE", "P2B1"),
        delete_ahead=ahead, retention_retry=timedelta(milliseconds=200),
    )  # fmt: skip
    deleted: list[Agreement] = []
    failures = [fail_first]

    @vendor.on_intent()
    async def never(_intent: object) -> None:
        return None

    @vendor.on_retention_end
    async def delete(agreement: Agreement) -> None:
        if failures[0] > 0:
            failures[0] -= 1
            raise RuntimeError("the storage is away")
        deleted.append(agreement)

    return vendor, deleted


async def eventually(condition: Callable[[], bool], timeout: float = 10.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not condition():
        assert loop.time() < deadline, "condition not met in time"
        await asyncio.sleep(0.05)


async def test_the_handler_is_called_at_the_end_then_a_bound_signed_attestation_is_sent(
    unique: Callable[[str], str],
) -> None:
    vendor, deleted = deleting_vendor(unique)
    transport = InMemoryTransport()
    agreement = make_agreement(vendor.key, vendor.vendor_id)
    async with vendor.serving(transport) as running:
        await transport.send_agreement(agreement)
        await eventually(lambda: len(transport.attestations()) == 1)
        [attestation] = transport.attestations()  # verified against the registered key
        assert deleted == [agreement]
        assert attestation.agreement_id == agreement.agreement_id
        assert attestation.intent_id == agreement.intent.intent_id
        assert attestation.retention_end == agreement_retention_end(agreement)
        assert attestation.deleted_at <= utcnow()
        assert running.retention.stats.attested == 1
        await asyncio.sleep(1.5)  # a poll or two later: nothing is called or sent twice
        assert len(deleted) == 1 and len(transport.attestations()) == 1


async def test_nothing_is_due_before_the_end(unique: Callable[[str], str]) -> None:
    vendor, deleted = deleting_vendor(unique, ahead=timedelta(0))
    transport = InMemoryTransport()
    async with vendor.serving(transport) as running:
        await transport.send_agreement(make_agreement(vendor.key, vendor.vendor_id))
        await asyncio.sleep(1.5)
        assert deleted == [] and transport.attestations() == []
        assert running.retention.schedule.pending == 1


async def test_a_failing_handler_is_retried_and_never_attested_until_it_succeeds(
    unique: Callable[[str], str],
) -> None:
    vendor, deleted = deleting_vendor(unique, fail_first=2)
    transport = InMemoryTransport()
    async with vendor.serving(transport) as running:
        await transport.send_agreement(make_agreement(vendor.key, vendor.vendor_id))
        await eventually(lambda: running.retention.stats.handler_errors >= 1)
        assert transport.attestations() == []  # it raised: nothing attested
        await eventually(lambda: len(transport.attestations()) == 1)
        assert running.retention.stats.handler_errors == 2 and len(deleted) == 1


async def served_before_the_end(
    unique: Callable[[str], str],
) -> tuple[Vendor, list[Agreement], InMemoryTransport, tuple[Agreement, Agreement]]:
    """A vendor that received two agreements and stopped before either end came."""
    vendor, deleted = deleting_vendor(unique, ahead=timedelta(0))
    transport = InMemoryTransport()
    pair = (
        make_agreement(vendor.key, vendor.vendor_id),
        make_agreement(vendor.key, vendor.vendor_id),
    )
    async with vendor.serving(transport):
        for agreement in pair:
            await transport.send_agreement(agreement)
    return vendor, deleted, transport, pair


async def test_a_restarted_vendor_rebuilds_its_schedule_and_skips_what_is_attested(
    unique: Callable[[str], str],
) -> None:
    vendor, deleted, transport, (first, second) = await served_before_the_end(unique)
    # the log already holds an attestation of the first (the processors said so)
    transport.publish(
        vendor.feedback_topic, first.intent.intent_id.encode(),
        OfferFeedback(
            offer_id=first.offer.offer_id, intent_id=first.intent.intent_id,
            vendor_id=vendor.vendor_id, reason=None, detail=ATTESTED_FEEDBACK, at=utcnow(),
        ).model_dump_json().encode(),
    )  # fmt: skip
    vendor.delete_ahead = SOON  # restarted later: both agreements' ends have come
    async with vendor.serving(transport) as running:
        # the group committed past both agreements: only the rebuild knows them
        assert running.retention.schedule.knows(second.intent.intent_id)
        await eventually(lambda: len(transport.attestations()) == 1)
        assert [a.agreement_id for a in transport.attestations()] == [second.agreement_id]
        assert deleted == [second]


async def test_after_the_feedback_expired_the_log_still_says_what_is_attested(
    unique: Callable[[str], str],
) -> None:
    """Feedback is kept a week; the log forever. A vendor back after a long outage reads the
    clear part of the log (entry type, intent id) before it deletes and attests again."""
    vendor, deleted, transport, (logged, other) = await served_before_the_end(unique)
    entry = RETENTION_ATTESTATION_ENTRY.entry(
        vendor.attestation(logged), partition=0, seq=1, prev_hash=logged.agreement_id,
        readers={Reader.PROCESSORS: SealingKey.generate().public_key}, recorded_at=utcnow(),
    )  # fmt: skip
    transport.publish(AGREEMENTS, logged.intent.intent_id.encode(), encode(entry))
    vendor.delete_ahead = SOON
    async with vendor.serving(transport) as running:
        assert running.retention.schedule.is_attested(logged.intent.intent_id)
        await eventually(lambda: len(transport.attestations()) == 1)
        assert deleted == [other]
