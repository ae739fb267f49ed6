"""Deletion attestations: a vendor's signed statement that it deleted an agreement's data.

One that passes every check (`broker.attestation_checks`) is chained into the intent's
partition of the agreement log, sealed to the customer, the processors and the auditor; the
customer is told on the intent's status and the vendor on its feedback. Otherwise the vendor
hears why on its feedback, as for an offer. A resend after the first was logged is refused as
`already_attested`, which the vendor SDK also reads as "logged".
"""

from __future__ import annotations

from datetime import timedelta

from intentcast.broker.attestation_checks import (
    check_attestation_binding,
    check_attestation_signature,
)
from intentcast.broker.attestation_log import retention_record
from intentcast.broker.handler_context import HandlerContext
from intentcast.broker.processors.incoming import Incoming
from intentcast.broker.processors.refusals import VendorRecord, refuse
from intentcast.broker.refusal import Refused
from intentcast.schemas import RetentionAttestation, SchemaError, StatusKind, decode
from intentcast.schemas.log import RETENTION_ATTESTATION_ENTRY, Reader
from intentcast.schemas.retention import ATTESTED_FEEDBACK

KIND = "retention_attestation"


async def handle_attestation(ctx: HandlerContext, rec: Incoming) -> None:
    ctx.metrics.count("attestations.received")
    try:
        attestation = decode(RetentionAttestation, rec.value or b"")
    except SchemaError as exc:
        sender = VendorRecord(KIND, rec.field("vendor_id"), intent_id=rec.field("intent_id"))
        await refuse(ctx, rec, exc, sender)
        return
    sender = VendorRecord(KIND, attestation.vendor_id, intent_id=attestation.intent_id)
    try:
        vendor_key = await ctx.registry.current_key(attestation.vendor_id)
        check_attestation_signature(attestation, record_key=rec.key, vendor_key=vendor_key)
        found = await retention_record(ctx.settings, rec.partition, attestation.intent_id)
        check_attestation_binding(
            attestation,
            found.agreement,
            already_attested=found.attested,
            now=ctx.clock(),
            max_skew=timedelta(seconds=ctx.settings.max_clock_skew_seconds),
        )
    except Refused as exc:
        await refuse(ctx, rec, exc, sender)
        return
    agreement = found.agreement
    assert agreement is not None  # check_attestation_binding refused otherwise
    await ctx.ledger.append_entry(
        rec.partition,
        RETENTION_ATTESTATION_ENTRY,
        lambda _seq, _prev: attestation,
        {Reader.CUSTOMER: agreement.intent.sealing_key},
    )
    await ctx.outputs.status(
        attestation.intent_id, StatusKind.RETENTION_ATTESTED, agreement_id=agreement.agreement_id
    )
    await ctx.outputs.feedback(
        vendor_id=attestation.vendor_id,
        offer_id=agreement.offer.offer_id,
        intent_id=attestation.intent_id,
        reason=None,
        detail=ATTESTED_FEEDBACK,
    )
    ctx.metrics.count("attestations.recorded")
