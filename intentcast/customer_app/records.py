"""The customer's own history: every intent they published and what came back to it.

The wallet keeps keys and receipts; this file keeps the rest a person wants to look back on
(the signed intent, the opened offers, the statuses), beside the wallet and as private as it.
Nothing here leaves the machine: the app reads it to draw the history and the export.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

from intentcast.agents import Intent, Offer, WalletError
from intentcast.agents.wallet import read_private_json, write_private_json
from intentcast.schemas.canonical import canonical_bytes, decode
from intentcast.schemas.errors import SchemaError
from intentcast.schemas.events import IntentStatus

__all__ = ["History", "IntentRecord", "history_path_for"]

HISTORY_VERSION: Final = 1


def history_path_for(wallet_path: Path) -> Path:
    """The history file that belongs to a wallet: beside it, so both go (or stay) together."""
    return wallet_path.with_name(wallet_path.stem + "-history.json")


def _text(model: Any) -> str:
    return canonical_bytes(model).decode("utf-8")


@dataclass
class IntentRecord:
    """One published intent with the offers and statuses it received, oldest first."""

    intent: Intent
    offers: list[Offer] = field(default_factory=list)
    statuses: list[IntentStatus] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        """Stored form: each message's canonical JSON text, so signatures still verify."""
        return {
            "intent": _text(self.intent),
            "offers": [_text(o) for o in self.offers],
            "statuses": [_text(s) for s in self.statuses],
        }

    @classmethod
    def from_json(cls, data: Any) -> IntentRecord:
        try:
            return cls(
                intent=decode(Intent, data["intent"]),
                offers=[decode(Offer, o) for o in data.get("offers", ())],
                statuses=[decode(IntentStatus, s) for s in data.get("statuses", ())],
            )
        except (KeyError, TypeError, SchemaError) as exc:
            raise WalletError(f"a stored intent record is unreadable ({exc})") from None


class History:
    """Intent records in one owner-only JSON file, rewritten atomically on each change."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.records: dict[str, IntentRecord] = {}
        data = read_private_json(path, what="history")
        if data is None:
            return
        if not isinstance(data, dict) or data.get("version") != HISTORY_VERSION:
            raise WalletError(f"history {path} is not an Intentcast history file (version 1)")
        for intent_id, item in (data.get("intents") or {}).items():
            self.records[intent_id] = IntentRecord.from_json(item)

    def save(self) -> None:
        data = {
            "version": HISTORY_VERSION,
            "intents": {key: record.to_json() for key, record in self.records.items()},
        }
        write_private_json(self.path, data, what="history")

    def add(self, intent: Intent) -> IntentRecord:
        record = self.records[intent.intent_id] = IntentRecord(intent=intent)
        self.save()
        return record

    def update(
        self, intent_id: str, offers: tuple[Offer, ...], statuses: tuple[IntentStatus, ...]
    ) -> bool:
        """Take what a live intent received so far; True (and saved) when something was new."""
        record = self.records.get(intent_id)
        if record is None or (
            len(offers) == len(record.offers) and len(statuses) == len(record.statuses)
        ):
            return False
        record.offers, record.statuses = list(offers), list(statuses)
        self.save()
        return True

    def forget(self, intent_id: str) -> None:
        if self.records.pop(intent_id, None) is not None:
            self.save()
