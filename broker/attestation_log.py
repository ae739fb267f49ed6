"""What the agreement log already says about one intent's retention: its agreement, and whether
a deletion attestation follows it.

Attestations come days after their intent left every worker's memory (the intent table drops
an intent at expiry, the ledger's index soon after), so the partition is read from Kafka, as
`Ledger.find` does when it reconciles a replay: one bounded read per attestation, and a vendor
sends one attestation per agreement.
"""

from __future__ import annotations

from contextlib import aclosing
from dataclasses import dataclass

from intentcast.broker.log_keys import processors_key
from intentcast.broker.partition_reader import read_partition
from intentcast.broker.settings import BrokerSettings
from intentcast.schemas import AGREEMENTS, Agreement, SchemaError, decode
from intentcast.schemas.log import AGREEMENT_ENTRY, EntryType, LogEntry


@dataclass(frozen=True)
class RetentionRecord:
    """The intent's agreement in the log (None: none), and whether its deletion is attested."""

    agreement: Agreement | None
    attested: bool


async def retention_record(
    settings: BrokerSettings, partition: int, intent_id: str
) -> RetentionRecord:
    """Read one partition of the log for ``intent_id``'s agreement and attestation entries."""
    key = processors_key(settings)
    wanted = intent_id.encode()
    agreement: Agreement | None = None
    attested = False
    client_id = f"{settings.app_id}-retention"
    records = read_partition(settings, AGREEMENTS, partition, client_id=client_id)
    async with aclosing(records):
        async for record in records:
            if record.key != wanted:
                continue
            try:
                entry = decode(LogEntry, record.value or b"")
                if entry.entry_type is EntryType.AGREEMENT and agreement is None:
                    agreement = entry.open(AGREEMENT_ENTRY, key)
                elif entry.entry_type is EntryType.RETENTION_ATTESTATION:
                    attested = True
            except SchemaError:
                continue  # not ours to fix here; `audit verify` reports it
    return RetentionRecord(agreement, attested)
