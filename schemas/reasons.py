"""The closed set of reason codes shared by errors, dead letters, vendor feedback and the docs."""

from __future__ import annotations

from enum import StrEnum
from types import MappingProxyType
from typing import Final

__all__ = ["Audience", "ReasonCode"]


class Audience(StrEnum):
    """Who a refusal with a code is for: the party that can act on it."""

    CUSTOMER = "customer"  # on the intent's status (intentcast.intents.status)
    VENDOR = "vendor"  # on the vendor's own feedback topic
    OPERATOR = "operator"  # on the dead letters: the contract broken, or the system at fault


class ReasonCode(StrEnum):
    """Why a message was refused or an operation failed.

    Values are stable snake_case strings that go on the wire: never rename or reuse one, only add.
    """

    MALFORMED_JSON = "malformed_json"
    SCHEMA_INVALID = "schema_invalid"
    UNKNOWN_SCHEMA_VERSION = "unknown_schema_version"
    MESSAGE_TOO_LARGE = "message_too_large"
    UNKNOWN_TERM = "unknown_term"
    TERM_HASH_MISMATCH = "term_hash_mismatch"
    INTENT_EXPIRED = "intent_expired"
    INTENT_NOT_OPEN = "intent_not_open"
    INTENT_UNKNOWN = "intent_unknown"
    VENDOR_UNKNOWN = "vendor_unknown"
    VENDOR_MISMATCH = "vendor_mismatch"
    BAD_SIGNATURE = "bad_signature"
    TERMS_NOT_ACCEPTED = "terms_not_accepted"
    CURRENCY_MISMATCH = "currency_mismatch"
    PRICE_OVER_MAX = "price_over_max"
    OFFER_EXPIRED = "offer_expired"
    DUPLICATE_OFFER = "duplicate_offer"
    OFFER_NOT_DELIVERED = "offer_not_delivered"
    OFFER_HASH_MISMATCH = "offer_hash_mismatch"
    ALREADY_AGREED = "already_agreed"
    DUPLICATE_MESSAGE = "duplicate_message"
    PII_DETECTED = "pii_detected"
    TOO_MANY_OFFERS = "too_many_offers"
    MARKET_UNKNOWN = "market_unknown"
    INTERNAL_ERROR = "internal_error"
    DESTINATION_UNAVAILABLE = "destination_unavailable"
    DESTINATION_TOO_LARGE = "destination_too_large"
    UNDECODABLE_BATCH = "undecodable_batch"
    AGREEMENT_UNKNOWN = "agreement_unknown"
    RETENTION_END_MISMATCH = "retention_end_mismatch"
    DELETION_TIME_INVALID = "deletion_time_invalid"
    ALREADY_ATTESTED = "already_attested"
    NOT_AGREED_VENDOR = "not_agreed_vendor"
    NO_SEALING_KEY = "no_sealing_key"
    SEALING_KEY_MISMATCH = "sealing_key_mismatch"
    TOO_MANY_DISCLOSURES = "too_many_disclosures"

    @property
    def description(self) -> str:
        """One plain-language line, shown to vendors in feedback and listed in docs/reasons.md."""
        return _DESCRIPTIONS[self]

    @property
    def audience(self) -> frozenset[Audience]:
        """Who is told of a refusal with this code (when the refused record is theirs and they
        can be reached); the refusal path routes by it, docs/reasons.md lists it."""
        return _FACTS[self][0]

    @property
    def retriable(self) -> bool:
        """Whether the very same record, sent again later, may pass: the cause is a state of
        the system (not yet registered, a fault) rather than the record's own content."""
        return _FACTS[self][1]


_DESCRIPTIONS: Final = MappingProxyType(
    {
        ReasonCode.MALFORMED_JSON: "The bytes are not valid UTF-8 JSON, or not interoperable "
        "JSON (I-JSON, RFC 7493): an object with a key twice, a lone surrogate, NaN or Infinity.",
        ReasonCode.SCHEMA_INVALID: "The JSON does not match the message schema "
        "(missing, extra or out-of-range fields).",
        ReasonCode.UNKNOWN_SCHEMA_VERSION: "The schema_version is not one this decoder supports.",
        ReasonCode.MESSAGE_TOO_LARGE: "The message is larger than the 64 KiB limit.",
        ReasonCode.UNKNOWN_TERM: "A term id or version is not in the MyTerms roster.",
        ReasonCode.TERM_HASH_MISMATCH: "A term reference's sha256 does not match the roster text.",
        ReasonCode.INTENT_EXPIRED: "The intent's expires_at has passed.",
        ReasonCode.INTENT_NOT_OPEN: "The intent is already agreed, expired or cancelled.",
        ReasonCode.INTENT_UNKNOWN: "No open intent with this intent_id is known.",
        ReasonCode.VENDOR_UNKNOWN: "No vendor profile is registered for this vendor_id.",
        ReasonCode.VENDOR_MISMATCH: "The sender is not the vendor named in the message.",
        ReasonCode.BAD_SIGNATURE: "A signature is missing or does not verify "
        "with the expected key.",
        ReasonCode.TERMS_NOT_ACCEPTED: "The offer does not accept exactly the terms "
        "the customer proffered.",
        ReasonCode.CURRENCY_MISMATCH: "The offer's currency differs from the intent's currency.",
        ReasonCode.PRICE_OVER_MAX: "The offer's price is above the intent's max_price.",
        ReasonCode.OFFER_EXPIRED: "The offer's valid_until has passed.",
        ReasonCode.DUPLICATE_OFFER: "An offer with this offer_id was already delivered for "
        "this intent, with other content (an exact resend is ignored, not refused). A vendor "
        "may make several offers per intent, each with its own offer_id.",
        ReasonCode.OFFER_NOT_DELIVERED: "The accepted offer was never delivered to the customer.",
        ReasonCode.OFFER_HASH_MISMATCH: "The acceptance's offer_hash does not match "
        "the delivered offer.",
        ReasonCode.ALREADY_AGREED: "The intent already has an agreement.",
        ReasonCode.DUPLICATE_MESSAGE: "A message with this id was already processed.",
        ReasonCode.PII_DETECTED: "The message seems to contain personal data "
        "(e-mail, phone, street address).",
        ReasonCode.TOO_MANY_OFFERS: "This vendor already had as many offers delivered for this "
        "intent as the processors allow (INTENTCAST_MAX_OFFERS_PER_VENDOR, 3 by default).",
        ReasonCode.MARKET_UNKNOWN: "The market named in the intent does not exist.",
        ReasonCode.INTERNAL_ERROR: "The broker failed unexpectedly; the message may be retried.",
        ReasonCode.DESTINATION_UNAVAILABLE: "An output for one vendor could not be written: "
        "its topic is missing or the processors are not authorised for it. The dead letter "
        "names the topic and partition it was meant for (offset 0: it was never written).",
        ReasonCode.DESTINATION_TOO_LARGE: "An output for one vendor is larger than its topic "
        "accepts (the topic's max.message.bytes). The dead letter names the topic and "
        "partition it was meant for (offset 0: it was never written).",
        ReasonCode.UNDECODABLE_BATCH: "A stored input batch could not be decoded (its CRC "
        "fails, or its codec is unknown or its payload corrupt). The dead letter names the "
        "topic, partition and first offset; its detail gives the range skipped.",
        ReasonCode.AGREEMENT_UNKNOWN: "The agreement log records no agreement with this "
        "agreement_id for this intent (and, for an attestation, this vendor): there is nothing "
        "to disclose to or to attest.",
        ReasonCode.RETENTION_END_MISMATCH: "The attestation's retention_end is not the one "
        'the agreement\'s terms give (docs/protocol.md, "Retention").',
        ReasonCode.DELETION_TIME_INVALID: "The attestation's deleted_at is in the future or "
        "before the agreement was recorded.",
        ReasonCode.ALREADY_ATTESTED: "This agreement's deletion is already attested in the "
        "log; the first attestation stands.",
        ReasonCode.NOT_AGREED_VENDOR: "The disclosure names a vendor other than the one the "
        "agreement was made with.",
        ReasonCode.NO_SEALING_KEY: "The vendor's registered profile has no sealing key, so "
        "nothing can be sealed to it (it must publish a profile with one).",
        ReasonCode.SEALING_KEY_MISMATCH: "The disclosure is sealed to a key other than the "
        "vendor's registered sealing key.",
        ReasonCode.TOO_MANY_DISCLOSURES: "The agreement already had as many disclosures "
        "delivered as the processors allow (INTENTCAST_MAX_DISCLOSURES_PER_AGREEMENT, 10 by "
        "default).",
    }
)

_C, _V, _O = Audience.CUSTOMER, Audience.VENDOR, Audience.OPERATOR
_CONTRACT: Final = frozenset({_C, _V, _O})
"""A broken wire contract: the sender is told, and the operator sees it (a bug or an attack)."""
_BOTH: Final = frozenset({_C, _V})
_FACTS: Final = MappingProxyType(
    {
        ReasonCode.MALFORMED_JSON: (_CONTRACT, False),
        ReasonCode.SCHEMA_INVALID: (_CONTRACT, False),
        ReasonCode.UNKNOWN_SCHEMA_VERSION: (_CONTRACT, False),
        ReasonCode.MESSAGE_TOO_LARGE: (_CONTRACT, False),
        ReasonCode.UNKNOWN_TERM: (_BOTH, False),
        ReasonCode.TERM_HASH_MISMATCH: (_BOTH, False),
        ReasonCode.INTENT_EXPIRED: (_BOTH, False),
        ReasonCode.INTENT_NOT_OPEN: (_BOTH, False),
        ReasonCode.INTENT_UNKNOWN: (_BOTH, False),
        # nobody can be told: an unregistered id names no principal whose topic is safe to use
        ReasonCode.VENDOR_UNKNOWN: (frozenset({_O}), True),
        ReasonCode.VENDOR_MISMATCH: (frozenset({_V, _O}), False),
        ReasonCode.BAD_SIGNATURE: (_CONTRACT, False),
        ReasonCode.TERMS_NOT_ACCEPTED: (frozenset({_V}), False),
        ReasonCode.CURRENCY_MISMATCH: (frozenset({_V}), False),
        ReasonCode.PRICE_OVER_MAX: (frozenset({_V}), False),
        ReasonCode.OFFER_EXPIRED: (_BOTH, False),
        ReasonCode.DUPLICATE_OFFER: (frozenset({_V}), False),
        ReasonCode.OFFER_NOT_DELIVERED: (frozenset({_C}), False),
        ReasonCode.OFFER_HASH_MISMATCH: (frozenset({_C}), False),
        ReasonCode.ALREADY_AGREED: (_BOTH, False),
        ReasonCode.DUPLICATE_MESSAGE: (frozenset({_C}), False),
        ReasonCode.PII_DETECTED: (frozenset({_C}), False),
        ReasonCode.TOO_MANY_OFFERS: (frozenset({_V}), False),
        ReasonCode.MARKET_UNKNOWN: (frozenset({_C}), False),
        ReasonCode.INTERNAL_ERROR: (frozenset({_O}), True),
        ReasonCode.DESTINATION_UNAVAILABLE: (frozenset({_O}), True),
        ReasonCode.DESTINATION_TOO_LARGE: (frozenset({_O}), False),
        ReasonCode.UNDECODABLE_BATCH: (frozenset({_O}), False),
        # a customer disclosing under, or a vendor attesting, an agreement the log does not
        # hold for them: a bug or a probe
        ReasonCode.AGREEMENT_UNKNOWN: (frozenset({_C, _V, _O}), False),
        ReasonCode.RETENTION_END_MISMATCH: (frozenset({_V}), False),
        ReasonCode.DELETION_TIME_INVALID: (frozenset({_V}), False),
        ReasonCode.ALREADY_ATTESTED: (frozenset({_V}), False),
        ReasonCode.NOT_AGREED_VENDOR: (frozenset({_C}), False),
        # the vendor may publish a profile with a key later: the same disclosure may then pass
        ReasonCode.NO_SEALING_KEY: (frozenset({_C}), True),
        ReasonCode.SEALING_KEY_MISMATCH: (frozenset({_C}), False),
        ReasonCode.TOO_MANY_DISCLOSURES: (frozenset({_C}), False),
    }
)
"""Per code: who is told, and whether a resend may pass."""
