"""The one refusal path without Kafka: which channels each refusal takes, and what they carry.

The route table (`channels`) is checked row by row; `refuse` is run with outputs that are only
queued and a registry folded from a real signed profile, and its queued records are read back.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from intentcast.agents import Vendor
from intentcast.broker.context import Context, IntentStore
from intentcast.broker.metrics import Metrics
from intentcast.broker.outputs import Outputs
from intentcast.broker.processors.incoming import Incoming
from intentcast.broker.processors.refusals import (
    RETRIABLE_NOTE,
    Channel,
    CustomerRecord,
    VendorRecord,
    channels,
    refuse,
)
from intentcast.broker.refusal import Refused
from intentcast.broker.registry import VendorRegistry
from intentcast.broker.settings import BrokerSettings
from intentcast.schemas import (
    DEAD_LETTERS,
    INTENT_STATUS,
    OFFERS_SUBMITTED,
    DeadLetter,
    IntentStatus,
    OfferFeedback,
    ReasonCode,
    SchemaError,
    SigningKey,
    decode,
    encode,
    new_id,
    vendor_feedback_topic,
    vendor_profile_topic,
)
from intentcast.schemas.reasons import Audience
from intentcast.schemas.terms import ROSTER

PARTITIONS = 3
REGISTERED, NEWCOMER = "acme-bikes", "newcomer"
C, V = Audience.CUSTOMER, Audience.VENDOR
S, F, D = Channel.STATUS, Channel.FEEDBACK, Channel.DEAD_LETTERS


def _context() -> Context:
    settings = BrokerSettings(bootstrap="127.0.0.1:1", partitions=PARTITIONS)  # never dialled
    outputs = Outputs(settings, Metrics("t"))
    feedback = (vendor_feedback_topic(v) for v in (REGISTERED, NEWCOMER))
    outputs.assume_partitions({t: PARTITIONS for t in (INTENT_STATUS, DEAD_LETTERS, *feedback)})
    registry = VendorRegistry(settings)
    vendor = Vendor(REGISTERED, key=SigningKey.generate(), markets=["bikes"], accepts=[*ROSTER])
    assert registry.apply(encode(vendor.profile())) is not None
    ctx = Context.build(
        settings,
        IntentStore(table={}, partitions=PARTITIONS),
        outputs=outputs,
        clock=lambda: datetime.now(UTC),
    )
    ctx.registry = registry
    return ctx


def _queued(ctx: Context) -> dict[str, list[bytes]]:
    out: dict[str, list[bytes]] = {}
    for topic, _, _, value in ctx.outputs.pending():
        out.setdefault(topic, []).append(value)
    return out


def _record(
    topic: str = OFFERS_SUBMITTED, value: bytes = b'{"secret": "of the sender"}'
) -> Incoming:
    return Incoming(topic=topic, partition=0, offset=7, key=b"k", value=value)


# (reason, whose record, reachable, the channels) -- the rule of docs/protocol.md, "Refusals"
ROUTES = [
    (ReasonCode.PRICE_OVER_MAX, V, True, (F,)),  # a vendor's own business: it alone hears
    (ReasonCode.PRICE_OVER_MAX, V, False, (D,)),  # nobody to tell: nothing is lost
    (ReasonCode.BAD_SIGNATURE, V, True, (F, D)),  # the vendor and the operator
    (ReasonCode.BAD_SIGNATURE, V, False, (D,)),
    (ReasonCode.SCHEMA_INVALID, V, True, (F, D)),
    (ReasonCode.VENDOR_MISMATCH, V, True, (F, D)),
    (ReasonCode.UNKNOWN_TERM, V, True, (F,)),
    (ReasonCode.VENDOR_UNKNOWN, V, True, (D,)),  # an unregistered id reaches nobody
    (ReasonCode.INTERNAL_ERROR, V, True, (D,)),
    (ReasonCode.INTENT_EXPIRED, C, True, (S, D)),  # a customer's record: always the operator too
    (ReasonCode.INTENT_EXPIRED, C, False, (D,)),
    (ReasonCode.PII_DETECTED, C, True, (S, D)),
    (ReasonCode.MALFORMED_JSON, C, False, (D,)),
    (ReasonCode.PRICE_OVER_MAX, C, True, (D,)),  # not a customer's code: the operator's alone
]


@pytest.mark.parametrize(
    ("reason", "sender", "reachable", "expected"),
    [pytest.param(*row, id=f"{row[0].value}-{row[1].value}-{row[2]}") for row in ROUTES],
)
def test_each_refusal_takes_the_channels_of_its_code_and_sender(
    reason: ReasonCode, sender: Audience, reachable: bool, expected: tuple[Channel, ...]
) -> None:
    assert channels(reason, sender, reachable) == expected


@pytest.mark.parametrize("reason", list(ReasonCode))
def test_every_code_has_an_audience_and_nothing_refused_is_lost(reason: ReasonCode) -> None:
    assert reason.audience, "nobody would ever hear of it"
    assert isinstance(reason.retriable, bool)
    for sender in (C, V):
        for reachable in (True, False):
            assert channels(reason, sender, reachable), "a refusal nobody hears of is lost"


async def test_a_registered_vendor_hears_of_a_bad_signature_in_its_name_with_ids_only() -> None:
    ctx = _context()
    offer_id, intent_id = new_id(), new_id()
    sender = VendorRecord("offer", REGISTERED, offer_id, intent_id)
    error = Refused(ReasonCode.BAD_SIGNATURE, "signature does not verify")
    routed = await refuse(ctx, _record(), error, sender)
    assert routed == (F, D)
    queued = _queued(ctx)
    [feedback] = [decode(OfferFeedback, v) for v in queued[vendor_feedback_topic(REGISTERED)]]
    assert (feedback.vendor_id, feedback.offer_id, feedback.intent_id) == (
        REGISTERED,
        offer_id,
        intent_id,
    )
    assert (feedback.reason, feedback.detail) == (error.reason, error.detail)
    assert b"secret" not in queued[vendor_feedback_topic(REGISTERED)][0], "no record content"
    [letter] = [decode(DeadLetter, v) for v in queued[DEAD_LETTERS]]
    assert (letter.reason, letter.source_offset) == (ReasonCode.BAD_SIGNATURE, 7)
    assert ctx.metrics.counters["offers.rejected.bad_signature"] == 1


async def test_a_schema_invalid_offer_tells_its_registered_vendor_and_drops_junk_ids() -> None:
    ctx = _context()
    sender = VendorRecord("offer", REGISTERED, "not-an-id", "x" * 64)
    error = SchemaError(ReasonCode.SCHEMA_INVALID, "price: Field required")
    assert await refuse(ctx, _record(), error, sender) == (F, D)
    [raw] = _queued(ctx)[vendor_feedback_topic(REGISTERED)]
    feedback = decode(OfferFeedback, raw)
    assert (feedback.offer_id, feedback.intent_id) == ("", "")  # only well-formed ids travel
    assert feedback.detail == "price: Field required"


@pytest.mark.parametrize("claimed", [NEWCOMER, "Not A Slug!", ""])
async def test_an_offer_naming_no_registered_vendor_is_only_dead_lettered(claimed: str) -> None:
    ctx = _context()
    sender = VendorRecord("offer", claimed, new_id(), new_id())
    error = SchemaError(ReasonCode.BAD_SIGNATURE, "signature does not verify")
    assert await refuse(ctx, _record(), error, sender) == (D,)
    assert set(_queued(ctx)) == {DEAD_LETTERS}


async def test_a_retriable_refusal_says_so() -> None:
    ctx = _context()
    sender = VendorRecord("offer", NEWCOMER, new_id(), new_id())
    await refuse(ctx, _record(), Refused(ReasonCode.VENDOR_UNKNOWN), sender)
    [letter] = [decode(DeadLetter, v) for v in _queued(ctx)[DEAD_LETTERS]]
    assert letter.detail == ReasonCode.VENDOR_UNKNOWN.description + RETRIABLE_NOTE


async def test_a_refused_profile_reaches_its_unregistered_vendor_on_its_own_topic() -> None:
    ctx = _context()
    topic = vendor_profile_topic(NEWCOMER)
    sender = VendorRecord.profile(topic)
    error = Refused(ReasonCode.VENDOR_MISMATCH, "a profile for 'acme-bikes' on its topic")
    assert await refuse(ctx, _record(topic), error, sender) == (F, D)
    queued = _queued(ctx)
    [feedback] = [decode(OfferFeedback, v) for v in queued[vendor_feedback_topic(NEWCOMER)]]
    assert (feedback.vendor_id, feedback.offer_id, feedback.intent_id) == (NEWCOMER, "", "")
    assert feedback.detail == f"profile: {error.detail}"
    assert vendor_feedback_topic(REGISTERED) not in queued, "the named vendor hears nothing"
    assert ctx.metrics.counters["profiles.rejected.vendor_mismatch"] == 1


async def test_a_customer_refusal_goes_to_its_status_and_the_operator() -> None:
    ctx = _context()
    intent_id = new_id()
    sender = CustomerRecord("acceptance", intent_id)
    assert await refuse(ctx, _record(), Refused(ReasonCode.ALREADY_AGREED), sender) == (S, D)
    [status] = [decode(IntentStatus, v) for v in _queued(ctx)[INTENT_STATUS]]
    assert (status.intent_id, status.reason) == (intent_id, ReasonCode.ALREADY_AGREED)
    assert status.detail.startswith("acceptance: ")


async def test_a_profile_from_no_profile_topic_reaches_only_the_operator() -> None:
    ctx = _context()
    topic = vendor_feedback_topic(REGISTERED)  # a topic name that binds no vendor as a profile
    sender = VendorRecord.profile(topic)
    error = Refused(ReasonCode.VENDOR_MISMATCH, "not a profile topic")
    assert await refuse(ctx, _record(topic), error, sender) == (D,)
    assert set(_queued(ctx)) == {DEAD_LETTERS}
