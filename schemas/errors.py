"""The one exception tree of Intentcast; every error a caller may catch lives under it.

::

    IntentcastError            root of every error the project raises on purpose
    └── Rejected               a record is turned away: carries a ReasonCode and a detail
        ├── SchemaError        a message or value broke the wire contract
        │   └── SignatureError a signature is missing, malformed or does not verify
        └── Refused            (broker.refusal) well-formed, but breaks a rule of the flow

Callers branch on ``err.reason`` (a closed :class:`~schemas.reasons.ReasonCode`), never on the
text, so the same code can travel in dead letters, vendor feedback and intent statuses
unchanged; one ``except Rejected`` catches every refusal, whichever layer found it.
"""

from __future__ import annotations

from intentcast.schemas.reasons import ReasonCode

__all__ = ["IntentcastError", "Rejected", "SchemaError", "SignatureError"]


class IntentcastError(Exception):
    """Root of all errors raised by Intentcast code: one ``except`` catches ours and no others."""


class Rejected(IntentcastError):  # noqa: N818 - a verdict on a record, not a malfunction
    """A record is refused: ``reason`` is what its sender and the operator are told, ``detail``
    a short human line (the code's own description when the raiser has nothing to add)."""

    def __init__(self, reason: ReasonCode, detail: str = "") -> None:
        super().__init__(reason, detail)
        self.reason = reason
        self.detail = detail or reason.description

    def __str__(self) -> str:
        return f"{self.reason.value}: {self.detail}"

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.reason.value!r}, {self.detail!r})"


class SchemaError(Rejected):
    """A value does not satisfy the wire contract; ``reason`` says which rule, ``detail`` where."""

    def __init__(self, reason: ReasonCode, detail: str) -> None:
        super().__init__(reason, detail)


class SignatureError(SchemaError):
    """A signature check failed; a separate class so callers can treat forgery apart from typos."""

    def __init__(
        self,
        reason: ReasonCode = ReasonCode.BAD_SIGNATURE,
        detail: str = "signature does not verify",
    ) -> None:
        super().__init__(reason, detail)
