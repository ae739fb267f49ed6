"""The benchmark's message mix: real signed intents, offers and acceptances, 1 : vendors : 1."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal

from intentcast.agents import OfferDraft, build_offer
from intentcast.bench import passthrough, pipeline
from intentcast.bench.vendors_proc import vendor_id, vendor_key
from intentcast.schemas import Acceptance, content_hash, encode, sign_model, utcnow


def message_mix(n: int, vendors: int) -> tuple[list[tuple[bytes, bytes]], Callable[[bytes], None]]:
    """Real intents, offers and acceptances in the pipeline's ratio 1 : vendors : 1."""
    items = pipeline.make_intents(n)
    records: list[tuple[bytes, bytes]] = []
    intent_keys, vendor_keys, sealing = {}, {}, {}
    for v in range(vendors):
        vendor_keys[vendor_id(v)] = vendor_key(v).public_key
    for p in items:
        iid = p.intent.intent_id
        intent_keys[iid], sealing[iid] = p.intent.signing_key, p.intent.sealing_key
        records.append((iid.encode(), encode(p.intent)))
        offers = [
            build_offer(OfferDraft(price=Decimal("150")), p.intent, vendor_id=vendor_id(v),
                        key=vendor_key(v))
            for v in range(vendors)
        ]  # fmt: skip
        records += [(iid.encode(), encode(o)) for o in offers]
        acceptance = sign_model(Acceptance(
            intent_id=iid, offer_id=offers[0].offer_id, offer_hash=content_hash(offers[0]),
            accepted_at=utcnow()), p.keys.signing)  # fmt: skip
        records.append((iid.encode(), encode(acceptance)))
    return records, passthrough.make_crypto_work(intent_keys, vendor_keys, sealing)
