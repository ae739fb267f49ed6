"""The SDK's public surface is exactly this set: adding or dropping a name is a decision.

Vendor authors and customer-client users import from `intentcast.agents` only (the examples
do); everything else is internal and may move.
"""

from __future__ import annotations

import ast
from pathlib import Path

from intentcast import agents

ROOT = Path(__file__).resolve().parents[2]

PUBLIC = {
    # vendor authors
    "Vendor", "VendorRuntime", "VendorStats", "IntentHandler", "FeedbackHandler",
    "AgreementHandler", "OfferDraft", "build_offer", "offer_id_for", "KafkaTransport",
    "InMemoryTransport", "VendorTransport", "RetentionHandler", "DisclosureHandler",
    "ReceivedDisclosure",
    # the contract a handler sees
    "Intent", "Offer", "OfferFeedback", "Agreement", "SigningKey", "ROSTER", "minor_units",
    "RetentionAttestation", "SealingKey", "Disclosure", "DisclosedFields", "PostalAddress",
    # customers
    "CustomerClient", "DEFAULT_TERMS", "IntentHandle", "IntentKeys", "Receipt", "Wallet",
    "default_wallet_path", "AgreementRetention", "RetentionState", "DroppedKeys",
    # both
    "ClientSettings", "ClientError", "SettingsError", "KafkaUnavailableError",
    "TopicMissingError", "PublishError", "ReplyTimeoutError", "IntentRejectedError",
    "AgreementError", "BadAgreementError", "WalletError", "VendorConfigError",
    "RegistrationError", "NotHandledError", "DisclosureError",
}  # fmt: skip


def test_all_is_exactly_the_public_set_and_every_name_resolves() -> None:
    assert set(agents.__all__) == PUBLIC
    assert len(agents.__all__) == len(PUBLIC), "a name is listed twice"
    for name in agents.__all__:
        assert getattr(agents, name) is not None


def test_every_error_is_a_client_error() -> None:
    errors = [getattr(agents, n) for n in PUBLIC if n.endswith("Error")]
    assert all(issubclass(e, agents.ClientError) for e in errors)


def test_the_examples_import_the_sdk_only_from_intentcast_agents() -> None:
    offenders = []
    for path in sorted((ROOT / "examples").glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module:
                module = node.module
                if module != "intentcast.agents" and not module.startswith(
                    ("intentcast.examples", "__future__", "decimal", "hashlib")
                ):
                    offenders.append(f"{path.name}: {module}")
    assert offenders == []
