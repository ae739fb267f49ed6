"""The graded answer: one result per check, as a rich table for people or JSON for machines."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from enum import StrEnum
from typing import Any

from rich.table import Table

from intentcast.agents.conformance.clauses import PROTOCOL_DOC, Clause

__all__ = ["Case", "CheckResult", "Report", "Status"]


class Status(StrEnum):
    """``warn`` is a choice the contract allows but the processors refuse (a price over the
    ceiling); ``skip`` is a check with nothing to look at (no offer, no unserved term)."""

    PASS = "pass"
    FAIL = "fail"
    WARN = "warn"
    SKIP = "skip"


_STYLE = {Status.PASS: "green", Status.FAIL: "bold red", Status.WARN: "yellow", Status.SKIP: "dim"}


@dataclass(frozen=True)
class CheckResult:
    """One check over every offer the vendor sent; ``details`` say which case broke it and how."""

    check: str
    title: str
    clause: Clause
    status: Status
    details: tuple[str, ...] = ()

    def as_json(self) -> dict[str, Any]:
        return {
            "check": self.check,
            "title": self.title,
            "status": self.status.value,
            "clause": {
                "heading": self.clause.heading,
                "paragraph": self.clause.paragraph,
                "anchor": self.clause.anchor,
            },
            "details": list(self.details),
        }


@dataclass(frozen=True)
class Case:
    """One test intent as published: what it tests and what became of it."""

    name: str
    intent_id: str
    purpose: str
    served: bool
    offers: int

    def as_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Report:
    """The whole run; ``passed`` is what the exit status says."""

    vendor_id: str
    market: str
    elapsed_seconds: float
    results: tuple[CheckResult, ...]
    cases: tuple[Case, ...] = field(default=())

    @property
    def passed(self) -> bool:
        return all(r.status is not Status.FAIL for r in self.results)

    def failed(self) -> list[CheckResult]:
        return [r for r in self.results if r.status is Status.FAIL]

    def result(self, check: str) -> CheckResult:
        """The result of one check by its id (``KeyError`` if the run had no such check)."""
        for r in self.results:
            if r.check == check:
                return r
        raise KeyError(check)

    def as_json(self) -> dict[str, Any]:
        return {
            "vendor_id": self.vendor_id,
            "market": self.market,
            "passed": self.passed,
            "elapsed_seconds": round(self.elapsed_seconds, 1),
            "checks": [r.as_json() for r in self.results],
            "cases": [c.as_json() for c in self.cases],
        }

    def to_json(self) -> str:
        return json.dumps(self.as_json(), ensure_ascii=False, indent=2)

    def table(self) -> Table:
        """One row per check: verdict, what it checks, the clause, and what went wrong."""
        verdict = "passed" if self.passed else f"{len(self.failed())} check(s) failed"
        table = Table(
            title=f"conformance of {self.vendor_id} on {self.market}: {verdict}",
            title_style="bold",
            show_lines=False,
        )
        table.add_column("result", no_wrap=True)
        table.add_column("check", no_wrap=True)
        table.add_column(f"clause ({PROTOCOL_DOC})", no_wrap=True)
        table.add_column("what passed, or what is wrong", overflow="fold")
        for r in self.results:
            anchor = r.clause.anchor.removeprefix(PROTOCOL_DOC)
            clause = anchor + (f" ({r.clause.paragraph})" if r.clause.paragraph else "")
            said = "\n".join(r.details) if r.details else f"[dim]{r.title}[/]"
            table.add_row(f"[{_STYLE[r.status]}]{r.status.value.upper()}[/]", r.check, clause, said)
        return table
