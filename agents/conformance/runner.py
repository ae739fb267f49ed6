"""One conformance run: find the vendor's profile, publish the test intents on its sandbox
market through the real processors, collect its offers as sent, and grade them.

The whole run is bounded by ``timeout``; whatever has not arrived by then is graded as
missing. Problems of the sandbox itself (the processors do not accept the market, Kafka is
away) raise :class:`ConformanceSetupError`: they say nothing about the vendor.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Final, TypeVar

from intentcast.agents.conformance.checks import (
    OFFER_CHECKS,
    SentIntent,
    grade_offers,
    intent_id_of,
    offers_per_case,
)
from intentcast.agents.conformance.lenient import lenient_bytes, lenient_intent, submit_lenient
from intentcast.agents.conformance.plan import ABOUT_TO_EXPIRE_CASE, PlannedIntent, plan_for
from intentcast.agents.conformance.registration import grade_registration
from intentcast.agents.conformance.report import Case, CheckResult, Report, Status
from intentcast.agents.conformance.watch import OfferReader, RegistryReader
from intentcast.agents.customer import CustomerClient
from intentcast.agents.errors import ClientError, IntentRejectedError
from intentcast.agents.settings import ClientSettings
from intentcast.schemas.canonical import decode
from intentcast.schemas.errors import SchemaError
from intentcast.schemas.intent import Intent
from intentcast.schemas.offer import VendorProfile
from intentcast.schemas.reasons import ReasonCode
from intentcast.schemas.timeutil import utcnow
from intentcast.schemas.topics import sandbox_market

__all__ = ["DEFAULT_QUIET_SECONDS", "DEFAULT_TIMEOUT", "ConformanceSetupError", "run_conformance"]

DEFAULT_TIMEOUT: Final = 60.0
DEFAULT_QUIET_SECONDS: Final = 5.0
"""How long the kit keeps listening once every expected answer came: an offer for an intent
the vendor must ignore would arrive about as fast as the others did."""

HARD_STOP_GRACE: Final = 30.0
"""Beyond ``timeout``, how long a step that does not honour the deadline (a Kafka request) may
hold the run before it is abandoned."""
RESTARTED_PROFILE_WAIT: Final = 10.0
"""How long a registered profile without the sandbox market is given to be replaced (a vendor
restarted with its sandbox a moment before the kit)."""

Progress = Callable[[str], None]
T = TypeVar("T")


class ConformanceSetupError(ClientError):
    """The sandbox cannot run (processors, topics, Kafka): nothing was learnt about the vendor."""


class _Deadline:
    def __init__(self, seconds: float) -> None:
        self._loop = asyncio.get_running_loop()
        self.started = self._loop.time()
        self.at = self.started + seconds

    def left(self) -> float:
        return max(0.0, self.at - self._loop.time())

    def elapsed(self) -> float:
        return self._loop.time() - self.started


async def run_conformance(
    vendor_id: str,
    *,
    settings: ClientSettings | None = None,
    timeout: float = DEFAULT_TIMEOUT,
    quiet_seconds: float = DEFAULT_QUIET_SECONDS,
    progress: Progress = lambda _: None,
) -> Report:
    """Test the live vendor ``vendor_id`` on ``sandbox-<vendor_id>``; return the graded report."""
    try:
        async with asyncio.timeout(timeout + HARD_STOP_GRACE):
            return await _run(
                vendor_id, settings or ClientSettings(), timeout, quiet_seconds, progress
            )
    except TimeoutError:
        raise ConformanceSetupError(
            f"the run did not finish within {timeout + HARD_STOP_GRACE:.0f} s: Kafka or the "
            "processors answer too slowly; check them with `intentcast doctor`."
        ) from None


async def _run(
    vendor_id: str,
    settings: ClientSettings,
    timeout: float,
    quiet_seconds: float,
    progress: Progress,
) -> Report:
    market = sandbox_market(vendor_id)
    deadline = _Deadline(timeout)
    raw = await _registration(settings, vendor_id, deadline, progress)
    profile, results = grade_registration(vendor_id, market, raw)
    cases: tuple[Case, ...] = ()
    if profile is not None and market in profile.markets:
        offer_results, cases = await _offers(
            settings, vendor_id, profile, deadline, quiet_seconds, progress
        )
        results += offer_results
    else:
        results += [
            CheckResult(c.check, c.title, c.clause, Status.SKIP, ("not run: see registration",))
            for c in OFFER_CHECKS
        ]
    return Report(vendor_id, market, deadline.elapsed(), tuple(results), cases)


async def _setup(step: Awaitable[T], what: str) -> T:
    try:
        return await step
    except ClientError as exc:
        raise ConformanceSetupError(f"{what}: {exc}") from None


async def _registration(
    settings: ClientSettings, vendor_id: str, deadline: _Deadline, progress: Progress
) -> bytes | None:
    """The vendor's registry record, waiting for it until the deadline (it may be starting)."""
    reader = RegistryReader(settings, vendor_id)
    market = sandbox_market(vendor_id)
    stale_since: float | None = None
    try:
        await _setup(reader.start(), "reading the vendor registry")
        progress(f"looking for {vendor_id} in the registry")
        while True:
            raw = await _setup(reader.read(), "reading the vendor registry")
            if raw is None:
                progress(f"waiting for {vendor_id} to appear in the registry")
            elif _lists(raw, market):
                return raw
            else:  # an older profile: the vendor may be registering its sandbox right now
                stale_since = stale_since if stale_since is not None else deadline.elapsed()
                if deadline.elapsed() - stale_since >= RESTARTED_PROFILE_WAIT:
                    return raw
                progress(f"{vendor_id}'s profile does not list {market} yet; waiting")
            if deadline.left() == 0:
                return raw
    finally:
        await reader.close()


def _lists(raw: bytes, market: str) -> bool:
    try:
        return market in decode(VendorProfile, raw).markets
    except SchemaError:
        return True  # a broken profile: grading says why


async def _offers(
    settings: ClientSettings,
    vendor_id: str,
    profile: VendorProfile,
    deadline: _Deadline,
    quiet_seconds: float,
    progress: Progress,
) -> tuple[list[CheckResult], tuple[Case, ...]]:
    """Publish the plan, listen for offers, grade them."""
    market = sandbox_market(vendor_id)
    plan = plan_for(profile)
    reader = OfferReader(settings)
    try:
        await _setup(reader.start(), "reading intentcast.offers.submitted")
        async with CustomerClient(settings) as client:
            progress(f"publishing {len(plan)} test intents on {market}")
            sent = await _publish(client, market, plan, deadline)
            reader.intent_ids = {s.intent.intent_id for s in sent}
            waited = await _listen(reader, sent, deadline, quiet_seconds, progress)
    finally:
        await reader.close()
    results = grade_offers(vendor_id, profile, sent, reader.seen, reader.partitions, waited)
    counts = offers_per_case(sent, reader.seen)
    purposes = {p.name: p.purpose for p in plan}
    cases = tuple(
        Case(s.name, s.intent.intent_id, purposes[s.name], s.served, counts[s.name]) for s in sent
    )
    return results, cases


async def _publish(
    client: CustomerClient, market: str, plan: list[PlannedIntent], deadline: _Deadline
) -> list[SentIntent]:
    """Every planned intent, through intake; a refusal is the sandbox's problem, not the
    vendor's, and says how to fix it."""

    async def one(planned: PlannedIntent) -> Intent:
        if planned.lenient:
            intent, keys = lenient_intent(planned, market)
            value = lenient_bytes(intent)
            await submit_lenient(client.settings, intent, keys, value, max(1.0, deadline.left()))
            return intent
        handle = await client.publish(
            market=market, item=planned.item, max_price=planned.max_price,
            currency=planned.currency, country="DE", attributes=planned.attributes,
            terms=planned.term_ids, expires_in=planned.expires_in,
            intake_timeout=max(1.0, deadline.left()),
        )  # fmt: skip
        return handle.intent

    try:
        intents = await asyncio.gather(*(one(p) for p in plan))
    except IntentRejectedError as exc:
        if exc.reason is ReasonCode.MARKET_UNKNOWN:
            raise ConformanceSetupError(
                f"the processors do not accept the sandbox market {market}: start them with "
                f"INTENTCAST_SANDBOX_VENDORS='[\"{market.removeprefix('sandbox-')}\"]' and "
                "create its topic with `intentcast topics create`."
            ) from None
        raise ConformanceSetupError(f"intake refused a test intent: {exc}") from None
    except ClientError as exc:
        raise ConformanceSetupError(f"publishing the test intents: {exc}") from None
    return [SentIntent(p.name, i, p.served) for p, i in zip(plan, intents, strict=True)]


async def _listen(
    reader: OfferReader,
    sent: list[SentIntent],
    deadline: _Deadline,
    quiet_seconds: float,
    progress: Progress,
) -> float:
    """Read offers until every expected answer came and then ``quiet_seconds`` passed (or the
    deadline); return how long the kit listened."""
    loop = asyncio.get_running_loop()
    started = loop.time()
    expected = [s for s in sent if s.served and s.name != ABOUT_TO_EXPIRE_CASE]  # lenient too
    expiring = [s for s in sent if s.name == ABOUT_TO_EXPIRE_CASE]
    answered: set[str] = set()
    settled_at: float | None = None
    while deadline.left() > 0:
        for offer in await _setup(reader.read(), "reading intentcast.offers.submitted"):
            answered.add(intent_id_of(offer.key, offer.value) or "")
        now = utcnow()
        pending = [s for s in expected if s.intent.intent_id not in answered]
        pending += [
            s for s in expiring if s.intent.intent_id not in answered and s.intent.expires_at > now
        ]
        if pending:
            settled_at = None
            done = sum(s.intent.intent_id in answered for s in expected)
            progress(
                f"{done}/{len(expected)} intents answered; waiting for "
                f"{', '.join(s.name for s in pending)} ({deadline.left():.0f} s left)"
            )
            continue
        settled_at = settled_at if settled_at is not None else loop.time()
        if loop.time() - settled_at >= quiet_seconds:
            break
        progress(
            f"every answer is in; listening {quiet_seconds:.0f} s for offers that must not come"
        )
    return loop.time() - started
