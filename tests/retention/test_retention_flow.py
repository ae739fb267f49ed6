"""Retention kept, and seen to be kept, on a real broker with the real processors.

A vendor of the test's own, with a retention end handler that runs its deletions early
(`delete_ahead`), agrees with a customer; the SDK calls the handler and attests, the
processors check the attestation and chain it into the log, the customer learns of it from
the log and `intentcast intent list` shows it. Forged, unbound and repeated attestations are
refused with their reasons on the vendor's feedback. A vendor restarted before an end
rebuilds its schedule from its own topics.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Callable
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from aiokafka import AIOKafkaProducer
from typer.testing import CliRunner

from intentcast.agents import (
    Agreement,
    ClientSettings,
    CustomerClient,
    Intent,
    OfferDraft,
    RetentionState,
    SigningKey,
    Vendor,
    Wallet,
)
from intentcast.broker.settings import BrokerSettings
from intentcast.broker.topic_admin import create_all
from intentcast.cli import app as cli
from intentcast.processes import Processors
from intentcast.schemas import (
    ATTESTATIONS,
    OfferFeedback,
    RetentionAttestation,
    agreement_retention_end,
    decode,
    encode,
    sign_model,
    vendor_feedback_topic,
)
from tests.conftest import wait_for
from tests.watchers import TopicWatcher, status_of, watcher

pytestmark = pytest.mark.kafka

MARKET = "groceries"
EARLY = timedelta(days=60)  # the handler runs this long before each end: at once, here


def retaining_vendor(vendor_id: str, bootstrap: str, ahead: timedelta) -> tuple[Vendor, list[str]]:
    seed = hashlib.sha256(f"retention-test:{vendor_id}".encode()).digest()
    vendor = Vendor(
        vendor_id, key=SigningKey.from_seed(seed), markets=[MARKET],
        accepts=("SD-BASE", "P2B1"), settings=ClientSettings(bootstrap=bootstrap),
        delete_ahead=ahead,
    )  # fmt: skip
    deleted: list[str] = []

    @vendor.on_intent(MARKET)
    async def quote(intent: Intent) -> OfferDraft:
        return OfferDraft(price=Decimal("10"), description="a week of vegetables")

    @vendor.on_retention_end
    async def forget(agreement: Agreement) -> None:
        deleted.append(agreement.agreement_id)

    return vendor, deleted


async def agree(client: CustomerClient, vendor_id: str) -> Agreement:
    handle = await client.publish(
        market=MARKET, item="vegetable box", max_price=Decimal("20"), currency="EUR",
        country="DE", city="Berlin", terms=["SD-BASE", "P2B1"], intake_timeout=90.0,
    )  # fmt: skip
    async for offer in handle.offers(timeout=60.0):
        if offer.vendor_id == vendor_id:
            return await handle.accept(offer, timeout=60.0)
    raise AssertionError(f"no offer from {vendor_id}")


def feedback_of(intent_id: str, reason: str | None, detail: str = "") -> Callable[[object], bool]:
    def match(record: object) -> bool:
        fb = decode(OfferFeedback, record.value)  # type: ignore[attr-defined]
        told = None if fb.reason is None else fb.reason.value
        return fb.intent_id == intent_id and told == reason and detail in fb.detail

    return match


async def test_an_agreement_is_deleted_attested_logged_and_shown_to_the_customer(
    kafka_bootstrap: str,
    ready_processors: Processors,
    producer: AIOKafkaProducer,
    statuses: TopicWatcher,
    unique: Callable[[str], str],
    tmp_path: Path,
) -> None:
    vendor_id = unique("keeper")
    await create_all(BrokerSettings(bootstrap=kafka_bootstrap), vendors=[vendor_id])
    vendor, deleted = retaining_vendor(vendor_id, kafka_bootstrap, EARLY)
    feedback = await watcher(kafka_bootstrap, vendor_feedback_topic(vendor_id))
    wallet = Wallet(tmp_path / "wallet.json")
    settings = ClientSettings(bootstrap=kafka_bootstrap)
    try:
        async with vendor.serving() as running, CustomerClient(settings, wallet) as client:
            agreement = await agree(client, vendor_id)
            intent_id = agreement.intent.intent_id
            # the SDK called the handler, then attested; the processors logged it
            await feedback.wait(feedback_of(intent_id, None, "retention attested"), "logged")
            assert deleted == [agreement.agreement_id]
            await statuses.wait(status_of(intent_id, "retention_attested"), "customer told")
            assert running.retention.schedule.is_attested(intent_id)

            async def attested() -> bool:
                rows = await client.sync_retention()
                return any(r.attested for r in rows if r.intent_id == intent_id)

            await wait_for(attested, timeout=60, what="the attestation read from the log")
            [row] = [r for r in wallet.retention() if r.intent_id == intent_id]
            assert row.attestation is not None
            assert row.attestation.agreement_id == agreement.agreement_id
            assert row.retention_end == agreement_retention_end(agreement)
            assert row.state(row.attestation.deleted_at) is RetentionState.ATTESTED
            assert row.keys_held  # the end has not come: the keys stay

            # refusals, each heard by the vendor with its reason
            genuine = vendor.attestation(agreement)
            await _send(producer, genuine)  # the same agreement again
            await feedback.wait(feedback_of(intent_id, "already_attested"), "a repeat")
            forged = sign_model(genuine, SigningKey.generate())
            await _send(producer, forged)
            await feedback.wait(feedback_of(intent_id, "bad_signature"), "a forgery")
            unbound = sign_model(genuine.model_copy(update={"agreement_id": "e" * 64}), vendor.key)
            await _send(producer, unbound)
            await feedback.wait(feedback_of(intent_id, "agreement_unknown"), "an unbound one")
            assert deleted == [agreement.agreement_id], "nothing is deleted twice"
    finally:
        await feedback.consumer.stop()

    args = ["intent", "list", "--wallet", str(wallet.path), "--bootstrap", kafka_bootstrap]
    result = await asyncio.to_thread(CliRunner().invoke, cli, args)  # the CLI runs its own loop
    assert result.exit_code == 0, result.output
    assert agreement.agreement_id[:12] in result.output
    end = agreement_retention_end(agreement)
    assert end is not None and end.strftime("%Y-%m-%d %H:%M") in result.output
    assert "attested" in result.output and "Dropped" not in result.output


async def _send(producer: AIOKafkaProducer, attestation: RetentionAttestation) -> None:
    key = attestation.intent_id.encode()
    await producer.send_and_wait(ATTESTATIONS, encode(attestation), key=key)


async def test_a_vendor_restarted_before_the_end_still_deletes_and_attests(
    kafka_bootstrap: str,
    ready_processors: Processors,
    unique: Callable[[str], str],
    tmp_path: Path,
) -> None:
    vendor_id = unique("restart")
    await create_all(BrokerSettings(bootstrap=kafka_bootstrap), vendors=[vendor_id])
    patient, _ = retaining_vendor(vendor_id, kafka_bootstrap, timedelta(0))
    settings = ClientSettings(bootstrap=kafka_bootstrap)
    async with CustomerClient(settings, Wallet(tmp_path / "w.json")) as client:
        async with patient.serving() as first:
            agreement = await agree(client, vendor_id)
            schedule = first.retention.schedule
            await wait_for(lambda: schedule.pending == 1, timeout=60, what="the agreement tracked")
        # the group has committed past the agreement; the end "comes" while it is down
        restarted, deleted = retaining_vendor(vendor_id, kafka_bootstrap, EARLY)
        async with restarted.serving() as second:
            rebuilt, intent_id = second.retention.schedule, agreement.intent.intent_id
            await wait_for(
                lambda: rebuilt.is_attested(intent_id), timeout=90,
                what="the rebuilt schedule's attestation logged",
            )  # fmt: skip
            assert deleted == [agreement.agreement_id]
