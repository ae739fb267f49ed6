"""Offers: check a vendor's offer against its intent; deliver it sealed, or tell the vendor why not.

Only offers that accept the intent's exact terms, in its currency, at or under its price, from
a registered vendor whose signature verifies, reach the customer.
"""

from __future__ import annotations

from datetime import datetime

from intentcast.broker.delivered import OFFER_HEADER, offer_tag
from intentcast.broker.handler_context import HandlerContext
from intentcast.broker.processors.incoming import Incoming
from intentcast.broker.processors.refusals import VendorRecord, refuse
from intentcast.broker.records import IntentRecord
from intentcast.broker.refusal import Refused
from intentcast.broker.validation import check_offer
from intentcast.schemas import (
    OFFERS_DELIVERED,
    Intent,
    Offer,
    SchemaError,
    StatusKind,
    decode,
    encode,
    seal_offer,
)


async def handle_offer(ctx: HandlerContext, rec: Incoming) -> None:
    ctx.metrics.count("offers.received")
    try:
        offer = decode(Offer, rec.value or b"")
    except SchemaError as exc:
        fields = (rec.field("vendor_id"), rec.field("offer_id"), rec.field("intent_id"))
        await refuse(ctx, rec, exc, VendorRecord("offer", *fields))
        return
    vendor_key = await ctx.registry.current_key(offer.vendor_id)
    now = ctx.clock()
    record = ctx.store.get(offer.intent_id)
    if record is not None and record.delivered.get(offer.offer_id) == (rec.value or b"").decode():
        ctx.metrics.count("offers.replayed")  # a replay of an offer already delivered and recorded
        return
    try:
        intent = check_offer(
            offer,
            record_key=rec.key,
            vendor_key=vendor_key,
            record=record,
            now=now,
            max_per_vendor=ctx.settings.max_offers_per_vendor,
        )
    except Refused as exc:
        sender = VendorRecord("offer", offer.vendor_id, offer.offer_id, offer.intent_id)
        await refuse(ctx, rec, exc, sender)
        return
    assert record is not None
    await _deliver(ctx, rec, offer, intent)
    _record_delivery(ctx, rec, offer, intent, record, now)


async def _deliver(ctx: HandlerContext, rec: Incoming, offer: Offer, intent: Intent) -> None:
    """Sealed to the customer (unless delivered before a crash), feedback to the vendor."""
    if await ctx.delivered.delivered(rec.partition, offer.offer_id, rec.timestamp_ms):
        ctx.metrics.count("offers.redelivery_avoided")  # delivered before a crash, not in state
    else:
        delivered = seal_offer(offer, intent.sealing_key)
        tag = [(OFFER_HEADER, offer_tag(offer.offer_id))]
        await ctx.outputs.send(OFFERS_DELIVERED, encode(delivered), rec.key, headers=tag)
    await ctx.outputs.feedback(
        vendor_id=offer.vendor_id,
        offer_id=offer.offer_id,
        intent_id=offer.intent_id,
        reason=None,
        detail="delivered",
    )
    await ctx.outputs.status(offer.intent_id, StatusKind.OFFER_DELIVERED)


def _record_delivery(
    ctx: HandlerContext,
    rec: Incoming,
    offer: Offer,
    intent: Intent,
    record: IntentRecord,
    now: datetime,
) -> None:
    """The offer joins the intent's record: what an acceptance is checked against."""
    m = ctx.metrics
    counts = dict(record.offers_per_vendor)
    counts[offer.vendor_id] = counts.get(offer.vendor_id, 0) + 1
    if not record.delivered:
        m.observe("intent_to_first_offer", (now - intent.created_at).total_seconds() * 1000)
    ctx.store.put(
        offer.intent_id,
        record.model_copy(
            update={
                # the record's own bytes: they decode to this offer, and re-encoding costs CPU
                "delivered": {**record.delivered, offer.offer_id: (rec.value or b"").decode()},
                "offers_per_vendor": counts,
            }
        ),
    )
    m.count("offers.delivered")
    m.count(f"market.{intent.market}.offers_delivered")
