"""`intentcast demo`: the whole flow on a real Kafka, start to audit, then everything stopped.

Kafka (started if nothing answers on the port), topics, the processors in a child process, the
three example vendors in this process, one customer intent, the offers (one vendor declines
the terms, one is refused over price, one is delivered), the acceptance, the agreement and the
audit of the log.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import os
import tempfile
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition

from intentcast.broker.audit import verify_log
from intentcast.broker.kafka_meta import topic_partitions
from intentcast.broker.settings import BrokerSettings
from intentcast.broker.topic_admin import create_all
from intentcast.processes import Processors, ensure_kafka
from intentcast.schemas import OfferFeedback, SchemaError, decode, vendor_feedback_topic

if TYPE_CHECKING:  # the client is imported when the flow runs, not with the CLI
    from intentcast.agents import CustomerClient, IntentHandle, Vendor

EXAMPLES = (
    "intentcast.examples.acme",
    "intentcast.examples.careful",
    "intentcast.examples.premium",
)
DEMO_TERMS = ("SD-BASE", "P2B1", "PDC-AI")


@dataclass
class DemoResult:
    intents: int = 0
    offers_delivered: int = 0
    offers_rejected: int = 0
    agreements: int = 0
    audit_verified: bool = False
    audit_records: int = 0
    declined_terms: int = 0
    rejections: list[tuple[str, str, str]] = field(default_factory=list)  # vendor, reason, detail
    offers: list[tuple[str, str, str]] = field(default_factory=list)  # vendor, price, description
    agreement_id: str = ""
    seconds: float = 0.0

    def summary(self) -> dict[str, Any]:
        return {
            "intents": self.intents,
            "offers_delivered": self.offers_delivered,
            "offers_rejected": self.offers_rejected,
            "agreements": self.agreements,
            "audit_verified": self.audit_verified,
        }


Say = Callable[[str], None]
Batch = dict[TopicPartition, list[ConsumerRecord[bytes, bytes]]]


@contextlib.asynccontextmanager
async def _feedback_reader(
    bootstrap: str, vendor_ids: list[str]
) -> AsyncIterator[AIOKafkaConsumer]:
    """Vendors' feedback topics from their end: the refusals of the demo's offers come here."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap, enable_auto_commit=False, client_id="intentcast-demo"
    )
    tps = await topic_partitions(
        {"bootstrap_servers": bootstrap},
        [vendor_feedback_topic(v) for v in vendor_ids],
        wait_s=30.0,  # the topics were created a moment ago
    )
    await consumer.start()
    try:
        consumer.assign(tps)
        await consumer.seek_to_end(*tps)
        yield consumer
    finally:
        await consumer.stop()


@contextlib.asynccontextmanager
async def _vendors_running(vendors: list[Vendor], say: Say) -> AsyncIterator[None]:
    tasks = [asyncio.create_task(v.run(), name=v.vendor_id) for v in vendors]
    try:
        say(f"vendors running: {', '.join(v.vendor_id for v in vendors)}")
        yield
    finally:
        for v in vendors:
            v.stop()
        await asyncio.gather(*tasks, return_exceptions=True)


async def _publish(
    client: CustomerClient, result: DemoResult, say: Say, timeout: float
) -> IntentHandle:
    handle = await client.publish(
        market="bikes",
        item="tandem bike for two kids",
        max_price=Decimal("200"),
        currency="EUR",
        country="DE",
        city="Berlin",
        terms=list(DEMO_TERMS),
        intake_timeout=timeout,
    )
    result.intents = 1
    say(
        f"intent {handle.intent_id[:12]}… published: tandem bike, at most 200 EUR, "
        f"terms {', '.join(DEMO_TERMS)}"
    )
    return handle


async def _first_offer(handle: IntentHandle, result: DemoResult, say: Say, timeout: float) -> None:
    async for offer in handle.offers(timeout=timeout):
        result.offers.append(
            (offer.vendor_id, f"{offer.price} {offer.currency}", offer.description)
        )
        say(f"offer delivered from {offer.vendor_id}: {offer.price} {offer.currency}")
        return


def _refusal(value: bytes | None, intent_id: str) -> tuple[str, str, str] | None:
    """(vendor, reason, detail) if the record refuses an offer for `intent_id`; other
    intents' feedback and delivered offers' (no reason) are not the demo's concern."""
    try:
        fb = decode(OfferFeedback, value or b"")
    except SchemaError:
        return None
    if fb.intent_id != intent_id or fb.reason is None:
        return None
    return fb.vendor_id, fb.reason.value, fb.detail


def _refusals_in(batch: Batch, intent_id: str) -> list[tuple[str, str, str]]:
    found = (_refusal(record.value, intent_id) for part in batch.values() for record in part)
    return [refusal for refusal in found if refusal is not None]


async def _collect_refusals(
    feedback: AIOKafkaConsumer,
    intent_id: str,
    careful: Vendor,
    deadline: float,
    result: DemoResult,
    say: Say,
) -> None:
    """Until an offer was refused and careful-cycles declined the terms, or the deadline."""

    def heard_both() -> bool:
        return bool(result.rejections) and careful.stats.skipped_terms > 0

    while time.monotonic() < deadline and not heard_both():
        batch = await feedback.getmany(timeout_ms=200)
        for vendor_id, reason, detail in _refusals_in(batch, intent_id):
            result.rejections.append((vendor_id, reason, detail))
            say(f"offer from {vendor_id} refused: {reason} ({detail})")


def _count_answers(handle: IntentHandle, careful: Vendor, result: DemoResult, say: Say) -> None:
    result.declined_terms = careful.stats.skipped_terms
    if careful.stats.skipped_terms:
        say("careful-cycles declined: it does not accept PDC-AI")
    result.offers_delivered = len(handle.received)
    result.offers_rejected = len(result.rejections)


async def _accept_best(handle: IntentHandle, result: DemoResult, say: Say, timeout: float) -> None:
    if not handle.received:
        raise RuntimeError("no offer was delivered; see the processor log")
    best = min(handle.received, key=lambda o: o.price)
    agreement = await handle.accept(best, timeout=timeout)
    result.agreements = 1
    result.agreement_id = agreement.agreement_id
    say(
        f"agreement {agreement.agreement_id[:16]}… with {agreement.offer.vendor_id} at "
        f"{agreement.offer.price} {agreement.offer.currency} (partition "
        f"{agreement.partition}, seq {agreement.seq})"
    )


async def _customer(
    bootstrap: str,
    careful: Vendor,
    feedback: AIOKafkaConsumer,
    result: DemoResult,
    say: Say,
    timeout: float,
) -> None:
    """The customer's side: publish, the first offer, the refusals, accept the cheapest."""
    from intentcast.agents import ClientSettings, CustomerClient

    async with CustomerClient(ClientSettings(bootstrap=bootstrap)) as client:
        handle = await _publish(client, result, say, timeout)
        deadline = time.monotonic() + timeout
        await _first_offer(handle, result, say, timeout)
        await _collect_refusals(feedback, handle.intent_id, careful, deadline, result, say)
        _count_answers(handle, careful, result, say)
        await _accept_best(handle, result, say, timeout)


async def _audit(bootstrap: str, result: DemoResult, say: Say) -> None:
    audit = await verify_log(BrokerSettings(bootstrap=bootstrap))
    result.audit_verified, result.audit_records = audit.ok, audit.verified
    say(f"audit verify: {'ok' if audit.ok else 'BROKEN'}, {audit.verified} agreements verified")


async def _flow(bootstrap: str, say: Say, timeout: float) -> DemoResult:
    os.environ["INTENTCAST_BOOTSTRAP"] = bootstrap
    vendors: list[Vendor] = [importlib.import_module(name).vendor for name in EXAMPLES]
    careful = next(v for v in vendors if v.vendor_id == "careful-cycles")
    result = DemoResult()
    async with (
        _feedback_reader(bootstrap, [v.vendor_id for v in vendors]) as feedback,
        _vendors_running(vendors, say),
    ):
        await _customer(bootstrap, careful, feedback, result, say, timeout)
    await _audit(bootstrap, result, say)
    return result


def run_demo(port: int, say: Say, timeout: float = 60.0, keep_kafka: bool = False) -> DemoResult:
    started = time.monotonic()
    workdir = Path(tempfile.mkdtemp(prefix="intentcast-demo-"))
    say(f"Kafka on 127.0.0.1:{port}…")
    bootstrap, node = ensure_kafka(port, workdir / "kafka")
    say("Kafka started" if node else "using the Kafka already running")
    try:
        settings = BrokerSettings(bootstrap=bootstrap)
        vendor_ids = ["acme-bikes", "careful-cycles", "premium-wheels"]
        asyncio.run(create_all(settings, vendors=vendor_ids))
        say("topics ready")
        processors = Processors(bootstrap, workdir / "processors", workdir / "processors.log")
        with processors:
            say(f"processors started (log: {processors.log})")
            result = asyncio.run(_flow(bootstrap, say, timeout))
        say("processors stopped")
    finally:
        if node is not None and not keep_kafka:
            node.stop()
            say("Kafka stopped")
    result.seconds = time.monotonic() - started
    return result
