"""Intents flowing between a customer and two vendors while one vendor's topic breaks.

Shared by the destination-fault tests on a plain broker (tests/broker) and a secure one
(tests/security): the fault differs (a deleted topic, a withdrawn ACL), what must hold does
not: every intent gets all its statuses, the other vendor hears everything, the broken
vendor's outputs are dead-lettered, and the processors say so in a few log lines.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

from aiokafka import AIOKafkaConsumer

from intentcast.agents import ClientSettings, CustomerClient, OfferDraft, Vendor
from intentcast.agents.intent_handle import IntentHandle
from intentcast.broker.kafka_meta import topic_partitions
from intentcast.schemas import (
    DEAD_LETTERS,
    ROSTER,
    DeadLetter,
    Intent,
    OfferFeedback,
    SchemaError,
    SigningKey,
    decode,
)
from tests.conftest import wait_for

MARKET = "electronics"
"""No other test's vendors or customers use it on the brokers these tests share."""
Record = Any  # aiokafka's ConsumerRecord[bytes, bytes]


def as_dead_letter(record: Record) -> DeadLetter | None:
    """None for what other tests write to the shared topic (the ACL matrix's probes)."""
    try:
        return decode(DeadLetter, record.value or b"")
    except SchemaError:
        return None


@dataclass
class Heard:
    feedback: dict[str, list[OfferFeedback]]
    agreements: dict[str, list[str]]  # vendor -> intent ids of the agreement copies it got


def flow_vendor(vendor_id: str, settings: ClientSettings, heard: Heard) -> Vendor:
    """Offers 80% of the maximum for every intent of the market; keeps what it hears."""
    seed = hashlib.sha256(f"destination-test:{vendor_id}".encode()).digest()
    vendor = Vendor(
        vendor_id,
        key=SigningKey.from_seed(seed),
        markets=[MARKET],
        accepts=sorted(ROSTER),
        settings=settings,
    )

    @vendor.on_intent(MARKET)
    async def quote(intent: Intent) -> OfferDraft:
        return OfferDraft(price=(intent.max_price * Decimal("0.8")).quantize(Decimal("1")))

    @vendor.on_feedback
    async def keep(feedback: OfferFeedback) -> None:
        heard.feedback.setdefault(vendor_id, []).append(feedback)

    @vendor.on_agreement
    async def keep_copy(agreement: Any) -> None:
        heard.agreements.setdefault(vendor_id, []).append(agreement.intent.intent_id)

    return vendor


@contextlib.asynccontextmanager
async def running(settings: ClientSettings, *vendor_ids: str) -> AsyncIterator[Heard]:
    heard = Heard({}, {})
    vendors = [flow_vendor(v, settings, heard) for v in vendor_ids]
    tasks = [asyncio.create_task(v.run()) for v in vendors]
    try:
        yield heard
    finally:
        for vendor in vendors:
            vendor.stop()
        await asyncio.gather(*tasks, return_exceptions=True)


async def one_round(
    customer: CustomerClient, i: int, vendors: set[str], accept: str
) -> IntentHandle:
    """One intent: an offer from every vendor, the chosen one accepted, every status seen."""
    handle = await customer.publish(
        market=MARKET, item=f"usb cable #{i}", max_price=Decimal("20"), currency="EUR",
        country="DE", intake_timeout=60,
    )  # fmt: skip
    offers = {}
    async for offer in handle.offers(timeout=45.0):
        offers[offer.vendor_id] = offer
        if set(offers) == vendors:
            break
    assert set(offers) == vendors, f"intent {i}: offers only from {sorted(offers)}"
    await handle.accept(offers[accept], timeout=60)

    def all_statuses() -> bool:
        kinds = [s.status.value for s in handle.statuses]
        return kinds.count("offer_delivered") == len(vendors) and "agreed" in kinds

    await wait_for(all_statuses, timeout=30, what=f"every status of intent {i}")
    kinds = [s.status.value for s in handle.statuses]
    assert kinds == ["accepted", *["offer_delivered"] * len(vendors), "agreed"], kinds
    return handle


@dataclass
class Episode:
    before: list[str]  # intents published before the fault was in place
    after: list[str]  # ... and after
    heard: Heard
    log: list[str]  # the processors' log lines from the fault on


async def episode(
    *,
    customer: ClientSettings,
    vendor_settings: ClientSettings,
    steady: str,
    victim: str,
    processors_log: Path,
    processors_alive: Callable[[], bool],
    break_topic: Callable[[], Awaitable[Any]],
    accept_victim: Callable[[int], bool],
    rounds: int = 12,
    break_at: int = 3,
    break_first: bool = False,
) -> Episode:
    """Intents flow; `break_topic` runs while round `break_at` does (or, `break_first`, is
    done before it starts)."""
    vendors = {steady, victim}
    before: list[str] = []
    after: list[str] = []

    def lines() -> list[str]:
        return processors_log.read_text(errors="replace").splitlines()

    async with (
        running(vendor_settings, *vendors) as heard,
        CustomerClient(customer) as client,
    ):
        warm = await one_round(client, -1, vendors, steady)  # both registered and answering
        await warm.close()
        mark = len(lines())
        fault: asyncio.Task[Any] | None = None
        for i in range(rounds):
            if i == break_at:
                fault = asyncio.ensure_future(break_topic())
                if break_first:
                    await fault
            broken = fault is not None and fault.done()
            handle = await one_round(client, i, vendors, victim if accept_victim(i) else steady)
            (after if broken else before).append(handle.intent_id)
            await handle.close()
        assert fault is not None and fault.done(), "the fault took longer than the rounds"
        fault.result()
        least = rounds - break_at - (0 if break_first else 3)
        assert len(after) >= least, f"only {len(after)} rounds after the fault"
        await wait_for(
            lambda: len(heard.feedback.get(steady, [])) >= rounds + 1,
            timeout=30, what="the steady vendor's feedback for every offer",
        )  # fmt: skip
    assert processors_alive(), "the processors stopped"
    return Episode(before, after, heard, lines()[mark:])


async def dead_letters_of(
    kafka_kwargs: dict[str, Any], topic: str, intents: list[str]
) -> dict[str, tuple[Record, DeadLetter]]:
    """The dead letters of `topic`'s records, by intent id, once there is one for each."""
    found: dict[str, tuple[Record, DeadLetter]] = {}
    consumer = AIOKafkaConsumer(enable_auto_commit=False, **kafka_kwargs)
    await consumer.start()
    try:
        tps = await topic_partitions(kafka_kwargs, [DEAD_LETTERS], wait_s=20.0)
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)

        async def all_there() -> bool:
            batch = await consumer.getmany(*tps, timeout_ms=200)
            for records in batch.values():
                for record in records:
                    letter = as_dead_letter(record)
                    if letter and letter.source_topic == topic and record.key is not None:
                        found[record.key.decode()] = (record, letter)
            return all(i in found for i in intents)

        await wait_for(all_there, timeout=30, what=f"dead letters of {topic}")
    finally:
        await consumer.stop()
    return found


def assert_quiet(lines: list[str]) -> None:
    """The old failure logged 23,000 identical lines in two minutes."""
    shown = "\n".join(lines[:40])
    assert len(lines) < 100, f"{len(lines)} log lines for one destination fault:\n{shown}"
