"""The wallet file: owner-only permissions, atomic writes, reload of keys and receipts."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from intentcast.agents import IntentKeys, Receipt, Wallet, WalletError
from tests.agents.helpers import make_agreement


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_new_wallet_is_owner_only(tmp_path: Path) -> None:
    path = tmp_path / "private" / "wallet.json"
    wallet = Wallet(path)
    wallet.add_keys("a" * 32, IntentKeys.generate())
    assert mode(path) == 0o600
    assert mode(path.parent) == 0o700


def test_wallet_readable_by_others_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "wallet.json"
    Wallet(path).add_keys("a" * 32, IntentKeys.generate())
    os.chmod(path, 0o644)
    with pytest.raises(WalletError, match="chmod 600"):
        Wallet(path)


def test_keys_and_receipts_survive_a_reload(tmp_path: Path) -> None:
    path = tmp_path / "wallet.json"
    keys = IntentKeys.generate()
    agreement = make_agreement()
    wallet = Wallet(path)
    wallet.add_keys("b" * 32, keys)
    wallet.add_receipt(Receipt.of(agreement))

    again = Wallet(path)
    loaded = again.keys("b" * 32)
    assert loaded is not None
    assert loaded.signing.public_key == keys.signing.public_key
    assert loaded.sealing.public_key == keys.sealing.public_key
    [receipt] = again.receipts()
    assert receipt.agreement == agreement
    assert receipt.consent.to_kantara()["consentReceiptID"] == agreement.agreement_id


def test_writes_are_atomic_and_leave_no_temp_files(tmp_path: Path) -> None:
    path = tmp_path / "wallet.json"
    wallet = Wallet(path)
    for n in range(5):
        wallet.add_keys(f"{n:032x}", IntentKeys.generate())
        inode_before = path.stat().st_ino
        wallet.add_keys(f"{n + 100:032x}", IntentKeys.generate())
        assert path.stat().st_ino != inode_before  # replaced, never rewritten in place
    assert sorted(p.name for p in tmp_path.iterdir()) == ["wallet.json"]
    assert len(Wallet(path).intent_ids()) == 10


def test_corrupt_wallet_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "wallet.json"
    path.write_bytes(b"{not json")
    os.chmod(path, 0o600)
    with pytest.raises(WalletError, match="unreadable"):
        Wallet(path)


def test_tampered_receipt_is_refused_on_reload(tmp_path: Path) -> None:
    path = tmp_path / "wallet.json"
    wallet = Wallet(path)
    wallet.add_receipt(Receipt.of(make_agreement()))
    original = path.read_text()
    text = original.replace('\\"price\\":\\"150\\"', '\\"price\\":\\"15\\"')
    assert text != original
    path.write_text(text)
    with pytest.raises(WalletError):
        Wallet(path).receipts()
