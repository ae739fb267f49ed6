"""What a vendor is: identity, key, markets, accepted terms and its handlers, nothing running.

Everything that can be wrong is checked here, when the vendor or a handler is declared, so a
misconfiguration fails at import, not when the first intent arrives. The runtime
(`agents.vendor_runtime`) reads a declaration and never the other way round.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, TypeVar

from pydantic import ValidationError

from intentcast.agents.disclosures import DisclosureHandler, sealing_key_for
from intentcast.agents.drafts import OfferDraft
from intentcast.agents.errors import VendorConfigError
from intentcast.agents.settings import ClientSettings
from intentcast.schemas.agreement import Agreement
from intentcast.schemas.crypto import SealingKey, SigningKey, sign_model
from intentcast.schemas.errors import SchemaError
from intentcast.schemas.events import OfferFeedback
from intentcast.schemas.intent import Intent
from intentcast.schemas.offer import VendorProfile
from intentcast.schemas.retention import RetentionAttestation, agreement_retention_end
from intentcast.schemas.terms import ROSTER, TermRef, term_ref
from intentcast.schemas.timeutil import utcnow
from intentcast.schemas.topics import (
    VENDOR_TOPIC_PREFIX,
    market_topic,
    vendor_agreements_topic,
    vendor_disclosures_topic,
    vendor_feedback_topic,
    vendor_profile_topic,
)

__all__ = [
    "AgreementHandler",
    "DisclosureHandler",
    "FeedbackHandler",
    "IntentHandler",
    "RetentionHandler",
    "Subscription",
    "VendorDeclaration",
]

IntentHandler = Callable[[Intent], Awaitable[OfferDraft | None]]
FeedbackHandler = Callable[[OfferFeedback], Awaitable[None]]
AgreementHandler = Callable[[Agreement], Awaitable[None]]
RetentionHandler = Callable[[Agreement], Awaitable[None]]
IH = TypeVar("IH", bound=IntentHandler)
FH = TypeVar("FH", bound=FeedbackHandler)
AH = TypeVar("AH", bound=AgreementHandler)
RH = TypeVar("RH", bound=RetentionHandler)
DH = TypeVar("DH", bound=DisclosureHandler)


@dataclass(frozen=True)
class Subscription:
    """What a transport consumes for one vendor, and as which consumer group."""

    group_id: str
    topics: tuple[str, ...]
    share_load: bool
    """True: every instance joins ``group_id`` and they split the partitions; False: each
    instance gets a group of its own that starts at the latest offset."""


def _require_async(fn: Callable[..., Any], what: str) -> None:
    if not inspect.iscoroutinefunction(fn):
        name = getattr(fn, "__qualname__", repr(fn))
        raise VendorConfigError(f"{what} handler {name} must be an `async def` function")


class VendorDeclaration:
    """A vendor's identity, markets, accepted terms and handlers, checked when declared.

    ``settings`` names the Kafka cluster to serve on (None: the ``INTENTCAST_*`` environment).
    ``sealing_key`` is the X25519 key customers seal disclosures to; by default it is derived
    from ``key`` (`agents.disclosures.sealing_key_for`), so one secret keeps both.

    Instances with the same ``vendor_id`` share one consumer group and so split the markets'
    partitions (unless ``instances_share_load`` is False).

    ``delete_ahead`` calls the ``@on_retention_end`` handler that long before each agreement's
    retention end (deleting early always keeps the promise); a handler that fails is called
    again every ``retention_retry``.
    """

    def __init__(
        self,
        vendor_id: str,
        *,
        key: SigningKey,
        markets: Iterable[str],
        accepts: Iterable[str],
        sealing_key: SealingKey | None = None,
        display_name: str | None = None,
        settings: ClientSettings | None = None,
        instances_share_load: bool = True,
        max_in_flight: int = 1,
        dedupe_size: int = 10_000,
        delete_ahead: timedelta = timedelta(0),
        retention_retry: timedelta = timedelta(minutes=1),
    ) -> None:
        if not isinstance(key, SigningKey):
            raise VendorConfigError("key must be a schemas.crypto.SigningKey")
        if sealing_key is not None and not isinstance(sealing_key, SealingKey):
            raise VendorConfigError("sealing_key must be a schemas.crypto.SealingKey")
        if max_in_flight < 1 or dedupe_size < 1:
            raise VendorConfigError("max_in_flight and dedupe_size must be at least 1")
        if delete_ahead < timedelta(0) or retention_retry <= timedelta(0):
            raise VendorConfigError("delete_ahead must be >= 0 and retention_retry > 0")
        self.vendor_id = vendor_id
        self.key = key
        self.sealing_key = sealing_key or sealing_key_for(key)
        self.markets = tuple(markets)
        self.accepts = self._term_refs(accepts)
        self.display_name = display_name or vendor_id
        self.settings = settings
        self.instances_share_load = instances_share_load
        self.max_in_flight = max_in_flight
        self.dedupe_size = dedupe_size
        self.delete_ahead = delete_ahead
        self.retention_retry = retention_retry
        self._accepted = {(ref.id, ref.version, ref.sha256) for ref in self.accepts}
        self._intent_handlers: dict[str, IntentHandler] = {}
        self.feedback_handler: FeedbackHandler | None = None
        self.agreement_handler: AgreementHandler | None = None
        self.retention_handler: RetentionHandler | None = None
        self.disclosure_handler: DisclosureHandler | None = None
        try:
            self.topics_for_markets = {market_topic(m): m for m in self.markets}
            self.feedback_topic = vendor_feedback_topic(vendor_id)
            self.agreements_topic = vendor_agreements_topic(vendor_id)
            self.disclosures_topic = vendor_disclosures_topic(vendor_id)
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

    # -- handlers --------------------------------------------------------------------------

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
        if self.feedback_handler is not None:
            raise VendorConfigError("a feedback handler is already registered")
        self.feedback_handler = fn
        return fn

    def on_agreement(self, fn: AH) -> AH:
        """Register an ``async`` handler for the agreements this vendor is party to."""
        _require_async(fn, "agreement")
        if self.agreement_handler is not None:
            raise VendorConfigError("an agreement handler is already registered")
        self.agreement_handler = fn
        return fn

    def on_retention_end(self, fn: RH) -> RH:
        """Register an ``async`` handler that deletes what an agreement let this vendor keep.

        The SDK calls it once each agreement's retention end has come (its terms say when:
        ``schemas.retention.retention_end``), also for agreements made before a restart, and
        publishes a signed deletion attestation only after it returned without raising. It may
        be called again for the same agreement (after a restart, or a retry when it raised), so
        it must be idempotent: deleting what is already gone is not an error.
        """
        _require_async(fn, "retention end")
        if self.retention_handler is not None:
            raise VendorConfigError("a retention end handler is already registered")
        self.retention_handler = fn
        return fn

    def on_disclosure(self, fn: DH) -> DH:
        """Register an ``async`` handler for what customers disclose to this vendor.

        It receives a :class:`~agents.disclosures.ReceivedDisclosure`: opened with this
        vendor's sealing key, checked against the agreement it is bound to and signed by that
        agreement's intent key. Its values are personal data: keep them only as long as the
        agreement's terms allow, and never log them.
        """
        _require_async(fn, "disclosure")
        if self.disclosure_handler is not None:
            raise VendorConfigError("a disclosure handler is already registered")
        self.disclosure_handler = fn
        return fn

    def intent_handler(self, market: str) -> IntentHandler | None:
        """The handler registered for ``market``, if any."""
        return self._intent_handlers.get(market)

    # -- derived facts ---------------------------------------------------------------------

    @property
    def group_id(self) -> str:
        """The consumer group shared by every instance of this vendor."""
        return f"{VENDOR_TOPIC_PREFIX}{self.vendor_id}"

    def subscription(self) -> Subscription:
        """Market topics plus the vendor's private feedback, agreements and disclosures."""
        topics = (
            *self.topics_for_markets, self.feedback_topic, self.agreements_topic,
            self.disclosures_topic,
        )  # fmt: skip
        return Subscription(self.group_id, topics, self.instances_share_load)

    def profile(self, now: datetime | None = None) -> VendorProfile:
        """The signed profile the processors register this vendor with."""
        try:
            profile = VendorProfile(
                vendor_id=self.vendor_id,
                display_name=self.display_name,
                signing_key=self.key.public_key,
                sealing_key=self.sealing_key.public_key,
                markets=self.markets,
                accepts=self.accepts,
                updated_at=now or utcnow(),
            )
        except ValidationError as exc:
            detail = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
            raise VendorConfigError(f"vendor {self.vendor_id!r}: {detail}") from None
        return sign_model(profile, self.key)

    def attestation(
        self, agreement: Agreement, *, deleted_at: datetime | None = None
    ) -> RetentionAttestation:
        """The signed statement that this vendor deleted ``agreement``'s data (now, by default).

        Raises :class:`VendorConfigError` for an agreement whose terms set no end (kept until
        the customer revokes it): there is nothing due to attest.
        """
        end = agreement_retention_end(agreement)
        if end is None:
            raise VendorConfigError(
                f"agreement {agreement.agreement_id[:12]} is kept until revoked; no end to attest"
            )
        statement = RetentionAttestation(
            agreement_id=agreement.agreement_id,
            intent_id=agreement.intent.intent_id,
            vendor_id=self.vendor_id,
            retention_end=end,
            deleted_at=deleted_at or utcnow(),
        )
        return sign_model(statement, self.key)

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
