"""Handlers are domain code: run one with a dict for the intent table, outputs that are only
queued, and a fixed clock, and read what it decided. No faust, no Kafka."""

from __future__ import annotations

from datetime import UTC, datetime
from types import SimpleNamespace
from typing import cast

from intentcast.broker.context import Context, IntentStore
from intentcast.broker.metrics import Metrics
from intentcast.broker.outputs import Outputs
from intentcast.broker.processors.incoming import Incoming
from intentcast.broker.processors.intake import handle_intent
from intentcast.broker.runtime.batch_loop import AgentLoop, Runtime
from intentcast.broker.settings import BrokerSettings
from intentcast.schemas import (
    DEAD_LETTERS,
    INTENT_STATUS,
    DeadLetter,
    IntentStatus,
    ReasonCode,
    StatusKind,
    decode,
    encode,
    market_topic,
)
from tests.agents.helpers import make_intent

PARTITIONS = 3


def _context() -> Context:
    settings = BrokerSettings(bootstrap="127.0.0.1:1", partitions=PARTITIONS)  # never dialled
    outputs = Outputs(settings, Metrics("t"))
    outputs.assume_partitions(
        {t: PARTITIONS for t in (INTENT_STATUS, DEAD_LETTERS, market_topic("bikes"))}
    )
    store = IntentStore(table={}, partitions=PARTITIONS)
    return Context.build(settings, store, outputs=outputs, clock=lambda: datetime.now(UTC))


def _incoming(value: bytes, key: bytes, offset: int = 0) -> Incoming:
    return Incoming(topic="intents", partition=0, offset=offset, key=key, value=value)


def _statuses(ctx: Context) -> list[IntentStatus]:
    return [decode(IntentStatus, v) for t, _, _, v in ctx.outputs.pending() if t == INTENT_STATUS]


async def test_a_valid_intent_is_published_to_its_market_and_staged() -> None:
    ctx = _context()
    intent = make_intent()
    raw = encode(intent)
    await handle_intent(ctx, _incoming(raw, intent.intent_id.encode()))
    market = [(k, v) for t, _, k, v in ctx.outputs.pending() if t == market_topic("bikes")]
    assert market == [(intent.intent_id.encode(), raw)]  # republished byte for byte
    assert [s.status for s in _statuses(ctx)] == [StatusKind.ACCEPTED]
    assert ctx.store.table == {}  # staged only: applied once the outputs are acknowledged
    assert ctx.store.get(intent.intent_id) is not None
    ctx.store.apply()
    assert intent.intent_id.encode() in ctx.store.table


async def test_a_replay_is_recognised_and_a_reused_id_refused() -> None:
    ctx = _context()
    intent = make_intent()
    key = intent.intent_id.encode()
    await handle_intent(ctx, _incoming(encode(intent), key))
    ctx.store.apply()
    await handle_intent(ctx, _incoming(encode(intent), key, offset=1))  # a replay
    assert ctx.metrics.counters["intents.replayed"] == 1
    other = make_intent(item="another bike").model_copy(update={"intent_id": intent.intent_id})
    await handle_intent(ctx, _incoming(encode(other), key, offset=2))
    letters = [decode(DeadLetter, v) for t, _, _, v in ctx.outputs.pending() if t == DEAD_LETTERS]
    assert [d.reason for d in letters] == [ReasonCode.DUPLICATE_MESSAGE]
    assert [s.status for s in _statuses(ctx)] == [StatusKind.ACCEPTED, StatusKind.REJECTED]


async def test_garbage_is_dead_lettered_with_its_reason() -> None:
    ctx = _context()
    await handle_intent(ctx, _incoming(b"\xff not json", b"k"))
    letters = [decode(DeadLetter, v) for t, _, _, v in ctx.outputs.pending() if t == DEAD_LETTERS]
    assert [d.reason for d in letters] == [ReasonCode.MALFORMED_JSON]
    assert _statuses(ctx) == []  # no intent id to tell


async def test_a_bug_on_one_record_is_dead_lettered_as_internal_error() -> None:
    """A handler bug on one odd record must not stall its partition: the record goes to the dead
    letters with the exception named, and the records after it are handled."""
    ctx = _context()

    async def handler(ctx: Context, rec: Incoming) -> None:
        if rec.offset == 0:
            raise ZeroDivisionError("division by zero")
        await handle_intent(ctx, rec)

    rt = cast(Runtime, SimpleNamespace(ctx=ctx))  # `_dispatch` needs only the context
    loop = AgentLoop("intake", "intents", handler, rt)
    intent = make_intent()
    await loop._dispatch(_incoming(b"{}", b"k", offset=0))
    await loop._dispatch(_incoming(encode(intent), intent.intent_id.encode(), offset=1))
    letters = [decode(DeadLetter, v) for t, _, _, v in ctx.outputs.pending() if t == DEAD_LETTERS]
    assert [d.reason for d in letters] == [ReasonCode.INTERNAL_ERROR]
    assert "ZeroDivisionError" in (letters[0].detail or "")
    assert [s.status for s in _statuses(ctx)] == [StatusKind.ACCEPTED]  # the next one handled
    assert ctx.metrics.counters["internal_errors"] == 1
