"""The agreement log: one hash chain per partition, whose head is recovered from the log itself.

A worker never trusts its memory for the chain head: the first time it appends to a partition
(after start or a rebalance) it reads that partition of the log, so a crash between writing an
agreement and committing the acceptance cannot fork the chain or record an intent twice.
"""

from __future__ import annotations

import asyncio
import heapq
from collections.abc import Callable
from contextlib import aclosing
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from intentcast.broker.outputs import Outputs
from intentcast.broker.partition_reader import read_partition
from intentcast.broker.settings import BrokerSettings
from intentcast.schemas import (
    AGREEMENTS,
    GENESIS_HASH,
    Agreement,
    SchemaError,
    decode,
    encode,
    utcnow,
)

BuildAgreement = Callable[[int, str], Agreement]  # (seq, prev_hash) -> agreement


@dataclass
class ChainState:
    seq: int = -1
    head: str = GENESIS_HASH
    # intent_id -> agreement_id, for the intents that may still be in the intent table
    by_intent: dict[str, str] = field(default_factory=dict)
    _expiries: list[tuple[datetime, str]] = field(default_factory=list)  # a heap

    def add(self, agreement: Agreement, horizon: datetime) -> None:
        """Advance the head; remember the intent unless it expired before `horizon`, and
        forget those that did."""
        self.seq, self.head = agreement.seq, agreement.agreement_id
        intent = agreement.intent
        if intent.expires_at >= horizon:
            self.by_intent[intent.intent_id] = agreement.agreement_id
            heapq.heappush(self._expiries, (intent.expires_at, intent.intent_id))
        while self._expiries and self._expiries[0][0] < horizon:
            self.by_intent.pop(heapq.heappop(self._expiries)[1], None)


class Ledger:
    def __init__(
        self, settings: BrokerSettings, outputs: Outputs, clock: Callable[[], datetime] = utcnow
    ) -> None:
        self._settings = settings
        self._outputs = outputs
        self._clock = clock
        self._chains: dict[int, ChainState] = {}
        self._locks: dict[int, asyncio.Lock] = {}

    def forget(self, partitions: set[int] | None = None) -> None:
        """Drop cached heads (on a rebalance, or after a batch that advanced them was thrown
        away: they may name records that never reached Kafka), so they are re-read from the
        log."""
        if partitions is None:
            self._chains.clear()
        else:
            for p in partitions:
                self._chains.pop(p, None)

    async def chain(self, partition: int) -> ChainState:
        state = self._chains.get(partition)
        if state is None:
            state = await read_chain(self._settings, partition, self._horizon())
            self._chains[partition] = state
        return state

    async def recorded(self, partition: int, intent_id: str) -> str | None:
        """The agreement id already in the log for this intent, if any."""
        return (await self.chain(partition)).by_intent.get(intent_id)

    async def append(self, partition: int, intent_id: str, build: BuildAgreement) -> Agreement:
        """Chain the next agreement and queue it; it is acknowledged with the batch's outputs.

        The head advances in memory at once, so a batch of acceptances costs one round trip,
        not one each. The idempotent producer keeps a partition's records in order; if the
        batch's flush fails, `Context.commit_batch` drops every cached head so the next
        attempt re-reads the truth from the log.
        """
        lock = self._locks.setdefault(partition, asyncio.Lock())
        async with lock:
            state = await self.chain(partition)
            agreement = build(state.seq + 1, state.head)
            await self._outputs.send(
                AGREEMENTS, encode(agreement), intent_id.encode(), partition=partition
            )
            state.add(agreement, self._horizon())
            return agreement

    async def find(self, partition: int, intent_id: str) -> Agreement | None:
        """The whole agreement the log holds for one intent (read from Kafka: reconciling a
        replay is rare)."""
        return await find_recorded(self._settings, partition, intent_id)

    def _horizon(self) -> datetime:
        """Intents that expired before this are out of every worker's table."""
        # the intent table drops an intent at expiry, and an acceptance whose intent is not in
        # the table is refused before the ledger is asked: older entries would only grow
        # memory with every agreement ever made
        settings = self._settings
        keep = settings.max_clock_skew_seconds + settings.ledger_keep_after_expiry_seconds
        return self._clock() - timedelta(seconds=keep)


async def find_recorded(
    settings: BrokerSettings, partition: int, intent_id: str
) -> Agreement | None:
    """The agreement the log holds for one intent (a rare read: only when reconciling a replay)."""
    key = intent_id.encode()
    records = read_partition(settings, AGREEMENTS, partition, client_id=f"{settings.app_id}-ledger")
    async with aclosing(records):
        async for record in records:
            if record.key == key:
                return decode(Agreement, record.value or b"")
    return None


async def read_chain(settings: BrokerSettings, partition: int, horizon: datetime) -> ChainState:
    """Fold one partition of the log into its head and the intents it already records
    (those that expired before `horizon` are left out)."""
    state = ChainState()
    client_id = f"{settings.app_id}-ledger"
    async for record in read_partition(settings, AGREEMENTS, partition, client_id=client_id):
        try:
            agreement = decode(Agreement, record.value or b"")
        except SchemaError:
            continue  # not ours to fix here; `audit verify` reports it
        state.add(agreement, horizon)
    return state
