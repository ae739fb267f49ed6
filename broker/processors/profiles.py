"""Vendor profiles: check a registration and create the vendor's private topics.

Vendors may not create topics themselves; the processors do it when a valid profile arrives,
so a vendor's feedback and agreement copies have somewhere to go before its first offer.
"""

from __future__ import annotations

from aiokafka.admin import AIOKafkaAdminClient

from broker.context import Context
from broker.processors.incoming import Incoming, dead_letter
from broker.refusal import Refused
from broker.topic_admin import ensure_topics, planned_vendor
from broker.validation import check_profile
from schemas import SchemaError, VendorProfile, decode


async def handle_profile(ctx: Context, rec: Incoming, ready: set[str]) -> None:
    if rec.value is None:
        return  # a tombstone: compaction bookkeeping, nothing to check
    await ctx.registry.wait_started()
    try:
        profile = decode(VendorProfile, rec.value)
        check_profile(profile, ctx.registry.key_of(profile.vendor_id))
    except (SchemaError, Refused) as exc:
        ctx.metrics.count(f"profiles.rejected.{exc.reason.value}")
        await dead_letter(ctx, rec, exc.reason, exc.detail)
        return
    if profile.vendor_id not in ready:
        await ensure_vendor_topics(ctx, profile.vendor_id)
        ready.add(profile.vendor_id)
    ctx.metrics.count("profiles.accepted")


async def ensure_vendor_topics(ctx: Context, vendor_id: str) -> None:
    admin = AIOKafkaAdminClient(**ctx.settings.kafka_kwargs())
    await admin.start()
    try:
        await ensure_topics(
            admin, planned_vendor(vendor_id, ctx.settings), ctx.settings.replication
        )
    finally:
        await admin.close()
