"""Errors of the customer client and vendor SDK, under the project's one exception root.

::

    IntentcastError (schemas.errors)
    └── ClientError                 a client or SDK operation failed
        ├── SettingsError           the settings cannot work (e.g. SASL without a password)
        ├── KafkaUnavailableError   Kafka could not be reached or refused us (from aiokafka)
        ├── TopicMissingError       a topic the protocol needs does not exist yet
        ├── PublishError            a record was not acknowledged by Kafka
        ├── ReplyTimeoutError       the processors did not answer in time
        ├── IntentRejectedError     intake refused the intent (``reason``, ``detail``)
        ├── AgreementError          an acceptance ended without an agreement (``status``...)
        ├── BadAgreementError       an agreement record arrived but does not verify
        ├── DisclosureError         the processors refused a disclosure (``reason``, ``detail``)
        ├── WalletError             the wallet file is unsafe, corrupt or unwritable
        ├── VendorConfigError       a vendor was declared wrongly (found at declaration time)
        ├── RegistrationError       a vendor could not learn whether the processors listed it
        └── NotHandledError         an in-memory record was not handled by a serving vendor

aiokafka's exceptions are translated in :mod:`agents.kafka` so callers never catch them.
"""

from __future__ import annotations

from intentcast.schemas.errors import IntentcastError
from intentcast.schemas.events import StatusKind
from intentcast.schemas.reasons import ReasonCode

__all__ = [
    "AgreementError",
    "BadAgreementError",
    "ClientError",
    "DisclosureError",
    "IntentRejectedError",
    "KafkaUnavailableError",
    "NotHandledError",
    "PublishError",
    "RegistrationError",
    "ReplyTimeoutError",
    "SettingsError",
    "TopicMissingError",
    "VendorConfigError",
    "WalletError",
]


class ClientError(IntentcastError):
    """Root of the errors raised by :mod:`agents`; one ``except`` catches all of them."""


class SettingsError(ClientError):
    """The settings are incoherent; raised when they are built, not at the first connect."""


class KafkaUnavailableError(ClientError):
    """Kafka could not be reached, or refused the request (network, auth, broker errors)."""


class TopicMissingError(ClientError):
    """A protocol topic does not exist: the processors (or `intentcast topics`) create them."""

    def __init__(self, topic: str) -> None:
        super().__init__(
            f"topic {topic!r} does not exist; start the processors (they create the topics)"
        )
        self.topic = topic


class PublishError(ClientError):
    """Kafka did not acknowledge a record, so the message may not have been sent."""


class ReplyTimeoutError(ClientError):
    """The awaited reply (intake status, agreement) did not arrive within the timeout."""

    def __init__(self, waiting_for: str, timeout: float) -> None:
        super().__init__(f"no {waiting_for} within {timeout:g}s; are the processors running?")
        self.waiting_for = waiting_for
        self.timeout = timeout


class IntentRejectedError(ClientError):
    """Intake refused the intent; ``reason`` is the stable code, ``detail`` the specifics."""

    def __init__(self, intent_id: str, reason: ReasonCode | None, detail: str) -> None:
        code = reason.value if reason is not None else "unknown"
        super().__init__(f"intent {intent_id} rejected: {code}: {detail}".rstrip(": "))
        self.intent_id = intent_id
        self.reason = reason
        self.detail = detail


class AgreementError(ClientError):
    """An acceptance did not lead to an agreement: refused, or the intent expired or closed."""

    def __init__(
        self, intent_id: str, status: StatusKind, reason: ReasonCode | None, detail: str
    ) -> None:
        code = f" ({reason.value})" if reason is not None else ""
        text = f"no agreement for intent {intent_id}: {status.value}{code}"
        super().__init__(f"{text}: {detail}" if detail else text)
        self.intent_id = intent_id
        self.status = status
        self.reason = reason
        self.detail = detail


class BadAgreementError(ClientError):
    """The agreement record does not verify or does not match what we accepted: keep no receipt."""


class DisclosureError(ClientError):
    """The processors refused a disclosure; nothing of it reached the vendor."""

    def __init__(self, disclosure_id: str, reason: ReasonCode | None, detail: str) -> None:
        code = reason.value if reason is not None else "unknown"
        super().__init__(f"disclosure {disclosure_id} refused: {code}: {detail}".rstrip(": "))
        self.disclosure_id = disclosure_id
        self.reason = reason
        self.detail = detail


class WalletError(ClientError):
    """The wallet file cannot be used safely (permissions, corrupt JSON, I/O)."""


class VendorConfigError(ClientError):
    """A vendor or one of its handlers is declared wrongly; raised at declaration time."""


class RegistrationError(ClientError):
    """The vendor registry could not be read, so the vendor cannot know it may answer yet."""

    def __init__(self, vendor_id: str, cause: str) -> None:
        super().__init__(
            f"vendor {vendor_id!r} could not read the vendor registry ({cause}); start the "
            "processors (`intentcast broker run`), which create and fill it, then run it again"
        )
        self.vendor_id = vendor_id


class NotHandledError(ClientError):
    """A record sent through the in-memory transport was not handled within the timeout."""

    def __init__(self, topic: str, timeout: float | None) -> None:
        what = "consumes" if timeout is None else f"handled the record within {timeout:g}s on"
        super().__init__(
            f"no vendor served on this transport {what} {topic}; serve the vendor that reads it "
            "first (`async with vendor.serving(transport):`)"
        )
        self.topic = topic
        self.timeout = timeout
