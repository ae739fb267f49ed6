"""The agreement log: one hash chain per partition, whose head is recovered from the log itself.

A worker never trusts its memory for the chain head: the first time it appends to a partition
(after start or a rebalance) it reads that partition of the log, so a crash between writing an
agreement and committing the acceptance cannot fork the chain or record an intent twice.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from contextlib import aclosing
from dataclasses import dataclass, field

from broker.delivered import DeliveredOffers
from broker.outputs import Outputs
from broker.partition_reader import read_partition
from broker.replay import ReplayBarrier
from broker.settings import BrokerSettings
from schemas import AGREEMENTS, GENESIS_HASH, Agreement, SchemaError, decode, encode

BuildAgreement = Callable[[int, str], Agreement]  # (seq, prev_hash) -> agreement


@dataclass
class ChainState:
    seq: int = -1
    head: str = GENESIS_HASH
    by_intent: dict[str, str] = field(default_factory=dict)  # intent_id -> agreement_id


class Ledger:
    def __init__(self, settings: BrokerSettings, outputs: Outputs) -> None:
        self._settings = settings
        self._outputs = outputs
        self._chains: dict[int, ChainState] = {}
        self._locks: dict[int, asyncio.Lock] = {}
        self.delivered = DeliveredOffers(settings)  # the same recovery, for delivered offers
        self.replay = ReplayBarrier(settings)  # dependents wait for upstream replays

    def forget(self, partitions: set[int] | None = None) -> None:
        """Drop cached heads (on rebalance), so they are re-read from the log."""
        self.delivered.forget(partitions)
        if partitions is None:
            self.replay.forget()
            self._chains.clear()
        else:
            for p in partitions:
                self._chains.pop(p, None)

    async def chain(self, partition: int) -> ChainState:
        state = self._chains.get(partition)
        if state is None:
            state = await read_chain(self._settings, partition)
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
            state.seq, state.head = agreement.seq, agreement.agreement_id
            state.by_intent[intent_id] = agreement.agreement_id
            return agreement


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


async def read_chain(settings: BrokerSettings, partition: int) -> ChainState:
    """Fold one partition of the log into its head and the intents it already records."""
    state = ChainState()
    client_id = f"{settings.app_id}-ledger"
    async for record in read_partition(settings, AGREEMENTS, partition, client_id=client_id):
        try:
            agreement = decode(Agreement, record.value or b"")
        except SchemaError:
            continue  # not ours to fix here; `audit verify` reports it
        state.seq, state.head = agreement.seq, agreement.agreement_id
        state.by_intent[agreement.intent.intent_id] = agreement.agreement_id
    return state
