"""A process hosting V benchmark vendors built with the SDK; each answers every intent.

Run by the pipeline benchmark as a child process: `python -m bench.vendors_proc --vendors 3`.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
from decimal import Decimal

from intentcast.agents import ClientSettings, OfferDraft, Vendor
from intentcast.schemas import ROSTER, SigningKey
from intentcast.schemas.intent import Intent

MARKETS = ("bikes", "strollers", "groceries")


def vendor_id(index: int) -> str:
    return f"bench-vendor-{index}"


def vendor_key(index: int) -> SigningKey:
    return SigningKey.from_seed(hashlib.sha256(f"bench:{vendor_id(index)}".encode()).digest())


def make_vendor(index: int, bootstrap: str) -> Vendor:
    vendor = Vendor(
        vendor_id(index),
        key=vendor_key(index),
        markets=MARKETS, accepts=sorted(ROSTER), settings=ClientSettings(bootstrap=bootstrap),
    )  # fmt: skip
    discount = Decimal(90 - index) / 100  # vendors differ, so "best" is well defined

    async def quote(intent: Intent) -> OfferDraft:
        return OfferDraft(
            price=(intent.max_price * discount).quantize(Decimal("0.01")), description="bench offer"
        )

    vendor.on_intent(*MARKETS)(quote)
    return vendor


async def main(count: int, bootstrap: str) -> None:
    vendors = [make_vendor(i, bootstrap) for i in range(count)]
    await asyncio.gather(*(v.run() for v in vendors))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--vendors", type=int, default=3)
    parser.add_argument("--bootstrap", default="127.0.0.1:9092")
    args = parser.parse_args()
    asyncio.run(main(args.vendors, args.bootstrap))
