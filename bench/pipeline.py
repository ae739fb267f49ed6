"""The Intentcast pipeline under load: a customer driver publishing intents, accepting offers.

The driver plays many anonymous customers at once: it holds each intent's keys, opens the
sealed offers, accepts the cheapest once every vendor has answered, and measures
intent published → first offer delivered, and acceptance sent → agreement recorded.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from intentcast.agents import IntentKeys
from intentcast.bench.vendors_proc import MARKETS
from intentcast.broker.metrics import Histogram
from intentcast.schemas import (
    ACCEPTANCES,
    AGREEMENT_ENTRY,
    AGREEMENTS,
    INTENTS_SUBMITTED,
    OFFERS_DELIVERED,
    Acceptance,
    DeliveredOffer,
    Intent,
    LogEntry,
    Offer,
    Place,
    Want,
    content_hash,
    decode,
    encode,
    new_id,
    open_offer,
    refs_for,
    sign_model,
    utcnow,
)


@dataclass
class Pending:
    intent: Intent
    keys: IntentKeys
    published: float = 0.0
    offers: list[Offer] = field(default_factory=list)
    accepted: float = 0.0


def make_intents(n: int) -> list[Pending]:
    now = utcnow()
    out = []
    terms = refs_for(["SD-BASE", "P2B1"])
    for i in range(n):
        keys = IntentKeys.generate()
        intent = Intent(
            intent_id=new_id(), market=MARKETS[i % len(MARKETS)], want=Want(item="bench item"),
            max_price=Decimal("200"), currency="EUR", place=Place(country="DE"),
            expires_at=now + timedelta(minutes=30), terms=terms,
            signing_key=keys.signing.public_key, sealing_key=keys.sealing.public_key,
            created_at=now,
        )  # fmt: skip
        out.append(Pending(sign_model(intent, keys.signing), keys))
    return out


@dataclass
class RunResult:
    intents: int
    offers: int
    agreements: int
    seconds: float
    first_offer: Histogram
    agreement: Histogram
    timeline: list[tuple[float, int, int]]  # (second, offers delivered, agreements)

    def summary(self) -> dict[str, Any]:
        secs = max(self.seconds, 1e-9)
        inputs = self.intents + self.offers + self.agreements  # intents, offers, acceptances
        return {
            "intents": self.intents, "offers": self.offers, "agreements": self.agreements,
            "seconds": round(self.seconds, 3),
            "intents_per_s": round(self.intents / secs, 1),
            "offers_per_s": round(self.offers / secs, 1),
            "agreements_per_s": round(self.agreements / secs, 1),
            "processor_inputs_per_s": round(inputs / secs, 1),
            "latency_ms": {
                "intent_to_first_offer": self.first_offer.summary(),
                "acceptance_to_agreement": self.agreement.summary(),
            },
        }  # fmt: skip


async def run_load(
    bootstrap: str, partitions: int, n: int, vendors: int, rate: float | None, timeout: float
) -> RunResult:
    """Publish n intents (at `rate` per second, or as fast as possible) and see them through."""
    pending = {p.intent.intent_id: p for p in make_intents(n)}
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap, acks="all", enable_idempotence=True, linger_ms=1
    )
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap, enable_auto_commit=False, max_poll_records=1000
    )
    await producer.start()
    await consumer.start()
    tps = [TopicPartition(t, p) for t in (OFFERS_DELIVERED, AGREEMENTS) for p in range(partitions)]
    consumer.assign(tps)
    await consumer.seek_to_end(*tps)
    for tp in tps:
        await consumer.position(tp)
    first_offer, agreement_h = Histogram(), Histogram()
    offers = agreements = 0
    buckets: dict[int, list[int]] = {}
    start = time.perf_counter()
    done = asyncio.Event()

    async def publish() -> None:
        for i, p in enumerate(pending.values()):
            if rate:
                delay = start + i / rate - time.perf_counter()
                if delay > 0:
                    await asyncio.sleep(delay)
            p.published = time.perf_counter()
            await producer.send(
                INTENTS_SUBMITTED, encode(p.intent), key=p.intent.intent_id.encode()
            )

    async def accept(p: Pending) -> None:
        best = min(p.offers, key=lambda o: o.price)
        acceptance = sign_model(Acceptance(
            intent_id=p.intent.intent_id, offer_id=best.offer_id, offer_hash=content_hash(best),
            accepted_at=utcnow(),
        ), p.keys.signing)  # fmt: skip
        p.accepted = time.perf_counter()
        await producer.send(ACCEPTANCES, encode(acceptance), key=p.intent.intent_id.encode())

    async def collect() -> None:
        nonlocal offers, agreements
        while agreements < n:
            batch = await consumer.getmany(timeout_ms=200)
            now = time.perf_counter()
            second = buckets.setdefault(int(now - start), [0, 0])
            for tp, records in batch.items():
                for record in records:
                    p = pending.get((record.key or b"").decode())
                    if p is None:
                        continue
                    if tp.topic == OFFERS_DELIVERED:
                        offer = open_offer(
                            decode(DeliveredOffer, record.value or b""), p.keys.sealing
                        )
                        if not p.offers:
                            first_offer.record((now - p.published) * 1000)
                        p.offers.append(offer)
                        offers += 1
                        second[0] += 1
                        if len(p.offers) == vendors:
                            await accept(p)
                    elif p.accepted:
                        # the customer opens its own sealed copy, as a real one does
                        entry = decode(LogEntry, record.value or b"")
                        entry.open(AGREEMENT_ENTRY, p.keys.sealing)
                        agreement_h.record((now - p.accepted) * 1000)
                        agreements += 1
                        second[1] += 1
        done.set()

    tasks = [asyncio.create_task(publish()), asyncio.create_task(collect())]
    try:
        await asyncio.wait_for(done.wait(), timeout)
    except TimeoutError:
        pass
    finally:
        elapsed = time.perf_counter() - start
        for task in tasks:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await producer.stop()
        await consumer.stop()
    timeline = [(float(s), v[0], v[1]) for s, v in sorted(buckets.items())]
    return RunResult(n, offers, agreements, elapsed, first_offer, agreement_h, timeline)
