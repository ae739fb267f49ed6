"""The verdict of a drill run: count what was acknowledged, what came out, and any duplicate.

Pass rule (Kafka's system tests): every acknowledged intent reaches a final status, every
acknowledged acceptance has exactly one agreement, every vendor answered every intent, no offer
id is delivered twice, and `audit verify` passes.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import Counter
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from drills.flow import Flow, FlowPlan, FlowState
from drills.harness import console
from intentcast.broker.audit import AuditResult, iter_log, verify_log
from intentcast.broker.settings import BrokerSettings
from intentcast.schemas import EntryType, LogEntry, SchemaError, decode


async def agreements_by_intent(settings: BrokerSettings, ours: set[str]) -> Counter[str]:
    """How many agreements the whole log holds for each of our intents."""
    counts: Counter[str] = Counter()
    async for _partition, _offset, value in iter_log(settings):
        with contextlib.suppress(SchemaError):
            entry = decode(LogEntry, value or b"")
            if entry.entry_type is EntryType.AGREEMENT:  # the intent id is in clear
                counts[entry.intent_id] += 1
    return Counter({intent_id: n for intent_id, n in counts.items() if intent_id in ours})


@dataclass(frozen=True)
class Evidence:
    """What the checks judge: the load generator's own record and what the log holds."""

    state: FlowState
    plan: FlowPlan
    agreements: Counter[str]  # intent -> agreements in the log, for our intents
    audit: AuditResult
    settled: bool

    @cached_property
    def finals(self) -> Counter[str]:
        return Counter(self.state.final_of(i) or "none" for i in self.state.acked)

    @cached_property
    def accepted(self) -> set[str]:
        """Intents whose acceptance Kafka acknowledged (an empty offer id: sent, not acked)."""
        return {i for i, offer_id in self.state.accepted.items() if offer_id}


@dataclass(frozen=True)
class Finding:
    """One property of the pass rule: whether it held, and the figures that show it."""

    name: str
    held: bool
    measures: dict[str, Any]


def every_intent_acknowledged(ev: Evidence) -> Finding:
    acked = len(ev.state.acked)
    return Finding(
        "every_intent_acknowledged",
        acked == ev.plan.intents,
        {"intents_planned": ev.plan.intents, "intents_acknowledged": acked},
    )


def every_intent_final(ev: Evidence) -> Finding:
    lost = ev.finals["none"]
    return Finding(
        "every_intent_final",
        lost == 0,
        {
            "intents_final": len(ev.state.acked) - lost,
            "intents_lost": lost,
            "finals": dict(ev.finals),
            "publish_retries": ev.state.publish_retries,
            "status_reasons": dict(ev.state.reasons),
        },
    )


def offers_delivered_once(ev: Evidence) -> Finding:
    seen = ev.state.offers_seen
    duplicated = sum(n - 1 for n in seen.values() if n > 1)
    return Finding(
        "offers_delivered_once",
        duplicated == 0,
        {
            "offers_delivered": sum(seen.values()),
            "offers_distinct": len(seen),
            "offers_duplicated": duplicated,
            "second_offer_same_vendor": sum(1 for n in ev.state.pair_offers.values() if n > 1),
        },
    )


def every_vendor_answered(ev: Evidence) -> Finding:
    """Every offer gets feedback (delivered, or refused and why): no feedback = not answered."""
    st = ev.state
    missing = {v: sum(1 for i in st.acked if (i, v) not in st.answered) for v in ev.plan.vendors}
    return Finding(
        "every_vendor_answered",
        not any(missing.values()),
        {"intents_unanswered_by": missing, "offer_refusals": dict(st.feedback)},
    )


def an_agreement_per_acceptance(ev: Evidence) -> Finding:
    missing = sum(1 for i in ev.accepted if ev.agreements[i] == 0)
    return Finding(
        "an_agreement_per_acceptance",
        missing == 0,
        {
            "acceptances_acknowledged": len(ev.accepted),
            "acceptance_retries": ev.state.acceptance_retries,
            "agreements_exactly_one": sum(1 for i in ev.accepted if ev.agreements[i] == 1),
            "agreements_missing": missing,
        },
    )


def no_second_agreement(ev: Evidence) -> Finding:
    extra = sum(max(0, n - 1) for n in ev.agreements.values())
    return Finding("no_second_agreement", extra == 0, {"agreements_duplicated": extra})


def no_unasked_agreement(ev: Evidence) -> Finding:
    unasked = sum(1 for i in ev.agreements if i not in ev.accepted)
    return Finding("no_unasked_agreement", unasked == 0, {"agreements_unasked": unasked})


def every_acceptance_agreed(ev: Evidence) -> Finding:
    not_agreed = sum(1 for i in ev.accepted if ev.state.final_of(i) != "agreed")
    return Finding("every_acceptance_agreed", not_agreed == 0, {"accepted_not_agreed": not_agreed})


def no_conflicting_finals(ev: Evidence) -> Finding:
    st = ev.state
    conflicting = sum(1 for i in st.acked if {"agreed", "expired"} <= set(st.statuses.get(i, [])))
    return Finding("no_conflicting_finals", conflicting == 0, {"conflicting_finals": conflicting})


def audit_passes(ev: Evidence) -> Finding:
    audit = ev.audit
    return Finding(
        "audit_passes",
        audit.ok,
        {
            "audit_ok": audit.ok,
            "audit_verified": audit.verified,
            "audit_first_break": str(audit.first_break) if audit.first_break else None,
        },
    )


def flow_settled(ev: Evidence) -> Finding:
    st = ev.state
    unsettled = {i: st.statuses.get(i, []) for i in sorted(st.acked) if st.final_of(i) is None}
    return Finding(
        "flow_settled", ev.settled, {"settled": ev.settled, "unsettled_sample": unsettled}
    )


CHECKS: tuple[Callable[[Evidence], Finding], ...] = (
    every_intent_acknowledged,
    every_intent_final,
    offers_delivered_once,
    every_vendor_answered,
    an_agreement_per_acceptance,
    no_second_agreement,
    no_unasked_agreement,
    every_acceptance_agreed,
    no_conflicting_finals,
    audit_passes,
    flow_settled,
)
"""The pass rule, one property a row: a run passes when every finding holds."""


def judge(ev: Evidence) -> dict[str, Any]:
    """Every check's figures in one result; `passed` only if all held, `failed_checks` which not."""
    findings = [check(ev) for check in CHECKS]
    result: dict[str, Any] = {}
    for finding in findings:
        result.update(finding.measures)
    result["failed_checks"] = [f.name for f in findings if not f.held]
    result["passed"] = not result["failed_checks"]
    return result


async def verdict(flow: Flow, settings: BrokerSettings, settled: bool) -> dict[str, Any]:
    """Count everything the system acknowledged and every duplicate; decide pass or fail."""
    st = flow.state
    evidence = Evidence(
        state=st,
        plan=flow.plan,
        agreements=await agreements_by_intent(settings, set(st.keys)),
        audit=await verify_log(settings),
        settled=settled,
    )
    return judge(evidence)


async def run_flow(
    bootstrap: str,
    settings: BrokerSettings,
    plan: FlowPlan,
    fault: Callable[[Flow], Coroutine[Any, Any, dict[str, Any]]] | None = None,
) -> dict[str, Any]:
    """Publish, inject the fault while the load runs, wait until every intent settles, judge."""
    flow = Flow(bootstrap, plan)
    started = time.monotonic()
    await flow.start()
    try:
        faults: dict[str, Any] = {}
        fault_task = asyncio.create_task(fault(flow)) if fault else None
        await flow.publish_all()
        publish_s = time.monotonic() - started
        if fault_task is not None:
            faults = await fault_task
        settled = await flow.wait_settled(plan.settle_timeout_s)
        if not settled:
            console.log(f"[red]{flow.unsettled()} intents without a final status[/]")
        result = await verdict(flow, settings, settled)
    finally:
        await flow.stop()
    result.update(faults)
    result["publish_s"] = round(publish_s, 1)
    result["intent_rate_achieved"] = round(plan.intents / max(publish_s, 0.001), 1)
    result["duration_s"] = round(time.monotonic() - started, 1)
    return result
