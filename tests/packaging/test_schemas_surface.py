"""The public surface of the wire contract is exactly this list.

`from intentcast.schemas import ...` is what producers, consumers and auditors write, so every
name here is a promise. A name added or dropped must show up in a review as a change to this
list; the building blocks behind the surface stay importable from their submodules only.
"""

from __future__ import annotations

import importlib
from types import ModuleType

from intentcast import schemas

PUBLIC = [
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

# Building blocks of the contract that are not its surface, each with the submodule that
# owns it: what code outside `schemas/` that needs one imports it from.
INTERNAL = {
    "SUPPORTED_VERSIONS": "base",
    "WireModel": "base",
    "b64d": "crypto",
    "b64e": "crypto",
    "seal": "crypto",
    "verify_signature": "crypto",
    "canonical_bytes": "canonical",
    "canonical_json": "canonical",
    "schema_error_from": "canonical",
    "sha256_hex": "canonical",
    "signing_bytes": "canonical",
    "CountryCode": "fields",
    "Currency": "fields",
    "Hex64": "fields",
    "MessageId": "fields",
    "Money": "fields",
    "PublicKey": "fields",
    "Signature": "fields",
    "Slug": "fields",
    "TRANSITIONS": "intent",
    "UtcDateTime": "timeutil",
}


def test_the_exported_names_are_exactly_the_public_list() -> None:
    """In order too: `__all__` keeps ruff's RUF022 order (tests/schemas/test_schemas_models.py)."""
    assert schemas.__all__ == PUBLIC


def test_every_exported_name_resolves() -> None:
    for name in schemas.__all__:
        assert getattr(schemas, name) is not None, name


def test_the_package_binds_nothing_public_beyond_its_list() -> None:
    """Like httpx's check: a name imported into the package but left out of `__all__` would
    still be reachable as `intentcast.schemas.<name>`; only submodules may sit beside it."""
    public_bindings = {
        name
        for name, value in vars(schemas).items()
        if not name.startswith("_") and not isinstance(value, ModuleType)
    } - {"annotations"}  # `from __future__ import annotations` binds the feature flag
    assert public_bindings == set(PUBLIC)


def test_no_private_or_internal_name_is_exported() -> None:
    assert [name for name in schemas.__all__ if name.startswith("_")] == []
    assert sorted(set(schemas.__all__) & set(INTERNAL)) == []
    assert [name for name in INTERNAL if name in vars(schemas)] == []


def test_each_internal_name_lives_in_its_submodule() -> None:
    """Code that needs a building block has one place to import it from."""
    for name, module in INTERNAL.items():
        owner = importlib.import_module(f"intentcast.schemas.{module}")
        assert name in vars(owner), f"{name} is not in intentcast.schemas.{module}"
