"""Careful Cycles: never uses customer data for AI, so it skips intents proffering PDC-AI."""

from __future__ import annotations

import hashlib
from decimal import Decimal

from intentcast.agents import ROSTER, Intent, OfferDraft, SigningKey, Vendor
from intentcast.examples.delivery import deliver
from intentcast.examples.pricing import round_down

KEY = SigningKey.from_seed(hashlib.sha256(b"example:careful-cycles").digest())
"""Fixed seed: the demo vendor keeps one identity (a real vendor keeps its seed secret)."""

vendor = Vendor(
    "careful-cycles",
    key=KEY,
    markets=["bikes"],
    # Not accepting PDC-AI is enough: the SDK skips any intent that proffers it.
    accepts=sorted(term for term in ROSTER if term != "PDC-AI"),
    display_name="Careful Cycles",
)


@vendor.on_intent("bikes")
async def quote(intent: Intent) -> OfferDraft | None:
    """Offer 95% of the ceiling; decline bulk orders it cannot serve."""
    if intent.want.quantity > 5:
        return None
    price = round_down(intent.max_price * Decimal("0.95"), intent.currency)
    return OfferDraft(
        price=price,
        description=f"{intent.want.item}: serviced; your data is deleted after delivery",
    )


vendor.on_disclosure(deliver)
