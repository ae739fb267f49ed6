"""The wallet's side of retention: keys dropped when due and kept when asked, receipts and
attestations kept, each agreement's end and attestation state as the CLI and the app show it."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from intentcast.agents import (
    IntentKeys,
    Receipt,
    RetentionState,
    SigningKey,
    Wallet,
    WalletError,
)
from intentcast.agents.declaration import VendorDeclaration
from intentcast.agents.retention_status import CLOSE_MARGIN
from intentcast.schemas import agreement_retention_end, sign_model
from intentcast.schemas.timeutil import utcnow
from tests.agents.helpers import make_agreement, make_intent


def vendor_of(key: SigningKey) -> VendorDeclaration:
    return VendorDeclaration("acme-bikes", key=key, markets=["bikes"], accepts=["SD-BASE", "P2B1"])


def agreed_wallet(tmp_path: Path) -> tuple[Wallet, SigningKey, Receipt]:
    key = SigningKey.generate()
    agreement = make_agreement(key)
    wallet = Wallet(tmp_path / "wallet.json")
    wallet.add_keys(agreement.intent.intent_id, IntentKeys.generate())
    receipt = Receipt.of(agreement)
    wallet.add_receipt(receipt)
    return wallet, key, receipt


def test_keys_of_an_agreement_go_at_its_retention_end_and_the_receipt_stays(
    tmp_path: Path,
) -> None:
    wallet, _, receipt = agreed_wallet(tmp_path)
    end = agreement_retention_end(receipt.agreement)
    assert end is not None
    intent_id = receipt.agreement.intent.intent_id
    assert wallet.drop_due(end - timedelta(seconds=1)) == []
    [row] = wallet.retention()
    assert row.retention_end == end and row.keys_held
    assert row.state(end - timedelta(seconds=1)) is RetentionState.RUNNING
    assert row.state(end) is RetentionState.AWAITING_ATTESTATION
    [dropped] = wallet.drop_due(end)
    assert dropped.intent_id == intent_id and "retention end" in dropped.reason
    again = Wallet(wallet.path)
    assert again.keys(intent_id) is None
    assert [r.agreement for r in again.receipts()] == [receipt.agreement]
    assert [d.intent_id for d in again.dropped()] == [intent_id]
    assert not again.retention()[0].keys_held


def test_keys_the_customer_keeps_stay_until_released(tmp_path: Path) -> None:
    wallet, _, receipt = agreed_wallet(tmp_path)
    intent_id = receipt.agreement.intent.intent_id
    wallet.keep_keys(intent_id)
    late = utcnow() + timedelta(days=400)
    assert wallet.drop_due(late) == []
    assert Wallet(wallet.path).retention()[0].keep_keys
    wallet.keep_keys(intent_id, keep=False)
    assert [d.intent_id for d in wallet.drop_due(late)] == [intent_id]
    with pytest.raises(WalletError, match="no keys"):
        wallet.keep_keys("f" * 32)


def test_keys_of_an_intent_closed_without_agreement_go(tmp_path: Path) -> None:
    wallet = Wallet(tmp_path / "wallet.json")
    expiring, cancelled, open_ = make_intent(), make_intent(), make_intent()
    for intent in (expiring, cancelled, open_):
        wallet.add_keys(intent.intent_id, IntentKeys.generate(), expires_at=intent.expires_at)
    wallet.mark_closed(cancelled.intent_id, "cancelled")
    now = utcnow()
    assert [d.intent_id for d in wallet.drop_due(now)] == [cancelled.intent_id]
    after = max(expiring.expires_at, open_.expires_at) + CLOSE_MARGIN
    reasons = {d.intent_id: d.reason for d in wallet.drop_due(after)}
    assert set(reasons) == {expiring.intent_id, open_.intent_id}
    assert all("expired without an agreement" in r for r in reasons.values())


def test_an_attestation_is_kept_only_when_it_is_the_vendors_and_bound(tmp_path: Path) -> None:
    wallet, key, receipt = agreed_wallet(tmp_path)
    agreement = receipt.agreement
    genuine = vendor_of(key).attestation(agreement)
    forged = vendor_of(SigningKey.generate()).attestation(agreement)
    with pytest.raises(WalletError, match="does not verify"):
        wallet.add_attestation(forged, agreement_id=agreement.agreement_id, entry_id="a" * 64)
    moved = sign_model(genuine.model_copy(update={"retention_end": utcnow()}), key)
    with pytest.raises(WalletError, match="not bound"):
        wallet.add_attestation(moved, agreement_id=agreement.agreement_id, entry_id="a" * 64)
    wallet.add_attestation(genuine, agreement_id=agreement.agreement_id, entry_id="a" * 64)
    [row] = Wallet(wallet.path).retention()
    assert row.attestation == genuine and row.state(utcnow()) is RetentionState.ATTESTED


def test_an_attestation_seen_after_the_keys_went_still_counts(tmp_path: Path) -> None:
    wallet, _, receipt = agreed_wallet(tmp_path)
    wallet.add_attestation(None, agreement_id=receipt.agreement_id, entry_id="b" * 64)
    [row] = wallet.retention()
    assert row.attested and row.attestation is None and row.attested_entry == "b" * 64


def test_the_cli_lists_retention_says_what_it_dropped_and_keeps_on_request(
    tmp_path: Path,
) -> None:
    from typer.testing import CliRunner

    from intentcast.cli import app as cli

    wallet, _, receipt = agreed_wallet(tmp_path)
    stale, kept = make_intent(), make_intent()
    past = utcnow() - CLOSE_MARGIN - timedelta(minutes=1)
    for intent in (stale, kept):
        wallet.add_keys(intent.intent_id, IntentKeys.generate(), expires_at=past)
    runner, path = CliRunner(), str(wallet.path)
    done = runner.invoke(cli, ["intent", "keep", kept.intent_id[:10], "--wallet", path])
    assert done.exit_code == 0 and "kept until you release them" in done.output
    missing = runner.invoke(cli, ["intent", "keep", "ffff", "--wallet", path])
    assert missing.exit_code == 1
    listed = runner.invoke(cli, ["intent", "list", "--offline", "--wallet", path])
    assert listed.exit_code == 0, listed.output
    assert f"Dropped the private keys of intent {stale.intent_id}" in listed.output
    assert "expired without an agreement" in listed.output
    assert kept.intent_id not in " ".join(d.intent_id for d in Wallet(path).dropped())
    assert receipt.agreement_id[:12] in listed.output and "not due yet" in listed.output
