"""Each deliberately broken vendor fails the kit, on exactly its mistake, with its clause.

All of them run at once against the session's real processors (which keep a sandbox market
for each, tests/conftest.py SANDBOX_VENDORS), and the kit tests them at once; each test then
reads its vendor's report.
"""

from __future__ import annotations

import asyncio
import contextlib

import pytest

from intentcast.agents import ClientSettings
from intentcast.agents.conformance import Clause, Report, Status, run_conformance
from intentcast.agents.conformance.clauses import (
    ACCEPTED_INPUT,
    KEYS,
    MESSAGES,
    MONEY,
    OFFER_RULES,
    OFFER_VALIDITY,
    UNSERVED,
)
from intentcast.processes import Processors
from intentcast.schemas.terms import ROSTER
from tests.conformance import broken
from tests.conftest import SANDBOX_VENDORS

pytestmark = pytest.mark.kafka

VENDORS = (
    broken.BrokenVendor("broken-terms", broken.altered_terms),
    broken.BrokenVendor("broken-decimals", broken.wrong_decimals),
    broken.BrokenVendor("broken-key", broken.wrong_key),
    broken.BrokenVendor("broken-partition", broken.wrong_partition),
    broken.BrokenVendor("broken-validity", broken.valid_past_expiry),
    broken.BrokenVendor("broken-signature", broken.bad_signature),
    broken.BrokenVendor("broken-lenient", broken.answers_everything, canonical_only=True),
    broken.BrokenVendor(
        "broken-unserved",
        broken.answers_everything,
        accepts=tuple(t for t in sorted(ROSTER) if t != "PDC-AI"),
    ),
)

EXPECTED: dict[str, dict[str, Clause]] = {
    "broken-terms": {"terms": OFFER_RULES},
    # an offer with a decimal too many does not decode either
    "broken-decimals": {"decimals": MONEY, "offer-schema": MESSAGES},
    "broken-key": {"record-key": KEYS},
    "broken-partition": {"partition": KEYS},
    "broken-validity": {"valid-until": OFFER_VALIDITY},
    "broken-signature": {"signature": OFFER_RULES},
    "broken-unserved": {"ignores-unserved": UNSERVED},
    "broken-lenient": {"lenient-input": ACCEPTED_INPUT},
}


@pytest.fixture(scope="module")
async def reports(kafka_bootstrap: str, ready_processors: Processors) -> dict[str, Report]:
    assert {v.vendor_id for v in VENDORS} <= set(SANDBOX_VENDORS)
    settings = ClientSettings(bootstrap=kafka_bootstrap)
    async with contextlib.AsyncExitStack() as stack:
        for vendor in VENDORS:
            await stack.enter_async_context(vendor.running(kafka_bootstrap))
        done = await asyncio.gather(
            *(
                run_conformance(v.vendor_id, settings=settings, timeout=90, quiet_seconds=3)
                for v in VENDORS
            )
        )
    return {report.vendor_id: report for report in done}


@pytest.mark.parametrize("vendor_id", sorted(EXPECTED))
async def test_a_broken_vendor_fails_on_its_mistake_with_its_clause(
    reports: dict[str, Report], vendor_id: str
) -> None:
    report = reports[vendor_id]
    assert not report.passed
    failed = {r.check: r.clause for r in report.failed()}
    assert failed == EXPECTED[vendor_id], report.to_json()
    for result in report.failed():
        assert result.details, f"{result.check} failed without saying why"
    # everything the vendor does right is still graded as right
    assert report.result("registered").status is Status.PASS
    assert report.result("answers").status is Status.PASS
