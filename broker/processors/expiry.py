"""Expiry: close intents whose time is up and drop their state.

Ticks arrive on every partition of an internal topic; a tick for partition p expires only the
intents of partition p, on the worker that owns it, so table changes stay on their partition.
"""

from __future__ import annotations

from intentcast.broker.handler_context import HandlerContext
from intentcast.broker.processors.incoming import Incoming
from intentcast.schemas import IntentState, StatusKind


async def handle_tick(ctx: HandlerContext, rec: Incoming) -> None:
    store = ctx.store
    now_ms = int(ctx.clock().timestamp() * 1000)
    for intent_id in store.due(rec.partition, now_ms):
        record = store.get(intent_id)
        if record is None or record.expires_at_ms > now_ms:
            continue  # already dropped, or a stale heap entry
        if record.state is IntentState.OPEN:
            record.transition(IntentState.EXPIRED)  # checked, then dropped with the rest
            await ctx.outputs.status(intent_id, StatusKind.EXPIRED)
            ctx.metrics.count("intents.expired")
        store.drop(intent_id)  # "session" retention: nothing kept once the intent is over
        ctx.metrics.count("intents.dropped")
    ctx.metrics.gauge("intents.in_table", float(store.open_count()))
