"""Intake: validate a customer's intent, then publish it to its market, or refuse it with a reason.

A replay of an intent already taken in is skipped (idempotent); a different intent reusing an
existing id is refused as a duplicate.
"""

from __future__ import annotations

from datetime import timedelta

from intentcast.broker.handler_context import HandlerContext
from intentcast.broker.processors.incoming import Incoming
from intentcast.broker.processors.refusals import CustomerRecord, refuse
from intentcast.broker.records import IntentRecord
from intentcast.broker.refusal import Refused
from intentcast.broker.validation import check_intent
from intentcast.schemas import (
    Intent,
    ReasonCode,
    SchemaError,
    StatusKind,
    content_hash,
    decode,
    market_topic,
)


async def handle_intent(ctx: HandlerContext, rec: Incoming) -> None:
    m = ctx.metrics
    m.count("intents.received")
    try:
        intent = decode(Intent, rec.value or b"")
    except SchemaError as exc:
        await refuse(
            ctx, rec, exc, CustomerRecord("intent", rec.field("intent_id") or rec.key_text())
        )
        return
    existing = ctx.store.get(intent.intent_id)
    if existing is not None:
        if existing.intent_hash == content_hash(intent):
            m.count("intents.replayed")
            return
        duplicate = Refused(
            ReasonCode.DUPLICATE_MESSAGE, "another intent already uses this intent_id"
        )
        await refuse(ctx, rec, duplicate, CustomerRecord("intent", intent.intent_id))
        return
    now = ctx.clock()
    s = ctx.settings
    try:
        check_intent(
            intent,
            record_key=rec.key,
            now=now,
            markets=s.markets,
            max_skew=timedelta(seconds=s.max_clock_skew_seconds),
            max_lifetime=timedelta(days=s.max_expiry_days),
        )
    except Refused as exc:
        await refuse(ctx, rec, exc, CustomerRecord("intent", intent.intent_id))
        return
    await ctx.outputs.send(market_topic(intent.market), rec.value or b"", rec.key)
    await ctx.outputs.status(intent.intent_id, StatusKind.ACCEPTED)
    expires_ms = int(intent.expires_at.timestamp() * 1000)
    ctx.store.put(
        intent.intent_id,
        IntentRecord(
            intent_json=(rec.value or b"").decode(),
            intent_hash=content_hash(intent),
            expires_at_ms=expires_ms,
            partition=rec.partition,
        ),
    )
    ctx.store.schedule(intent.intent_id, expires_ms)
    m.count("intents.accepted")
    m.count(f"market.{intent.market}.intents")
