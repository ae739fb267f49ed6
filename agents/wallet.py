"""A private JSON file of per-intent keys and receipts, readable by its owner only.

Keys are dropped as soon as nothing needs them (`agents.retention_status.drop_reason`): an
intent that closed without an agreement, or an agreement whose retention end has come. The
receipts and the vendors' deletion attestations stay; the customer may keep an intent's
keys on purpose (`keep_keys`).
"""

from __future__ import annotations

import contextlib
import os
import stat
import tempfile
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Final

import orjson

from intentcast.agents.errors import WalletError
from intentcast.agents.receipts import Receipt
from intentcast.agents.retention_status import (
    AgreementRetention,
    DroppedKeys,
    check_attestation,
    drop_reason,
)
from intentcast.schemas.canonical import canonical_bytes, decode
from intentcast.schemas.crypto import SealingKey, SigningKey
from intentcast.schemas.disclosure import Disclosure
from intentcast.schemas.errors import SchemaError
from intentcast.schemas.retention import RetentionAttestation, agreement_retention_end
from intentcast.schemas.timeutil import format_utc, parse_utc, utcnow

__all__ = [
    "DEFAULT_WALLET",
    "IntentKeys",
    "Wallet",
    "default_wallet_path",
    "read_private_json",
    "write_private_json",
]

WALLET_VERSION: Final = 1


def default_wallet_path() -> Path:
    """``$XDG_DATA_HOME/intentcast/wallet.json``, by default ``~/.local/share/...``."""
    data = os.environ.get("XDG_DATA_HOME")
    root = Path(data) if data else Path.home() / ".local" / "share"
    return root / "intentcast" / "wallet.json"


DEFAULT_WALLET: Final = default_wallet_path()


def read_private_json(path: Path, *, what: str) -> Any:
    """The JSON in an owner-only file, or None when there is none yet.

    Refused when group or others can read it: the files this reads hold secrets or a
    customer's history, and a readable copy may already have leaked.
    """
    try:
        st = path.stat()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise WalletError(f"cannot read {what} {path}: {exc}") from None
    if st.st_mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise WalletError(
            f"{what} {path} is accessible by group or others "
            f"(mode {stat.S_IMODE(st.st_mode):o}); run: chmod 600 {path}"
        )
    try:
        return orjson.loads(path.read_bytes())
    except (OSError, orjson.JSONDecodeError) as exc:
        raise WalletError(f"{what} {path} is unreadable: {exc}") from None


def write_private_json(path: Path, data: Any, *, what: str) -> None:
    """Replace ``path`` atomically with ``data`` as JSON, owner-only (0600 in a 0700 folder).

    A crash leaves the old or the new file, never half of one.
    """
    folder = path.parent
    try:
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{what}-", suffix=".tmp", dir=folder)
    except OSError as exc:
        raise WalletError(f"cannot write {what} in {folder}: {exc}") from None
    try:
        with os.fdopen(fd, "wb") as handle:  # mkstemp creates the file with mode 0600
            handle.write(orjson.dumps(data, option=orjson.OPT_INDENT_2))
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, 0o600)
        os.replace(tmp, path)
    except OSError as exc:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise WalletError(f"cannot write {what} {path}: {exc}") from None


@dataclass(frozen=True)
class IntentKeys:
    """The two private keys of one intent; fresh for every intent, never reused."""

    signing: SigningKey
    sealing: SealingKey

    @classmethod
    def generate(cls) -> IntentKeys:
        """New random keys, so this intent cannot be linked to any other."""
        return cls(signing=SigningKey.generate(), sealing=SealingKey.generate())

    def to_json(self) -> dict[str, str]:
        """Seeds as hex (secret!)."""
        return {"signing_seed": self.signing.seed.hex(), "sealing_key": self.sealing.raw.hex()}

    @classmethod
    def from_json(cls, data: Any) -> IntentKeys:
        """Inverse of :meth:`to_json`."""
        try:
            signing = SigningKey.from_seed(bytes.fromhex(data["signing_seed"]))
            sealing = SealingKey.from_bytes(bytes.fromhex(data["sealing_key"]))
        except (KeyError, TypeError, ValueError, SchemaError) as exc:
            raise WalletError(f"stored intent keys are unreadable ({exc})") from None
        return cls(signing=signing, sealing=sealing)


class Wallet:
    """Per-intent private keys and agreement receipts in one JSON file (mode 0600).

    The file holds secrets, so it is created owner-only inside an owner-only folder, replaced
    atomically on every write (a crash leaves the old or the new file, never half of one), and
    refused when group or others can read it.
    """

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path).expanduser()
        self._data: dict[str, Any] = {
            "version": WALLET_VERSION, "intents": {}, "receipts": {}, "attestations": {},
            "dropped": {}, "disclosures": {},
        }  # fmt: skip
        self._load()

    def _load(self) -> None:
        data = read_private_json(self.path, what="wallet")
        if data is None:
            return
        if not isinstance(data, dict) or data.get("version") != WALLET_VERSION:
            raise WalletError(f"wallet {self.path} is not an Intentcast wallet (version 1)")
        data.setdefault("intents", {})
        data.setdefault("receipts", {})
        data.setdefault("attestations", {})
        data.setdefault("dropped", {})
        data.setdefault("disclosures", {})
        self._data = data

    def _save(self) -> None:
        write_private_json(self.path, self._data, what="wallet")

    def add_keys(
        self, intent_id: str, keys: IntentKeys, *, expires_at: datetime | None = None
    ) -> None:
        """Remember an intent's keys (before the intent is sent, so a crash loses nothing);
        ``expires_at`` lets the wallet drop them once the intent expired unagreed."""
        entry: dict[str, Any] = keys.to_json()
        if expires_at is not None:
            entry["expires_at"] = format_utc(expires_at)
        self._data["intents"][intent_id] = entry
        self._save()

    def keys(self, intent_id: str) -> IntentKeys | None:
        """The keys of one of our intents, or None."""
        stored = self._data["intents"].get(intent_id)
        return None if stored is None else IntentKeys.from_json(stored)

    def intent_ids(self) -> list[str]:
        """Ids of every intent whose keys are stored."""
        return list(self._data["intents"])

    def _intent(self, intent_id: str) -> dict[str, Any]:
        stored = self._data["intents"].get(intent_id)
        if stored is None:
            raise WalletError(f"the wallet holds no keys of intent {intent_id}")
        return dict(stored)

    def keep_keys(self, intent_id: str, keep: bool = True) -> None:
        """Keep an intent's keys past the point they would be dropped (or stop keeping them)."""
        entry = self._intent(intent_id)
        entry["keep"] = keep
        self._data["intents"][intent_id] = entry
        self._save()

    def keeps(self, intent_id: str) -> bool:
        """Whether the customer chose to keep this intent's keys."""
        return bool(self._data["intents"].get(intent_id, {}).get("keep", False))

    def mark_closed(self, intent_id: str, how: str) -> None:
        """The intent closed without an agreement (``cancelled``, ``expired``)."""
        if intent_id in self._data["intents"]:
            entry = self._intent(intent_id)
            entry["closed"] = how
            self._data["intents"][intent_id] = entry
            self._save()

    def drop_due(self, now: datetime | None = None) -> list[DroppedKeys]:
        """Drop the keys no longer needed (`retention_status.drop_reason`); say which and why."""
        moment = now or utcnow()
        agreed = {r.agreement.intent.intent_id: r.agreement for r in self.receipts()}
        dropped = []
        for intent_id, entry in list(self._data["intents"].items()):
            expires = entry.get("expires_at")
            reason = drop_reason(
                agreement=agreed.get(intent_id),
                expires_at=None if expires is None else parse_utc(expires),
                closed=entry.get("closed"),
                keep=bool(entry.get("keep", False)),
                now=moment,
            )
            if reason is not None:
                dropped.append(DroppedKeys(intent_id, reason, moment))
        for item in dropped:
            del self._data["intents"][item.intent_id]
            self._data["dropped"][item.intent_id] = {
                "reason": item.reason, "at": format_utc(item.at),
            }  # fmt: skip
        if dropped:
            self._save()
        return dropped

    def dropped(self) -> list[DroppedKeys]:
        """Every intent whose keys were dropped, and why."""
        return [
            DroppedKeys(intent_id, item["reason"], parse_utc(item["at"]))
            for intent_id, item in self._data["dropped"].items()
        ]

    def add_attestation(
        self, attestation: RetentionAttestation | None, *, agreement_id: str, entry_id: str
    ) -> None:
        """Keep the vendor's deletion attestation of one of our agreements (checked against the
        receipt), or only the id of its log entry when the keys to open it are gone."""
        receipt = self._receipt(agreement_id)
        stored: dict[str, Any] = {"entry_id": entry_id}
        if attestation is not None:
            check_attestation(attestation, receipt.agreement)
            stored["attestation"] = canonical_bytes(attestation).decode("utf-8")
        self._data["attestations"][agreement_id] = stored
        self._save()

    def _receipt(self, agreement_id: str) -> Receipt:
        stored = self._data["receipts"].get(agreement_id)
        if stored is None:
            raise WalletError(f"the wallet holds no agreement {agreement_id}")
        return Receipt.from_json(stored)

    def attestation(self, agreement_id: str) -> RetentionAttestation | None:
        """The stored attestation of an agreement, if it came and could be opened."""
        stored = self._data["attestations"].get(agreement_id, {}).get("attestation")
        if stored is None:
            return None
        try:
            return decode(RetentionAttestation, stored)
        except SchemaError as exc:
            raise WalletError(f"a stored attestation is unreadable: {exc}") from None

    def retention(self) -> list[AgreementRetention]:
        """Each stored agreement's retention end, attestation and whether its keys are held."""
        out = []
        for receipt in self.receipts():
            agreement = receipt.agreement
            intent_id = agreement.intent.intent_id
            seen = self._data["attestations"].get(agreement.agreement_id, {})
            out.append(
                AgreementRetention(
                    agreement=agreement,
                    retention_end=agreement_retention_end(agreement),
                    attestation=self.attestation(agreement.agreement_id),
                    attested_entry=seen.get("entry_id"),
                    keys_held=intent_id in self._data["intents"],
                    keep_keys=self.keeps(intent_id),
                )
            )
        return out

    def add_receipt(self, receipt: Receipt) -> None:
        """Keep an agreement and its consent receipt."""
        self._data["receipts"][receipt.agreement_id] = receipt.to_json()
        self._save()

    def forget(self, intent_id: str) -> None:
        """Delete an intent's keys, receipts, attestations and disclosures for good (the
        customer's choice, once the intent is closed: without the keys nobody can act for it
        or open its replies again, and nothing on this machine recalls it)."""
        self._data["intents"].pop(intent_id, None)
        self._data["dropped"].pop(intent_id, None)
        receipts = self._data["receipts"]
        for agreement_id in [a for a, r in receipts.items() if r.get("intent_id") == intent_id]:
            del receipts[agreement_id]
            self._data["attestations"].pop(agreement_id, None)
        disclosures = self._data["disclosures"]
        for disclosure_id in [d for d, v in disclosures.items() if v["intent_id"] == intent_id]:
            del disclosures[disclosure_id]
        self._save()

    def stored_receipt(self, agreement_id: str) -> dict[str, Any] | None:
        """One receipt exactly as stored (not yet verified), so a check can report its flaws."""
        stored = self._data["receipts"].get(agreement_id)
        return dict(stored) if isinstance(stored, dict) else None

    def add_disclosure(self, disclosure: Disclosure, values: dict[str, Any]) -> None:
        """Keep a disclosure as sent, and what it disclosed: the customer's own record of
        which vendor was told what (the sealed copy only that vendor can open)."""
        self._data["disclosures"][disclosure.disclosure_id] = {
            "intent_id": disclosure.intent_id,
            "agreement_id": disclosure.agreement_id,
            "vendor_id": disclosure.vendor_id,
            "disclosure": canonical_bytes(disclosure).decode("utf-8"),
            "values": values,
        }
        self._save()

    def disclosures(self) -> list[dict[str, Any]]:
        """Every disclosure kept, oldest first, as stored by :meth:`add_disclosure`."""
        return list(self._data["disclosures"].values())

    def receipts(self) -> list[Receipt]:
        """Every stored receipt, each agreement re-verified on the way out."""
        return [Receipt.from_json(item) for item in self._data["receipts"].values()]
