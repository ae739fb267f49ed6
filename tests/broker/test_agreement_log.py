"""The agreement log on the real broker: entries the real processors wrote, a customer opening
only its own, and `audit verify` catching an edit, a forged content and a gap.

Tampering is done on a copy of the log's records in a scratch topic (same partition numbers),
so the session's shared log stays whole for every other test.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from decimal import Decimal

import pytest
from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from intentcast.agents import ClientSettings, CustomerClient, IntentHandle, Vendor
from intentcast.broker.audit import LogKeys, verify_kept, verify_log
from intentcast.broker.log_keys import known_processors_key
from intentcast.broker.partition_reader import read_partition
from intentcast.broker.settings import BrokerSettings
from intentcast.processes import Processors
from intentcast.schemas import (
    AGREEMENT_ENTRY,
    AGREEMENTS,
    Agreement,
    LogEntry,
    SchemaError,
    SealingKey,
    decode,
    encode,
)
from tests.security.helpers import records_for_key

pytestmark = pytest.mark.kafka


@dataclass(frozen=True)
class Party:
    agreement: Agreement
    sealing: SealingKey


async def _agree(client: CustomerClient, item: str) -> Party:
    handle: IntentHandle = await client.publish(
        market="bikes", item=item, max_price=Decimal("200"), currency="EUR", country="DE",
        city="Berlin", terms=["SD-BASE", "P2B1"], intake_timeout=90.0,
    )  # fmt: skip
    async for offer in handle.offers(timeout=60.0):
        agreement = await handle.accept(offer, timeout=60)
        assert handle.log_entry is not None  # the client read it from the log itself
        assert handle.log_entry.content_hash == agreement.agreement_id
        return Party(agreement, handle.keys.sealing)
    raise AssertionError(f"no offer delivered to {handle.intent_id}")


@pytest.fixture(scope="module")
async def parties(
    kafka_bootstrap: str, ready_processors: Processors, vendors: dict[str, Vendor]
) -> tuple[Party, Party]:
    """Two agreements in one partition's chain (with 6 partitions, 7 intents are sure to give
    two; about 4 usually do), the second after the first."""
    by_partition: dict[int, Party] = {}
    async with CustomerClient(ClientSettings(bootstrap=kafka_bootstrap)) as client:
        for n in range(BrokerSettings().partitions + 1):
            party = await _agree(client, f"city bike {n}")
            first = by_partition.setdefault(party.agreement.partition, party)
            if first is not party:
                return first, party
    raise AssertionError("more agreements than partitions, and no two in one partition")


def _processors_settings(kafka_bootstrap: str, processors: Processors) -> BrokerSettings:
    """The settings the session's processors run with, as far as their log key goes."""
    return BrokerSettings(
        bootstrap=kafka_bootstrap,
        app_id=processors.env["INTENTCAST_APP_ID"],
        datadir=str(processors.datadir),
    )


async def _entry(kafka_bootstrap: str, intent_id: str) -> tuple[int, LogEntry]:
    [record] = await records_for_key({"bootstrap_servers": kafka_bootstrap}, AGREEMENTS, intent_id)
    return record.offset, decode(LogEntry, record.value or b"")


async def test_a_customer_opens_its_own_entry_and_not_another(
    kafka_bootstrap: str, parties: tuple[Party, Party]
) -> None:
    first, second = parties
    _, mine = await _entry(kafka_bootstrap, first.agreement.intent.intent_id)
    _, theirs = await _entry(kafka_bootstrap, second.agreement.intent.intent_id)
    assert mine.open(AGREEMENT_ENTRY, first.sealing) == first.agreement
    with pytest.raises(SchemaError, match="not sealed to this key"):
        theirs.open(AGREEMENT_ENTRY, first.sealing)
    assert theirs.open(AGREEMENT_ENTRY, second.sealing) == second.agreement
    # the customer's offline check of what it kept, against the log, with no key
    check = await verify_kept(BrokerSettings(bootstrap=kafka_bootstrap), first.agreement)
    assert check.ok, check.problem
    assert check.entry == mine


@dataclass
class Scratch:
    """A topic holding a copy of one partition of the log, up to an agreement's entry."""

    bootstrap: str
    entries: list[LogEntry]
    partition: int
    topic: str = ""
    written: list[str] = field(default_factory=list)

    async def write(self, topic: str, entries: list[LogEntry]) -> None:
        admin = AIOKafkaAdminClient(bootstrap_servers=self.bootstrap)
        await admin.start()
        try:
            parts = self.partition + 1
            await admin.create_topics([NewTopic(topic, num_partitions=parts, replication_factor=1)])
        finally:
            await admin.close()
        producer = AIOKafkaProducer(bootstrap_servers=self.bootstrap, acks="all")
        await producer.start()
        try:
            for entry in entries:
                await producer.send_and_wait(
                    topic, encode(entry), entry.intent_id.encode(), partition=self.partition
                )
        finally:
            await producer.stop()
        self.topic = topic
        self.written.append(topic)


@pytest.fixture
async def scratch(
    kafka_bootstrap: str, parties: tuple[Party, Party], unique: Callable[[str], str]
) -> AsyncIterator[Scratch]:
    agreement = parties[1].agreement
    records = await records_for_key(
        {"bootstrap_servers": kafka_bootstrap}, AGREEMENTS, agreement.intent.intent_id
    )
    settings = BrokerSettings(bootstrap=kafka_bootstrap)
    log = read_partition(settings, AGREEMENTS, agreement.partition, client_id=unique("audit"))
    upto = records[0].offset
    entries = [decode(LogEntry, r.value or b"") async for r in log if r.offset <= upto]
    copies = Scratch(kafka_bootstrap, entries, agreement.partition)
    yield copies
    admin = AIOKafkaAdminClient(bootstrap_servers=kafka_bootstrap)
    await admin.start()
    try:
        await admin.delete_topics(copies.written)
    finally:
        await admin.close()


async def test_audit_verify_catches_an_edit_a_forged_content_and_a_gap(
    kafka_bootstrap: str,
    processors: Processors,
    parties: tuple[Party, Party],
    scratch: Scratch,
    unique: Callable[[str], str],
) -> None:
    settings = BrokerSettings(bootstrap=kafka_bootstrap)
    key = known_processors_key(_processors_settings(kafka_bootstrap, processors))
    assert key is not None, "the session's processors keep their log key in their folder"
    keys = LogKeys((key,))
    entries = scratch.entries
    assert len(entries) >= 2, "both parties' entries are in this partition"

    await scratch.write(unique("log-copy"), entries)
    whole = await verify_log(settings, keys=keys, topic=scratch.topic)
    assert whole.ok, whole.breaks
    assert whole.verified == whole.opened == len(entries)

    # an edit: the last entry claims another content hash, its id left as it was
    last = entries[-1]
    edited = last.model_copy(update={"content_hash": "1" * 64})
    await scratch.write(unique("log-edit"), [*entries[:-1], edited])
    result = await verify_log(settings, topic=scratch.topic)  # no key needed to see it
    assert not result.ok
    assert result.first_break is not None and "does not verify" in result.first_break.problem
    assert result.first_break.offset == len(entries) - 1

    # a forgery with its id recomputed: the first party's sealed content under the second's
    # entry. The chain of ids holds, so only a reader that opens it can tell
    _, first = await _entry(kafka_bootstrap, parties[0].agreement.intent.intent_id)
    forged = last.model_copy(update={"ciphertext": first.ciphertext, "readers": first.readers})
    forged = forged.model_copy(update={"entry_id": forged.computed_id()})
    await scratch.write(unique("log-forged"), [*entries[:-1], forged])
    keyless = await verify_log(
        settings, topic=scratch.topic, keys=LogKeys((SealingKey.generate(),))
    )
    assert keyless.ok, keyless.breaks
    opened = await verify_log(settings, topic=scratch.topic, keys=keys)
    assert not opened.ok
    assert opened.first_break is not None
    assert "content does not match content_hash" in opened.first_break.problem

    # a gap: one entry left out
    await scratch.write(unique("log-gap"), [*entries[:-2], entries[-1]])
    gap = await verify_log(settings, topic=scratch.topic)
    assert not gap.ok
    assert gap.first_break is not None and "follows seq" in gap.first_break.problem
