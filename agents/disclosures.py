"""Disclosures on both sides: the customer builds one for its agreement, the vendor opens it.

The customer seals what it chooses to disclose to the key in the agreed vendor's registered
profile (checked against the vendor key the agreement records) and signs it with the
intent's key. The vendor's SDK opens it with the vendor's sealing key and checks everything
the processors checked, and what they could not (the sealed values belong to this envelope),
before its handler sees the values.
"""

from __future__ import annotations

import hashlib
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

from pydantic import ValidationError

from intentcast.agents.errors import ClientError
from intentcast.schemas.agreement import Agreement
from intentcast.schemas.canonical import schema_error_from
from intentcast.schemas.crypto import SealingKey, SigningKey
from intentcast.schemas.disclosure import (
    DisclosedFields,
    Disclosure,
    DisclosureField,
    open_disclosure,
    seal_disclosure,
)
from intentcast.schemas.errors import SchemaError
from intentcast.schemas.fields import new_id
from intentcast.schemas.offer import VendorProfile
from intentcast.schemas.reasons import ReasonCode
from intentcast.schemas.timeutil import utcnow

__all__ = [
    "DisclosureHandler",
    "ReceivedDisclosure",
    "build_disclosure",
    "open_received",
    "sealing_key_for",
    "vendor_sealing_key",
]

_SEALING_PERSON: Final = b"intentcast-seal"


def sealing_key_for(key: SigningKey) -> SealingKey:
    """The vendor's X25519 key, derived from its Ed25519 seed (BLAKE2b, personalised).

    Derived rather than stored beside the seed, so a vendor that keeps one secret keeps
    both, and a restart publishes the same sealing key again. Domain-separated from the
    signing key: it is never the same secret used for two purposes.
    """
    raw = hashlib.blake2b(key.seed, digest_size=32, person=_SEALING_PERSON).digest()
    return SealingKey.from_bytes(raw)


@dataclass(frozen=True)
class ReceivedDisclosure:
    """A disclosure as a vendor's handler sees it: opened, checked, with its agreement."""

    disclosure: Disclosure
    fields: DisclosedFields
    agreement: Agreement

    @property
    def disclosure_id(self) -> str:
        return self.disclosure.disclosure_id

    @property
    def agreement_id(self) -> str:
        return self.disclosure.agreement_id

    @property
    def names(self) -> tuple[DisclosureField, ...]:
        """The names of the fields disclosed (safe to log; the values are not)."""
        return self.disclosure.fields


DisclosureHandler = Callable[[ReceivedDisclosure], Awaitable[None]]


def open_received(
    disclosure: Disclosure, agreement: Agreement, *, vendor_id: str, sealing: SealingKey
) -> ReceivedDisclosure:
    """Check ``disclosure`` against the vendor's own ``agreement`` and open it.

    Raises :class:`SchemaError` (``SignatureError`` for the signature) when it is not for
    this vendor, not bound to this agreement, not signed by its intent's key, or its sealed
    values do not belong to the envelope.
    """
    if disclosure.vendor_id != vendor_id or agreement.offer.vendor_id != vendor_id:
        raise SchemaError(ReasonCode.NOT_AGREED_VENDOR, "disclosure is for another vendor")
    if (
        disclosure.agreement_id != agreement.agreement_id
        or disclosure.intent_id != agreement.intent.intent_id
    ):
        raise SchemaError(ReasonCode.AGREEMENT_UNKNOWN, "disclosure names another agreement")
    disclosure.verify(agreement.intent.signing_key)
    return ReceivedDisclosure(disclosure, open_disclosure(disclosure, sealing), agreement)


def vendor_sealing_key(profile: VendorProfile | None, agreement: Agreement) -> str:
    """The sealing key of the agreement's vendor, from its registered ``profile``.

    The profile must be self-signed by the very key the agreement records, so a profile
    that is not the vendor's own cannot redirect a disclosure.
    """
    vendor_id = agreement.offer.vendor_id
    if profile is None or profile.vendor_id != vendor_id:
        raise ClientError(f"vendor {vendor_id!r} is not in the registry; try again later")
    if profile.signing_key != agreement.vendor_key:
        raise ClientError(f"vendor {vendor_id!r} is registered with another key than agreed")
    try:
        profile.verify()
    except SchemaError:
        raise ClientError(f"the registry's profile of {vendor_id!r} does not verify") from None
    if profile.sealing_key is None:
        raise ClientError(
            f"vendor {vendor_id!r} publishes no sealing key, so nothing can be disclosed to it; "
            "contact it another way"
        )
    return profile.sealing_key


def build_disclosure(
    agreement: Agreement,
    fields: Mapping[str, Any],
    *,
    key: SigningKey,
    vendor_sealing_key: str,
    now: datetime | None = None,
) -> Disclosure:
    """The signed disclosure of ``fields`` (name, delivery_address, email, phone, note).

    Raises :class:`SchemaError` for a field that is unknown or invalid, before anything is sent.
    """
    if key.public_key != agreement.intent.signing_key:
        raise ClientError("these keys are not the keys of the agreement's intent")
    bound = {"kind", "disclosure_id", "intent_id", "agreement_id", "vendor_id"}
    if bound & set(fields):
        raise SchemaError(ReasonCode.SCHEMA_INVALID, f"fields may not set {sorted(bound)}")
    try:
        content = DisclosedFields.model_validate(
            {
                **fields,
                "disclosure_id": new_id(),
                "intent_id": agreement.intent.intent_id,
                "agreement_id": agreement.agreement_id,
                "vendor_id": agreement.offer.vendor_id,
            }
        )
    except ValidationError as exc:
        raise schema_error_from(exc) from None
    return seal_disclosure(
        content, vendor_sealing_key=vendor_sealing_key, key=key, disclosed_at=now or utcnow()
    )
