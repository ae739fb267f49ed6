"""The drills' pass rule, one check per property: each fault fails its own check and only it."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import replace

import pytest

from drills.flow import FlowPlan, FlowState
from drills.verdict import CHECKS, Evidence, judge
from intentcast.agents import IntentKeys
from intentcast.broker.audit import AuditResult, Break

VENDORS = ("v1", "v2")


def _clean() -> Evidence:
    """Two intents, both answered by both vendors; the first accepted and agreed once."""
    st = FlowState()
    for intent_id, final in (("i1", "agreed"), ("i2", "expired")):
        st.keys[intent_id] = IntentKeys.generate()
        st.acked.add(intent_id)
        st.statuses[intent_id] = ["accepted", final]
        st.answered |= {(intent_id, v) for v in VENDORS}
        st.offers_seen[f"o-{intent_id}"] = 1
        st.pair_offers[(intent_id, "v1")] = 1
    st.accepted["i1"] = "o-i1"
    return Evidence(
        state=st,
        plan=FlowPlan(intents=2, vendors=VENDORS),
        agreements=Counter({"i1": 1}),
        audit=AuditResult(verified=1),
        settled=True,
    )


def _lost(ev: Evidence) -> Evidence:
    ev.state.statuses["i2"] = ["accepted"]
    return ev


def _unacknowledged(ev: Evidence) -> Evidence:
    ev.state.acked.discard("i2")
    return ev


def _offer_twice(ev: Evidence) -> Evidence:
    ev.state.offers_seen["o-i1"] = 2
    return ev


def _unanswered(ev: Evidence) -> Evidence:
    ev.state.answered.discard(("i2", "v2"))
    return ev


def _no_agreement(ev: Evidence) -> Evidence:
    del ev.agreements["i1"]
    return ev


def _second_agreement(ev: Evidence) -> Evidence:
    ev.agreements["i1"] = 2
    return ev


def _unasked_agreement(ev: Evidence) -> Evidence:
    ev.agreements["i2"] = 1
    ev.state.statuses["i2"] = ["accepted", "agreed"]
    return ev


def _accepted_but_expired(ev: Evidence) -> Evidence:
    ev.state.statuses["i1"] = ["accepted", "expired"]
    return ev


def _agreed_and_expired(ev: Evidence) -> Evidence:
    ev.state.statuses["i2"] = ["accepted", "agreed", "expired"]
    ev.state.accepted["i2"] = "o-i2"
    ev.agreements["i2"] = 1
    return ev


def _broken_log(ev: Evidence) -> Evidence:
    ev.audit.breaks.append(Break(partition=0, offset=3, problem="chain broken"))
    return ev


def _unsettled(ev: Evidence) -> Evidence:
    return replace(ev, settled=False)


FAULTS: list[tuple[Callable[[Evidence], Evidence], str]] = [
    (_unacknowledged, "every_intent_acknowledged"),
    (_lost, "every_intent_final"),
    (_offer_twice, "offers_delivered_once"),
    (_unanswered, "every_vendor_answered"),
    (_no_agreement, "an_agreement_per_acceptance"),
    (_second_agreement, "no_second_agreement"),
    (_unasked_agreement, "no_unasked_agreement"),
    (_accepted_but_expired, "every_acceptance_agreed"),
    (_agreed_and_expired, "no_conflicting_finals"),
    (_broken_log, "audit_passes"),
    (_unsettled, "flow_settled"),
]


@pytest.mark.parametrize(("fault", "failed"), FAULTS)
def test_each_fault_fails_its_check(fault: Callable[[Evidence], Evidence], failed: str) -> None:
    result = judge(fault(_clean()))
    assert result["failed_checks"] == [failed]
    assert result["passed"] is False


def test_a_clean_run_passes_with_every_figure_reported() -> None:
    result = judge(_clean())
    assert result["passed"] is True and result["failed_checks"] == []
    assert result["intents_lost"] == 0 and result["agreements_exactly_one"] == 1
    assert result["offers_delivered"] == 2 and result["audit_verified"] == 1


def test_every_check_of_the_pass_rule_has_a_fault_above() -> None:
    assert {name for _, name in FAULTS} == {check.__name__ for check in CHECKS}
