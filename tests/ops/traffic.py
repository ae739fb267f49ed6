"""Customer traffic for ops tests: intents the example vendors answer, some refusals, agreements.

Run by hand to watch the monitor or the dashboard move (needs the processors and the example
vendors running): ``python -m tests.ops.traffic --bootstrap 127.0.0.1:9092 --rounds 20``.
"""

from __future__ import annotations

import argparse
import asyncio
from decimal import Decimal

from intentcast.agents import ClientSettings, CustomerClient, IntentRejectedError

PRICES = (Decimal("150"), Decimal("200"), Decimal("240"), Decimal("320"))


async def one_round(client: CustomerClient, i: int, accept: bool = True) -> str:
    """Publish one bikes intent; accept its first offer (premium's are refused on price)."""
    handle = await client.publish(
        market="bikes", item=f"city bike #{i}", max_price=PRICES[i % len(PRICES)],
        currency="EUR", country="DE", city="Berlin", terms=["SD-BASE", "P2B1"],
        intake_timeout=60,
    )  # fmt: skip
    async for offer in handle.offers(timeout=30.0):
        if accept:
            await handle.accept(offer, timeout=60)
        break
    return handle.intent_id


async def refused_round(client: CustomerClient) -> None:
    """An intent for a market that does not exist: intake refuses it (market_unknown)."""
    try:
        await client.publish(
            market="submarines", item="yellow submarine", max_price=Decimal("100"),
            currency="EUR", country="DE", intake_timeout=60,
        )  # fmt: skip
    except IntentRejectedError:
        return
    raise AssertionError("intake accepted an intent for an unknown market")


async def run(bootstrap: str, rounds: int, pause: float = 0.0) -> None:
    async with CustomerClient(ClientSettings(bootstrap=bootstrap)) as client:
        for i in range(rounds):
            await one_round(client, i)
            if i % 3 == 2:
                await refused_round(client)
            await asyncio.sleep(pause)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--bootstrap", default="127.0.0.1:9092")
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--pause", type=float, default=1.0)
    args = parser.parse_args()
    asyncio.run(run(args.bootstrap, args.rounds, args.pause))


if __name__ == "__main__":
    main()
