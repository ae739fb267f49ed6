"""The log entry on its own: ids, links, sealed copies, and the vectors other languages use."""

from __future__ import annotations

import json
from datetime import timedelta
from decimal import Decimal

import nacl.bindings
import pytest

from intentcast.schemas import (
    AGREEMENT_ENTRY,
    GENESIS_HASH,
    Agreement,
    LogEntry,
    Reader,
    SchemaError,
    SealingKey,
    check_chain,
    decode,
    encode,
)
from intentcast.schemas._tools.generate import REPO_DIR
from intentcast.schemas._tools.samples import sample, sample_keys
from intentcast.schemas.canonical import canonical_json, sha256_hex
from intentcast.schemas.crypto import b64d, b64e
from intentcast.schemas.log import decode_link, locate

KEYS = sample_keys()


def _readers(customer: SealingKey) -> dict[Reader, str]:
    return {
        Reader.CUSTOMER: customer.public_key,
        Reader.PROCESSORS: KEYS.processors_sealing.public_key,
    }


def _chain(n: int) -> tuple[list[Agreement], list[LogEntry]]:
    """``n`` agreements chained in one partition, as the ledger chains them."""
    base = sample(Agreement)
    agreements, entries = [], []
    head = GENESIS_HASH
    for seq in range(n):
        agreement = Agreement.build(
            partition=base.partition, seq=seq, prev_hash=head, intent=base.intent,
            offer=base.offer, acceptance=base.acceptance, vendor_key=base.vendor_key,
            recorded_at=base.recorded_at + timedelta(seconds=seq),
        )  # fmt: skip
        entry = AGREEMENT_ENTRY.entry(
            agreement, partition=agreement.partition, seq=seq, prev_hash=head,
            readers=_readers(KEYS.intent_sealing), recorded_at=agreement.recorded_at,
        )  # fmt: skip
        agreements.append(agreement)
        entries.append(entry)
        head = entry.entry_id
    return agreements, entries


def test_each_reader_opens_the_same_content_and_nobody_else_does() -> None:
    [agreement], [entry] = _chain(1)
    entry = decode(LogEntry, encode(entry))
    assert entry.open(AGREEMENT_ENTRY, KEYS.intent_sealing) == agreement
    assert entry.open(AGREEMENT_ENTRY, KEYS.processors_sealing) == agreement
    with pytest.raises(SchemaError, match="not sealed to this key"):
        entry.open(AGREEMENT_ENTRY, KEYS.auditor_sealing)  # no auditor was configured


def test_the_clear_part_holds_no_commercial_content() -> None:
    [agreement], [entry] = _chain(1)
    raw = encode(entry)
    for secret in (agreement.offer.vendor_id, agreement.intent.want.item, '"price"', "389.99"):
        assert secret.encode() not in raw


def test_a_changed_ciphertext_or_a_content_of_another_entry_is_refused() -> None:
    _, entries = _chain(2)
    first, second = entries
    broken = bytearray(b64d(second.ciphertext))
    broken[-1] ^= 1
    tampered = second.model_copy(update={"ciphertext": b64e(bytes(broken))})
    with pytest.raises(SchemaError, match="cannot decrypt"):
        tampered.open(AGREEMENT_ENTRY, KEYS.processors_sealing)
    swapped = second.model_copy(update={"ciphertext": first.ciphertext, "readers": first.readers})
    with pytest.raises(SchemaError, match="content_hash"):
        swapped.open(AGREEMENT_ENTRY, KEYS.processors_sealing)


def test_an_agreement_not_bound_to_its_link_cannot_be_chained() -> None:
    [agreement], _ = _chain(1)
    with pytest.raises(SchemaError, match="prev_hash differ"):
        AGREEMENT_ENTRY.entry(
            agreement, partition=agreement.partition, seq=1, prev_hash="a" * 64,
            readers=_readers(KEYS.intent_sealing), recorded_at=agreement.recorded_at,
        )  # fmt: skip


def test_the_chain_check_finds_an_edit_a_gap_and_a_reorder() -> None:
    _, entries = _chain(4)
    partition = entries[0].partition
    whole = check_chain(partition, entries)
    assert whole.intact and whole.entries == 4 and whole.head == entries[-1].entry_id
    edited = entries[2].model_copy(update={"content_hash": "f" * 64})
    assert "does not verify" in (check_chain(partition, [*entries[:2], edited]).problem or "")
    gap = check_chain(partition, [entries[0], entries[2]])
    assert gap.problem == "seq 2 follows seq 0"
    reordered = check_chain(partition, [entries[1], entries[0]])
    assert reordered.problem == "seq 1 follows seq -1"
    assert check_chain(partition + 1, entries).problem == f"entry says partition {partition}"


def test_a_party_locates_its_entry_by_the_hash_it_kept() -> None:
    agreements, entries = _chain(3)
    entry, chain = locate(entries[0].partition, entries, agreements[1].agreement_id)
    assert entry == entries[1] and chain.entries == 2 and chain.intact
    missing, chain = locate(entries[0].partition, entries, "e" * 64)
    assert missing is None and chain.intact and chain.entries == 3
    broken, chain = locate(entries[0].partition, [entries[0], None, entries[1]], "e" * 64)
    assert broken is None and chain.problem == "a record of the partition is not a log entry"


def test_the_vectors_open_with_libsodium_primitives_alone() -> None:
    """What an implementation in another language does with the vectors' log_entry section."""
    vectors = json.loads((REPO_DIR / "schemas" / "vectors" / "vectors.json").read_text())
    case = vectors["log_entry"]
    entry = case["entry"]
    without_id = {k: v for k, v in entry.items() if k != "entry_id"}
    assert canonical_json(without_id).decode() == case["entry_id_input"]
    assert sha256_hex(case["entry_id_input"].encode()) == entry["entry_id"]
    raw = b64d(entry["ciphertext"])
    nonce, box = raw[:24], raw[24:]
    assert nonce.hex() == case["nonce_hex"]
    for copy in entry["readers"]:
        reader = case["readers"][copy["reader"]]
        private = bytes.fromhex(reader["private_key_hex"])
        public = nacl.bindings.crypto_scalarmult_base(private)
        content_key = nacl.bindings.crypto_box_seal_open(b64d(copy["sealed"]), public, private)
        assert content_key.hex() == case["content_key_hex"]
        content = nacl.bindings.crypto_secretbox_open(box, nonce, content_key)
        assert content.decode() == case["content"]
    agreement = decode(Agreement, case["content"])
    assert agreement.agreement_id == entry["content_hash"]
    assert decode(LogEntry, json.dumps(entry)) == sample(LogEntry)


def test_a_log_from_before_entries_goes_on_as_the_same_chain() -> None:
    """Agreements in clear (the log before entries) stay links: the first entry after them
    links to the last one's agreement_id, and a changed one still breaks the chain."""
    base = sample(Agreement)
    legacy = Agreement.build(
        partition=base.partition, seq=0, prev_hash=GENESIS_HASH, intent=base.intent,
        offer=base.offer, acceptance=base.acceptance, vendor_key=base.vendor_key,
        recorded_at=base.recorded_at,
    )  # fmt: skip
    later = Agreement.build(
        partition=base.partition, seq=1, prev_hash=legacy.agreement_id, intent=base.intent,
        offer=base.offer, acceptance=base.acceptance, vendor_key=base.vendor_key,
        recorded_at=base.recorded_at + timedelta(seconds=1),
    )  # fmt: skip
    entry = AGREEMENT_ENTRY.entry(
        later, partition=later.partition, seq=1, prev_hash=legacy.agreement_id,
        readers=_readers(KEYS.intent_sealing), recorded_at=later.recorded_at,
    )  # fmt: skip
    links = [decode_link(encode(legacy)), decode_link(encode(entry))]
    assert links == [legacy, entry]
    assert check_chain(base.partition, links).intact
    found, chain = locate(base.partition, links, legacy.agreement_id)
    assert found == legacy and chain.entries == 1
    cheaper = legacy.model_copy(
        update={"offer": legacy.offer.model_copy(update={"price": Decimal("1")})}
    )
    assert "does not verify" in (check_chain(base.partition, [cheaper, entry]).problem or "")
    with pytest.raises(SchemaError):
        decode_link(b'{"kind":"intent"}')
