"""Registration: the vendor's record on the registry, the first thing a conforming vendor has.

Graded before any intent is sent: without a registered, well-formed profile that lists the
sandbox market, no offer could be checked (the processors would refuse every one as
`vendor_unknown`), so the offer checks are then skipped rather than failed.
"""

from __future__ import annotations

from intentcast.agents.conformance.clauses import PROFILE_RULES, SANDBOX
from intentcast.agents.conformance.report import CheckResult, Status
from intentcast.schemas.canonical import decode
from intentcast.schemas.crypto import verify_model
from intentcast.schemas.errors import SchemaError
from intentcast.schemas.offer import VendorProfile
from intentcast.schemas.terms import resolve_terms

__all__ = ["grade_registration"]


def grade_registration(
    vendor_id: str, market: str, raw: bytes | None
) -> tuple[VendorProfile | None, list[CheckResult]]:
    """The vendor's registry record: present, well-formed, self-signed, listing its sandbox."""
    registered = "profile registered (intentcast.vendors.registry)"
    valid = "profile well-formed and self-signed"
    listed = f"profile lists the sandbox market {market}"
    if raw is None:
        why = (
            f"{vendor_id} is not in the registry: start the vendor (it publishes its profile "
            "to its own profile topic) and check the processors run"
        )
        return None, [
            CheckResult("registered", registered, PROFILE_RULES, Status.FAIL, (why,)),
            CheckResult("profile", valid, PROFILE_RULES, Status.SKIP),
            CheckResult("sandbox-listed", listed, SANDBOX, Status.SKIP),
        ]
    results = [CheckResult("registered", registered, PROFILE_RULES, Status.PASS)]
    try:
        profile = decode(VendorProfile, raw)
        verify_model(profile, profile.signing_key)
        resolve_terms(profile.accepts)
    except SchemaError as exc:
        results.append(CheckResult("profile", valid, PROFILE_RULES, Status.FAIL, (exc.detail,)))
        results.append(CheckResult("sandbox-listed", listed, SANDBOX, Status.SKIP))
        return None, results
    results.append(CheckResult("profile", valid, PROFILE_RULES, Status.PASS))
    if market in profile.markets:
        results.append(CheckResult("sandbox-listed", listed, SANDBOX, Status.PASS))
    else:
        detail = (
            f"markets are {', '.join(profile.markets)}; add {market} to the profile and "
            "consume its topic (SDK: `intentcast vendor run ... --sandbox`)"
        )
        results.append(CheckResult("sandbox-listed", listed, SANDBOX, Status.FAIL, (detail,)))
    return profile, results
