"""The drills' workload and its verdict: intents in at a steady rate, offers opened, acceptances.

The load generator is its own customer: it holds every intent's keys, publishes intents with
one idempotent acks=all producer (retrying the same bytes until acknowledged, which intake
dedupes), opens the sealed offers on the delivered topic, accepts the first offer of every
k-th intent and watches the status topic. At the end it reads the agreement log and runs
`audit verify`. Pass rule (Kafka's system tests): every acknowledged message is accounted for,
and any duplicate (agreement or delivered offer) fails.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.errors import KafkaError

from drills.harness import console
from drills.vendors import DRILL_MARKET
from intentcast.agents import IntentKeys
from intentcast.broker.kafka_meta import topic_partitions
from intentcast.schemas import (
    ACCEPTANCES,
    INTENT_STATUS,
    INTENTS_SUBMITTED,
    OFFERS_DELIVERED,
    Acceptance,
    DeliveredOffer,
    Intent,
    IntentStatus,
    OfferFeedback,
    Place,
    SchemaError,
    Want,
    content_hash,
    decode,
    encode,
    new_id,
    open_offer,
    refs_for,
    sign_model,
    utcnow,
    vendor_feedback_topic,
)

FINAL = {"agreed", "expired", "rejected", "cancelled"}


@dataclass
class FlowPlan:
    intents: int = 1000
    rate: float = 50.0  # intents per second
    accept_every: int = 2  # accept the first offer of every k-th intent
    expires_s: float = 60.0
    vendors: tuple[str, ...] = ()
    settle_timeout_s: float = 300.0

    @classmethod
    def for_drill(
        cls,
        vendors: tuple[str, ...],
        intents: int,
        rate: float,
        expires_s: float,
        accept_every: int,
    ) -> FlowPlan:
        """A fault drill's flow: settling may take an intent lifetime and four minutes more."""
        return cls(
            intents=intents, rate=rate, expires_s=expires_s, vendors=vendors,
            accept_every=accept_every, settle_timeout_s=expires_s + 240,
        )  # fmt: skip


@dataclass
class FlowState:
    keys: dict[str, IntentKeys] = field(default_factory=dict)
    to_accept: set[str] = field(default_factory=set)
    acked: set[str] = field(default_factory=set)
    publish_retries: int = 0
    offers_seen: Counter[str] = field(default_factory=Counter)  # offer_id -> deliveries
    vendors_of: dict[str, set[str]] = field(default_factory=dict)  # intent -> vendor ids
    pair_offers: Counter[tuple[str, str]] = field(default_factory=Counter)  # (intent, vendor)
    accepted: dict[str, str] = field(default_factory=dict)  # intent -> offer_id (acked)
    acceptance_retries: int = 0
    statuses: dict[str, list[str]] = field(default_factory=dict)
    reasons: Counter[str] = field(default_factory=Counter)
    feedback: Counter[str] = field(default_factory=Counter)  # refusal reasons vendors heard
    answered: set[tuple[str, str]] = field(default_factory=set)  # (intent, vendor) with feedback
    pending: set[asyncio.Task[None]] = field(default_factory=set)

    def final_of(self, intent_id: str) -> str | None:
        kinds = self.statuses.get(intent_id, [])
        for kind in ("agreed", "cancelled", "expired", "rejected"):
            if kind in kinds:
                return kind
        return None


def make_intent(keys: IntentKeys, expires_s: float) -> Intent:
    now = utcnow()
    intent = Intent(
        intent_id=new_id(),
        market=DRILL_MARKET,
        want=Want(item="drill widget"),
        max_price=Decimal("100"),
        currency="EUR",
        place=Place(country="DE", city="Berlin"),
        expires_at=now + timedelta(seconds=expires_s),
        terms=refs_for(("SD-BASE", "P2B1")),
        signing_key=keys.signing.public_key,
        sealing_key=keys.sealing.public_key,
        created_at=now,
    )
    return sign_model(intent, keys.signing)


async def send_until_acked(
    producer: AIOKafkaProducer, topic: str, key: bytes, value: bytes, on_retry: Callable[[], None]
) -> None:
    """A client that is told "not written" sends the same bytes again until it is told "written"."""
    while True:
        try:
            await (await producer.send(topic, value, key=key))
            return
        except KafkaError as exc:
            on_retry()
            console.log(f"[yellow]send to {topic} failed ({type(exc).__name__}); retrying[/]")
            await asyncio.sleep(1.0)


class Tail:
    """Reads every partition of a topic from its end as of start, calling `handle` per record."""

    def __init__(self, bootstrap: str, topic: str, handle: Callable[[Any], Awaitable[None]]):
        self.bootstrap, self.topic, self.handle = bootstrap, topic, handle
        self.consumer = AIOKafkaConsumer(
            bootstrap_servers=bootstrap, enable_auto_commit=False, auto_offset_reset="earliest"
        )
        self.task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        # a topic created a moment ago: wait for its partitions (raises if it never appears)
        tps = await topic_partitions(
            {"bootstrap_servers": self.bootstrap}, [self.topic], wait_s=30.0
        )
        await self.consumer.start()
        self.consumer.assign(tps)
        await self.consumer.seek_to_end(*tps)
        for tp in tps:
            await self.consumer.position(tp)
        self.task = asyncio.create_task(self._run())

    async def _run(self) -> None:
        while True:
            batch = await self.consumer.getmany(timeout_ms=500, max_records=500)
            for records in batch.values():
                for record in records:
                    await self.handle(record)

    async def stop(self) -> None:
        if self.task is not None:
            self.task.cancel()
            with contextlib.suppress(asyncio.CancelledError, KafkaError):
                await self.task
        await self.consumer.stop()


class Flow:
    """One run of the workload against a running stack."""

    def __init__(self, bootstrap: str, plan: FlowPlan) -> None:
        self.bootstrap, self.plan, self.state = bootstrap, plan, FlowState()
        self.producer = AIOKafkaProducer(
            bootstrap_servers=bootstrap, acks="all", enable_idempotence=True, linger_ms=5
        )
        self.tails = [
            Tail(bootstrap, OFFERS_DELIVERED, self._on_offer),
            Tail(bootstrap, INTENT_STATUS, self._on_status),
            *(Tail(bootstrap, vendor_feedback_topic(v), self._on_feedback) for v in plan.vendors),
        ]
        self.published = 0
        self.probe_ids: set[str] = set()
        self.probe_answers: set[str] = set()

    async def start(self) -> None:
        await self.producer.start()
        for tail in self.tails:
            await tail.start()
        await self.warm_up()

    async def warm_up(self, timeout: float = 120.0) -> None:
        """Probe intents (not counted) until every vendor has answered one: all are registered.

        A fresh probe every 15 s: a vendor whose first answer came before its registration
        reached the processors does not answer the same intent twice.
        """
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            intent = make_intent(IntentKeys.generate(), 120)
            self.probe_ids.add(intent.intent_id)
            key = intent.intent_id.encode()
            await self.producer.send_and_wait(INTENTS_SUBMITTED, encode(intent), key=key)
            round_end = min(deadline, time.monotonic() + 15)
            while time.monotonic() < round_end:
                if all(v in self.probe_answers for v in self.plan.vendors):
                    return
                await asyncio.sleep(0.2)
        console.log(f"[yellow]warm-up: only {sorted(self.probe_answers)} answered[/]")

    async def stop(self) -> None:
        for task in list(self.state.pending):
            task.cancel()
        for tail in self.tails:
            await tail.stop()
        await self.producer.stop()

    def _retry(self) -> None:
        self.state.publish_retries += 1

    async def publish_all(self) -> None:
        """Publish the planned intents at the planned rate; return once all are acknowledged."""
        plan, st = self.plan, self.state
        start = time.monotonic()
        sends: list[asyncio.Task[None]] = []
        for i in range(plan.intents):
            delay = start + i / plan.rate - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            keys = IntentKeys.generate()
            intent = make_intent(keys, plan.expires_s)
            st.keys[intent.intent_id] = keys
            if i % plan.accept_every == 0:
                st.to_accept.add(intent.intent_id)
            sends.append(asyncio.create_task(self._publish(intent)))
            self.published = i + 1
        await asyncio.gather(*sends)

    async def _publish(self, intent: Intent) -> None:
        key = intent.intent_id.encode()
        await send_until_acked(self.producer, INTENTS_SUBMITTED, key, encode(intent), self._retry)
        self.state.acked.add(intent.intent_id)

    async def _on_offer(self, record: Any) -> None:
        st = self.state
        intent_id = (record.key or b"").decode(errors="replace")
        keys = st.keys.get(intent_id)
        if keys is None:
            return  # not ours
        try:
            offer = open_offer(decode(DeliveredOffer, record.value or b""), keys.sealing)
        except SchemaError:
            return
        st.offers_seen[offer.offer_id] += 1
        st.vendors_of.setdefault(intent_id, set()).add(offer.vendor_id)
        st.pair_offers[(intent_id, offer.vendor_id)] += 1
        if intent_id in st.to_accept and intent_id not in st.accepted:
            st.accepted[intent_id] = ""  # claimed: one acceptance per intent
            acceptance = sign_model(
                Acceptance(
                    intent_id=intent_id,
                    offer_id=offer.offer_id,
                    offer_hash=content_hash(offer),
                    accepted_at=utcnow(),
                ),
                keys.signing,
            )
            task = asyncio.create_task(self._accept(intent_id, offer.offer_id, acceptance))
            st.pending.add(task)
            task.add_done_callback(st.pending.discard)

    async def _accept(self, intent_id: str, offer_id: str, acceptance: Acceptance) -> None:
        def retry() -> None:
            self.state.acceptance_retries += 1

        key = intent_id.encode()
        await send_until_acked(self.producer, ACCEPTANCES, key, encode(acceptance), retry)
        self.state.accepted[intent_id] = offer_id

    async def _on_status(self, record: Any) -> None:
        try:
            status = decode(IntentStatus, record.value or b"")
        except SchemaError:
            return
        if status.intent_id not in self.state.keys:
            return
        self.state.statuses.setdefault(status.intent_id, []).append(status.status.value)
        if status.reason is not None:
            self.state.reasons[f"{status.status.value}:{status.reason.value}"] += 1

    async def _on_feedback(self, record: Any) -> None:
        try:
            feedback = decode(OfferFeedback, record.value or b"")
        except SchemaError:
            return
        if feedback.intent_id in self.probe_ids and feedback.reason is None:
            self.probe_answers.add(feedback.vendor_id)
        if feedback.intent_id not in self.state.keys:
            return
        self.state.answered.add((feedback.intent_id, feedback.vendor_id))
        if feedback.reason is not None:
            self.state.feedback[feedback.reason.value] += 1

    def settled(self) -> bool:
        st = self.state
        if len(st.acked) < self.plan.intents or st.pending:
            return False
        if not all(st.final_of(i) is not None for i in st.acked):
            return False
        # every vendor's answer (feedback) is in too, or the verdict would race late answers
        return all((i, v) in st.answered for i in st.acked for v in self.plan.vendors)

    def unsettled(self) -> int:
        return sum(1 for i in self.state.acked if self.state.final_of(i) is None)

    async def wait_settled(self, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.settled():
                return True
            await asyncio.sleep(0.5)
        return self.settled()
