"""Every clause a conformance check cites exists in docs/protocol.md, and the kit's table there
lists exactly the checks the kit runs."""

from __future__ import annotations

import re

import pytest

from intentcast.agents.conformance import CLAUSES, Clause
from intentcast.agents.conformance.checks import OFFER_CHECKS
from intentcast.agents.conformance.clauses import heading_anchor
from intentcast.agents.conformance.registration import grade_registration
from tests.conftest import REPO_ROOT

PROTOCOL = (REPO_ROOT / "docs" / "protocol.md").read_text(encoding="utf-8")
HEADING = re.compile(r"^(#{1,6}) (.+)$", re.MULTILINE)


def _sections() -> dict[str, str]:
    """Each heading's text -> its section (up to the next heading of any level)."""
    found = list(HEADING.finditer(PROTOCOL))
    ends = [m.start() for m in found[1:]] + [len(PROTOCOL)]
    return {m.group(2).strip(): PROTOCOL[m.end() : end] for m, end in zip(found, ends, strict=True)}


def _cited() -> set[Clause]:
    _, registration = grade_registration("some-vendor", "sandbox-some-vendor", None)
    return {c.clause for c in OFFER_CHECKS} | {r.clause for r in registration}


@pytest.mark.parametrize("clause", CLAUSES, ids=str)
def test_every_clause_is_a_heading_of_protocol_md(clause: Clause) -> None:
    sections = _sections()
    assert clause.heading in sections, f"docs/protocol.md has no heading {clause.heading!r}"
    anchors = [heading_anchor(h) for h in sections]
    assert anchors.count(heading_anchor(clause.heading)) == 1, "the anchor must be unique"
    if clause.paragraph is not None:
        assert f"**{clause.paragraph}**" in sections[clause.heading], (
            f"section {clause.heading!r} has no paragraph led by **{clause.paragraph}**"
        )


def test_every_check_cites_a_listed_clause() -> None:
    assert _cited() <= set(CLAUSES)


def test_anchors_are_githubs() -> None:
    assert heading_anchor("Who creates topics, and which markets exist") == (
        "who-creates-topics-and-which-markets-exist"
    )
    assert Clause("Keys and partitions").anchor == "docs/protocol.md#keys-and-partitions"


def test_the_protocol_table_lists_every_check_with_its_clause() -> None:
    table = PROTOCOL.split("<!-- conformance-checks:begin -->")[1].split(
        "<!-- conformance-checks:end -->"
    )[0]
    rows = {
        m.group(1): m.group(2)
        for m in re.finditer(r"^\| `([a-z-]+)` \| .+ \| (.+) \|$", table, re.MULTILINE)
    }
    _, registration = grade_registration("some-vendor", "sandbox-some-vendor", None)
    checks = [(r.check, r.clause) for r in registration] + [
        (c.check, c.clause) for c in OFFER_CHECKS
    ]
    assert list(rows) == [check for check, _ in checks]
    for check, clause in checks:
        lead = f" ({clause.paragraph})" if clause.paragraph else ""
        assert rows[check] == f'"{clause.heading}"{lead}', check
