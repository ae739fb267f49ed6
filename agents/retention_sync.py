"""The customer learns from the agreement log what its wallet cannot know by itself: which
vendors attested deletion, and any agreement whose receipt a crash kept from the wallet.

Only the partitions of the wallet's own intents are read, with a throw-away consumer outside
any group; entries are opened with each intent's own sealing key, so nothing is asked of the
processors and nothing sent identifies the customer.
"""

from __future__ import annotations

import logging
from collections import defaultdict

from intentcast.agents.partitions import partition_for
from intentcast.agents.receipts import Receipt
from intentcast.agents.settings import ClientSettings
from intentcast.agents.topic_history import read_to_end
from intentcast.agents.wallet import Wallet
from intentcast.schemas.canonical import decode
from intentcast.schemas.errors import IntentcastError, SchemaError
from intentcast.schemas.log import AGREEMENT_ENTRY, RETENTION_ATTESTATION_ENTRY, EntryType, LogEntry
from intentcast.schemas.topics import AGREEMENTS

__all__ = ["sync_from_log"]

log = logging.getLogger(__name__)


async def sync_from_log(settings: ClientSettings, wallet: Wallet) -> int:
    """Store every attestation (and recovered agreement) the log holds for the wallet's
    intents; return how many were new."""
    pending = {r.intent_id: r.agreement_id for r in wallet.retention() if not r.attested}
    agreed = {r.agreement.intent.intent_id for r in wallet.receipts()}
    unagreed = [i for i in wallet.intent_ids() if i not in agreed]
    wanted = set(pending) | set(unagreed)
    if not wanted:
        return 0

    def ours(count: int) -> set[int]:
        return {partition_for(intent_id, count) for intent_id in wanted}

    records = await read_to_end(settings, [AGREEMENTS], partitions=ours)
    by_intent: defaultdict[str, list[LogEntry]] = defaultdict(list)
    for record in records:
        intent_id = (record.key or b"").decode("ascii", "replace")
        if intent_id in wanted:
            try:
                by_intent[intent_id].append(decode(LogEntry, record.value or b""))
            except SchemaError as exc:
                log.warning("skipped an unreadable log entry of intent %s: %s", intent_id, exc)
    new = 0
    for intent_id, entries in by_intent.items():
        for entry in entries:
            try:
                new += _take(wallet, entry, pending)
            except (IntentcastError, SchemaError) as exc:
                log.warning("log entry %s of intent %s: %s", entry.entry_id[:12], intent_id, exc)
    return new


def _take(wallet: Wallet, entry: LogEntry, pending: dict[str, str]) -> int:
    keys = wallet.keys(entry.intent_id)
    if entry.entry_type is EntryType.AGREEMENT and keys is not None:
        agreement = entry.open(AGREEMENT_ENTRY, keys.sealing)
        if any(r.agreement_id == agreement.agreement_id for r in wallet.receipts()):
            return 0
        agreement.verify()
        wallet.add_receipt(Receipt.of(agreement))  # accepted, but the receipt never came back
        pending[entry.intent_id] = agreement.agreement_id
        return 1
    if entry.entry_type is EntryType.RETENTION_ATTESTATION and entry.intent_id in pending:
        agreement_id = pending.pop(entry.intent_id)
        attestation = (
            None if keys is None else entry.open(RETENTION_ATTESTATION_ENTRY, keys.sealing)
        )
        wallet.add_attestation(attestation, agreement_id=agreement_id, entry_id=entry.entry_id)
        return 1
    return 0
