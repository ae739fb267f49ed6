"""Lightweight SDK vendors for the drills: each answers every intent of its market with an offer.

Run one as a child process (`python -m drills.vendors drill-a --bootstrap ...`) so a drill can
kill it by PID. Keys come from fixed seeds: the registry binds a vendor id to its first key.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from decimal import Decimal

import typer

from intentcast.agents import ClientSettings, OfferDraft, Vendor
from intentcast.schemas import ROSTER, Intent, SigningKey

DRILL_VENDORS = ("drill-a", "drill-b", "drill-c")
DRILL_MARKET = "electronics"


def drill_vendor(vendor_id: str, bootstrap: str, market: str = DRILL_MARKET) -> Vendor:
    """A vendor that offers 80% of the customer's maximum, whatever terms are proffered."""
    key = SigningKey.from_seed(hashlib.sha256(f"drill-vendor:{vendor_id}".encode()).digest())
    vendor = Vendor(
        vendor_id,
        key=key,
        markets=[market],
        accepts=sorted(ROSTER),
        settings=ClientSettings(bootstrap=bootstrap),
        max_in_flight=1,
        dedupe_size=100_000,  # a whole drill's intents: replays never produce a second offer
    )

    @vendor.on_intent(market)
    async def quote(intent: Intent) -> OfferDraft:
        return OfferDraft(price=(intent.max_price * Decimal("0.8")).quantize(Decimal("1")))

    return vendor


def main(
    vendor_id: str = typer.Argument(..., help="Vendor id, e.g. drill-a."),
    bootstrap: str = typer.Option(..., help="Kafka bootstrap servers."),
    market: str = typer.Option(DRILL_MARKET, help="The market to answer."),
) -> None:
    """Run one drill vendor until SIGTERM/SIGINT (SIGKILL is what the vendor drill sends)."""
    logging.basicConfig(level=logging.WARNING)
    asyncio.run(drill_vendor(vendor_id, bootstrap, market).run())


if __name__ == "__main__":
    typer.run(main)
