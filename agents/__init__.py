"""Customer publish client and vendor subscriber SDK; they meet the processors only via topics."""

from intentcast.agents.customer import DEFAULT_TERMS, CustomerClient
from intentcast.agents.dedupe import RecentIds
from intentcast.agents.drafts import OfferDraft, build_offer, offer_id_for
from intentcast.agents.errors import (
    AgreementError,
    BadAgreementError,
    ClientError,
    IntentRejectedError,
    KafkaUnavailableError,
    PublishError,
    ReplyTimeoutError,
    SettingsError,
    TopicMissingError,
    VendorConfigError,
    WalletError,
)
from intentcast.agents.intent_handle import IntentHandle
from intentcast.agents.partitions import partition_for
from intentcast.agents.receipts import Receipt
from intentcast.agents.settings import ClientSettings
from intentcast.agents.vendor import (
    AgreementHandler,
    FeedbackHandler,
    IntentHandler,
    Vendor,
    VendorStats,
)
from intentcast.agents.wallet import IntentKeys, Wallet, default_wallet_path

__all__ = [
    "DEFAULT_TERMS",
    "AgreementError",
    "AgreementHandler",
    "BadAgreementError",
    "ClientError",
    "ClientSettings",
    "CustomerClient",
    "FeedbackHandler",
    "IntentHandle",
    "IntentHandler",
    "IntentKeys",
    "IntentRejectedError",
    "KafkaUnavailableError",
    "OfferDraft",
    "PublishError",
    "Receipt",
    "RecentIds",
    "ReplyTimeoutError",
    "SettingsError",
    "TopicMissingError",
    "Vendor",
    "VendorConfigError",
    "VendorStats",
    "Wallet",
    "WalletError",
    "build_offer",
    "default_wallet_path",
    "offer_id_for",
    "partition_for",
]
