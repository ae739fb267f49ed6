"""The one way a refused record is turned away: who is told, and where, from the reason and the
sender.

Each party hears only of its own records, on a topic only it (and the operator) may read: the
customer on the intent's status, a vendor on its own `intentcast.vendor.<id>.feedback`, the
operator on the dead letters. Which of them is told follows from the code's
`ReasonCode.audience` and from whether the sender can be reached at all (docs/protocol.md,
"Refusals"). Nothing refused is lost: whatever no party hears of is dead-lettered.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Final

from intentcast.broker.handler_context import Emitter, HandlerContext
from intentcast.broker.processors.incoming import Incoming, dead_letter, is_message_id
from intentcast.schemas import ReasonCode, Rejected, StatusKind
from intentcast.schemas.reasons import Audience
from intentcast.schemas.topics import vendor_id_of_profile_topic

RETRIABLE_NOTE: Final = " (retriable: the same record may pass if sent again later)"


class Channel(StrEnum):
    STATUS = "status"  # intentcast.intents.status: the intent's customer
    FEEDBACK = "feedback"  # intentcast.vendor.<id>.feedback: that vendor only
    DEAD_LETTERS = "dead_letters"  # intentcast.deadletters: the operator only


@dataclass(frozen=True)
class CustomerRecord:
    """An intent, acceptance or cancel: its customer is reached through the intent id alone."""

    kind: str  # "intent", "acceptance", "cancel": the metric family and the detail's label
    intent_id: str

    @property
    def reachable(self) -> bool:
        return is_message_id(self.intent_id)


@dataclass(frozen=True)
class VendorRecord:
    """An offer naming `vendor_id`, or a profile on the vendor's own profile topic.

    An offer reaches its vendor only if the id is registered: any vendor principal may write
    the shared offers topic, so an unregistered id names nobody whose topic is known to be
    theirs. A profile always reaches the owner of its topic, registered or not: only that
    vendor's principal may write it, and its feedback topic is made with it.
    """

    kind: str  # "offer" or "profile"
    vendor_id: str
    offer_id: str = ""
    intent_id: str = ""
    own_topic: bool = False  # read from the vendor's own topic: the topic names the vendor

    @classmethod
    def profile(cls, topic: str) -> VendorRecord:
        owner = vendor_id_of_profile_topic(topic)
        return cls("profile", owner or "", own_topic=owner is not None)


Sender = CustomerRecord | VendorRecord


def channels(reason: ReasonCode, sender: Audience, reachable: bool) -> tuple[Channel, ...]:
    """Where a refusal goes: to the sender when the code is for it and it can be reached, and
    to the operator when the code is for the operator, when the sender is a customer, or when
    nobody else heard of it.

    A customer's refused record is always dead-lettered as well: the customer is anonymous
    and its status carries only the code, so the operator's copy is the one that shows what
    was sent. A vendor's own business refusals (`price_over_max`...) go to it alone.
    """
    out: list[Channel] = []
    if reachable and sender in reason.audience:
        out.append(Channel.STATUS if sender is Audience.CUSTOMER else Channel.FEEDBACK)
    if Audience.OPERATOR in reason.audience or sender is Audience.CUSTOMER or not out:
        out.append(Channel.DEAD_LETTERS)
    return tuple(out)


async def refuse(
    ctx: HandlerContext,
    rec: Incoming,
    error: Rejected,
    sender: Sender,
    *,
    outputs: Emitter | None = None,
) -> tuple[Channel, ...]:
    """Queue the refusal of `rec` on every channel it is owed (on `outputs`, the agents'
    shared ones by default; their owner flushes them), and say which."""
    reason = error.reason
    detail = error.detail + (RETRIABLE_NOTE if reason.retriable else "")
    ctx.metrics.count(f"{sender.kind}s.rejected.{reason.value}")
    audience = Audience.CUSTOMER if isinstance(sender, CustomerRecord) else Audience.VENDOR
    reachable = sender.reachable if isinstance(sender, CustomerRecord) else _reachable(ctx, sender)
    out = outputs or ctx.outputs
    routed = channels(reason, audience, reachable)
    for channel in routed:
        if channel is Channel.DEAD_LETTERS:
            await dead_letter(ctx, rec, reason, detail, outputs=out)
        elif isinstance(sender, CustomerRecord):
            told = detail if sender.kind == "intent" else f"{sender.kind}: {detail}"
            await out.status(sender.intent_id, StatusKind.REJECTED, reason=reason, detail=told)
        else:
            await out.feedback(
                vendor_id=sender.vendor_id,
                offer_id=sender.offer_id if is_message_id(sender.offer_id) else "",
                intent_id=sender.intent_id if is_message_id(sender.intent_id) else "",
                reason=reason,
                detail=detail if sender.kind == "offer" else f"{sender.kind}: {detail}",
            )
    return routed


def _reachable(ctx: HandlerContext, sender: VendorRecord) -> bool:
    if sender.own_topic:
        return True
    return bool(sender.vendor_id) and ctx.registry.key_of(sender.vendor_id) is not None
