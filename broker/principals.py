"""Who may do what on a secure cluster: the principals, their ACLs and quotas, as plain data.

Deny by default: a principal holds exactly the rules listed here and nothing else. Every topic
ACL is derived from the producers and consumers of the topic specs (`schemas.topics`), which
also make the AsyncAPI and protocol.md's topic table, so the three cannot disagree; only what
no topic spec describes (consumer groups, topic creation, faust's own topics) is listed here.
The ACL table in docs/security.md is generated from the rules (`broker.acl_doc`, part of
`make generate`); a test checks what the real broker allows against the policy of issue #5,
written down independently.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum
from typing import Final

from intentcast.schemas.errors import IntentcastError
from intentcast.schemas.fields import SLUG_PATTERN
from intentcast.schemas.topics import CORE_TOPICS, TEMPLATE_TOPICS, VENDOR_TOPIC_PREFIX, TopicSpec

TOPIC_NAMESPACE: Final = "intentcast."
MONITOR_GROUP_PREFIX: Final = "intentcast.monitor."
DEFAULT_APP_PREFIX: Final = "intentcast-processors"
"""Processors' faust app ids must start with this (their group and internal topics)."""


class PrincipalError(IntentcastError):
    """A principal name or kind that the ACL model does not know."""


class Kind(StrEnum):
    """The kinds of principal (the admin super user is not one). The auditor reads the
    agreement log only, and opens every entry with the key the log is sealed to for it."""

    PROCESSORS = "processors"
    CUSTOMER = "customer"
    VENDOR = "vendor"
    MONITOR = "monitor"
    AUDITOR = "auditor"


class Resource(StrEnum):
    TOPIC = "topic"
    GROUP = "group"
    TRANSACTIONAL_ID = "transactional-id"
    CLUSTER = "cluster"


class Pattern(StrEnum):
    LITERAL = "literal"
    PREFIXED = "prefixed"


class Op(StrEnum):
    """Kafka ACL operations, spelled as `kafka-acls --operation` wants them."""

    READ = "Read"
    WRITE = "Write"
    DESCRIBE = "Describe"
    CREATE = "Create"
    DESCRIBE_CONFIGS = "DescribeConfigs"


@dataclass(frozen=True)
class Rule:
    """One ALLOW rule: operations on a resource pattern, and why the principal needs them."""

    resource: Resource
    name: str
    pattern: Pattern
    ops: tuple[Op, ...]
    why: str


@dataclass(frozen=True)
class Quota:
    """Per-user Kafka quotas (bytes per second per broker; % of one request thread)."""

    producer_byte_rate: int | None = None
    consumer_byte_rate: int | None = None
    request_percentage: float | None = None

    def config(self) -> dict[str, str]:
        """`kafka-configs --add-config` entries; empty when the principal is unlimited."""
        out: dict[str, str] = {}
        if self.producer_byte_rate is not None:
            out["producer_byte_rate"] = str(self.producer_byte_rate)
        if self.consumer_byte_rate is not None:
            out["consumer_byte_rate"] = str(self.consumer_byte_rate)
        if self.request_percentage is not None:
            out["request_percentage"] = f"{self.request_percentage:g}"
        return out


MB: Final = 1024 * 1024
DEFAULT_QUOTAS: Final = {
    Kind.PROCESSORS: Quota(),  # the system itself: never throttled
    # one principal for every customer, so its share is large: it only caps a runaway
    Kind.CUSTOMER: Quota(producer_byte_rate=4 * MB, consumer_byte_rate=16 * MB),
    Kind.VENDOR: Quota(producer_byte_rate=1 * MB, consumer_byte_rate=4 * MB, request_percentage=25),
    Kind.MONITOR: Quota(consumer_byte_rate=1 * MB, request_percentage=10),
    Kind.AUDITOR: Quota(consumer_byte_rate=4 * MB, request_percentage=10),
}

_SLUG = re.compile(SLUG_PATTERN)
_APP = re.compile(r"^[a-z0-9][a-z0-9.-]{1,62}$")


@dataclass(frozen=True)
class Principal:
    """A SCRAM user: `processors`, `customer`, `monitor`, `auditor` or `vendor-<vendor_id>`."""

    kind: Kind
    vendor_id: str | None = None
    app_prefix: str = DEFAULT_APP_PREFIX

    def __post_init__(self) -> None:
        if (self.kind is Kind.VENDOR) != (self.vendor_id is not None):
            raise PrincipalError("a vendor principal needs a vendor id, and only a vendor has one")
        if self.vendor_id is not None and _SLUG.fullmatch(self.vendor_id) is None:
            raise PrincipalError(
                f"vendor id {self.vendor_id!r} is not a slug (lowercase letters, digits, '-')"
            )
        if _APP.fullmatch(self.app_prefix) is None:
            raise PrincipalError(f"app prefix {self.app_prefix!r} is not a valid faust app id")

    @property
    def username(self) -> str:
        return f"vendor-{self.vendor_id}" if self.kind is Kind.VENDOR else self.kind.value

    @property
    def kafka_principal(self) -> str:
        return f"User:{self.username}"

    @classmethod
    def parse(cls, username: str, app_prefix: str = DEFAULT_APP_PREFIX) -> Principal:
        """The principal behind a SCRAM user name (the inverse of `username`)."""
        if username.startswith("vendor-"):
            return cls(Kind.VENDOR, username.removeprefix("vendor-"))
        try:
            kind = Kind(username)
        except ValueError:
            raise PrincipalError(
                f"{username!r} is not an Intentcast principal "
                "(processors, customer, monitor, auditor or vendor-<id>)"
            ) from None
        return cls(kind, app_prefix=app_prefix)

    def rules(self) -> tuple[Rule, ...]:
        """Every ALLOW rule of this principal; anything else is denied."""
        if self.kind is Kind.PROCESSORS:
            return _processor_rules(self.app_prefix)
        if self.kind in (Kind.CUSTOMER, Kind.AUDITOR):
            return topic_rules(self)
        if self.kind is Kind.MONITOR:
            return (
                *topic_rules(self),
                Rule(G, MONITOR_GROUP_PREFIX, P, (R, D), "its own consumer groups"),
            )
        assert self.vendor_id is not None
        return vendor_rules(self.vendor_id)

    @property
    def quota(self) -> Quota:
        return DEFAULT_QUOTAS[self.kind]


T, G, L, P = Resource.TOPIC, Resource.GROUP, Pattern.LITERAL, Pattern.PREFIXED
R, W, D, C, DC = Op.READ, Op.WRITE, Op.DESCRIBE, Op.CREATE, Op.DESCRIBE_CONFIGS


_OP_ORDER: Final = (R, W, D, C, DC)
_OWNER: Final = "vendor-{vendor_id}"
"""The vendor a per-vendor topic is named after (``vendor-*`` is every vendor)."""


def topic_rules(principal: Principal) -> tuple[Rule, ...]:
    """The principal's topic ACLs, from the topic specs: Write and Describe where it produces,
    Read and Describe where it consumes; rules on one name are merged.

    A template topic is a prefixed rule on the part before its placeholder (every market,
    every vendor's topic), except for the vendor it is named after, who gets its own topic
    as a literal: so each vendor reaches exactly its own topics, and no name it does not
    have yet.
    """
    merged: dict[tuple[str, Pattern], tuple[set[Op], list[str]]] = {}
    for spec in (*CORE_TOPICS, *TEMPLATE_TOPICS):
        ops = set[Op]()
        for names, granted in ((spec.producers, (W, D)), (spec.consumers, (R, D))):
            ops.update(granted if _named(principal, names) else ())
        if not ops:
            continue
        target, why = _target(spec, principal)
        held, whys = merged.setdefault(target, (set(), []))
        held |= ops
        if why and why not in whys:
            whys.append(why)
    return tuple(
        Rule(T, name, pattern, tuple(op for op in _OP_ORDER if op in ops), "; ".join(whys))
        for (name, pattern), (ops, whys) in merged.items()
    )


def _named(principal: Principal, names: tuple[str, ...]) -> bool:
    """Whether a producers or consumers list names the principal (`admin` needs no ACL)."""
    if principal.kind is Kind.VENDOR:
        return "vendor-*" in names or _OWNER in names
    return principal.kind.value in names


def _spelled(spec: TopicSpec, principal: Principal) -> str:
    """How the spec spells the principal, to look up its use."""
    if principal.kind is not Kind.VENDOR:
        return principal.kind.value
    return _OWNER if _OWNER in spec.producers + spec.consumers else "vendor-*"


def _target(spec: TopicSpec, principal: Principal) -> tuple[tuple[str, Pattern], str]:
    why = spec.use_of(_spelled(spec, principal))
    if not spec.is_template:
        return (spec.name, L), why
    if principal.kind is Kind.VENDOR and _spelled(spec, principal) == _OWNER:
        return (spec.name.format(vendor_id=principal.vendor_id), L), why
    return (spec.name.partition("{")[0], P), why


def _processor_rules(app_prefix: str) -> tuple[Rule, ...]:
    return (
        *topic_rules(Principal(Kind.PROCESSORS, app_prefix=app_prefix)),
        Rule(T, TOPIC_NAMESPACE, P, (C, DC), "the topic layout and per-vendor topics"),
        Rule(T, app_prefix, P, (R, W, D, C, DC), "faust's own changelog, leader and tick topics"),
        Rule(G, app_prefix, P, (R, D), "the processors' consumer group"),
    )


def vendor_rules(vendor_id: str) -> tuple[Rule, ...]:
    """A vendor's rules; its own group names end in '.' so `acme` never matches `acme-bikes`.

    Its own topics are literal ACLs (from the topic specs); the profile topic is the only one
    it writes, which is what binds the vendor id in a profile to the authenticated principal.
    """
    own = f"{VENDOR_TOPIC_PREFIX}{vendor_id}"
    return (
        *topic_rules(Principal(Kind.VENDOR, vendor_id)),
        Rule(G, own, L, (R, D), "the group its instances share"),
        Rule(G, own + ".", P, (R, D), "per-instance groups of the SDK"),
    )


def example_principals() -> tuple[Principal, ...]:
    """One of each kind, with `<id>` for the vendor, for the documentation table."""
    return (
        Principal(Kind.PROCESSORS),
        Principal(Kind.CUSTOMER),
        Principal(Kind.VENDOR, "id-placeholder"),
        Principal(Kind.MONITOR),
        Principal(Kind.AUDITOR),
    )


def acl_table_markdown() -> str:
    """The ACL table of docs/security.md, generated from the rules above."""
    lines = [
        "| principal | resource | name | pattern | operations | why |",
        "|---|---|---|---|---|---|",
    ]
    for principal in example_principals():
        who = principal.username.replace("id-placeholder", "<id>")
        for rule in principal.rules():
            name = rule.name.replace("id-placeholder", "<id>")
            ops = ", ".join(op.value for op in rule.ops)
            lines.append(
                f"| `{who}` | {rule.resource.value} | `{name}` | {rule.pattern.value} "
                f"| {ops} | {rule.why} |"
            )
    lines.append(
        "| every principal | transactional-id, cluster | any | | none "
        "| no transactions are used; topics are created by the processors only |"
    )
    return "\n".join(lines) + "\n"
