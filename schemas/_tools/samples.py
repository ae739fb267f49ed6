"""Deterministic sample messages (fixed keys and clock) for docs, vectors, tests and benches."""

from __future__ import annotations

import functools
import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Final, TypeVar

import nacl.bindings
import nacl.hash
import nacl.public

from intentcast.schemas.agreement import GENESIS_HASH, Agreement
from intentcast.schemas.base import Message
from intentcast.schemas.canonical import content_hash, encode
from intentcast.schemas.crypto import SealingKey, SigningKey, b64d, b64e, sign_model
from intentcast.schemas.disclosure import (
    DisclosedFields,
    DisclosureRecord,
    PostalAddress,
    seal_disclosure,
)
from intentcast.schemas.events import (
    DeadLetter,
    IntentStatus,
    MetricsSnapshot,
    OfferFeedback,
    StatusKind,
)
from intentcast.schemas.intent import Cancel, Intent, Place, Want
from intentcast.schemas.log import AGREEMENT_ENTRY, Reader
from intentcast.schemas.offer import Acceptance, DeliveredOffer, Offer, VendorProfile
from intentcast.schemas.partitioning import key_partition, record_key
from intentcast.schemas.reasons import ReasonCode
from intentcast.schemas.retention import RetentionAttestation, agreement_retention_end
from intentcast.schemas.terms import refs_for

__all__ = [
    "SAMPLE_INTENT_ID",
    "SAMPLE_PARTITION",
    "SAMPLE_PARTITIONS",
    "SAMPLE_TIME",
    "SampleKeys",
    "deterministic_seal",
    "sample",
    "sample_keys",
    "sample_messages",
]

M = TypeVar("M", bound=Message)

SAMPLE_TIME: Final = datetime(2026, 11, 29, 4, 0, 0, 123000, tzinfo=UTC)
"""The fixed clock of every sample and vector."""

SAMPLE_INTENT_ID: Final = "5f0c6a1e9b2d4c7f8a3e1d2c4b6a8f90"
SAMPLE_PARTITIONS: Final = 6
"""The samples' cluster has the default INTENTCAST_PARTITIONS on every intent-keyed topic."""
SAMPLE_PARTITION: Final = key_partition(record_key(SAMPLE_INTENT_ID), SAMPLE_PARTITIONS)
"""Where the sample intent's records live (4): every sample that names a partition says this."""


def _seed(label: str) -> bytes:
    """A 32-byte secret derived from a public label: reproducible, and obviously not secret."""
    return hashlib.sha256(f"intentcast-sample:{label}".encode()).digest()


@dataclass(frozen=True)
class SampleKeys:
    """The fixed keys behind the samples (never use them for anything real)."""

    intent_signing: SigningKey
    intent_sealing: SealingKey
    vendor_signing: SigningKey
    vendor_sealing: SealingKey
    ephemeral_seed: bytes
    processors_sealing: SealingKey
    auditor_sealing: SealingKey
    log_content_key: bytes
    log_nonce: bytes


def sample_keys() -> SampleKeys:
    """Keys derived from fixed labels, identical on every machine."""
    return SampleKeys(
        intent_signing=SigningKey.from_seed(_seed("intent-signing")),
        intent_sealing=SealingKey.from_bytes(_seed("intent-sealing")),
        vendor_signing=SigningKey.from_seed(_seed("vendor-signing")),
        vendor_sealing=SealingKey.from_bytes(_seed("vendor-sealing")),
        ephemeral_seed=_seed("seal-ephemeral"),
        processors_sealing=SealingKey.from_bytes(_seed("processors-log-sealing")),
        auditor_sealing=SealingKey.from_bytes(_seed("auditor-log-sealing")),
        log_content_key=_seed("log-content-key"),
        log_nonce=_seed("log-nonce")[:24],
    )


def log_readers(keys: SampleKeys, customer: str) -> dict[Reader, str]:
    """The three readers of the sample log entry."""
    return {
        Reader.CUSTOMER: customer,
        Reader.PROCESSORS: keys.processors_sealing.public_key,
        Reader.AUDITOR: keys.auditor_sealing.public_key,
    }


def log_ephemeral(reader_key: str) -> bytes:
    """The fixed ephemeral secret of the sample entry's sealed key for one reader."""
    return _seed("log-ephemeral-" + reader_key)


def deterministic_log_seal(public_key: str, data: bytes) -> str:
    """:func:`deterministic_seal` with the sample entry's per-reader ephemeral key."""
    return deterministic_seal(public_key, data, log_ephemeral(public_key))


def deterministic_seal(public_key: str, data: bytes, ephemeral_secret: bytes) -> str:
    """A libsodium sealed box with a chosen ephemeral key, for reproducible test vectors only.

    Same construction as ``crypto_box_seal``: ``epk || crypto_box(m, nonce, pk, esk)`` with
    ``nonce = BLAKE2b-192(epk || pk)``, so any libsodium ``crypto_box_seal_open`` opens it.
    Real code must use :func:`schemas.crypto.seal`, whose ephemeral key is fresh each time.
    """
    recipient = b64d(public_key)
    ephemeral = nacl.public.PrivateKey(ephemeral_secret)
    epk = bytes(ephemeral.public_key)
    nonce = nacl.hash.blake2b(epk + recipient, digest_size=24, encoder=nacl.encoding.RawEncoder)
    box = nacl.bindings.crypto_box(data, nonce, recipient, bytes(ephemeral))
    return b64e(epk + box)


def sample_messages() -> dict[str, Message]:
    """One realistic, valid, signed message of every kind, keyed by ``kind``."""
    return dict(_sample_messages())


def sample(model_type: type[M]) -> M:
    """The sample of one message class, typed (e.g. ``sample(Intent)``)."""
    message = _sample_messages()[model_type.model_fields["kind"].default]
    if not isinstance(message, model_type):
        raise TypeError(f"no sample for {model_type.__name__}")
    return message


@functools.cache
def _sample_messages() -> dict[str, Message]:
    keys = sample_keys()
    t0 = SAMPLE_TIME
    terms = refs_for(["P2B1", "SD-BASE"])
    intent = sign_model(
        Intent(
            intent_id=SAMPLE_INTENT_ID,
            market="baby-gear",
            want=Want(
                item="double stroller for twins",
                attributes={"fold": "compact", "colour": "any"},
            ),
            max_price=Decimal("450.00"),
            currency="GBP",
            place=Place(country="GB", region="Scotland", city="Glasgow"),
            needed_by=t0 + timedelta(hours=3),
            expires_at=t0 + timedelta(hours=2),
            terms=terms,
            signing_key=keys.intent_signing.public_key,
            sealing_key=keys.intent_sealing.public_key,
            created_at=t0,
        ),
        keys.intent_signing,
    )
    profile = sign_model(
        VendorProfile(
            vendor_id="pram-palace",
            display_name="Pram Palace Glasgow",
            signing_key=keys.vendor_signing.public_key,
            markets=("baby-gear", "toys"),
            accepts=refs_for(["SD-BASE", "SD-BASE-DP", "P2B1"]),
            updated_at=t0 - timedelta(days=30),
        ),
        keys.vendor_signing,
    )
    offer = sign_model(
        Offer(
            offer_id="a1b2c3d4e5f60718293a4b5c6d7e8f90",
            intent_id=intent.intent_id,
            vendor_id=profile.vendor_id,
            price=Decimal("389.99"),
            currency="GBP",
            description="Side-by-side twin stroller, folds flat, ready to collect today.",
            valid_until=t0 + timedelta(hours=1),
            terms=intent.terms,
            created_at=t0 + timedelta(minutes=2),
        ),
        keys.vendor_signing,
    )
    delivered = DeliveredOffer(
        intent_id=intent.intent_id,
        sealed=deterministic_seal(intent.sealing_key, encode(offer), keys.ephemeral_seed),
    )
    acceptance = sign_model(
        Acceptance(
            intent_id=intent.intent_id,
            offer_id=offer.offer_id,
            offer_hash=content_hash(offer),
            accepted_at=t0 + timedelta(minutes=5),
        ),
        keys.intent_signing,
    )
    cancel = sign_model(
        Cancel(intent_id=intent.intent_id, cancelled_at=t0 + timedelta(minutes=4)),
        keys.intent_signing,
    )
    agreement = Agreement.build(
        partition=SAMPLE_PARTITION,  # the acceptance's partition of intentcast.acceptances
        seq=0,
        prev_hash=GENESIS_HASH,
        intent=intent,
        offer=offer,
        acceptance=acceptance,
        vendor_key=profile.signing_key,
        recorded_at=t0 + timedelta(minutes=5, seconds=1),
    )
    log_entry = AGREEMENT_ENTRY.entry(
        agreement,
        partition=agreement.partition,
        seq=agreement.seq,
        prev_hash=agreement.prev_hash,
        readers=log_readers(keys, intent.sealing_key),
        recorded_at=agreement.recorded_at,
        sealer=deterministic_log_seal,
        content_key=keys.log_content_key,
        nonce=keys.log_nonce,
    )
    messages: list[Message] = [
        *_disclosure_samples(keys, agreement),
        intent,
        profile,
        offer,
        delivered,
        acceptance,
        cancel,
        agreement,
        log_entry,
        agreement.receipt(),
        _attestation(agreement, keys.vendor_signing),
        IntentStatus(
            intent_id=intent.intent_id,
            status=StatusKind.AGREED,
            agreement_id=agreement.agreement_id,
            offer_id=offer.offer_id,
            at=agreement.recorded_at,
        ),
        OfferFeedback(
            offer_id="0badc0ffee0badc0ffee0badc0ffee00",
            intent_id=intent.intent_id,
            vendor_id=profile.vendor_id,
            reason=ReasonCode.PRICE_OVER_MAX,
            detail="price 480 is above max_price 450",
            at=t0 + timedelta(minutes=3),
        ),
        DeadLetter.from_record(
            topic="intentcast.offers.submitted",
            partition=SAMPLE_PARTITION,  # keyed by the intent id, like every offer
            offset=1207,
            value=b'{"kind":"offer","price":',
            key=record_key(intent.intent_id),
            reason=ReasonCode.MALFORMED_JSON,
            detail="not valid JSON",
            received_at=t0 + timedelta(minutes=1),
        ),
        MetricsSnapshot(
            source="processor-0",
            at=t0 + timedelta(minutes=10),
            counters={"intents.accepted": 1, "offers.delivered": 1, "agreements": 1},
            gauges={"intents.open": 0.0, "consumer.lag": 2.0},
            latencies_ms={
                "offer.validate": {"p50": 0.41, "p95": 0.9, "p99": 1.6, "max": 2.2, "count": 1.0}
            },
        ),
    ]
    return {message.kind: message for message in messages}


def _attestation(agreement: Agreement, key: SigningKey) -> RetentionAttestation:
    """The vendor's deletion attestation of the sample agreement, right at its retention end."""
    end = agreement_retention_end(agreement)
    assert end is not None  # P2B1 sets one: a day after the delivery window
    attestation = RetentionAttestation(
        agreement_id=agreement.agreement_id,
        intent_id=agreement.intent.intent_id,
        vendor_id=agreement.offer.vendor_id,
        retention_end=end,
        deleted_at=end - timedelta(minutes=1),
    )
    return sign_model(attestation, key)


def _disclosure_samples(keys: SampleKeys, agreement: Agreement) -> list[Message]:
    """What the sample customer discloses to the sample vendor after the sample agreement."""
    fields = DisclosedFields(
        disclosure_id="d15c105ed15c105ed15c105ed15c1050",
        intent_id=agreement.intent.intent_id,
        agreement_id=agreement.agreement_id,
        vendor_id=agreement.offer.vendor_id,
        name="Morag MacLeod",
        delivery_address=PostalAddress(
            lines=("Flat 2/1", "14 Byres Road"), city="Glasgow", postal_code="G12 8AZ",
            country="GB",
        ),
        phone="+44 141 496 0000",
        note="Ring twice; the buzzer is broken.",
    )  # fmt: skip
    disclosure = seal_disclosure(
        fields,
        vendor_sealing_key=keys.vendor_sealing.public_key,
        key=keys.intent_signing,
        disclosed_at=agreement.recorded_at + timedelta(minutes=1),
        sealer=lambda public, data: deterministic_seal(public, data, keys.ephemeral_seed),
    )
    return [fields, disclosure, DisclosureRecord.of(disclosure)]
