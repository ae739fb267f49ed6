"""Every negative vector is refused by the reference implementation, at its stage, with its code.

The decode, verify and terms stages are schemas/ alone; the rule stages run the processors'
own rule functions (broker.validation), the code that sends these codes to vendors.
"""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest

from intentcast.broker.records import IntentRecord
from intentcast.broker.validation import check_intent, check_offer
from intentcast.schemas import (
    MESSAGE_MODELS,
    Intent,
    Offer,
    ReasonCode,
    Rejected,
    content_hash,
    decode,
    resolve_terms,
    verify_model,
)
from intentcast.schemas._tools.generate import PACKAGE_DIR
from intentcast.schemas._tools.negative import STAGES, build_negative_vectors
from intentcast.schemas.timeutil import parse_utc

NEGATIVE = json.loads((PACKAGE_DIR / "vectors" / "negative.json").read_text())
CONTEXT = NEGATIVE["context"]
NOW = parse_utc(CONTEXT["now"])


def _raw(case: dict[str, Any]) -> bytes:
    raw: bytes = bytes.fromhex(case["hex"]) if "hex" in case else case["text"].encode()
    size: int = case.get("pad_with_spaces_to", len(raw))
    return raw + b" " * (size - len(raw))


def _refusal(case: dict[str, Any]) -> ReasonCode:
    """The reason the reference implementation gives at the case's stage (or fails the test)."""
    raw = _raw(case)
    try:
        message = decode(MESSAGE_MODELS[case["kind"]], raw)
        if case["stage"] == "decode":
            pytest.fail(f"{case['name']} decoded")
        if case["stage"] == "offer_rules":
            intent = decode(Intent, CONTEXT["intent"])
            record = IntentRecord(
                intent_json=CONTEXT["intent"],
                intent_hash=content_hash(intent),
                expires_at_ms=int(intent.expires_at.timestamp() * 1000),
                partition=0,
            )
            assert isinstance(message, Offer)
            known = message.vendor_id == CONTEXT["vendor_id"]
            check_offer(
                message,
                record_key=message.intent_id.encode(),
                vendor_key=CONTEXT["vendor_public_key"] if known else None,
                record=record if message.intent_id == intent.intent_id else None,
                now=NOW,
                max_per_vendor=3,
            )
        else:
            key = getattr(message, "signing_key", None) or CONTEXT["vendor_public_key"]
            verify_model(message, key)
            if case["stage"] == "terms":
                resolve_terms(getattr(message, "terms", ()))
            if case["stage"] == "intent_rules":
                assert isinstance(message, Intent)
                check_intent(
                    message,
                    record_key=message.intent_id.encode(),
                    now=NOW,
                    markets=CONTEXT["markets"],
                    max_skew=timedelta(seconds=CONTEXT["max_clock_skew_seconds"]),
                    max_lifetime=timedelta(days=30),
                )
    except Rejected as exc:
        return exc.reason
    pytest.fail(f"{case['name']} was not refused")


def test_the_file_is_the_generated_one() -> None:
    assert build_negative_vectors() == NEGATIVE


def test_names_are_unique_and_stages_known() -> None:
    names = [case["name"] for case in NEGATIVE["cases"]]
    assert len(names) == len(set(names))
    assert {case["stage"] for case in NEGATIVE["cases"]} == set(STAGES)
    assert {case["reason"] for case in NEGATIVE["cases"]} <= {code.value for code in ReasonCode}


@pytest.mark.parametrize("case", NEGATIVE["cases"], ids=lambda c: c["name"])
def test_each_case_is_refused_with_its_reason(case: dict[str, Any]) -> None:
    assert _refusal(case).value == case["reason"]


def test_rule_cases_pass_every_earlier_stage() -> None:
    """A rule case must fail only its rule: it decodes, and its signature verifies."""
    for case in NEGATIVE["cases"]:
        if case["stage"] in {"terms", "intent_rules", "offer_rules"}:
            message = decode(MESSAGE_MODELS[case["kind"]], _raw(case))
            key = getattr(message, "signing_key", None) or CONTEXT["vendor_public_key"]
            verify_model(message, key)
