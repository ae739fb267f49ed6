"""The agreement record written to the hash-chained log, and the consent receipt derived from it."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Final, Literal

from pydantic import Field, StringConstraints

from intentcast.schemas.base import Message, WireModel
from intentcast.schemas.canonical import canonical_json, content_hash, sha256_hex
from intentcast.schemas.crypto import verify_model
from intentcast.schemas.errors import SchemaError
from intentcast.schemas.fields import CountryCode, Hex64, PublicKey, Slug, Text
from intentcast.schemas.intent import Intent
from intentcast.schemas.offer import Acceptance, Offer
from intentcast.schemas.reasons import ReasonCode
from intentcast.schemas.terms import RETENTION_TEXT, TermRefs, resolve_terms
from intentcast.schemas.timeutil import UtcDateTime

__all__ = [
    "GENESIS_HASH",
    "Agreement",
    "ConsentPurpose",
    "ConsentReceipt",
    "ConsentService",
    "PiiController",
]

GENESIS_HASH: Final = "0" * 64
"""``prev_hash`` of the first record (seq 0) of every partition's chain."""

ChainPartition = Annotated[int, Field(ge=0, le=2**31 - 1)]
"""The Kafka partition whose chain a record is a link of."""
ChainSeq = Annotated[int, Field(ge=0, le=2**53 - 1)]
"""A link's place in its partition's chain, from 0 with no gap."""

_Uri = Annotated[str, StringConstraints(pattern=r"^https://[^\s]+$", max_length=200)]
_Label = Annotated[str, Text(200, 1)]


class Agreement(Message):
    """Intent, offer and acceptance, bound together and chained to the previous record.

    ``agreement_id`` is the SHA-256 of the canonical record without it; ``prev_hash`` is the
    previous record's ``agreement_id`` in the same partition (:data:`GENESIS_HASH` for seq 0),
    so removing or editing any record breaks every later id. Anyone holding the vendor key
    can check a record offline with :meth:`verify`.
    """

    kind: Literal["agreement"] = "agreement"
    agreement_id: Hex64
    partition: ChainPartition
    seq: ChainSeq
    prev_hash: Hex64
    intent: Intent
    offer: Offer
    acceptance: Acceptance
    vendor_key: PublicKey = Field(description="The vendor's key registered when recorded.")
    terms: TermRefs
    recorded_at: UtcDateTime

    @staticmethod
    def _id_of(fields: dict[str, Any]) -> str:
        return sha256_hex(canonical_json(fields))

    @classmethod
    def build(
        cls,
        *,
        partition: int,
        seq: int,
        prev_hash: str,
        intent: Intent,
        offer: Offer,
        acceptance: Acceptance,
        vendor_key: str,
        recorded_at: datetime,
    ) -> Agreement:
        """Assemble a record and compute its id; the terms are the intent's (which the offer
        must equal: :meth:`verify` checks)."""
        draft = cls(
            agreement_id=GENESIS_HASH,
            partition=partition,
            seq=seq,
            prev_hash=prev_hash,
            intent=intent,
            offer=offer,
            acceptance=acceptance,
            vendor_key=vendor_key,
            terms=intent.terms,
            recorded_at=recorded_at,
        )
        return draft.model_copy(update={"agreement_id": draft.computed_id()})

    def computed_id(self) -> str:
        """SHA-256 of the canonical record without ``agreement_id``."""
        fields = self.model_dump(mode="json", exclude={"agreement_id"}, exclude_none=True)
        return self._id_of(fields)

    @property
    def intent_hash(self) -> str:
        """Content hash of the intent (signature included)."""
        return content_hash(self.intent)

    @property
    def offer_hash(self) -> str:
        """Content hash of the offer (signature included), as the acceptance must cite it."""
        return content_hash(self.offer)

    @property
    def acceptance_hash(self) -> str:
        """Content hash of the acceptance (signature included)."""
        return content_hash(self.acceptance)

    def verify(self) -> None:
        """Check everything one record can prove on its own (not the chain link).

        Raises :class:`~schemas.errors.SignatureError` for a bad signature, otherwise
        :class:`~schemas.errors.SchemaError` with the matching reason.
        """
        if self.computed_id() != self.agreement_id:
            raise SchemaError(ReasonCode.SCHEMA_INVALID, "agreement_id does not match the record")
        if self.seq == 0 and self.prev_hash != GENESIS_HASH:
            raise SchemaError(ReasonCode.SCHEMA_INVALID, "seq 0 must link to GENESIS_HASH")
        ids = {self.intent.intent_id, self.offer.intent_id, self.acceptance.intent_id}
        if len(ids) != 1:
            raise SchemaError(ReasonCode.SCHEMA_INVALID, "intent_id differs between parts")
        if self.acceptance.offer_id != self.offer.offer_id:
            raise SchemaError(ReasonCode.OFFER_HASH_MISMATCH, "acceptance names another offer")
        verify_model(self.intent, self.intent.signing_key)
        verify_model(self.offer, self.vendor_key)
        verify_model(self.acceptance, self.intent.signing_key)
        if self.acceptance.offer_hash != self.offer_hash:
            raise SchemaError(ReasonCode.OFFER_HASH_MISMATCH, "offer_hash does not match offer")
        if not (self.terms == self.intent.terms == self.offer.terms):
            raise SchemaError(ReasonCode.TERMS_NOT_ACCEPTED, "terms differ between parts")
        if self.offer.currency != self.intent.currency:
            raise SchemaError(ReasonCode.CURRENCY_MISMATCH, "offer currency differs")
        if self.offer.price > self.intent.max_price:
            raise SchemaError(ReasonCode.PRICE_OVER_MAX, "offer price above max_price")

    def receipt(self) -> ConsentReceipt:
        """The Kantara Consent Receipt (v1.1) the customer keeps for this agreement."""
        terms = resolve_terms(self.terms)
        purposes = tuple(
            ConsentPurpose(
                purpose=f"{term.id}: {term.title}",
                purpose_category=tuple(str(p) for p in term.clauses.purposes),
                termination=RETENTION_TEXT[term.clauses.retention],
                third_party_disclosure=term.clauses.third_party_sharing,
            )
            for term in terms
        )
        return ConsentReceipt(
            jurisdiction=self.intent.place.country,
            consent_timestamp=self.recorded_at,
            consent_receipt_id=self.agreement_id,
            public_key=self.intent.signing_key,
            pii_principal_id="intent:" + sha256_hex(self.intent.signing_key.encode())[:16],
            pii_controllers=(
                PiiController(pii_controller=self.offer.vendor_id, public_key=self.vendor_key),
            ),
            policy_url=tuple(term.uri for term in terms),
            services=(ConsentService(service=self.intent.want.item, purposes=purposes),),
        )


class PiiController(WireModel):
    """The vendor, known only by its id and registered key (no contact data is collected)."""

    pii_controller: Slug
    public_key: PublicKey


class ConsentPurpose(WireModel):
    """One agreed term, as a Kantara purpose."""

    purpose: _Label
    purpose_category: tuple[Annotated[str, Text(32, 1)], ...] = Field(max_length=8)
    consent_type: Literal["EXPLICIT"] = "EXPLICIT"
    pii_category: tuple[Literal["intent"], ...] = ("intent",)
    primary_purpose: bool = True
    termination: _Label
    third_party_disclosure: bool


class ConsentService(WireModel):
    """The thing bought, with the purposes the customer consented to."""

    service: Annotated[str, Text(200, 1)]
    purposes: tuple[ConsentPurpose, ...] = Field(min_length=1, max_length=6)


class ConsentReceipt(Message):
    """A Kantara Consent Receipt v1.1 in our snake_case; :meth:`to_kantara` gives camelCase.

    The principal is a pseudonym derived from the per-intent key, so the receipt proves the
    agreement without naming the person.
    """

    kind: Literal["consent_receipt"] = "consent_receipt"
    version: Literal["KI-CR-v1.1.0"] = "KI-CR-v1.1.0"
    jurisdiction: CountryCode
    consent_timestamp: UtcDateTime
    collection_method: Literal["intentcast"] = "intentcast"
    consent_receipt_id: Hex64
    public_key: PublicKey
    language: Literal["en"] = "en"
    pii_principal_id: Annotated[str, StringConstraints(pattern=r"^intent:[0-9a-f]{16}$")]
    pii_controllers: tuple[PiiController, ...] = Field(min_length=1, max_length=4)
    policy_url: tuple[_Uri, ...] = Field(min_length=1, max_length=6)
    services: tuple[ConsentService, ...] = Field(min_length=1, max_length=4)
    sensitive: bool = False

    def to_kantara(self) -> dict[str, Any]:
        """The receipt with Kantara's camelCase names and epoch-seconds timestamp."""
        return {
            "version": self.version,
            "jurisdiction": self.jurisdiction,
            "consentTimestamp": int(self.consent_timestamp.timestamp()),
            "collectionMethod": self.collection_method,
            "consentReceiptID": self.consent_receipt_id,
            "publicKey": self.public_key,
            "language": self.language,
            "piiPrincipalId": self.pii_principal_id,
            "piiControllers": [
                {"piiController": c.pii_controller, "publicKey": c.public_key}
                for c in self.pii_controllers
            ],
            "policyUrl": " ".join(self.policy_url),
            "services": [
                {
                    "service": s.service,
                    "purposes": [
                        {
                            "purpose": p.purpose,
                            "purposeCategory": list(p.purpose_category),
                            "consentType": p.consent_type,
                            "piiCategory": list(p.pii_category),
                            "primaryPurpose": p.primary_purpose,
                            "termination": p.termination,
                            "thirdPartyDisclosure": p.third_party_disclosure,
                        }
                        for p in s.purposes
                    ],
                }
                for s in self.services
            ],
            "sensitive": self.sensitive,
            "spiCat": [],
        }
