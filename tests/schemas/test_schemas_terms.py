"""The MyTerms roster: stable hashes, and references that must match the roster exactly."""

from __future__ import annotations

import json

import pytest

from intentcast.schemas import (
    ROSTER,
    ReasonCode,
    SchemaError,
    TermRef,
    refs_for,
    resolve_terms,
    term_ref,
)
from intentcast.schemas._tools.generate import PACKAGE_DIR


def test_roster_has_the_published_ids() -> None:
    assert set(ROSTER) == {"SD-BASE", "SD-BASE-DP", "PDC-AI", "PDC-GOOD", "PDC-INTENT", "P2B1"}
    assert ROSTER["P2B1"].clauses.retention == "session"
    for term in ROSTER.values():
        assert term.uri.startswith("https://")
        assert term.ref().sha256 == term.sha256


def test_roster_hashes_match_the_vectors() -> None:
    vectors = json.loads((PACKAGE_DIR / "vectors" / "vectors.json").read_text())
    assert {k: v["sha256"] for k, v in vectors["terms"].items()} == {
        k: t.sha256 for k, t in ROSTER.items()
    }


def test_refs_for_sorts_and_dedups() -> None:
    assert [r.id for r in refs_for(["SD-BASE", "P2B1", "SD-BASE"])] == ["P2B1", "SD-BASE"]


def test_resolve_terms() -> None:
    refs = refs_for(["PDC-AI", "SD-BASE"])
    assert [t.id for t in resolve_terms(refs)] == ["PDC-AI", "SD-BASE"]
    good = term_ref("SD-BASE")
    cases = {
        ReasonCode.UNKNOWN_TERM: [
            TermRef(id="NOPE", version="1.0", sha256=good.sha256),
            good.model_copy(update={"version": "9.9"}),
        ],
        ReasonCode.TERM_HASH_MISMATCH: [good.model_copy(update={"sha256": "0" * 64})],
    }
    for reason, bad_refs in cases.items():
        for bad in bad_refs:
            with pytest.raises(SchemaError) as err:
                resolve_terms([bad])
            assert err.value.reason is reason
    with pytest.raises(SchemaError) as err:
        term_ref("NOPE")
    assert err.value.reason is ReasonCode.UNKNOWN_TERM
