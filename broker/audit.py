"""Replay the agreement log and check every link; open and verify what the caller's keys open.

Anyone with read access to the log (customer, vendor, auditor) can check the chain offline with
no key: order, ids, no gap, no edit, one agreement per intent. A reader holding a key the
entries are sealed to (the processors', the auditor's, a customer's intent key) also opens
those entries and checks their content against the chain: the content hash, the binding to the
link and, for an agreement, both signatures and every term.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import aclosing
from dataclasses import dataclass, field

from aiokafka import AIOKafkaConsumer

from intentcast.broker.kafka_meta import topic_partitions
from intentcast.broker.partition_reader import read_partition
from intentcast.broker.settings import BrokerSettings
from intentcast.schemas import AGREEMENTS, Agreement, SchemaError
from intentcast.schemas.crypto import SealingKey
from intentcast.schemas.log import (
    AGREEMENT_ENTRY,
    ENTRY_KINDS,
    ChainCheck,
    Link,
    LogEntry,
    decode_link,
    is_agreement,
    link_intent,
    locate,
    recorded_hash,
)


@dataclass(frozen=True)
class Break:
    partition: int
    offset: int
    problem: str


@dataclass(frozen=True)
class LogKeys:
    """The keys a reader opens entries with: its own (processors', auditor's), and per
    intent (a customer's wallet) when it has them."""

    keys: tuple[SealingKey, ...] = ()
    per_intent: Callable[[str], SealingKey | None] | None = None

    def opener(self, entry: LogEntry) -> SealingKey | None:
        """A key this entry is sealed to, if the reader holds one."""
        candidates = list(self.keys)
        if self.per_intent is not None:
            own = self.per_intent(entry.intent_id)
            candidates += [own] if own is not None else []
        return next((k for k in candidates if entry.sealed_to(k.public_key) is not None), None)


@dataclass
class AuditResult:
    verified: int = 0  # entries whose link checked (and content, when opened)
    agreements: int = 0  # agreement entries among them
    opened: int = 0  # entries opened with a key and their content verified
    per_partition: dict[int, int] = field(default_factory=dict)
    breaks: list[Break] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.breaks

    @property
    def sealed(self) -> int:
        """Entries the caller's keys could not open (their chain was still checked)."""
        return self.verified - self.opened

    @property
    def first_break(self) -> Break | None:
        return min(self.breaks, key=lambda b: (b.offset, b.partition), default=None)


def check_record(
    value: bytes | None,
    chain: ChainCheck,
    agreed: dict[str, str],
    keys: LogKeys,
) -> tuple[Link | None, bool, str | None]:
    """Check one record against its chain: (link, opened, problem or None). A legacy
    agreement in clear counts as opened: the chain check verified it in full."""
    try:
        entry = decode_link(value or b"")
    except SchemaError as exc:
        return None, False, f"not a valid log entry ({exc})"
    if not chain.add(entry):
        return entry, False, chain.problem
    if is_agreement(entry) and link_intent(entry) in agreed:
        return entry, False, f"second agreement for intent {link_intent(entry)[:12]}"
    if isinstance(entry, Agreement):
        return entry, True, None
    key = keys.opener(entry)
    if key is None:
        return entry, False, None
    try:
        content = entry.open(ENTRY_KINDS[entry.entry_type], key)
        if isinstance(content, Agreement):
            content.verify()
    except SchemaError as exc:
        return entry, False, f"entry {entry.entry_id[:12]} content does not verify: {exc}"
    return entry, True, None


async def iter_log(
    settings: BrokerSettings,
    on_progress: Callable[[int, int], None] | None = None,
    topic: str = AGREEMENTS,
) -> AsyncIterator[tuple[int, int, bytes | None]]:
    """Yield (partition, offset, value) of every record up to the end as of the call (of
    ``topic``: a copy of the log can be checked the same way)."""
    consumer = AIOKafkaConsumer(
        **settings.kafka_kwargs(),
        enable_auto_commit=False,
        auto_offset_reset="earliest",  # a reset racing seek_to_beginning must not skip records
        client_id="intentcast-audit",
    )
    tps = sorted(
        await topic_partitions(settings.kafka_kwargs(), [topic], wait_s=5.0, missing_ok=True)
    )
    if not tps:
        return
    await consumer.start()
    try:
        consumer.assign(tps)
        ends = await consumer.end_offsets(tps)
        total, done = sum(ends.values()), 0
        await consumer.seek_to_beginning(*tps)
        pending = {tp for tp in tps if ends[tp] > 0}
        while pending:
            batch = await consumer.getmany(*pending, timeout_ms=1000)
            for tp, records in batch.items():
                for record in records:
                    if record.offset < ends[tp]:
                        done += 1
                        yield tp.partition, record.offset, record.value
            for tp in list(pending):
                if await consumer.position(tp) >= ends[tp]:
                    pending.discard(tp)
            if on_progress is not None:
                on_progress(done, total)
    finally:
        await consumer.stop()


async def verify_log(
    settings: BrokerSettings,
    on_progress: Callable[[int, int], None] | None = None,
    keys: LogKeys | None = None,
    topic: str = AGREEMENTS,
) -> AuditResult:
    """Read every partition from its start to the current end and verify it: the chain for
    anyone, and the content of every entry ``keys`` open."""
    keys = keys if keys is not None else LogKeys()
    result = AuditResult()
    chains: dict[int, ChainCheck] = {}
    agreed: dict[str, str] = {}
    async for partition, offset, value in iter_log(settings, on_progress, topic):
        chain = chains.setdefault(partition, ChainCheck(partition))
        if not chain.intact:
            continue  # report the first break of a partition only
        entry, opened, problem = check_record(value, chain, agreed, keys)
        if problem is not None:
            chain.problem = problem
            result.breaks.append(Break(partition, offset, problem))
            continue
        assert entry is not None
        if is_agreement(entry):
            agreed[link_intent(entry)] = recorded_hash(entry)
            result.agreements += 1
        result.verified += 1
        result.opened += opened
        result.per_partition[partition] = result.per_partition.get(partition, 0) + 1
    return result


async def find_entry(settings: BrokerSettings, agreement_id: str) -> Link | None:
    """The link recording the agreement whose id is or starts with ``agreement_id``: found
    with no key, since the hash is public."""
    found: Link | None = None
    async for _, _, value in iter_log(settings):
        if found is not None:
            continue  # drain, so the generator closes its consumer normally
        entry = decode_or_none(value)
        if (
            entry is not None
            and is_agreement(entry)
            and recorded_hash(entry).startswith(agreement_id)
        ):
            found = entry
    return found


async def find_agreement(
    settings: BrokerSettings, agreement_id: str, keys: LogKeys
) -> tuple[Link | None, Agreement | None]:
    """The link for ``agreement_id`` (or a unique prefix) and, when ``keys`` open it (or it
    is a legacy agreement in clear), the agreement itself, checked against its entry."""
    entry = await find_entry(settings, agreement_id)
    if entry is None or isinstance(entry, Agreement):
        return entry, entry
    key = keys.opener(entry)
    return entry, entry.open(AGREEMENT_ENTRY, key) if key is not None else None


@dataclass(frozen=True)
class KeptCheck:
    """A party's own agreement (the customer's receipt, the vendor's clear copy) against the
    log: the entry that records it and the chain up to it, or what is wrong."""

    entry: Link | None
    chained: int
    problem: str | None

    @property
    def ok(self) -> bool:
        return self.problem is None


async def verify_kept(settings: BrokerSettings, agreement: Agreement) -> KeptCheck:
    """Check a kept agreement on its own (ids, signatures, terms), then find its entry in its
    partition of the log by its hash and check the chain from the first entry up to it."""
    try:
        agreement.verify()
    except SchemaError as exc:
        return KeptCheck(None, 0, f"the kept agreement does not verify: {exc}")
    records = read_partition(
        settings, AGREEMENTS, agreement.partition, client_id="intentcast-audit-kept"
    )
    values: list[bytes | None] = []
    async with aclosing(records):
        async for record in records:
            values.append(record.value)
    entries = (decode_or_none(value) for value in values)
    entry, chain = locate(agreement.partition, entries, agreement.agreement_id)
    problem = chain.problem
    if problem is None and entry is None:
        problem = f"no entry records agreement {agreement.agreement_id[:12]} in the log"
    if isinstance(entry, Agreement) and entry != agreement:
        problem = "the log holds another agreement under this id"
    if problem is None and isinstance(entry, LogEntry):
        problem = AGREEMENT_ENTRY.bind(agreement, entry)
        if entry.intent_id != agreement.intent.intent_id:
            problem = "the entry is about another intent"
    return KeptCheck(entry, chain.entries, problem)


def decode_or_none(value: bytes | None) -> Link | None:
    """The link a record holds, or None where it holds none (the chain check says so)."""
    try:
        return decode_link(value or b"")
    except SchemaError:
        return None
