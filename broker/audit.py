"""Replay the agreement log and check every link: ids, both signatures, chain order, uniqueness.

Anyone with read access to the log (customer, vendor, auditor) can run this offline: it needs
no processor state, only the records and the public keys they carry.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field

from aiokafka import AIOKafkaConsumer

from intentcast.broker.kafka_meta import topic_partitions
from intentcast.broker.settings import BrokerSettings
from intentcast.schemas import AGREEMENTS, GENESIS_HASH, Agreement, SchemaError, decode


@dataclass(frozen=True)
class Break:
    partition: int
    offset: int
    problem: str


@dataclass
class AuditResult:
    verified: int = 0
    per_partition: dict[int, int] = field(default_factory=dict)
    breaks: list[Break] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.breaks

    @property
    def first_break(self) -> Break | None:
        return min(self.breaks, key=lambda b: (b.offset, b.partition), default=None)


@dataclass
class _Chain:
    seq: int = -1
    head: str = GENESIS_HASH
    intact: bool = True


def check_record(
    agreement_bytes: bytes | None, partition: int, chain: _Chain, seen_intents: dict[str, str]
) -> tuple[Agreement | None, str | None]:
    """Check one record against its chain; return (agreement, problem or None)."""
    try:
        agreement = decode(Agreement, agreement_bytes or b"")
    except SchemaError as exc:
        return None, f"not a valid agreement ({exc})"
    try:
        agreement.verify()
    except SchemaError as exc:
        return agreement, f"agreement {agreement.agreement_id[:12]} does not verify: {exc}"
    if agreement.partition != partition:
        return agreement, f"record says partition {agreement.partition}"
    if agreement.seq != chain.seq + 1:
        return agreement, f"seq {agreement.seq} follows seq {chain.seq}"
    if agreement.prev_hash != chain.head:
        return agreement, "prev_hash does not match the previous agreement (chain broken)"
    intent_id = agreement.intent.intent_id
    if intent_id in seen_intents:
        return agreement, f"second agreement for intent {intent_id[:12]}"
    return agreement, None


async def iter_log(
    settings: BrokerSettings, on_progress: Callable[[int, int], None] | None = None
) -> AsyncIterator[tuple[int, int, bytes | None]]:
    """Yield (partition, offset, value) of every record up to the end as of the call."""
    consumer = AIOKafkaConsumer(
        **settings.kafka_kwargs(),
        enable_auto_commit=False,
        auto_offset_reset="earliest",  # a reset racing seek_to_beginning must not skip records
        client_id="intentcast-audit",
    )
    tps = sorted(
        await topic_partitions(settings.kafka_kwargs(), [AGREEMENTS], wait_s=5.0, missing_ok=True)
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
    settings: BrokerSettings, on_progress: Callable[[int, int], None] | None = None
) -> AuditResult:
    """Read every partition from its start to the current end and verify it."""
    result = AuditResult()
    chains: dict[int, _Chain] = {}
    seen: dict[str, str] = {}
    async for partition, offset, value in iter_log(settings, on_progress):
        chain = chains.setdefault(partition, _Chain())
        if not chain.intact:
            continue  # report the first break of a partition only
        agreement, problem = check_record(value, partition, chain, seen)
        if problem is not None:
            chain.intact = False
            result.breaks.append(Break(partition, offset, problem))
            continue
        assert agreement is not None
        chain.seq, chain.head = agreement.seq, agreement.agreement_id
        seen[agreement.intent.intent_id] = agreement.agreement_id
        result.verified += 1
        result.per_partition[partition] = result.per_partition.get(partition, 0) + 1
    return result


async def find_agreement(settings: BrokerSettings, agreement_id: str) -> Agreement | None:
    """Scan the log for one agreement by id (or unique id prefix)."""
    found: Agreement | None = None
    async for _, _, value in iter_log(settings):
        if found is not None:
            continue  # drain, so the generator closes its consumer normally
        try:
            agreement = decode(Agreement, value or b"")
        except SchemaError:
            continue
        if agreement.agreement_id.startswith(agreement_id):
            found = agreement
    return found
