"""The ledger's memory of agreed intents stays bounded by the intents' lifetimes.

An acceptance is checked against the ledger only while its intent is in the intent table, which
drops an intent at expiry; remembering older agreements would grow memory with every agreement
ever made (the 30-minute soak showed it: ~0.2 MiB a minute at 5 agreements a second).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from intentcast.broker.ledger import ChainState
from intentcast.schemas import Agreement
from intentcast.schemas._tools.samples import sample

T0 = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)


def _agreement(seq: int, intent_id: str, expires_at: datetime) -> Agreement:
    base = sample(Agreement)
    intent = base.intent.model_copy(update={"intent_id": intent_id, "expires_at": expires_at})
    return base.model_copy(update={"seq": seq, "agreement_id": f"{seq:064x}", "intent": intent})


def test_agreements_of_long_expired_intents_are_forgotten() -> None:
    chain = ChainState()
    chain.add(_agreement(0, "a" * 32, T0 - timedelta(hours=3)), horizon=T0)  # long gone
    chain.add(_agreement(1, "b" * 32, T0 + timedelta(minutes=5)), horizon=T0)
    assert chain.by_intent == {"b" * 32: f"{1:064x}"}
    chain.add(_agreement(2, "c" * 32, T0 + timedelta(hours=2)), horizon=T0 + timedelta(hours=1))
    assert chain.by_intent == {"c" * 32: f"{2:064x}"}  # b's intent has expired meanwhile
    assert len(chain._expiries) == 1
