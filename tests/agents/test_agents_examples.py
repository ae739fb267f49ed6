"""The example vendors price and filter as documented (handlers called directly, and the
whole SDK path on the in-memory transport)."""

from __future__ import annotations

from decimal import Decimal

from intentcast.agents import InMemoryTransport
from intentcast.examples import acme, careful, premium
from tests.agents.helpers import make_intent


async def test_acme_offers_ninety_percent() -> None:
    draft = await acme.quote(make_intent(max_price="199.99"))
    assert draft.price == Decimal("179.99")


async def test_premium_prices_above_the_ceiling() -> None:
    assert (await premium.quote(make_intent(max_price="200"))).price == Decimal("230")
    assert (await premium.quote(make_intent(max_price="100"))).price == Decimal("180")


async def test_careful_skips_intents_proffering_pdc_ai() -> None:
    kafka = InMemoryTransport()
    async with careful.vendor.serving(kafka) as running:
        assert await kafka.send_intent(make_intent(terms=("SD-BASE", "PDC-AI"))) is None
        assert running.stats.skipped_terms == 1
        offer = await kafka.send_intent(make_intent(terms=("SD-BASE", "P2B1")))
    assert offer is not None and offer.price == Decimal("190")
    assert kafka.registered["careful-cycles"].signing_key == careful.KEY.public_key


def test_examples_have_fixed_identities() -> None:
    ids = {m.vendor.vendor_id: m.vendor.key.public_key for m in (acme, careful, premium)}
    assert set(ids) == {"acme-bikes", "careful-cycles", "premium-wheels"}
    assert len(set(ids.values())) == 3
