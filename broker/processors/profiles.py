"""Vendor profiles: the rules a profile from a vendor's own topic must pass to be registered.

A profile counts only if it arrived on `intentcast.vendor.<id>.profile`, which only that
vendor's principal may write, and names the same `<id>`: the topic binds the vendor id to the
authenticated principal. `broker.profile_gate` applies these rules and republishes what passes
to the processors-only registry topic; the vendor's other topics are ensured here too.
"""

from __future__ import annotations

from aiokafka.admin import AIOKafkaAdminClient

from intentcast.broker.handler_context import HandlerContext
from intentcast.broker.refusal import Refused
from intentcast.broker.topic_admin import ensure_topics, planned_vendor
from intentcast.broker.validation import check_profile
from intentcast.schemas import ReasonCode, VendorProfile, decode
from intentcast.schemas.topics import vendor_id_of_profile_topic


def check_vendor_profile(topic: str, value: bytes, known_key: str | None) -> VendorProfile:
    """The profile, if it may register; else `Refused` or `SchemaError` with the reason.

    `vendor_mismatch` when the record names another vendor than its topic, or when the id is
    registered with another key (the first key stays, so no later record can take an id over).
    """
    owner = vendor_id_of_profile_topic(topic)
    profile = decode(VendorProfile, value)
    if owner is None or profile.vendor_id != owner:
        raise Refused(
            ReasonCode.VENDOR_MISMATCH,
            f"a profile for {profile.vendor_id!r} on {topic[:100]!r}: each vendor publishes "
            "only on its own intentcast.vendor.<vendor_id>.profile",
        )
    check_profile(profile, known_key)
    return profile


async def ensure_vendor_topics(ctx: HandlerContext, vendor_id: str) -> None:
    admin = AIOKafkaAdminClient(**ctx.settings.kafka_kwargs())
    await admin.start()
    try:
        await ensure_topics(
            admin, planned_vendor(vendor_id, ctx.settings), ctx.settings.replication
        )
    finally:
        await admin.close()
