"""Disclosures: a customer's sealed details for the vendor of its agreement, and that vendor only.

The processors cannot read a disclosure's values (they are sealed to the vendor's key), and
do not need to: they check what the envelope says in clear against the agreement log (signed
by the intent's key, bound to the intent's agreement, for the vendor of that agreement,
sealed to that vendor's registered sealing key), deliver it to the vendor's private topic,
and chain a record of it (its hash and field names, never a value) into the agreement log.
"""

from __future__ import annotations

from dataclasses import dataclass

from intentcast.broker.handler_context import HandlerContext
from intentcast.broker.processors.incoming import Incoming
from intentcast.broker.processors.refusals import CustomerRecord, refuse
from intentcast.broker.records import IntentRecord
from intentcast.broker.refusal import Refused
from intentcast.schemas import (
    INTENT_STATUS,
    Disclosure,
    DisclosureRecord,
    IntentState,
    IntentStatus,
    ReasonCode,
    SchemaError,
    StatusKind,
    content_hash,
    decode,
    encode,
    vendor_disclosures_topic,
)
from intentcast.schemas.log import DISCLOSURE_ENTRY, Reader

__all__ = ["AgreedParties", "check_disclosure", "handle_disclosure"]


@dataclass(frozen=True)
class AgreedParties:
    """What the log says of an intent's agreement: its id, the intent key, the vendor."""

    agreement_id: str
    intent_signing_key: str
    intent_sealing_key: str  # the customer's copy of the log entry is sealed to it
    vendor_id: str


def check_disclosure(
    disclosure: Disclosure,
    *,
    record_key: bytes | None,
    agreed: AgreedParties | None,
    vendor_sealing_key: str | None,
) -> None:
    """The envelope's rules, in the order a customer hears of the first one broken."""
    if record_key != disclosure.intent_id.encode():
        raise Refused(
            ReasonCode.SCHEMA_INVALID, "the record key must be the intent_id of the message"
        )
    if agreed is None:
        raise Refused(ReasonCode.AGREEMENT_UNKNOWN, "the log records no agreement for this intent")
    try:
        disclosure.verify(agreed.intent_signing_key)
    except SchemaError as exc:
        raise Refused(ReasonCode.BAD_SIGNATURE, exc.detail) from exc
    if disclosure.agreement_id != agreed.agreement_id:
        raise Refused(
            ReasonCode.AGREEMENT_UNKNOWN, "agreement_id is not the agreement of this intent"
        )
    if disclosure.vendor_id != agreed.vendor_id:
        raise Refused(
            ReasonCode.NOT_AGREED_VENDOR,
            f"the agreement is with another vendor than {disclosure.vendor_id!r}",
        )
    if vendor_sealing_key is None:
        raise Refused(
            ReasonCode.NO_SEALING_KEY,
            f"vendor {disclosure.vendor_id!r} has registered no sealing key",
        )
    if disclosure.vendor_sealing_key != vendor_sealing_key:
        raise Refused(
            ReasonCode.SEALING_KEY_MISMATCH,
            "vendor_sealing_key is not the vendor's registered sealing key",
        )


async def handle_disclosure(ctx: HandlerContext, rec: Incoming) -> None:
    ctx.metrics.count("disclosures.received")
    try:
        disclosure = decode(Disclosure, rec.value or b"")
    except SchemaError as exc:
        await refuse(ctx, rec, exc, CustomerRecord("disclosure", rec.field("intent_id")))
        return
    record = ctx.store.get(disclosure.intent_id)
    digest = content_hash(disclosure)
    if record is not None and record.disclosures.get(disclosure.disclosure_id) == digest:
        ctx.metrics.count("disclosures.replayed")  # delivered and logged before a crash
        return
    sender = CustomerRecord("disclosure", disclosure.intent_id)
    try:
        agreed = await _agreed_parties(ctx, rec.partition, disclosure.intent_id, record)
        check_disclosure(
            disclosure,
            record_key=rec.key,
            agreed=agreed,
            vendor_sealing_key=ctx.registry.sealing_key_of(disclosure.vendor_id),
        )
        _check_record(disclosure, record, ctx.settings.max_disclosures_per_agreement)
    except Refused as exc:
        await refuse(ctx, rec, exc, sender)
        return
    assert agreed is not None
    await _deliver(ctx, rec, disclosure, agreed)
    if record is not None:
        disclosures = {**record.disclosures, disclosure.disclosure_id: digest}
        ctx.store.put(disclosure.intent_id, record.model_copy(update={"disclosures": disclosures}))
    ctx.metrics.count("disclosures.delivered")


def _check_record(disclosure: Disclosure, record: IntentRecord | None, limit: int) -> None:
    """What the intent's record remembers while it is kept: ids used, and how many."""
    if record is None:
        return
    if disclosure.disclosure_id in record.disclosures:
        raise Refused(ReasonCode.DUPLICATE_MESSAGE, "another disclosure with this id was delivered")
    if len(record.disclosures) >= limit:
        raise Refused(ReasonCode.TOO_MANY_DISCLOSURES, f"at most {limit} disclosures per agreement")


async def _agreed_parties(
    ctx: HandlerContext, partition: int, intent_id: str, record: IntentRecord | None
) -> AgreedParties | None:
    """From the intent's record while it is kept, else from the log (after expiry: rare)."""
    if record is not None and record.state is not IntentState.AGREED:
        return None
    if record is not None and record.agreement_id and record.agreed_vendor:
        intent = record.intent()
        return AgreedParties(
            record.agreement_id, intent.signing_key, intent.sealing_key, record.agreed_vendor
        )
    agreement = await ctx.ledger.find(partition, intent_id)
    if agreement is None:
        return None
    intent = agreement.intent
    return AgreedParties(
        agreement.agreement_id, intent.signing_key, intent.sealing_key, agreement.offer.vendor_id
    )


async def _deliver(
    ctx: HandlerContext, rec: Incoming, disclosure: Disclosure, agreed: AgreedParties
) -> None:
    """To the vendor's private topic, into the log, and `disclosed` to the customer."""
    await ctx.outputs.send(
        vendor_disclosures_topic(disclosure.vendor_id), encode(disclosure), rec.key
    )
    await ctx.ledger.append_entry(
        rec.partition,
        DISCLOSURE_ENTRY,
        lambda _seq, _prev_hash: DisclosureRecord.of(disclosure),
        {Reader.CUSTOMER: agreed.intent_sealing_key},
    )
    status = IntentStatus(
        intent_id=disclosure.intent_id,
        status=StatusKind.DISCLOSED,
        agreement_id=disclosure.agreement_id,
        disclosure_id=disclosure.disclosure_id,
        # every customer may read the status topic: it names neither the vendor nor the fields
        detail="delivered to the agreed vendor",
        at=ctx.clock(),
    )
    await ctx.outputs.send(INTENT_STATUS, encode(status), rec.key)
