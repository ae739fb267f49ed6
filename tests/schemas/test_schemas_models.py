"""Model rules beyond types: coherence validators, immutability, lifecycle, topics."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from pydantic import ValidationError

from intentcast import schemas
from intentcast.schemas import (
    CORE_TOPICS,
    MESSAGE_MODELS,
    Intent,
    IntentState,
    Offer,
    SchemaError,
    can_transition,
    market_topic,
    new_id,
    refs_for,
    spec_for,
    term_ref,
    vendor_agreements_topic,
    vendor_feedback_topic,
)
from intentcast.schemas._tools.samples import sample
from intentcast.schemas.intent import TRANSITIONS

INTENT = sample(Intent)


def _intent(**changes: Any) -> Intent:
    return Intent.model_validate({**INTENT.model_dump(), **changes})


def _isort_key(name: str) -> tuple[int, str]:
    """Constants, then classes, then functions (the order ruff's RUF022 keeps)."""
    kind = 0 if name.isupper() else 1 if name[0].isupper() else 2
    return kind, name


def test_exported_names_are_sorted_and_real() -> None:
    assert schemas.__all__ == sorted(schemas.__all__, key=_isort_key)
    assert len(set(schemas.__all__)) == len(schemas.__all__)
    for name in schemas.__all__:
        assert hasattr(schemas, name), name


def test_models_are_frozen_and_closed() -> None:
    with pytest.raises(ValidationError):
        INTENT.market = "other"  # type: ignore[misc]
    with pytest.raises(ValidationError, match="Extra inputs"):
        Intent.model_validate({**INTENT.model_dump(), "email": "a@b.c"})


def test_every_message_has_kind_and_version() -> None:
    for kind, model in MESSAGE_MODELS.items():
        assert model.model_fields["kind"].default == kind
        assert model.model_fields["schema_version"].default == 1


def test_unknown_version_raises_schema_error_on_construction() -> None:
    with pytest.raises(SchemaError, match="unknown_schema_version"):
        _intent(schema_version=7)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"expires_at": INTENT.created_at}, "expires_at must be after"),
        ({"needed_by": INTENT.created_at - timedelta(seconds=1)}, "needed_by must be after"),
        ({"terms": ()}, "at least 1"),
        ({"terms": (term_ref("P2B1"), term_ref("P2B1"))}, "more than once"),
        ({"max_price": Decimal("1.001")}, "more decimals"),
        ({"max_price": Decimal("1234567890123")}, "digits"),
        ({"currency": "JPY", "max_price": Decimal("1.5")}, "more decimals than JPY"),
        ({"market": "Baby_Gear"}, "pattern"),
        ({"signing_key": "A" * 42 + "B"}, "non-canonical"),
        ({"place": {"country": "UK"}}, "ISO 3166"),
        ({"want": {"item": "line\nbreak"}}, "pattern"),
        ({"want": {"item": "x", "attributes": {f"k{i}": "v" for i in range(17)}}}, "at most 16"),
    ],
)
def test_intent_rules(changes: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        _intent(**changes)


def test_terms_are_kept_sorted() -> None:
    intent = _intent(terms=(term_ref("SD-BASE"), term_ref("P2B1")))
    assert [ref.id for ref in intent.terms] == ["P2B1", "SD-BASE"]
    assert intent.terms == refs_for(["SD-BASE", "P2B1"])


def test_offer_rules() -> None:
    offer = sample(Offer)
    with pytest.raises(ValidationError, match="valid_until"):
        Offer.model_validate({**offer.model_dump(), "valid_until": offer.created_at})


def test_new_id_is_fresh_hex() -> None:
    ids = {new_id() for _ in range(100)}
    assert len(ids) == 100
    assert all(len(i) == 32 and int(i, 16) >= 0 for i in ids)


def test_intent_state_machine() -> None:
    assert can_transition(IntentState.OPEN, IntentState.AGREED)
    assert can_transition(IntentState.OPEN, IntentState.EXPIRED)
    assert can_transition(IntentState.OPEN, IntentState.CANCELLED)
    assert not can_transition(IntentState.OPEN, IntentState.OPEN)
    for state in (IntentState.AGREED, IntentState.EXPIRED, IntentState.CANCELLED):
        assert TRANSITIONS[state] == frozenset()
        for target in IntentState:
            assert not can_transition(state, target)


def test_topic_names() -> None:
    assert market_topic("baby-gear") == "intentcast.market.baby-gear"
    assert vendor_feedback_topic("pram-palace") == "intentcast.vendor.pram-palace.feedback"
    assert vendor_agreements_topic("pram-palace") == "intentcast.vendor.pram-palace.agreements"
    with pytest.raises(SchemaError):
        market_topic("../etc")
    names = [spec.name for spec in CORE_TOPICS]
    assert len(names) == len(set(names))
    for spec in CORE_TOPICS:
        assert spec_for(spec.name) is spec
    assert spec_for("intentcast.market.toys").value is Intent
    assert spec_for("intentcast.vendor.pram-palace.feedback").name.endswith(".feedback")
    with pytest.raises(SchemaError):
        spec_for("other.topic")
