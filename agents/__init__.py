"""The customer client and the vendor SDK; they meet the processors only through topics.

Everything a vendor author or a customer-client user needs is importable from here, the
contract's models included; the submodules are internals and may change.

Vendor authors: `Vendor`, its handler types, `OfferDraft`, the contract models a handler
sees (`Intent`, `OfferFeedback`, `Agreement`, `Offer`, `RetentionAttestation`,
`ReceivedDisclosure` with its `DisclosedFields`), `SigningKey` and `SealingKey`, the term
`ROSTER`, `minor_units` for prices, and the transports (`KafkaTransport`,
`InMemoryTransport` for unit tests). Customers: `CustomerClient`, `IntentHandle`, `Receipt`,
`Wallet`, `IntentKeys`, and what they see of retention (`AgreementRetention`,
`RetentionState`, `DroppedKeys`).
Both: `ClientSettings` and the errors under `ClientError`.
"""

from intentcast.agents.customer import DEFAULT_TERMS, CustomerClient
from intentcast.agents.declaration import (
    AgreementHandler,
    FeedbackHandler,
    IntentHandler,
    RetentionHandler,
)
from intentcast.agents.disclosures import DisclosureHandler, ReceivedDisclosure
from intentcast.agents.drafts import OfferDraft, build_offer, offer_id_for
from intentcast.agents.errors import (
    AgreementError,
    BadAgreementError,
    ClientError,
    DisclosureError,
    IntentRejectedError,
    KafkaUnavailableError,
    NotHandledError,
    PublishError,
    RegistrationError,
    ReplyTimeoutError,
    SettingsError,
    TopicMissingError,
    VendorConfigError,
    WalletError,
)
from intentcast.agents.intent_handle import IntentHandle
from intentcast.agents.kafka_transport import KafkaTransport
from intentcast.agents.memory_transport import InMemoryTransport
from intentcast.agents.receipts import Receipt
from intentcast.agents.retention_status import AgreementRetention, DroppedKeys, RetentionState
from intentcast.agents.settings import ClientSettings
from intentcast.agents.transport import VendorTransport
from intentcast.agents.vendor import Vendor
from intentcast.agents.vendor_runtime import VendorRuntime, VendorStats
from intentcast.agents.wallet import IntentKeys, Wallet, default_wallet_path
from intentcast.schemas.agreement import Agreement
from intentcast.schemas.crypto import SealingKey, SigningKey
from intentcast.schemas.disclosure import DisclosedFields, Disclosure, PostalAddress
from intentcast.schemas.events import OfferFeedback
from intentcast.schemas.intent import Intent
from intentcast.schemas.iso import minor_units
from intentcast.schemas.offer import Offer
from intentcast.schemas.retention import RetentionAttestation
from intentcast.schemas.terms import ROSTER

__all__ = [
    "DEFAULT_TERMS",
    "ROSTER",
    "Agreement",
    "AgreementError",
    "AgreementHandler",
    "AgreementRetention",
    "BadAgreementError",
    "ClientError",
    "ClientSettings",
    "CustomerClient",
    "DisclosedFields",
    "Disclosure",
    "DisclosureError",
    "DisclosureHandler",
    "DroppedKeys",
    "FeedbackHandler",
    "InMemoryTransport",
    "Intent",
    "IntentHandle",
    "IntentHandler",
    "IntentKeys",
    "IntentRejectedError",
    "KafkaTransport",
    "KafkaUnavailableError",
    "NotHandledError",
    "Offer",
    "OfferDraft",
    "OfferFeedback",
    "PostalAddress",
    "PublishError",
    "Receipt",
    "ReceivedDisclosure",
    "RegistrationError",
    "ReplyTimeoutError",
    "RetentionAttestation",
    "RetentionHandler",
    "RetentionState",
    "SealingKey",
    "SettingsError",
    "SigningKey",
    "TopicMissingError",
    "Vendor",
    "VendorConfigError",
    "VendorRuntime",
    "VendorStats",
    "VendorTransport",
    "Wallet",
    "WalletError",
    "build_offer",
    "default_wallet_path",
    "minor_units",
    "offer_id_for",
]
