"""The principal model without a broker: names, rules, quotas and the documented ACL table."""

from __future__ import annotations

from pathlib import Path

import pytest

from intentcast.broker import acl_doc
from intentcast.broker.principals import (
    DEFAULT_QUOTAS,
    Kind,
    Op,
    Pattern,
    Principal,
    PrincipalError,
    Resource,
    acl_table_markdown,
    topic_rules,
    vendor_rules,
)
from intentcast.schemas.topics import CORE_TOPICS, TEMPLATE_TOPICS, TopicSpec

DOC = acl_doc.SECURITY_DOC


def test_docs_acl_table_is_generated_from_the_rules() -> None:
    text = DOC.read_text()
    documented = text[text.index(acl_doc.BEGIN) + len(acl_doc.BEGIN) : text.index(acl_doc.END)]
    assert documented == acl_table_markdown(), "run: make generate"
    assert not acl_doc.drifted()
    assert acl_doc.main(["--check"]) == 0


def test_the_generator_refuses_a_page_without_markers(tmp_path: Path) -> None:
    page = tmp_path / "security.md"
    page.write_text("# Security\n")
    with pytest.raises(ValueError, match="lacks the markers"):
        acl_doc.drifted(page)


@pytest.mark.parametrize("spec", [*CORE_TOPICS, *TEMPLATE_TOPICS], ids=lambda s: s.name)
def test_every_topic_acl_comes_from_a_topic_spec_with_its_use(spec: object) -> None:
    """Each principal a spec names gets a rule whose why is the spec's own word for it."""

    assert isinstance(spec, TopicSpec)
    for name in (*spec.producers, *spec.consumers):
        if name == "admin":
            continue
        assert spec.use_of(name), f"{spec.name}: no use given for {name}"
        who = (
            Principal(Kind.VENDOR, "acme") if name.startswith("vendor-") else Principal.parse(name)
        )
        whys = " ".join(rule.why for rule in topic_rules(who))
        assert spec.use_of(name) in whys, (spec.name, name)


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
