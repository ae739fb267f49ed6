"""Intentcast's wire contract: message models, canonical encoding, signatures, topics.

This package is the floor of the project: it does no I/O, imports no Kafka code and nothing
else of ours, so customers, vendors, processors and auditors all agree on the same bytes.

`__all__` is what a producer, consumer or auditor of the wire needs: the messages and their
parts, the enums, `encode`/`decode` and the content hash, signing, verification and sealing,
the topics, the errors and the terms roster. The building blocks behind them (field types,
base64, canonical and signing bytes, the raw signature check) stay in their submodules
(`intentcast.schemas.crypto`, `.canonical`, `.fields`, ...), so they can change without
changing this surface (`tests/packaging/test_schemas_surface.py` pins it).
"""

from __future__ import annotations

from intentcast.schemas.agreement import (
    GENESIS_HASH,
    Agreement,
    ConsentPurpose,
    ConsentReceipt,
    ConsentService,
    PiiController,
)
from intentcast.schemas.base import Message, SignedModel
from intentcast.schemas.canonical import MAX_MESSAGE_BYTES, content_hash, decode, encode
from intentcast.schemas.crypto import SealingKey, SigningKey, sign_model, verify_model
from intentcast.schemas.disclosure import (
    DISCLOSURE_FIELDS,
    DisclosedFields,
    Disclosure,
    DisclosureField,
    DisclosureRecord,
    PostalAddress,
    open_disclosure,
    seal_disclosure,
)
from intentcast.schemas.errors import IntentcastError, Rejected, SchemaError, SignatureError
from intentcast.schemas.events import (
    DeadLetter,
    IntentStatus,
    MetricsSnapshot,
    OfferFeedback,
    StatusKind,
)
from intentcast.schemas.fields import new_id
from intentcast.schemas.intent import Cancel, Intent, IntentState, Place, Want, can_transition
from intentcast.schemas.log import (
    AGREEMENT_ENTRY,
    ENTRY_KINDS,
    ChainCheck,
    EntryKind,
    EntryType,
    LogEntry,
    Reader,
    SealedKey,
    check_chain,
)
from intentcast.schemas.models import MESSAGE_MODELS
from intentcast.schemas.offer import (
    Acceptance,
    DeliveredOffer,
    Offer,
    VendorProfile,
    open_offer,
    seal_offer,
)
from intentcast.schemas.reasons import ReasonCode
from intentcast.schemas.retention import (
    RetentionAttestation,
    agreement_retention_end,
    retention_end,
)
from intentcast.schemas.terms import (
    ROSTER,
    Purpose,
    Term,
    TermClauses,
    TermRef,
    refs_for,
    resolve_terms,
    term_ref,
)
from intentcast.schemas.timeutil import utcnow
from intentcast.schemas.topics import (
    ACCEPTANCES,
    AGREEMENTS,
    ATTESTATIONS,
    CANCELS,
    CORE_TOPICS,
    DEAD_LETTERS,
    DISCLOSURES,
    INTENT_STATUS,
    INTENTS_SUBMITTED,
    MARKET_TOPIC,
    METRICS,
    OFFERS_DELIVERED,
    OFFERS_SUBMITTED,
    VENDOR_AGREEMENTS_TOPIC,
    VENDOR_DISCLOSURES_TOPIC,
    VENDOR_FEEDBACK_TOPIC,
    VENDOR_PROFILE_TOPIC,
    VENDOR_REGISTRY,
    VENDOR_TOPIC_PREFIX,
    TopicSpec,
    market_topic,
    spec_for,
    vendor_agreements_topic,
    vendor_disclosures_topic,
    vendor_feedback_topic,
    vendor_profile_topic,
)

__all__ = [
    "ACCEPTANCES",
    "AGREEMENTS",
    "AGREEMENT_ENTRY",
    "ATTESTATIONS",
    "CANCELS",
    "CORE_TOPICS",
    "DEAD_LETTERS",
    "DISCLOSURES",
    "DISCLOSURE_FIELDS",
    "ENTRY_KINDS",
    "GENESIS_HASH",
    "INTENTS_SUBMITTED",
    "INTENT_STATUS",
    "MARKET_TOPIC",
    "MAX_MESSAGE_BYTES",
    "MESSAGE_MODELS",
    "METRICS",
    "OFFERS_DELIVERED",
    "OFFERS_SUBMITTED",
    "ROSTER",
    "VENDOR_AGREEMENTS_TOPIC",
    "VENDOR_DISCLOSURES_TOPIC",
    "VENDOR_FEEDBACK_TOPIC",
    "VENDOR_PROFILE_TOPIC",
    "VENDOR_REGISTRY",
    "VENDOR_TOPIC_PREFIX",
    "Acceptance",
    "Agreement",
    "Cancel",
    "ChainCheck",
    "ConsentPurpose",
    "ConsentReceipt",
    "ConsentService",
    "DeadLetter",
    "DeliveredOffer",
    "DisclosedFields",
    "Disclosure",
    "DisclosureField",
    "DisclosureRecord",
    "EntryKind",
    "EntryType",
    "Intent",
    "IntentState",
    "IntentStatus",
    "IntentcastError",
    "LogEntry",
    "Message",
    "MetricsSnapshot",
    "Offer",
    "OfferFeedback",
    "PiiController",
    "Place",
    "PostalAddress",
    "Purpose",
    "Reader",
    "ReasonCode",
    "Rejected",
    "RetentionAttestation",
    "SchemaError",
    "SealedKey",
    "SealingKey",
    "SignatureError",
    "SignedModel",
    "SigningKey",
    "StatusKind",
    "Term",
    "TermClauses",
    "TermRef",
    "TopicSpec",
    "VendorProfile",
    "Want",
    "agreement_retention_end",
    "can_transition",
    "check_chain",
    "content_hash",
    "decode",
    "encode",
    "market_topic",
    "new_id",
    "open_disclosure",
    "open_offer",
    "refs_for",
    "resolve_terms",
    "retention_end",
    "seal_disclosure",
    "seal_offer",
    "sign_model",
    "spec_for",
    "term_ref",
    "utcnow",
    "vendor_agreements_topic",
    "vendor_disclosures_topic",
    "vendor_feedback_topic",
    "vendor_profile_topic",
    "verify_model",
]
