"""Concurrent batches of different agents against one intent table: each batch's writes reach
the table only after its own outputs are acknowledged, never through another batch's commit.

The broker-restart drill lost offer feedback this way: the intake agent's commit applied the
offers agent's staged record, whose outputs then failed; the retry took the record for a
replay and sent nothing.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from typing import Any

import pytest

from intentcast.broker.intent_store import IntentStore, StateBatch, StateConflictError
from intentcast.broker.records import IntentRecord

ID = "a" * 32


def _record(delivered: dict[str, str] | None = None, expires_at_ms: int = 10) -> IntentRecord:
    return IntentRecord(
        intent_json="{}",
        intent_hash="h",
        expires_at_ms=expires_at_ms,
        partition=0,
        delivered=delivered or {},
    )


async def _in_task(body: Callable[[], Coroutine[Any, Any, None]]) -> None:
    """Each agent's batch is an asyncio task of its own, as in a worker."""
    await asyncio.create_task(body())


async def test_another_batchs_commit_does_not_apply_what_this_batch_staged() -> None:
    store = IntentStore(table={}, partitions=1)
    staged = asyncio.Event()
    other_committed = asyncio.Event()

    async def offers() -> None:
        batch = store.begin()
        store.put(ID, _record({"o1": "{}"}))
        staged.set()
        await other_committed.wait()
        assert ID.encode() not in store.table  # not applied by the other agent's commit
        store.abandon(batch)  # its outputs failed

    async def intake() -> None:
        await staged.wait()
        batch = store.begin()
        store.put("b" * 32, _record())
        await store.commit(batch)
        other_committed.set()

    await asyncio.gather(_in_task(offers), _in_task(intake))
    assert set(store.table) == {b"b" * 32}
    assert store.get(ID) is None  # the retry sees no claim of a delivery that failed


async def test_a_batch_that_built_on_a_thrown_away_batch_is_not_applied() -> None:
    store = IntentStore(table={}, partitions=1)
    staged, read = asyncio.Event(), asyncio.Event()
    outcome: list[str] = []

    async def offers() -> None:
        batch = store.begin()
        store.put(ID, _record({"o1": "{}"}))
        staged.set()
        await read.wait()
        store.abandon(batch)

    async def decisions() -> None:
        await staged.wait()
        batch = store.begin()
        record = store.get(ID)  # sees the pending delivery: an acceptance may follow it
        assert record is not None and "o1" in record.delivered
        store.put(ID, record.model_copy(update={"agreement_id": "g1"}))
        read.set()
        try:
            await store.commit(batch)  # waits for the offers batch, which is thrown away
        except StateConflictError:
            store.abandon(batch)
            outcome.append("conflict")

    await asyncio.gather(_in_task(offers), _in_task(decisions))
    assert outcome == ["conflict"]
    assert store.table == {} and store.pending == {}


async def test_dependent_writes_reach_the_table_in_order() -> None:
    store = IntentStore(table={}, partitions=1)
    staged, read = asyncio.Event(), asyncio.Event()
    order: list[str] = []

    async def offers() -> None:
        batch = store.begin()
        store.put(ID, _record({"o1": "{}"}))
        staged.set()
        await read.wait()
        await asyncio.sleep(0.01)  # the dependent batch is already waiting for this one
        await store.commit(batch)
        order.append("offers")

    async def decisions() -> None:
        await staged.wait()
        batch = store.begin()
        record = store.get(ID)
        assert record is not None
        store.put(ID, record.model_copy(update={"agreement_id": "g1"}))
        read.set()
        await store.commit(batch)
        order.append("decisions")

    await asyncio.gather(_in_task(decisions), _in_task(offers))
    assert order == ["offers", "decisions"]
    final = IntentRecord.from_bytes(store.table[ID.encode()])
    assert final.agreement_id == "g1" and "o1" in final.delivered  # neither update lost


async def test_two_batches_building_on_each_other_do_not_deadlock() -> None:
    store = IntentStore(table={}, partitions=1)
    first_wrote, second_wrote = asyncio.Event(), asyncio.Event()
    errors: list[type[BaseException]] = []

    async def first() -> None:
        batch = store.begin()
        store.put(ID, _record())
        first_wrote.set()
        await second_wrote.wait()
        try:
            store.get("b" * 32)  # the second batch's pending write: the second built on us
        except StateConflictError as exc:
            errors.append(type(exc))
            store.abandon(batch)
            return
        await store.commit(batch)

    async def second() -> None:
        await first_wrote.wait()
        batch = store.begin()
        assert store.get(ID) is not None  # builds on the first batch
        store.put("b" * 32, _record())
        second_wrote.set()
        try:
            await store.commit(batch)
        except StateConflictError as exc:
            errors.append(type(exc))
            store.abandon(batch)

    await asyncio.wait_for(asyncio.gather(_in_task(first), _in_task(second)), 2.0)
    assert errors == [StateConflictError, StateConflictError]  # both start over, none hangs
    assert store.table == {} and store.pending == {}


async def test_a_thrown_away_batch_leaves_due_expiries_to_a_rebuild() -> None:
    store = IntentStore(table={ID.encode(): _record(expires_at_ms=5).to_bytes()}, partitions=1)
    store.rebuild_heaps()

    async def expiry() -> None:
        batch = store.begin()
        assert store.due(0, now_ms=100) == [ID]  # taken off the heap
        store.drop(ID)
        store.abandon(batch)  # the expired status was not acknowledged

    await _in_task(expiry)
    assert not store.heaps_built
    store.rebuild_heaps()
    assert store.due(0, now_ms=100) == [ID]  # the next tick expires it after all


def test_code_outside_any_batch_stages_and_applies_in_one_loose_batch() -> None:
    store = IntentStore(table={}, partitions=1)
    store.put(ID, _record())
    assert store.table == {} and store.get(ID) is not None
    store.apply()
    assert ID.encode() in store.table and store.pending == {}
    assert isinstance(store.current(), StateBatch)


@pytest.mark.parametrize("drop", [False, True])
async def test_a_batch_reads_its_own_writes_first(drop: bool) -> None:
    store = IntentStore(table={ID.encode(): _record().to_bytes()}, partitions=1)

    async def body() -> None:
        batch = store.begin()
        if drop:
            store.drop(ID)
            assert store.get(ID) is None
        else:
            store.put(ID, _record({"o1": "{}"}))
            record = store.get(ID)
            assert record is not None and "o1" in record.delivered
        await store.commit(batch)

    await _in_task(body)
    assert (ID.encode() in store.table) is not drop


async def test_a_commit_does_not_wait_forever_for_a_batch_that_never_finishes(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A batch that waits for another agent's batch inside its own handling (as the replay
    barrier once did) can close a cycle no read sees; the dependent retries instead of hanging."""
    monkeypatch.setattr("intentcast.broker.intent_store.DEPENDENCY_WAIT_S", 0.2)
    store = IntentStore(table={}, partitions=1)
    staged = asyncio.Event()
    release = asyncio.Event()
    errors: list[type[BaseException]] = []

    async def stuck() -> None:
        batch = store.begin()
        store.put(ID, _record())
        staged.set()
        await release.wait()
        store.abandon(batch)

    async def dependent() -> None:
        await staged.wait()
        batch = store.begin()
        assert store.get(ID) is not None
        try:
            await store.commit(batch)
        except StateConflictError as exc:
            errors.append(type(exc))
            store.abandon(batch)
        release.set()

    await asyncio.wait_for(asyncio.gather(_in_task(stuck), _in_task(dependent)), 5.0)
    assert errors == [StateConflictError]
    assert store.pending == {}
