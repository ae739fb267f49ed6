"""ACME Bikes: accepts every roster term and offers 90% of the customer's maximum price."""

from __future__ import annotations

import hashlib
from decimal import Decimal

from intentcast.agents import ROSTER, Intent, OfferDraft, SigningKey, Vendor
from intentcast.examples.delivery import deliver
from intentcast.examples.pricing import round_down

KEY = SigningKey.from_seed(hashlib.sha256(b"example:acme-bikes").digest())
"""Fixed seed: the demo vendor keeps one identity (a real vendor keeps its seed secret)."""

vendor = Vendor(
    "acme-bikes",
    key=KEY,
    markets=["bikes"],
    accepts=sorted(ROSTER),
    display_name="ACME Bikes",
)


@vendor.on_intent("bikes")
async def quote(intent: Intent) -> OfferDraft:
    """Undercut the customer's ceiling by 10%, whatever terms they proffer."""
    price = round_down(intent.max_price * Decimal("0.9"), intent.currency)
    return OfferDraft(price=price, description=f"{intent.want.item}: in stock, delivered in 2 days")


vendor.on_disclosure(deliver)
