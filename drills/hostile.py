"""Hostile input: throw broken and malicious records at every topic a party can write to.

    python -m drills.hostile --rounds 3

Every record must come out again: in the dead-letter topic (headers name its topic, partition
and offset), or as the sender's status or vendor feedback with a reason. Count in == count out,
and the processors still take in a valid intent afterwards (they neither crashed nor stalled).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import time
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import orjson
import typer
from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError

from drills.flow import Tail, make_intent
from drills.harness import OUT_OPTION, WORKDIR_OPTION, Stack, report, run_drill, workdir_for
from drills.vendors import DRILL_VENDORS
from intentcast.agents import IntentKeys, OfferDraft, build_offer
from intentcast.schemas import (
    ACCEPTANCES,
    CANCELS,
    DEAD_LETTERS,
    INTENT_STATUS,
    INTENTS_SUBMITTED,
    OFFERS_SUBMITTED,
    IntentStatus,
    OfferFeedback,
    SchemaError,
    SigningKey,
    decode,
    encode,
    sign_model,
    vendor_feedback_topic,
    vendor_profile_topic,
)

PROFILES = vendor_profile_topic(DRILL_VENDORS[0])  # profiles now go to each vendor's own topic
WRITABLE = (INTENTS_SUBMITTED, OFFERS_SUBMITTED, ACCEPTANCES, CANCELS, PROFILES)
CORPUS_DIR = Path(__file__).resolve().parent.parent / "tests" / "reliability" / "corpus"
HUGE = 900_000  # under the broker's default max.message.bytes (1 MiB) with headers


@dataclass(frozen=True)
class Hostile:
    topic: str
    key: bytes | None
    value: bytes
    note: str


def _signed_variants() -> list[Hostile]:
    """Well-formed but wrong: signed messages with bad times, versions, duplicate ids."""
    keys = IntentKeys.generate()
    good = make_intent(keys, 60)
    out = [Hostile(INTENTS_SUBMITTED, good.intent_id.encode(), encode(good), "valid (accepted)")]
    twin = make_intent(keys, 90).model_copy(update={"intent_id": good.intent_id})
    twin = sign_model(twin, keys.signing)
    out.append(Hostile(INTENTS_SUBMITTED, good.intent_id.encode(), encode(twin), "duplicate id"))
    for note, shift in (
        ("created far past", -timedelta(days=3650)),
        ("far future", timedelta(days=3650)),
    ):
        other = make_intent(keys, 60)
        other = other.model_copy(
            update={"created_at": other.created_at + shift, "expires_at": other.expires_at + shift}
        )
        other = sign_model(other, keys.signing)
        out.append(Hostile(INTENTS_SUBMITTED, other.intent_id.encode(), encode(other), note))
    data = orjson.loads(encode(make_intent(keys, 60)))
    for note, change in (
        ("unknown schema version", {"schema_version": 99}),
        ("unknown field", {"x": 1}),
        ("wrong types", {"max_price": [1], "market": 7}),
    ):
        out.append(
            Hostile(
                INTENTS_SUBMITTED,
                data["intent_id"].encode(),
                orjson.dumps({**data, **change}),
                note,
            )
        )
    vendor_key = SigningKey.from_seed(hashlib.sha256(b"drill-vendor:drill-a").digest())
    stranger = make_intent(IntentKeys.generate(), 60)  # never submitted
    offer = build_offer(
        OfferDraft(price=Decimal("10")), stranger, vendor_id="drill-a", key=vendor_key
    )
    out.append(
        Hostile(
            OFFERS_SUBMITTED,
            offer.intent_id.encode(),
            encode(offer),
            "offer for unknown intent (feedback)",
        )
    )
    forged = build_offer(
        OfferDraft(price=Decimal("10")), stranger, vendor_id="drill-a", key=SigningKey.generate()
    )
    out.append(
        Hostile(
            OFFERS_SUBMITTED, forged.intent_id.encode(), encode(forged), "forged vendor signature"
        )
    )
    return out  # fmt: skip


def _raw_variants(topic: str) -> list[Hostile]:
    """Bytes that are not a message at all, for one topic."""
    sample = orjson.dumps({"kind": "x", "intent_id": "0" * 32, "schema_version": 1})
    return [
        Hostile(topic, b"k", b"\xff\xfe not json", "not JSON"),
        Hostile(topic, b"k", sample[: len(sample) // 2], "truncated JSON"),
        Hostile(topic, None, b'{"intent_id": 12345}', "null key, wrong types"),
        Hostile(topic, b"k", b"[" * 5000 + b"]" * 5000, "deep nesting"),
        Hostile(topic, b"k", b'{"intent_id": "\xed\xa0\x80"}', "bad unicode (lone surrogate)"),
        Hostile(topic, b"\xff\x00", b'{"a": ' + b"1" * 400 + b"}", "binary key, huge number"),
        Hostile(topic, b"k", b'{"x": "' + b"a" * HUGE + b'"}', "huge message"),
        Hostile(topic, b"k", b"", "empty value"),
        Hostile(topic, b"k", b"null", "JSON null"),
    ]


def corpus(extra_dir: Path = CORPUS_DIR) -> list[Hostile]:
    """The built-in corpus, plus every file in tests/reliability/corpus/ sent to every topic."""
    out = _signed_variants()
    files = sorted(p for p in extra_dir.glob("*") if p.is_file()) if extra_dir.is_dir() else []
    for topic in WRITABLE:
        out += _raw_variants(topic)
        out += [Hostile(topic, b"corpus", f.read_bytes(), f"corpus/{f.name}") for f in files]
    return out


class Accounting:
    """Matches every sent record to what came out for it."""

    def __init__(self, vendors: tuple[str, ...]) -> None:
        self.dlq: set[tuple[str, int, int]] = set()
        self.statuses: set[str] = set()
        self.feedback: set[str] = set()
        self.vendors = vendors

    async def on_dlq(self, record: Any) -> None:
        h = {k: v.decode() for k, v in record.headers or ()}
        if "intentcast.dlq.topic" in h:
            self.dlq.add(
                (
                    h["intentcast.dlq.topic"],
                    int(h["intentcast.dlq.partition"]),
                    int(h["intentcast.dlq.offset"]),
                )
            )

    async def on_status(self, record: Any) -> None:
        with contextlib.suppress(SchemaError):
            self.statuses.add(decode(IntentStatus, record.value or b"").intent_id)

    async def on_feedback(self, record: Any) -> None:
        with contextlib.suppress(SchemaError):
            self.feedback.add(decode(OfferFeedback, record.value or b"").offer_id)

    def accounted(
        self, sent: dict[tuple[str, int, int], Hostile]
    ) -> dict[tuple[str, int, int], str]:
        """Which sent records came out, and where."""
        out: dict[tuple[str, int, int], str] = {}
        for where, h in sent.items():
            if where in self.dlq:
                out[where] = "dead-letter"
                continue
            try:
                data = orjson.loads(h.value)
            except orjson.JSONDecodeError:
                continue
            if not isinstance(data, dict):
                continue
            if h.topic == OFFERS_SUBMITTED and data.get("offer_id") in self.feedback:
                out[where] = "feedback"
            elif (
                h.topic == INTENTS_SUBMITTED
                and "intent_id" in data
                and data["intent_id"] in self.statuses
                and h.note.startswith("valid")
            ):
                out[where] = "status"
        return out  # fmt: skip


def _producer(bootstrap: str) -> AIOKafkaProducer:
    return AIOKafkaProducer(
        bootstrap_servers=bootstrap, acks="all", enable_idempotence=True, max_request_size=1_048_576
    )


async def throw(
    bootstrap: str, records: list[Hostile], vendors: tuple[str, ...], timeout: float
) -> dict[str, Any]:
    """Send the records, then wait until each is accounted for (or time runs out)."""
    acc = Accounting(vendors)
    tails = [
        Tail(bootstrap, DEAD_LETTERS, acc.on_dlq),
        Tail(bootstrap, INTENT_STATUS, acc.on_status),
    ]
    tails += [Tail(bootstrap, vendor_feedback_topic(v), acc.on_feedback) for v in vendors]
    for tail in tails:
        await tail.start()
    producer = _producer(bootstrap)
    await producer.start()
    sent: dict[tuple[str, int, int], Hostile] = {}
    refused: list[str] = []  # e.g. a null key on a compacted topic: the broker says no
    try:
        for h in records:
            try:
                meta = await producer.send_and_wait(h.topic, h.value, key=h.key)
            except KafkaError as exc:  # not acknowledged, so nothing to account for
                refused.append(f"{h.topic} {h.note}: {type(exc).__name__}")
                await producer.stop()  # its sequence numbers are spoilt: start afresh
                producer = _producer(bootstrap)
                await producer.start()
                continue
            sent[(h.topic, meta.partition, meta.offset)] = h
        started = time.monotonic()
        while time.monotonic() - started < timeout:
            if len(acc.accounted(sent)) == len(sent):
                break
            await asyncio.sleep(0.2)
        out = acc.accounted(sent)
    finally:
        await producer.stop()
        for tail in tails:
            await tail.stop()
    missing = [f"{h.topic} {h.note}" for where, h in sent.items() if where not in out]
    return {
        "sent": len(sent),
        "accounted": len(out),
        "by_outlet": {k: list(out.values()).count(k) for k in set(out.values())},
        "missing": missing[:20],
        "refused_by_broker": refused,
        "settle_s": round(time.monotonic() - started, 1),
    }  # fmt: skip


async def drill(rounds: int, work: Path) -> dict[str, Any]:
    async with Stack(work) as stack:
        await asyncio.sleep(0)  # vendors register while the corpus is built
        totals: dict[str, Any] = {"rounds": rounds, "sent": 0, "accounted": 0, "missing": []}
        for _ in range(rounds):
            r = await throw(stack.bootstrap, corpus(), stack.vendors, timeout=120)
            totals["sent"] += r["sent"]
            totals["accounted"] += r["accounted"]
            totals["missing"] += r["missing"]
            totals["refused_by_broker"] = r["refused_by_broker"]
            totals["by_outlet"] = r["by_outlet"]
        probe = await throw(stack.bootstrap, _signed_variants()[:1], (), timeout=60)
        totals["valid_intent_after"] = probe["accounted"] == 1
        totals["processors_alive"] = stack.processors is not None and stack.processors.alive()
        totals["processor_rss_kib"] = stack.rss_kib()
    alive = totals["valid_intent_after"] and totals["processors_alive"]
    totals["passed"] = bool(totals["sent"] == totals["accounted"] and alive)
    totals["workdir"] = str(work)
    return totals


def main(
    rounds: int = typer.Option(3, help="How many times the whole corpus is thrown."),
    workdir: Path = WORKDIR_OPTION,
    out: Path = OUT_OPTION,
) -> None:
    """Hostile input drill: every record ends in the dead-letter topic, status or feedback."""
    work = workdir_for("hostile", workdir)
    result = run_drill(drill(rounds, work))
    report("hostile", result, out)
    raise typer.Exit(0 if result["passed"] else 1)


if __name__ == "__main__":
    typer.run(main)
