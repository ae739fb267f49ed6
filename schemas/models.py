"""Every message model in one place, and the registry from ``kind`` to model class."""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Final

from intentcast.schemas.agreement import (
    GENESIS_HASH,
    Agreement,
    ConsentPurpose,
    ConsentReceipt,
    ConsentService,
    PiiController,
)
from intentcast.schemas.base import SUPPORTED_VERSIONS, Message, SignedModel, WireModel
from intentcast.schemas.disclosure import (
    DisclosedFields,
    Disclosure,
    DisclosureRecord,
    PostalAddress,
)
from intentcast.schemas.events import (
    DeadLetter,
    IntentStatus,
    MetricsSnapshot,
    OfferFeedback,
    StatusKind,
)
from intentcast.schemas.fields import (
    CountryCode,
    Currency,
    Hex64,
    MessageId,
    Money,
    PublicKey,
    Signature,
    Slug,
    new_id,
)
from intentcast.schemas.intent import (
    TRANSITIONS,
    Cancel,
    Intent,
    IntentState,
    Place,
    Want,
    can_transition,
)
from intentcast.schemas.log import LogEntry
from intentcast.schemas.offer import (
    Acceptance,
    DeliveredOffer,
    Offer,
    VendorProfile,
    open_offer,
    seal_offer,
)
from intentcast.schemas.retention import RetentionAttestation

__all__ = [
    "GENESIS_HASH",
    "MESSAGE_MODELS",
    "SUPPORTED_VERSIONS",
    "TRANSITIONS",
    "Acceptance",
    "Agreement",
    "Cancel",
    "ConsentPurpose",
    "ConsentReceipt",
    "ConsentService",
    "CountryCode",
    "Currency",
    "DeadLetter",
    "DeliveredOffer",
    "DisclosedFields",
    "Disclosure",
    "DisclosureRecord",
    "Hex64",
    "Intent",
    "IntentState",
    "IntentStatus",
    "Message",
    "MessageId",
    "MetricsSnapshot",
    "Money",
    "Offer",
    "OfferFeedback",
    "PiiController",
    "Place",
    "PostalAddress",
    "PublicKey",
    "RetentionAttestation",
    "Signature",
    "SignedModel",
    "Slug",
    "StatusKind",
    "VendorProfile",
    "Want",
    "WireModel",
    "can_transition",
    "new_id",
    "open_offer",
    "seal_offer",
]

_ALL: Final[tuple[type[Message], ...]] = (
    Intent,
    Cancel,
    VendorProfile,
    Offer,
    DeliveredOffer,
    Acceptance,
    Agreement,
    LogEntry,
    ConsentReceipt,
    Disclosure,
    DisclosedFields,
    DisclosureRecord,
    RetentionAttestation,
    IntentStatus,
    OfferFeedback,
    DeadLetter,
    MetricsSnapshot,
)

MESSAGE_MODELS: Final[Mapping[str, type[Message]]] = MappingProxyType(
    {model.model_fields["kind"].default: model for model in _ALL}
)
"""Every top-level message class by its ``kind`` (e.g. ``"intent"`` -> :class:`Intent`)."""
