"""A business-rule refusal: the message is well-formed but breaks a rule of the flow."""

from __future__ import annotations

from intentcast.schemas.errors import IntentcastError
from intentcast.schemas.reasons import ReasonCode


class Refused(IntentcastError):  # noqa: N818 - a verdict, not a malfunction
    """Carries the closed ReasonCode that the sender will see, and a short human detail."""

    def __init__(self, reason: ReasonCode, detail: str = "") -> None:
        super().__init__(reason, detail)
        self.reason = reason
        self.detail = detail or reason.description

    def __str__(self) -> str:
        return f"{self.reason.value}: {self.detail}"
