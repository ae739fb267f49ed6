"""The vendor conformance kit: is a live vendor, in any language, right by the contract?

`intentcast vendor conformance --vendor-id ID` publishes test intents on the vendor's
sandbox market (`sandbox-<vendor_id>`, docs/protocol.md "The sandbox market"), reads every
offer it sends as raw records, and grades each against the clause of docs/protocol.md it
tests.
"""

from intentcast.agents.conformance.clauses import CLAUSES, Clause
from intentcast.agents.conformance.report import Case, CheckResult, Report, Status
from intentcast.agents.conformance.runner import (
    DEFAULT_QUIET_SECONDS,
    DEFAULT_TIMEOUT,
    ConformanceSetupError,
    run_conformance,
)

__all__ = [
    "CLAUSES",
    "DEFAULT_QUIET_SECONDS",
    "DEFAULT_TIMEOUT",
    "Case",
    "CheckResult",
    "Clause",
    "ConformanceSetupError",
    "Report",
    "Status",
    "run_conformance",
]
