"""The Kafka topic layout, part of the wire contract: names, value types, keys, retention."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final

from intentcast.schemas.agreement import Agreement
from intentcast.schemas.base import WireModel
from intentcast.schemas.disclosure import Disclosure
from intentcast.schemas.errors import SchemaError
from intentcast.schemas.events import DeadLetter, IntentStatus, MetricsSnapshot, OfferFeedback
from intentcast.schemas.fields import SLUG_PATTERN
from intentcast.schemas.intent import Cancel, Intent
from intentcast.schemas.log import LogEntry
from intentcast.schemas.offer import Acceptance, DeliveredOffer, Offer, VendorProfile
from intentcast.schemas.reasons import ReasonCode
from intentcast.schemas.retention import RetentionAttestation

__all__ = [
    "ACCEPTANCES",
    "AGREEMENTS",
    "ATTESTATIONS",
    "CANCELS",
    "CORE_TOPICS",
    "DEAD_LETTERS",
    "DISCLOSURES",
    "INTENTS_SUBMITTED",
    "INTENT_STATUS",
    "MARKET_TOPIC",
    "METRICS",
    "OFFERS_DELIVERED",
    "OFFERS_SUBMITTED",
    "SANDBOX_MARKET_PREFIX",
    "TEMPLATE_TOPICS",
    "VENDOR_AGREEMENTS_TOPIC",
    "VENDOR_DISCLOSURES_TOPIC",
    "VENDOR_FEEDBACK_TOPIC",
    "VENDOR_PROFILE_PATTERN",
    "VENDOR_PROFILE_TOPIC",
    "VENDOR_REGISTRY",
    "VENDOR_TOPIC_PREFIX",
    "TopicSpec",
    "market_topic",
    "sandbox_market",
    "spec_for",
    "vendor_agreements_topic",
    "vendor_disclosures_topic",
    "vendor_feedback_topic",
    "vendor_id_of_profile_topic",
    "vendor_profile_topic",
]

DAY_MS: Final = 24 * 60 * 60 * 1000
WEEK_MS: Final = 7 * DAY_MS

INTENTS_SUBMITTED: Final = "intentcast.intents.submitted"
OFFERS_SUBMITTED: Final = "intentcast.offers.submitted"
OFFERS_DELIVERED: Final = "intentcast.offers.delivered"
ACCEPTANCES: Final = "intentcast.acceptances"
CANCELS: Final = "intentcast.cancels"
AGREEMENTS: Final = "intentcast.agreements"
ATTESTATIONS: Final = "intentcast.attestations"
DISCLOSURES: Final = "intentcast.disclosures"
VENDOR_REGISTRY: Final = "intentcast.vendors.registry"
INTENT_STATUS: Final = "intentcast.intents.status"
DEAD_LETTERS: Final = "intentcast.deadletters"
METRICS: Final = "intentcast.metrics"
MARKET_TOPIC_PREFIX: Final = "intentcast.market."
VENDOR_TOPIC_PREFIX: Final = "intentcast.vendor."
VENDOR_PROFILE_PATTERN: Final = r"^intentcast\.vendor\.([a-z0-9][a-z0-9-]*)\.profile$"
"""Every vendor's own profile topic; group 1 is the vendor id the topic binds."""

_SLUG: Final = re.compile(SLUG_PATTERN)


@dataclass(frozen=True)
class TopicSpec:
    """One topic (or topic template, when ``name`` holds ``{market}`` or ``{vendor_id}``).

    ``retention_ms=None`` means keep forever; ``partitioned_by_intent`` means the record key
    is the intent_id, so every message about one intent lands on one partition, in order.
    Principals are the SCRAM users of docs/security.md: ``customer``, ``processors``,
    ``vendor-{vendor_id}`` (``vendor-*``: every vendor), ``monitor`` and ``admin`` (the
    operator). Producers and consumers are the one source of the topic ACLs:
    ``broker.principals`` grants each producer Write and each consumer Read (both Describe),
    and ``uses`` says why, per principal, for the ACL table of docs/security.md.
    """

    name: str
    value: type[WireModel]
    key: str
    description: str
    compacted: bool = False
    retention_ms: int | None = WEEK_MS
    partitioned_by_intent: bool = True
    producers: tuple[str, ...] = ()
    consumers: tuple[str, ...] = ()
    uses: tuple[tuple[str, str], ...] = ()

    def use_of(self, principal: str) -> str:
        """What ``principal`` (as spelled in producers or consumers) uses this topic for."""
        return dict(self.uses).get(principal, "")

    @property
    def is_template(self) -> bool:
        """Whether ``name`` still has a ``{placeholder}`` to fill."""
        return "{" in self.name

    def partition_count(self, partitions: int) -> int:
        """Partitions of this topic on a cluster whose intent-keyed topics have ``partitions``.

        Every intent-keyed topic has the same count (INTENTCAST_PARTITIONS), so an intent, its
        offers, acceptance and cancel meet on one partition number; the others have one, so
        the registry and each profile topic are read in one order.
        """
        return partitions if self.partitioned_by_intent else 1


def _slug(value: str, what: str) -> str:
    if _SLUG.fullmatch(value) is None:
        raise SchemaError(ReasonCode.SCHEMA_INVALID, f"{what} is not a slug: {value[:70]!r}")
    return value


def market_topic(market: str) -> str:
    """The topic a market's vendors read validated intents from."""
    return f"{MARKET_TOPIC_PREFIX}{_slug(market, 'market')}"


SANDBOX_MARKET_PREFIX: Final = "sandbox-"


def sandbox_market(vendor_id: str) -> str:
    """The market only ``vendor_id`` serves, where `intentcast vendor conformance` tests it.

    Derived from the id, so the processors' operator and the vendor agree on it without
    talking, and no other vendor (none lists it) ever answers the kit's intents there.
    """
    market = SANDBOX_MARKET_PREFIX + _slug(vendor_id, "vendor_id")
    if _SLUG.fullmatch(market) is None:
        raise SchemaError(
            ReasonCode.SCHEMA_INVALID,
            f"vendor id {vendor_id[:70]!r} is too long for a sandbox market (55 at most)",
        )
    return market


def vendor_feedback_topic(vendor_id: str) -> str:
    """A vendor's private topic of :class:`~schemas.events.OfferFeedback`."""
    return f"{VENDOR_TOPIC_PREFIX}{_slug(vendor_id, 'vendor_id')}.feedback"


def vendor_agreements_topic(vendor_id: str) -> str:
    """A vendor's private copy of the agreements it is party to."""
    return f"{VENDOR_TOPIC_PREFIX}{_slug(vendor_id, 'vendor_id')}.agreements"


def vendor_disclosures_topic(vendor_id: str) -> str:
    """A vendor's private topic of the disclosures customers sealed to it."""
    return f"{VENDOR_TOPIC_PREFIX}{_slug(vendor_id, 'vendor_id')}.disclosures"


def vendor_profile_topic(vendor_id: str) -> str:
    """The one topic a vendor publishes its profile to; only its own principal may write it.

    The topic name, not the record, says whose profile it is: Kafka ACLs can bind a principal
    to a topic name but not to a record key, so this is how a vendor id is tied to a principal.
    """
    return f"{VENDOR_TOPIC_PREFIX}{_slug(vendor_id, 'vendor_id')}.profile"


_PROFILE_TOPIC: Final = re.compile(VENDOR_PROFILE_PATTERN)


def vendor_id_of_profile_topic(topic: str) -> str | None:
    """The vendor id a profile topic belongs to, or None if ``topic`` is not one."""
    match = _PROFILE_TOPIC.fullmatch(topic)
    if match is None or _SLUG.fullmatch(match.group(1)) is None:
        return None
    return match.group(1)


_VENDOR = "vendor-{vendor_id}"
_PROCESSORS = "processors"
_VALIDATED = (_PROCESSORS, "input the processors validate")
_PUBLIC = "the vendors the processors accepted (public)"

CORE_TOPICS: Final = (
    TopicSpec(
        INTENTS_SUBMITTED, Intent, "intent_id",
        "Signed intents as customers submit them, before validation.",
        producers=("customer",), consumers=(_PROCESSORS,),
        uses=(("customer", "publish intents"), _VALIDATED),
    ),
    TopicSpec(
        OFFERS_SUBMITTED, Offer, "intent_id",
        "Signed offers as vendors submit them, keyed by intent so they meet their intent.",
        producers=("vendor-*",), consumers=(_PROCESSORS,),
        uses=(("vendor-*", "send signed offers"), _VALIDATED),
    ),
    TopicSpec(
        OFFERS_DELIVERED, DeliveredOffer, "intent_id",
        "Valid offers sealed to the intent's X25519 key; only its customer can open them.",
        producers=(_PROCESSORS,), consumers=(_PROCESSORS, "customer"),
        uses=(
            (_PROCESSORS, "sealed offers out; the tail re-read after a crash"),
            ("customer", "sealed offers; only the intent key opens them"),
        ),
    ),
    TopicSpec(
        ACCEPTANCES, Acceptance, "intent_id",
        "The customer's signed acceptance of one delivered offer.",
        producers=("customer",), consumers=(_PROCESSORS,),
        uses=(("customer", "accept one delivered offer"), _VALIDATED),
    ),
    TopicSpec(
        CANCELS, Cancel, "intent_id",
        "The customer's signed withdrawal of an open intent.",
        producers=("customer",), consumers=(_PROCESSORS,),
        uses=(("customer", "withdraw an open intent"), _VALIDATED),
    ),
    TopicSpec(
        AGREEMENTS, LogEntry, "intent_id",
        "The audit log: per partition, a hash chain of entries (agreements and what follows "
        "them) whose content is sealed to its customer, the processors and the auditor; "
        "anyone who reads it can check the chain, only they can open an entry. A vendor reads "
        "its own clear copy, intentcast.vendor.{vendor_id}.agreements.",
        retention_ms=None,
        producers=(_PROCESSORS,), consumers=(_PROCESSORS, "customer", "vendor-*", "auditor"),
        uses=(
            (_PROCESSORS, "the hash chain: appended, and re-read (own copies) to resume"),
            ("customer", "its own sealed copy, and `audit verify` of the chain (hashes only)"),
            ("vendor-*", "checks its clear copies against the chain (hashes only)"),
            ("auditor", "`audit verify`: the chain, and every entry opened with its key"),
        ),
    ),
    TopicSpec(
        ATTESTATIONS, RetentionAttestation, "intent_id",
        "Vendors' signed statements that they deleted an agreement's data at its retention "
        "end; the processors check and log them.",
        producers=("vendor-*",), consumers=(_PROCESSORS,),
        uses=(("vendor-*", "attest deletion at a retention end"), _VALIDATED),
    ),
    TopicSpec(
        DISCLOSURES, Disclosure, "intent_id",
        "What a customer discloses to the vendor of its agreement (name, address...), "
        "sealed to that vendor's key and signed with the intent's key; the processors check "
        "the binding and route it, but cannot read the values.",
        producers=("customer",), consumers=(_PROCESSORS,),
        uses=(("customer", "disclose to the agreed vendor (sealed)"), _VALIDATED),
    ),
    TopicSpec(
        VENDOR_REGISTRY, VendorProfile, "vendor_id",
        "Vendor profiles the processors accepted from the vendors' own profile topics "
        "(first key per vendor id, for good); latest per vendor is kept.",
        compacted=True, retention_ms=None, partitioned_by_intent=False,
        producers=(_PROCESSORS,), consumers=(_PROCESSORS, "vendor-*", "customer", "monitor"),
        uses=(
            (_PROCESSORS, "accepted profiles: republished, then folded by all"),
            ("vendor-*", "its registration, and who else is listed"),
            ("customer", _PUBLIC), ("monitor", _PUBLIC),
        ),
    ),
    TopicSpec(
        INTENT_STATUS, IntentStatus, "intent_id",
        "What happened to each intent (accepted, rejected and why, agreed, expired...).",
        producers=(_PROCESSORS,), consumers=("customer", "monitor"),
        uses=(
            (_PROCESSORS, "every intent's outcome; refusals of customers' records"),
            ("customer", "what happened to an intent"), ("monitor", "outcome counts per reason"),
        ),
    ),
    TopicSpec(
        DEAD_LETTERS, DeadLetter, "source record key (or none)",
        "Records that could not be processed, with the reason code and a payload prefix. "
        "Only the operator reads them (vendors learn of their own refusals by feedback).",
        partitioned_by_intent=False,
        producers=(_PROCESSORS,), consumers=("admin",),
        uses=((_PROCESSORS, "every refusal the operator is owed"),),
    ),
    TopicSpec(
        METRICS, MetricsSnapshot, "source",
        "Periodic counters, gauges and latency percentiles of every process.",
        retention_ms=DAY_MS, partitioned_by_intent=False,
        producers=(_PROCESSORS,), consumers=("monitor",),
        uses=(
            (_PROCESSORS, "each process's snapshots"),
            ("monitor", "counters, gauges and latencies"),
        ),
    ),
)  # fmt: skip
"""Topics that exist once per cluster."""

MARKET_TOPIC: Final = TopicSpec(
    MARKET_TOPIC_PREFIX + "{market}", Intent, "intent_id",
    "Validated intents of one market, byte for byte as their customers sent them; every "
    "vendor may read every market.",
    producers=(_PROCESSORS,), consumers=("vendor-*",),
    uses=(
        (_PROCESSORS, "validated intents, one topic per market"),
        ("vendor-*", "every market: intents are public broadcasts"),
    ),
)  # fmt: skip
VENDOR_FEEDBACK_TOPIC: Final = TopicSpec(
    VENDOR_TOPIC_PREFIX + "{vendor_id}.feedback", OfferFeedback, "intent_id",
    "One vendor's private feedback: each offer delivered, or refused with a reason code, "
    "and each of its profiles refused (empty offer_id and intent_id).",
    producers=(_PROCESSORS,), consumers=(_VENDOR,),
    uses=(
        (_PROCESSORS, "each vendor's feedback and refusals"),
        (_VENDOR, "its feedback: its own refusals only"),
    ),
)  # fmt: skip
VENDOR_AGREEMENTS_TOPIC: Final = TopicSpec(
    VENDOR_TOPIC_PREFIX + "{vendor_id}.agreements", Agreement, "intent_id",
    "One vendor's copy of the agreements it is party to.",
    retention_ms=None,
    producers=(_PROCESSORS,), consumers=(_VENDOR,),
    uses=((_PROCESSORS, "each vendor's agreement copies"), (_VENDOR, "its agreements")),
)  # fmt: skip
VENDOR_DISCLOSURES_TOPIC: Final = TopicSpec(
    VENDOR_TOPIC_PREFIX + "{vendor_id}.disclosures", Disclosure, "intent_id",
    "The disclosures customers sealed to one vendor, each checked against its agreement; "
    "only that vendor's sealing key opens them.",
    producers=(_PROCESSORS,), consumers=(_VENDOR,),
    uses=(
        (_PROCESSORS, "each vendor's sealed disclosures"),
        (_VENDOR, "what its customers disclosed to it"),
    ),
)  # fmt: skip
VENDOR_PROFILE_TOPIC: Final = TopicSpec(
    VENDOR_TOPIC_PREFIX + "{vendor_id}.profile", VendorProfile, "vendor_id",
    "One vendor's self-signed profile (key, markets, accepted terms); only that vendor's "
    "principal may write here, so the topic binds the vendor id. Latest is kept.",
    compacted=True, retention_ms=None, partitioned_by_intent=False,
    producers=(_VENDOR,), consumers=(_PROCESSORS, _VENDOR),
    uses=(
        (_PROCESSORS, "every vendor's profile (pattern subscription)"),
        (_VENDOR, "its profile, under its own id only: what binds the id to the principal"),
    ),
)  # fmt: skip
TEMPLATE_TOPICS: Final = (
    MARKET_TOPIC, VENDOR_PROFILE_TOPIC, VENDOR_FEEDBACK_TOPIC, VENDOR_AGREEMENTS_TOPIC,
    VENDOR_DISCLOSURES_TOPIC,
)  # fmt: skip
"""Topics created per market or per vendor from a name template."""

_BY_NAME: Final = {spec.name: spec for spec in CORE_TOPICS}


def spec_for(topic: str) -> TopicSpec:
    """The spec of a concrete topic name (templates matched), or ``SchemaError``."""
    if topic in _BY_NAME:
        return _BY_NAME[topic]
    if topic.startswith(MARKET_TOPIC_PREFIX):
        market_topic(topic.removeprefix(MARKET_TOPIC_PREFIX))
        return MARKET_TOPIC
    if topic.startswith(VENDOR_TOPIC_PREFIX):
        vendor, _, suffix = topic.removeprefix(VENDOR_TOPIC_PREFIX).rpartition(".")
        _slug(vendor, "vendor_id")
        vendor_specs = (
            VENDOR_PROFILE_TOPIC, VENDOR_FEEDBACK_TOPIC, VENDOR_AGREEMENTS_TOPIC,
            VENDOR_DISCLOSURES_TOPIC,
        )  # fmt: skip
        for spec in vendor_specs:
            if spec.name.endswith("." + suffix):
                return spec
    raise SchemaError(ReasonCode.SCHEMA_INVALID, f"not an Intentcast topic: {topic[:100]!r}")
