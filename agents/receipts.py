"""What the customer keeps after an agreement: the signed record and its consent receipt."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from intentcast.agents.errors import WalletError
from intentcast.schemas.agreement import Agreement, ConsentReceipt
from intentcast.schemas.canonical import canonical_bytes, decode
from intentcast.schemas.errors import SchemaError

__all__ = ["Receipt"]


@dataclass(frozen=True)
class Receipt:
    """An agreement (verifiable offline, both signatures inside) and its Kantara receipt."""

    agreement: Agreement
    consent: ConsentReceipt

    @classmethod
    def of(cls, agreement: Agreement) -> Receipt:
        """The receipt of a verified agreement."""
        return cls(agreement=agreement, consent=agreement.receipt())

    @property
    def agreement_id(self) -> str:
        """The agreement's id: the hash that names it in the audit log."""
        return self.agreement.agreement_id

    def to_json(self) -> dict[str, Any]:
        """Stored form: the agreement's canonical JSON text (exact bytes) and the receipt."""
        return {
            "agreement_id": self.agreement_id,
            "intent_id": self.agreement.intent.intent_id,
            "agreement": canonical_bytes(self.agreement).decode("utf-8"),
            "receipt": self.consent.to_kantara(),
        }

    @classmethod
    def from_json(cls, data: Any) -> Receipt:
        """Rebuild from :meth:`to_json` output; the agreement is re-verified."""
        try:
            agreement = decode(Agreement, data["agreement"])
            agreement.verify()
        except (KeyError, TypeError) as exc:
            raise WalletError(f"a stored receipt lacks its agreement ({exc})") from None
        except SchemaError as exc:
            raise WalletError(f"a stored agreement does not verify: {exc}") from None
        return cls.of(agreement)
