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
from typing import Any

from aiokafka import AIOKafkaConsumer

from drills.flow import Flow, FlowPlan
from drills.harness import console
from intentcast.broker.audit import verify_log
from intentcast.broker.kafka_meta import topic_partitions
from intentcast.broker.settings import BrokerSettings
from intentcast.schemas import AGREEMENTS, Agreement, SchemaError, decode


async def agreements_by_intent(settings: BrokerSettings, ours: set[str]) -> Counter[str]:
    """How many agreements the whole log holds for each of our intents."""
    counts: Counter[str] = Counter()
    tps = await topic_partitions(settings.kafka_kwargs(), [AGREEMENTS], wait_s=30.0)
    consumer = AIOKafkaConsumer(
        **settings.kafka_kwargs(), enable_auto_commit=False, auto_offset_reset="earliest"
    )
    await consumer.start()
    try:
        consumer.assign(tps)
        ends = await consumer.end_offsets(tps)
        await consumer.seek_to_beginning(*tps)
        pending = {tp for tp in tps if ends[tp] > 0}
        while pending:
            batch = await consumer.getmany(*pending, timeout_ms=1000)
            for records in batch.values():
                for record in records:
                    with contextlib.suppress(SchemaError):
                        intent_id = decode(Agreement, record.value or b"").intent.intent_id
                        if intent_id in ours:
                            counts[intent_id] += 1
            for tp in list(pending):
                if await consumer.position(tp) >= ends[tp]:
                    pending.discard(tp)
    finally:
        await consumer.stop()
    return counts


async def verdict(flow: Flow, settings: BrokerSettings, settled: bool) -> dict[str, Any]:
    """Count everything the system acknowledged and every duplicate; decide pass or fail."""
    st, plan = flow.state, flow.plan
    finals = Counter(st.final_of(i) or "none" for i in st.acked)
    accepted = {i for i, o in st.accepted.items() if o}
    agreements = await agreements_by_intent(settings, set(st.keys))
    missing_agreements = sum(1 for i in accepted if agreements[i] == 0)
    extra_agreements = sum(max(0, n - 1) for n in agreements.values())
    unasked = sum(1 for i in agreements if i not in accepted)
    dup_offers = sum(n - 1 for n in st.offers_seen.values() if n > 1)
    # every offer gets feedback (delivered, or refused and why): no feedback = not answered
    missing = {v: sum(1 for i in st.acked if (i, v) not in st.answered) for v in plan.vendors}
    conflicting = sum(1 for i in st.acked if {"agreed", "expired"} <= set(st.statuses.get(i, [])))
    audit = await verify_log(settings)
    result: dict[str, Any] = {
        "intents_planned": plan.intents,
        "intents_acknowledged": len(st.acked),
        "intents_final": len(st.acked) - finals["none"],
        "intents_lost": finals["none"],
        "finals": dict(finals),
        "publish_retries": st.publish_retries,
        "offers_delivered": sum(st.offers_seen.values()),
        "offers_distinct": len(st.offers_seen),
        "offers_duplicated": dup_offers,
        "intents_unanswered_by": missing,
        "second_offer_same_vendor": sum(1 for n in st.pair_offers.values() if n > 1),
        "acceptances_acknowledged": len(accepted),
        "acceptance_retries": st.acceptance_retries,
        "agreements_exactly_one": sum(1 for i in accepted if agreements[i] == 1),
        "agreements_missing": missing_agreements,
        "agreements_duplicated": extra_agreements,
        "agreements_unasked": unasked,
        "accepted_not_agreed": sum(1 for i in accepted if st.final_of(i) != "agreed"),
        "conflicting_finals": conflicting,
        "status_reasons": dict(st.reasons),
        "offer_refusals": dict(st.feedback),
        "audit_ok": audit.ok,
        "audit_verified": audit.verified,
        "audit_first_break": str(audit.first_break) if audit.first_break else None,
        "settled": settled,
        "unsettled_sample": {
            i: st.statuses.get(i, []) for i in sorted(st.acked) if st.final_of(i) is None
        },
    }
    result["passed"] = bool(
        settled
        and len(st.acked) == plan.intents
        and finals["none"] == 0
        and missing_agreements == 0
        and extra_agreements == 0
        and unasked == 0
        and dup_offers == 0
        and conflicting == 0
        and result["accepted_not_agreed"] == 0
        and not any(missing.values())
        and audit.ok
    )
    return result


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
