"""What a customer hands the vendor it chose, and only that vendor: a sealed, signed disclosure.

An intent must stay anonymous, yet an agreement has to be fulfilled: a parcel needs an
address, a booking a name. The customer therefore discloses what it chooses *after* the
agreement, sealed to the agreed vendor's X25519 key and signed with the intent's key. The
processors can check who signed it, which agreement it is bound to and whom it is for, and
route it to that vendor alone; they cannot read a single value. What they log (the
disclosure's hash and its field names) is in clear on the envelope and signed with it.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Annotated, Final, Literal

from pydantic import Field, StringConstraints, model_validator

from intentcast.schemas.base import Message, SignedModel, WireModel
from intentcast.schemas.canonical import content_hash, decode, encode
from intentcast.schemas.crypto import SealingKey, SigningKey, seal, sign_model, verify_model
from intentcast.schemas.errors import SchemaError
from intentcast.schemas.fields import (
    B64URL_PATTERN,
    CountryCode,
    Hex64,
    MessageId,
    PublicKey,
    Slug,
    Text,
)
from intentcast.schemas.reasons import ReasonCode
from intentcast.schemas.timeutil import UtcDateTime

__all__ = [
    "DISCLOSURE_FIELDS",
    "DisclosedFields",
    "Disclosure",
    "DisclosureField",
    "DisclosureRecord",
    "PostalAddress",
    "open_disclosure",
    "seal_disclosure",
]

DisclosureField = Literal["delivery_address", "email", "name", "note", "phone"]
"""The names of what a customer may disclose; the log records these, never the values."""

DISCLOSURE_FIELDS: Final[tuple[DisclosureField, ...]] = (
    "delivery_address",
    "email",
    "name",
    "note",
    "phone",
)
MAX_SEALED_DISCLOSURE_CHARS: Final = 8000

_Email = Annotated[
    str,
    StringConstraints(pattern=r"^[^@\s\x00-\x1f\x7f]{1,64}@[^@\s\x00-\x1f\x7f]{1,189}$"),
    Field(max_length=254),
]
_Phone = Annotated[str, StringConstraints(pattern=r"^\+?[0-9][0-9 ().-]{3,30}[0-9]$")]


class PostalAddress(WireModel):
    """Where to deliver: free address lines (street, house, flat), city, postcode, country."""

    lines: tuple[Annotated[str, Text(100, 1)], ...] = Field(min_length=1, max_length=4)
    city: Annotated[str, Text(64, 1)]
    postal_code: Annotated[str, Text(16, 1)] | None = None
    region: Annotated[str, Text(64, 1)] | None = None
    country: CountryCode


class DisclosedFields(Message):
    """The sealed part of a disclosure: the values, and the ids that bind them to it.

    The ids are repeated inside the box so a vendor can tell that the values were written
    for this very disclosure and agreement, not lifted from another envelope.
    """

    kind: Literal["disclosed_fields"] = "disclosed_fields"
    disclosure_id: MessageId
    intent_id: MessageId
    agreement_id: Hex64
    vendor_id: Slug
    name: Annotated[str, Text(200, 1)] | None = None
    delivery_address: PostalAddress | None = None
    email: _Email | None = None
    phone: _Phone | None = None
    note: Annotated[str, Text(1000, 1)] | None = None

    @model_validator(mode="after")
    def _something(self) -> DisclosedFields:
        if not self.names():
            raise ValueError("a disclosure carries at least one field")
        return self

    def names(self) -> tuple[DisclosureField, ...]:
        """The names of the fields given, sorted: what the envelope lists in clear."""
        return tuple(name for name in DISCLOSURE_FIELDS if getattr(self, name) is not None)


_Sealed = Annotated[
    str,
    StringConstraints(
        pattern=f"^{B64URL_PATTERN}$", min_length=1, max_length=MAX_SEALED_DISCLOSURE_CHARS
    ),
]


class Disclosure(SignedModel):
    """A customer's disclosure to the vendor of one agreement, signed with the intent's key.

    In clear: the ids (what it is bound to and whom it is for), the vendor's sealing key it
    was sealed to, the field names and the time. Sealed to that key: :class:`DisclosedFields`.
    """

    kind: Literal["disclosure"] = "disclosure"
    disclosure_id: MessageId
    intent_id: MessageId
    agreement_id: Hex64
    vendor_id: Slug
    vendor_sealing_key: PublicKey = Field(
        description="The X25519 key of the vendor's registered profile the values are sealed to."
    )
    fields: tuple[DisclosureField, ...] = Field(min_length=1, max_length=len(DISCLOSURE_FIELDS))
    sealed: _Sealed
    disclosed_at: UtcDateTime

    @model_validator(mode="after")
    def _sorted_names(self) -> Disclosure:
        if list(self.fields) != sorted(set(self.fields)):
            raise ValueError("fields must be sorted and unique")
        return self

    def verify(self, intent_signing_key: str) -> None:
        """Check the signature with the agreement's intent key (raises ``SignatureError``)."""
        verify_model(self, intent_signing_key)


def seal_disclosure(
    content: DisclosedFields,
    *,
    vendor_sealing_key: str,
    key: SigningKey,
    disclosed_at: datetime,
    sealer: Callable[[str, bytes], str] = seal,
) -> Disclosure:
    """Seal ``content`` to the vendor's key and sign the envelope with the intent's ``key``.

    ``sealer`` is fixed only by the test vectors; real disclosures take a fresh ephemeral key.
    """
    sealed = sealer(vendor_sealing_key, encode(content))
    if len(sealed) > MAX_SEALED_DISCLOSURE_CHARS:
        raise SchemaError(ReasonCode.MESSAGE_TOO_LARGE, "sealed disclosure exceeds 8000 characters")
    envelope = Disclosure(
        disclosure_id=content.disclosure_id,
        intent_id=content.intent_id,
        agreement_id=content.agreement_id,
        vendor_id=content.vendor_id,
        vendor_sealing_key=vendor_sealing_key,
        fields=content.names(),
        sealed=sealed,
        disclosed_at=disclosed_at,
    )
    return sign_model(envelope, key)


def open_disclosure(disclosure: Disclosure, key: SealingKey) -> DisclosedFields:
    """Open the values with the vendor's sealing key and check they belong to this envelope.

    Raises :class:`SchemaError` if the box is not for ``key``, or if its ids or its field
    names differ from the envelope's (the signature covers the envelope, not the box's text).
    """
    if key.public_key != disclosure.vendor_sealing_key:
        raise SchemaError(ReasonCode.SCHEMA_INVALID, "disclosure sealed to another key")
    content = decode(DisclosedFields, key.open(disclosure.sealed))
    bound = (content.disclosure_id, content.intent_id, content.agreement_id, content.vendor_id)
    envelope = (
        disclosure.disclosure_id,
        disclosure.intent_id,
        disclosure.agreement_id,
        disclosure.vendor_id,
    )
    if bound != envelope:
        raise SchemaError(ReasonCode.SCHEMA_INVALID, "sealed fields name another disclosure")
    if content.names() != disclosure.fields:
        raise SchemaError(ReasonCode.SCHEMA_INVALID, "sealed fields differ from the listed names")
    return content


class DisclosureRecord(Message):
    """What the agreement log keeps of a disclosure: its hash, the field names and the time.

    Never a value: the log is read by more parties than the vendor the values are for. Both
    sides hold the :class:`Disclosure` itself, so each can recompute ``disclosure_hash`` and
    find the record that proves what was disclosed to whom, under which agreement.
    """

    kind: Literal["disclosure_record"] = "disclosure_record"
    disclosure_id: MessageId
    intent_id: MessageId
    agreement_id: Hex64
    vendor_id: Slug
    disclosure_hash: Hex64 = Field(description="content_hash of the Disclosure as delivered.")
    fields: tuple[DisclosureField, ...] = Field(min_length=1, max_length=len(DISCLOSURE_FIELDS))
    disclosed_at: UtcDateTime

    @classmethod
    def of(cls, disclosure: Disclosure) -> DisclosureRecord:
        """The log's record of ``disclosure`` (hash of its canonical form, signature included)."""
        return cls(
            disclosure_id=disclosure.disclosure_id,
            intent_id=disclosure.intent_id,
            agreement_id=disclosure.agreement_id,
            vendor_id=disclosure.vendor_id,
            disclosure_hash=content_hash(disclosure),
            fields=disclosure.fields,
            disclosed_at=disclosure.disclosed_at,
        )
