"""A private JSON file of per-intent keys and receipts, readable by its owner only."""

from __future__ import annotations

import contextlib
import os
import stat
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import orjson

from intentcast.agents.errors import WalletError
from intentcast.agents.receipts import Receipt
from intentcast.schemas.canonical import canonical_bytes
from intentcast.schemas.crypto import SealingKey, SigningKey
from intentcast.schemas.disclosure import Disclosure
from intentcast.schemas.errors import SchemaError

__all__ = ["DEFAULT_WALLET", "IntentKeys", "Wallet", "default_wallet_path"]

WALLET_VERSION: Final = 1


def default_wallet_path() -> Path:
    """``$XDG_DATA_HOME/intentcast/wallet.json``, by default ``~/.local/share/...``."""
    data = os.environ.get("XDG_DATA_HOME")
    root = Path(data) if data else Path.home() / ".local" / "share"
    return root / "intentcast" / "wallet.json"


DEFAULT_WALLET: Final = default_wallet_path()


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
            "version": WALLET_VERSION,
            "intents": {},
            "receipts": {},
            "disclosures": {},
        }
        self._load()

    def _load(self) -> None:
        try:
            st = self.path.stat()
        except FileNotFoundError:
            return
        except OSError as exc:
            raise WalletError(f"cannot read wallet {self.path}: {exc}") from None
        if st.st_mode & (stat.S_IRWXG | stat.S_IRWXO):
            raise WalletError(
                f"wallet {self.path} is accessible by group or others "
                f"(mode {stat.S_IMODE(st.st_mode):o}); run: chmod 600 {self.path}"
            )
        try:
            data = orjson.loads(self.path.read_bytes())
        except (OSError, orjson.JSONDecodeError) as exc:
            raise WalletError(f"wallet {self.path} is unreadable: {exc}") from None
        if not isinstance(data, dict) or data.get("version") != WALLET_VERSION:
            raise WalletError(f"wallet {self.path} is not an Intentcast wallet (version 1)")
        data.setdefault("intents", {})
        data.setdefault("receipts", {})
        data.setdefault("disclosures", {})
        self._data = data

    def _save(self) -> None:
        folder = self.path.parent
        try:
            folder.mkdir(mode=0o700, parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(prefix=".wallet-", suffix=".tmp", dir=folder)
        except OSError as exc:
            raise WalletError(f"cannot write wallet in {folder}: {exc}") from None
        try:
            with os.fdopen(fd, "wb") as handle:  # mkstemp creates the file with mode 0600
                handle.write(orjson.dumps(self._data, option=orjson.OPT_INDENT_2))
                handle.flush()
                os.fsync(handle.fileno())
            os.chmod(tmp, 0o600)
            os.replace(tmp, self.path)
        except OSError as exc:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise WalletError(f"cannot write wallet {self.path}: {exc}") from None

    def add_keys(self, intent_id: str, keys: IntentKeys) -> None:
        """Remember an intent's keys (before the intent is sent, so a crash loses nothing)."""
        self._data["intents"][intent_id] = keys.to_json()
        self._save()

    def keys(self, intent_id: str) -> IntentKeys | None:
        """The keys of one of our intents, or None."""
        stored = self._data["intents"].get(intent_id)
        return None if stored is None else IntentKeys.from_json(stored)

    def intent_ids(self) -> list[str]:
        """Ids of every intent whose keys are stored."""
        return list(self._data["intents"])

    def add_receipt(self, receipt: Receipt) -> None:
        """Keep an agreement and its consent receipt."""
        self._data["receipts"][receipt.agreement_id] = receipt.to_json()
        self._save()

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
