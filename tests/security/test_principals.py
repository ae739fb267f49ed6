"""The principal model without a broker: names, rules, quotas and the documented ACL table."""

from __future__ import annotations

import pytest

from intentcast.broker.principals import (
    DEFAULT_QUOTAS,
    Kind,
    Op,
    Pattern,
    Principal,
    PrincipalError,
    Resource,
    acl_table_markdown,
    vendor_rules,
)
from tests.conftest import REPO_ROOT

DOC = REPO_ROOT / "docs" / "security.md"
START, END = "<!-- acl-table:start -->\n", "<!-- acl-table:end -->"


def test_docs_acl_table_is_generated_from_the_rules() -> None:
    text = DOC.read_text()
    documented = text[text.index(START) + len(START) : text.index(END)]
    assert documented == acl_table_markdown(), (
        "docs/security.md's ACL table is stale; paste the output of "
        "`python -c 'from intentcast.broker.principals import acl_table_markdown as t; "
        'print(t(), end="")\'`'
    )


@pytest.mark.parametrize(
    ("username", "kind", "vendor"),
    [("processors", Kind.PROCESSORS, None), ("customer", Kind.CUSTOMER, None),
     ("monitor", Kind.MONITOR, None), ("vendor-acme-bikes", Kind.VENDOR, "acme-bikes")],
)  # fmt: skip
def test_usernames_round_trip(username: str, kind: Kind, vendor: str | None) -> None:
    principal = Principal.parse(username)
    assert (principal.kind, principal.vendor_id) == (kind, vendor)
    assert principal.username == username
    assert principal.kafka_principal == f"User:{username}"


@pytest.mark.parametrize("bad", ["admin", "root", "vendor-", "vendor-Acme", "vendor-a_b"])
def test_unknown_or_malformed_principals_are_refused(bad: str) -> None:
    with pytest.raises(PrincipalError):
        Principal.parse(bad)


def test_a_vendor_needs_an_id_and_only_a_vendor_has_one() -> None:
    with pytest.raises(PrincipalError):
        Principal(Kind.VENDOR)
    with pytest.raises(PrincipalError):
        Principal(Kind.CUSTOMER, "acme")


def test_vendor_names_cannot_collide_by_prefix() -> None:
    """Every prefixed name of vendor `acme` ends in a dot, so `acme-bikes` is outside it."""
    for rule in vendor_rules("acme"):
        if rule.pattern is Pattern.PREFIXED and "acme" in rule.name:
            assert rule.name.endswith("acme."), rule
            assert not "intentcast.vendor.acme-bikes.feedback".startswith(rule.name)


def test_nobody_but_the_processors_creates_topics_or_touches_the_cluster() -> None:
    for principal in (
        Principal(Kind.CUSTOMER),
        Principal(Kind.MONITOR),
        Principal(Kind.VENDOR, "x1"),
    ):
        for rule in principal.rules():
            assert Op.CREATE not in rule.ops, (principal, rule)
            assert rule.resource in (Resource.TOPIC, Resource.GROUP), (principal, rule)
            if rule.resource is Resource.TOPIC and Op.WRITE in rule.ops:
                assert rule.pattern is Pattern.LITERAL, "writes go to named topics only"


def test_default_quotas_throttle_tenants_not_the_system() -> None:
    assert DEFAULT_QUOTAS[Kind.PROCESSORS].config() == {}
    vendor = DEFAULT_QUOTAS[Kind.VENDOR].config()
    assert set(vendor) == {"producer_byte_rate", "consumer_byte_rate", "request_percentage"}
    assert "producer_byte_rate" not in DEFAULT_QUOTAS[Kind.MONITOR].config()
