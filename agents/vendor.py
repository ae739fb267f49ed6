"""The vendor SDK: declare a vendor and its handlers; the SDK turns answers into signed offers."""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging
import signal
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from types import TracebackType
from typing import Any, TypeVar

from pydantic import ValidationError

from intentcast.agents.dedupe import RecentIds
from intentcast.agents.drafts import OfferDraft, build_offer, offer_id_for
from intentcast.agents.errors import VendorConfigError
from intentcast.agents.settings import ClientSettings
from intentcast.schemas.agreement import Agreement
from intentcast.schemas.crypto import SigningKey, sign_model
from intentcast.schemas.errors import SchemaError
from intentcast.schemas.events import OfferFeedback
from intentcast.schemas.intent import Intent
from intentcast.schemas.offer import Offer, VendorProfile
from intentcast.schemas.terms import ROSTER, TermRef, term_ref
from intentcast.schemas.timeutil import utcnow
from intentcast.schemas.topics import (
    VENDOR_TOPIC_PREFIX,
    market_topic,
    vendor_agreements_topic,
    vendor_feedback_topic,
    vendor_profile_topic,
)

__all__ = [
    "AgreementHandler",
    "FeedbackHandler",
    "IntentHandler",
    "Vendor",
    "VendorStats",
]

log = logging.getLogger(__name__)

IntentHandler = Callable[[Intent], Awaitable[OfferDraft | None]]
FeedbackHandler = Callable[[OfferFeedback], Awaitable[None]]
AgreementHandler = Callable[[Agreement], Awaitable[None]]
IH = TypeVar("IH", bound=IntentHandler)
FH = TypeVar("FH", bound=FeedbackHandler)
AH = TypeVar("AH", bound=AgreementHandler)


@dataclass
class VendorStats:
    """Counters of one vendor process, for logs and the CLI's status line."""

    intents_seen: int = 0
    duplicates: int = 0
    invalid: int = 0
    skipped_terms: int = 0
    skipped_expired: int = 0
    declined: int = 0
    offers_sent: int = 0
    handler_errors: int = 0
    feedback_received: int = 0
    agreements_received: int = 0


def _require_async(fn: Callable[..., Any], what: str) -> None:
    if not inspect.iscoroutinefunction(fn):
        name = getattr(fn, "__qualname__", repr(fn))
        raise VendorConfigError(f"{what} handler {name} must be an `async def` function")


class Vendor:
    """A vendor agent: its identity, markets, accepted terms and handlers.

    Everything that can be wrong is checked when the vendor or a handler is declared, so a
    misconfiguration fails at import, not when the first intent arrives. Instances with the
    same ``vendor_id`` share one consumer group and so split the markets' partitions.
    """

    def __init__(
        self,
        vendor_id: str,
        *,
        key: SigningKey,
        markets: Iterable[str],
        accepts: Iterable[str],
        display_name: str | None = None,
        settings: ClientSettings | None = None,
        instances_share_load: bool = True,
        max_in_flight: int = 1,
        dedupe_size: int = 10_000,
    ) -> None:
        if not isinstance(key, SigningKey):
            raise VendorConfigError("key must be a schemas.crypto.SigningKey")
        if max_in_flight < 1 or dedupe_size < 1:
            raise VendorConfigError("max_in_flight and dedupe_size must be at least 1")
        self.vendor_id = vendor_id
        self.key = key
        self.markets = tuple(markets)
        self.accepts = self._term_refs(accepts)
        self.display_name = display_name or vendor_id
        self.settings = settings
        self.instances_share_load = instances_share_load
        self.max_in_flight = max_in_flight
        self.stats = VendorStats()
        self._accepted = {(ref.id, ref.version, ref.sha256) for ref in self.accepts}
        self._recent = RecentIds(dedupe_size)
        self._intent_handlers: dict[str, IntentHandler] = {}
        self._feedback_handler: FeedbackHandler | None = None
        self._agreement_handler: AgreementHandler | None = None
        self._stop = asyncio.Event()
        self._runtime: Any = None  # agents.vendor_runtime.VendorRuntime while running
        try:
            self.topics_for_markets = {market_topic(m): m for m in self.markets}
            self.feedback_topic = vendor_feedback_topic(vendor_id)
            self.agreements_topic = vendor_agreements_topic(vendor_id)
            self.profile_topic = vendor_profile_topic(vendor_id)
            self.profile()  # every field valid (display name, markets...) or fail now
        except SchemaError as exc:
            raise VendorConfigError(f"vendor {vendor_id!r}: {exc.detail}") from None

    @staticmethod
    def _term_refs(ids: Iterable[str]) -> tuple[TermRef, ...]:
        refs = []
        for term_id in dict.fromkeys(ids):
            try:
                refs.append(term_ref(term_id))
            except SchemaError:
                known = ", ".join(sorted(ROSTER))
                raise VendorConfigError(
                    f"accepts names {term_id!r}, which is not a roster term ({known})"
                ) from None
        return tuple(sorted(refs, key=lambda ref: ref.id))

    # -- declaration ---------------------------------------------------------------------

    def on_intent(self, *markets: str) -> Callable[[IH], IH]:
        """Register an ``async`` handler for intents of ``markets`` (all markets if none).

        The handler returns an :class:`OfferDraft` to make an offer or ``None`` to decline.
        The decorator returns the function itself, so it can still be called in a unit test.
        """
        chosen = markets or self.markets
        for market in chosen:
            if market not in self.markets:
                raise VendorConfigError(
                    f"market {market!r} is not one of vendor {self.vendor_id}'s markets "
                    f"{list(self.markets)}; add it to Vendor(markets=...)"
                )
            if market in self._intent_handlers:
                raise VendorConfigError(f"market {market!r} already has an intent handler")

        def register(fn: IH) -> IH:
            _require_async(fn, "intent")
            for market in chosen:
                self._intent_handlers[market] = fn
            return fn

        return register

    def on_feedback(self, fn: FH) -> FH:
        """Register an ``async`` handler for offer feedback (delivered, or refused and why)."""
        _require_async(fn, "feedback")
        if self._feedback_handler is not None:
            raise VendorConfigError("a feedback handler is already registered")
        self._feedback_handler = fn
        return fn

    def on_agreement(self, fn: AH) -> AH:
        """Register an ``async`` handler for the agreements this vendor is party to."""
        _require_async(fn, "agreement")
        if self._agreement_handler is not None:
            raise VendorConfigError("an agreement handler is already registered")
        self._agreement_handler = fn
        return fn

    # -- what the runtime asks -----------------------------------------------------------

    @property
    def group_id(self) -> str:
        """The consumer group shared by every instance of this vendor."""
        return f"{VENDOR_TOPIC_PREFIX}{self.vendor_id}"

    @property
    def assignment(self) -> frozenset[tuple[str, int]]:
        """(market topic, partition) pairs this running instance consumes; empty if stopped."""
        if self._runtime is None:
            return frozenset()
        result: frozenset[tuple[str, int]] = self._runtime.assignment()
        return result

    def profile(self, now: datetime | None = None) -> VendorProfile:
        """The signed profile the processors register this vendor with."""
        try:
            profile = VendorProfile(
                vendor_id=self.vendor_id,
                display_name=self.display_name,
                signing_key=self.key.public_key,
                markets=self.markets,
                accepts=self.accepts,
                updated_at=now or utcnow(),
            )
        except ValidationError as exc:
            detail = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
            raise VendorConfigError(f"vendor {self.vendor_id!r}: {detail}") from None
        return sign_model(profile, self.key)

    def check_ready(self) -> None:
        """Every market has a handler; called before the vendor starts consuming."""
        missing = [m for m in self.markets if m not in self._intent_handlers]
        if missing:
            raise VendorConfigError(
                f"no @vendor.on_intent handler for market(s) {missing} of {self.vendor_id}"
            )

    def accepts_terms(self, intent: Intent) -> bool:
        """Whether every term the intent proffers is one this vendor accepts, exactly."""
        return all((ref.id, ref.version, ref.sha256) in self._accepted for ref in intent.terms)

    async def handle_intent(self, intent: Intent, now: datetime | None = None) -> Offer | None:
        """Decide about one intent and return the signed offer to send, if any.

        Skips (and counts) duplicates, intents with a bad signature, terms this vendor does not
        accept and expired intents; a handler that raises is logged and counted, never fatal.
        """
        self.stats.intents_seen += 1
        if self._recent.seen(intent.intent_id):
            self.stats.duplicates += 1
            return None
        handler = self._intent_handlers.get(intent.market)
        try:
            intent.verify()
        except SchemaError as exc:
            self.stats.invalid += 1
            log.warning("intent %s skipped: %s", intent.intent_id, exc)
            return None
        if handler is None:
            self.stats.invalid += 1
            log.warning("intent %s: no handler for market %s", intent.intent_id, intent.market)
            return None
        if not self.accepts_terms(intent):
            self.stats.skipped_terms += 1
            return None
        moment = now or utcnow()
        if intent.expires_at <= moment:
            self.stats.skipped_expired += 1
            return None
        try:
            draft = await handler(intent)
            if draft is None:
                self.stats.declined += 1
                return None
            return build_offer(
                draft,
                intent,
                vendor_id=self.vendor_id,
                key=self.key,
                now=moment,
                offer_id=offer_id_for(self.key, intent.intent_id),
            )
        except Exception:
            self.stats.handler_errors += 1
            log.exception("intent %s: the intent handler failed", intent.intent_id)
            return None

    async def handle_feedback(self, feedback: OfferFeedback) -> None:
        """Count feedback and pass it to the handler, if any; handler errors are logged."""
        self.stats.feedback_received += 1
        if self._feedback_handler is not None:
            try:
                await self._feedback_handler(feedback)
            except Exception:
                self.stats.handler_errors += 1
                log.exception("feedback for offer %s: the handler failed", feedback.offer_id)

    async def handle_agreement(self, agreement: Agreement) -> None:
        """Check an agreement copy is ours and valid, then pass it to the handler, if any."""
        try:
            agreement.verify()
            if agreement.offer.vendor_id != self.vendor_id:
                raise VendorConfigError("agreement names another vendor")
            if agreement.vendor_key != self.key.public_key:
                raise VendorConfigError("agreement was recorded with another vendor key")
        except (SchemaError, VendorConfigError) as exc:
            self.stats.invalid += 1
            log.warning("agreement %s skipped: %s", agreement.agreement_id, exc)
            return
        self.stats.agreements_received += 1
        if self._agreement_handler is not None:
            try:
                await self._agreement_handler(agreement)
            except Exception:
                self.stats.handler_errors += 1
                log.exception("agreement %s: the handler failed", agreement.agreement_id)

    # -- running -------------------------------------------------------------------------

    async def __aenter__(self) -> Vendor:
        from intentcast.agents.vendor_runtime import VendorRuntime

        self.check_ready()
        self._stop.clear()
        runtime = VendorRuntime(self, self.settings or ClientSettings(), self._stop)
        await runtime.start()
        self._runtime = runtime
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
        runtime, self._runtime = self._runtime, None
        if runtime is not None:
            await runtime.close()

    def stop(self) -> None:
        """Ask the running vendor to finish: stop consuming, flush, commit, close."""
        self._stop.set()

    async def wait(self) -> None:
        """Run until :meth:`stop` (re-raising what ended the consume loop, if it failed)."""
        if self._runtime is None:
            raise VendorConfigError("the vendor is not started; use `async with vendor:`")
        await self._runtime.wait()

    async def run(self) -> None:
        """Serve until stopped by :meth:`stop`, SIGINT or SIGTERM, then shut down cleanly.

        Several vendors may run in one process: one signal handler stops them all (a handler
        per vendor would replace the previous one, leaving the others running forever).
        """
        loop = asyncio.get_running_loop()
        first = not _RUNNING
        _RUNNING.add(self)
        installed = []
        if first:
            for sig in (signal.SIGINT, signal.SIGTERM):
                with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
                    loop.add_signal_handler(sig, _stop_all)
                    installed.append(sig)
        try:
            async with self:
                await self.wait()
        finally:
            _RUNNING.discard(self)
            if not _RUNNING:
                for sig in (signal.SIGINT, signal.SIGTERM):
                    with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
                        loop.remove_signal_handler(sig)


_RUNNING: set[Vendor] = set()
"""Vendors running in this process, so one signal handler can stop every one of them."""


def _stop_all() -> None:
    for vendor in list(_RUNNING):
        vendor.stop()
