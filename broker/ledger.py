"""The agreement log: one hash chain of sealed entries per partition, whose head is recovered
from the log itself.

A worker never trusts its memory for the chain head: the first time it appends to a partition
(after start or a rebalance) it reads that partition of the log, so a crash between writing an
entry and committing the record that caused it cannot fork the chain or record an intent twice.
The processors open their own sealed copy of each agreement entry to know which intents are
agreed; every other entry type only advances the head.
"""

from __future__ import annotations

import asyncio
import heapq
from collections.abc import Callable, Mapping
from contextlib import aclosing
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TypeVar

from pydantic import BaseModel

from intentcast.broker.log_keys import log_readers, processors_key
from intentcast.broker.outputs import Outputs
from intentcast.broker.partition_reader import read_partition
from intentcast.broker.settings import BrokerSettings
from intentcast.schemas import AGREEMENTS, GENESIS_HASH, Agreement, SchemaError, encode
from intentcast.schemas.crypto import SealingKey
from intentcast.schemas.log import (
    AGREEMENT_ENTRY,
    EntryKind,
    EntryType,
    Link,
    LogEntry,
    Reader,
    decode_link,
    link_id,
)
from intentcast.schemas.timeutil import utcnow

M = TypeVar("M", bound=BaseModel)

BuildContent = Callable[[int, str], M]  # (seq, prev_hash) -> the entry's content
BuildAgreement = Callable[[int, str], Agreement]


@dataclass
class ChainState:
    seq: int = -1
    head: str = GENESIS_HASH
    # intent_id -> agreement_id, for the intents that may still be in the intent table
    by_intent: dict[str, str] = field(default_factory=dict)
    _expiries: list[tuple[datetime, str]] = field(default_factory=list)  # a heap

    def advance(self, link: Link) -> None:
        """Move the head to ``link`` (an entry of any type, or a legacy agreement)."""
        self.seq, self.head = link.seq, link_id(link)

    def add(self, agreement: Agreement, horizon: datetime) -> None:
        """Remember the agreed intent unless it expired before `horizon`, and forget those
        that did."""
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
        self._keys: tuple[SealingKey, dict[Reader, str]] | None = None

    def _sealing(self) -> tuple[SealingKey, dict[Reader, str]]:
        """The processors' key and the readers every entry is sealed to, read on first use
        (a worker that never touches the log needs no key file)."""
        if self._keys is None:
            self._keys = processors_key(self._settings), log_readers(self._settings)
        return self._keys

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
            key, _ = self._sealing()
            state = await read_chain(self._settings, key, partition, self._horizon())
            self._chains[partition] = state
        return state

    async def recorded(self, partition: int, intent_id: str) -> str | None:
        """The agreement id already in the log for this intent, if any."""
        return (await self.chain(partition)).by_intent.get(intent_id)

    async def append_entry(
        self,
        partition: int,
        kind: EntryKind[M],
        build: BuildContent[M],
        readers: Mapping[Reader, str] | Callable[[M], Mapping[Reader, str]],
    ) -> tuple[M, LogEntry]:
        """Chain the next entry of any type and queue it; it is acknowledged with the batch's
        outputs. ``readers`` (or a function of the content giving them) are sealed to besides the
        processors and the configured auditor: an intent's customer is
        ``{Reader.CUSTOMER: intent.sealing_key}``.

        The head advances in memory at once, so a batch costs one round trip, not one per
        entry. The idempotent producer keeps a partition's records in order; if the batch's
        flush fails, `Context.commit_batch` drops every cached head so the next attempt
        re-reads the truth from the log.
        """
        lock = self._locks.setdefault(partition, asyncio.Lock())
        async with lock:
            state = await self.chain(partition)
            content = build(state.seq + 1, state.head)
            extra = readers(content) if callable(readers) else readers
            entry = kind.entry(
                content,
                partition=partition,
                seq=state.seq + 1,
                prev_hash=state.head,
                readers={**self._sealing()[1], **extra},
                recorded_at=self._clock(),
            )
            await self._outputs.send(
                AGREEMENTS, encode(entry), entry.intent_id.encode(), partition=partition
            )
            state.advance(entry)
            if isinstance(content, Agreement):
                state.add(content, self._horizon())
            return content, entry

    async def append(self, partition: int, intent_id: str, build: BuildAgreement) -> Agreement:
        """Chain an agreement, sealed to its customer's intent key as well."""
        content, entry = await self.append_entry(
            partition, AGREEMENT_ENTRY, build, lambda a: {Reader.CUSTOMER: a.intent.sealing_key}
        )
        assert entry.intent_id == intent_id, "the agreement names another intent than its key"
        return content

    async def find(self, partition: int, intent_id: str) -> Agreement | None:
        """The whole agreement the log holds for one intent (read from Kafka: reconciling a
        replay is rare)."""
        return await find_recorded(self._settings, self._sealing()[0], partition, intent_id)

    def _horizon(self) -> datetime:
        """Intents that expired before this are out of every worker's table."""
        # the intent table drops an intent at expiry, and an acceptance whose intent is not in
        # the table is refused before the ledger is asked: older entries would only grow
        # memory with every agreement ever made
        settings = self._settings
        keep = settings.max_clock_skew_seconds + settings.ledger_keep_after_expiry_seconds
        return self._clock() - timedelta(seconds=keep)


def _open_agreement(link: Link, key: SealingKey) -> Agreement | None:
    """The agreement a link records (a legacy one is in clear), or None for other types."""
    if isinstance(link, Agreement):
        return link
    if link.entry_type is not EntryType.AGREEMENT:
        return None
    return link.open(AGREEMENT_ENTRY, key)


async def find_recorded(
    settings: BrokerSettings, key: SealingKey, partition: int, intent_id: str
) -> Agreement | None:
    """The agreement the log holds for one intent (a rare read: only when reconciling a replay)."""
    wanted = intent_id.encode()
    records = read_partition(settings, AGREEMENTS, partition, client_id=f"{settings.app_id}-ledger")
    async with aclosing(records):
        async for record in records:
            if record.key != wanted:
                continue
            try:
                found = _open_agreement(decode_link(record.value or b""), key)
            except SchemaError:
                continue  # `audit verify` reports it
            if found is not None:
                return found
    return None


async def read_chain(
    settings: BrokerSettings, key: SealingKey, partition: int, horizon: datetime
) -> ChainState:
    """Fold one partition of the log into its head and the intents it already records
    (those that expired before `horizon` are left out)."""
    state = ChainState()
    client_id = f"{settings.app_id}-ledger"
    async for record in read_partition(settings, AGREEMENTS, partition, client_id=client_id):
        try:
            entry = decode_link(record.value or b"")  # a log from before entries goes on
            state.advance(entry)
            agreement = _open_agreement(entry, key)
        except SchemaError:
            continue  # not ours to fix here; `audit verify` reports it
        if agreement is not None:
            state.add(agreement, horizon)
    return state
