"""Customer publish client and vendor subscriber SDK; they meet the processors only via topics."""

from agents.customer import DEFAULT_TERMS, CustomerClient
from agents.dedupe import RecentIds
from agents.drafts import OfferDraft, build_offer, offer_id_for
from agents.errors import (
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
from agents.intent_handle import IntentHandle
from agents.partitions import partition_for
from agents.receipts import Receipt
from agents.settings import ClientSettings
from agents.vendor import AgreementHandler, FeedbackHandler, IntentHandler, Vendor, VendorStats
from agents.wallet import IntentKeys, Wallet, default_wallet_path

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
