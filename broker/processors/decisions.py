"""Acceptances and cancels: the customer's signed decisions about their own intent.

An acceptance that passes every check appends exactly one Agreement to the partition's chain:
if the log already records an agreement for the intent (a replay after a crash), the state is
reconciled from the log instead of appending a second one.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from intentcast.broker.handler_context import HandlerContext
from intentcast.broker.processors.incoming import Incoming
from intentcast.broker.processors.refusals import CustomerRecord, refuse
from intentcast.broker.records import IntentRecord
from intentcast.broker.refusal import Refused
from intentcast.broker.validation import check_acceptance, check_cancel
from intentcast.schemas import (
    Acceptance,
    Agreement,
    Cancel,
    Intent,
    IntentState,
    Offer,
    SchemaError,
    StatusKind,
    decode,
    encode,
    vendor_agreements_topic,
)


async def handle_acceptance(ctx: HandlerContext, rec: Incoming) -> None:
    ctx.metrics.count("acceptances.received")
    try:
        acceptance = decode(Acceptance, rec.value or b"")
    except SchemaError as exc:
        await refuse(ctx, rec, exc, CustomerRecord("acceptance", rec.field("intent_id")))
        return
    record = ctx.store.get(acceptance.intent_id)
    digest = hashlib.sha256(rec.value or b"").hexdigest()
    if record is not None and record.acceptance_digest == digest:
        # this very acceptance, read again after a crash or a rewind: its agreement and
        # statuses were acknowledged before the record said AGREED, so nothing is owed
        ctx.metrics.count("acceptances.replayed")
        return
    recorded = await ctx.ledger.recorded(rec.partition, acceptance.intent_id)
    if recorded is not None and record is not None and record.state is IntentState.OPEN:
        await _reconcile(ctx, rec, acceptance, record, recorded, digest)
        return
    try:
        intent, offer = check_acceptance(
            acceptance, record_key=rec.key, record=record, now=ctx.clock()
        )
    except Refused as exc:
        await refuse(ctx, rec, exc, CustomerRecord("acceptance", acceptance.intent_id))
        return
    assert record is not None
    await _agree(ctx, rec, Accepted(intent, offer, acceptance, record, digest))


@dataclass(frozen=True)
class Accepted:
    """An acceptance that passed every check, with what its agreement is built from."""

    intent: Intent
    offer: Offer
    acceptance: Acceptance
    record: IntentRecord
    digest: str  # SHA-256 of the acceptance record: its replay is recognised later


async def _agree(ctx: HandlerContext, rec: Incoming, accepted: Accepted) -> None:
    """Chain the agreement, tell the vendor and the customer, close the intent."""
    intent, offer, acceptance = accepted.intent, accepted.offer, accepted.acceptance
    now = ctx.clock()
    vendor_key = ctx.registry.key_of(offer.vendor_id) or ""

    def build(seq: int, prev_hash: str) -> Agreement:
        return Agreement.build(
            partition=rec.partition,
            seq=seq,
            prev_hash=prev_hash,
            intent=intent,
            offer=offer,
            acceptance=acceptance,
            vendor_key=vendor_key,
            recorded_at=now,
        )

    agreement = await ctx.ledger.append(rec.partition, acceptance.intent_id, build)
    await ctx.outputs.send(vendor_agreements_topic(offer.vendor_id), encode(agreement), rec.key)
    await ctx.outputs.status(
        acceptance.intent_id, StatusKind.AGREED, agreement_id=agreement.agreement_id
    )
    _close(
        ctx, acceptance.intent_id, accepted.record, agreement.agreement_id, accepted.digest,
        vendor_id=offer.vendor_id,
    )  # fmt: skip
    m = ctx.metrics
    m.observe(
        "acceptance_to_agreement", (ctx.clock() - acceptance.accepted_at).total_seconds() * 1e3
    )
    m.count("agreements.recorded")
    m.count(f"market.{intent.market}.agreements")


async def _reconcile(
    ctx: HandlerContext,
    rec: Incoming,
    acceptance: Acceptance,
    record: IntentRecord,
    recorded: str,
    digest: str,
) -> None:
    """The log already holds this intent's agreement (a crash came before the state update):
    take the state from the log instead of appending a second agreement."""
    _close(ctx, acceptance.intent_id, record, recorded, digest)
    await ctx.outputs.status(acceptance.intent_id, StatusKind.AGREED, agreement_id=recorded)
    # the vendor's copy may not have been acknowledged before the crash: send it again
    found = await ctx.ledger.find(rec.partition, acceptance.intent_id)
    if found is not None:
        topic = vendor_agreements_topic(found.offer.vendor_id)
        await ctx.outputs.send(topic, encode(found), rec.key)
    ctx.metrics.count("acceptances.reconciled")


def _close(
    ctx: HandlerContext,
    intent_id: str,
    record: IntentRecord,
    agreement_id: str,
    digest: str,
    vendor_id: str | None = None,
) -> None:
    """Keep only what dedupe needs until expiry: the delivered offers are no longer needed."""
    ctx.store.put(
        intent_id,
        record.transition(
            IntentState.AGREED,
            agreement_id=agreement_id,
            acceptance_digest=digest,
            agreed_vendor=vendor_id,
            delivered={},
            offers_per_vendor={},
        ),
    )


async def handle_cancel(ctx: HandlerContext, rec: Incoming) -> None:
    ctx.metrics.count("cancels.received")
    try:
        cancel = decode(Cancel, rec.value or b"")
    except SchemaError as exc:
        await refuse(ctx, rec, exc, CustomerRecord("cancel", rec.field("intent_id")))
        return
    record = ctx.store.get(cancel.intent_id)
    try:
        check_cancel(cancel, record_key=rec.key, record=record, now=ctx.clock())
    except Refused as exc:
        await refuse(ctx, rec, exc, CustomerRecord("cancel", cancel.intent_id))
        return
    assert record is not None
    await ctx.outputs.status(cancel.intent_id, StatusKind.CANCELLED)
    ctx.store.put(
        cancel.intent_id,
        record.transition(IntentState.CANCELLED, delivered={}, offers_per_vendor={}),
    )
    ctx.metrics.count("cancels.done")
