"""Premium Wheels: accepts every term but never sells cheap, so low ceilings refuse its offers."""

from __future__ import annotations

import hashlib
from decimal import Decimal

from intentcast.agents import ROSTER, Intent, OfferDraft, SigningKey, Vendor
from intentcast.examples.pricing import round_up

KEY = SigningKey.from_seed(hashlib.sha256(b"example:premium-wheels").digest())
"""Fixed seed: the demo vendor keeps one identity (a real vendor keeps its seed secret)."""

FLOOR = Decimal("180")
"""The lowest price Premium Wheels quotes, in any currency (a demo simplification)."""

vendor = Vendor(
    "premium-wheels",
    key=KEY,
    markets=["bikes"],
    accepts=sorted(ROSTER),
    display_name="Premium Wheels",
)


@vendor.on_intent("bikes")
async def quote(intent: Intent) -> OfferDraft:
    """Quote 15% over the ceiling (at least 180): the processors refuse it as price_over_max."""
    price = round_up(max(intent.max_price * Decimal("1.15"), FLOOR), intent.currency)
    return OfferDraft(price=price, description=f"{intent.want.item}: hand-built, lifetime warranty")
