"""The agreement log in secure mode: anyone allowed to read it checks the chain, and only the
parties, the processors and the auditor read an agreement.

Customers share the `customer` principal, so another customer reads the very same records as
the one who agreed; a vendor reads the log to check its own copies. Both must get hashes and
links only: no price, no vendor id, no item, and no copy they can open.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

import orjson
import pytest
from aiokafka.admin import AIOKafkaAdminClient

from intentcast.agents import CustomerClient, IntentKeys, Vendor
from intentcast.broker.audit import LogKeys, find_agreement, verify_kept, verify_log
from intentcast.processes import Processors
from intentcast.schemas import (
    AGREEMENT_ENTRY,
    AGREEMENTS,
    Agreement,
    EntryType,
    LogEntry,
    SchemaError,
    decode,
    vendor_agreements_topic,
)
from intentcast.schemas.crypto import SealingKey
from tests.security.conftest import (
    AUDITOR_KEY,
    FLOW_VENDOR,
    PROCESSORS_LOG_KEY,
    VENDOR,
    SecureKafka,
)
from tests.security.helpers import Record, records_for_key
from tests.security.probes import can_read

pytestmark = pytest.mark.kafka


@dataclass(frozen=True)
class Agreed:
    """One agreement reached in secure mode, and what its customer kept."""

    agreement: Agreement
    keys: IntentKeys
    records: list[Record]  # its records on the log, read as another customer


@pytest.fixture(scope="module")
async def agreed(
    secure_kafka: SecureKafka, secure_processors: Processors, acme_vendor: Vendor
) -> Agreed:
    client = CustomerClient(secure_kafka.client_settings("customer"))
    async with client:
        handle = await client.publish(
            market="bikes", item="cargo bike", max_price=Decimal("200"), currency="EUR",
            country="DE", city="Hamburg", terms=["SD-BASE", "P2B1"], intake_timeout=90.0,
        )  # fmt: skip
        async for offer in handle.offers(timeout=60.0):
            agreement = await handle.accept(offer, timeout=60)
            break
        else:
            raise AssertionError("no offer delivered")
        keys = handle.keys
    records = await records_for_key(secure_kafka.kwargs("customer"), AGREEMENTS, handle.intent_id)
    return Agreed(agreement, keys, records)


def _entries(agreed: Agreed) -> list[LogEntry]:
    return [decode(LogEntry, record.value or b"") for record in agreed.records]


async def test_the_customer_opens_its_own_entry_and_it_matches_what_it_kept(
    agreed: Agreed,
) -> None:
    [entry] = _entries(agreed)
    assert entry.entry_type is EntryType.AGREEMENT
    assert entry.content_hash == agreed.agreement.agreement_id
    assert entry.open(AGREEMENT_ENTRY, agreed.keys.sealing) == agreed.agreement
    assert {copy.reader.value for copy in entry.readers} == {"customer", "processors", "auditor"}


async def test_another_customer_reads_nothing_but_hashes(
    secure_kafka: SecureKafka, agreed: Agreed
) -> None:
    """The same principal, another intent's key: no copy opens, and nothing is in clear."""
    outsider = IntentKeys.generate()
    agreement = agreed.agreement
    for record, entry in zip(agreed.records, _entries(agreed), strict=True):
        with pytest.raises(SchemaError):
            entry.open(AGREEMENT_ENTRY, outsider.sealing)
        with pytest.raises(SchemaError):
            entry.open_bytes(SealingKey.generate())
        visible = orjson.loads(record.value or b"")
        assert set(visible) == {
            "kind", "schema_version", "entry_id", "partition", "seq", "prev_hash", "intent_id",
            "entry_type", "content_hash", "recorded_at", "readers", "ciphertext",
        }  # fmt: skip
        # the ciphertext and the sealed keys are random base64: a short secret ("180") can
        # appear in them by chance, and they are opaque to this reader (checked above)
        clear = {k: v for k, v in visible.items() if k not in ("ciphertext", "readers")}
        clear["readers"] = [
            {k: v for k, v in copy.items() if k != "sealed"} for copy in visible["readers"]
        ]
        blob = orjson.dumps(clear) + b"".join(v for _, v in record.headers)
        secrets = (
            agreement.offer.vendor_id, agreement.offer.offer_id, agreement.offer.description,
            agreement.intent.want.item, str(agreement.offer.price), '"price"', "Hamburg",
            agreement.vendor_key,
        )  # fmt: skip
        for secret in secrets:
            assert secret.encode() not in blob, f"{secret!r} is readable without a key"
    # and yet the chain checks for it, with no key at all
    result = await verify_log(secure_kafka.broker_settings("customer"))
    assert result.ok, result.breaks
    assert result.agreements >= 1 and result.opened == 0


async def test_another_vendor_reads_nothing_but_hashes(
    secure_kafka: SecureKafka, agreed: Agreed
) -> None:
    """vendor-alpha reads the log (to check its own agreements) but opens none of ACME's, and
    cannot read ACME's clear copy."""
    kwargs = secure_kafka.kwargs(f"vendor-{VENDOR}")
    records = await records_for_key(kwargs, AGREEMENTS, agreed.agreement.intent.intent_id)
    assert [r.value for r in records] == [r.value for r in agreed.records]
    alpha_keys = LogKeys((SealingKey.generate(),))
    result = await verify_log(secure_kafka.broker_settings(f"vendor-{VENDOR}"), keys=alpha_keys)
    assert result.ok, result.breaks
    assert result.opened == 0
    for entry in _entries(agreed):
        assert alpha_keys.opener(entry) is None
    admin = AIOKafkaAdminClient(**kwargs)
    await admin.start()
    try:
        assert not await can_read(kwargs, admin, vendor_agreements_topic(FLOW_VENDOR))
    finally:
        await admin.close()


async def test_the_auditor_verifies_and_opens_every_agreement(
    secure_kafka: SecureKafka, agreed: Agreed
) -> None:
    settings = secure_kafka.broker_settings("auditor")
    result = await verify_log(settings, keys=LogKeys((AUDITOR_KEY,)))
    assert result.ok, result.breaks
    assert result.agreements >= 1
    assert result.opened == result.verified  # every entry these processors wrote
    entry, agreement = await find_agreement(
        settings, agreed.agreement.agreement_id, LogKeys((AUDITOR_KEY,))
    )
    assert entry is not None and agreement == agreed.agreement


async def test_the_processors_key_opens_every_entry(
    secure_kafka: SecureKafka, agreed: Agreed
) -> None:
    result = await verify_log(
        secure_kafka.broker_settings("processors"), keys=LogKeys((PROCESSORS_LOG_KEY,))
    )
    assert result.ok, result.breaks
    assert result.opened == result.verified >= 1


async def test_the_vendor_verifies_its_clear_copy_against_the_log(
    secure_kafka: SecureKafka, agreed: Agreed
) -> None:
    acme = secure_kafka.kwargs(f"vendor-{FLOW_VENDOR}")
    intent_id = agreed.agreement.intent.intent_id
    [copy] = await records_for_key(acme, vendor_agreements_topic(FLOW_VENDOR), intent_id)
    kept = decode(Agreement, copy.value or b"")
    assert kept == agreed.agreement
    check = await verify_kept(secure_kafka.broker_settings(f"vendor-{FLOW_VENDOR}"), kept)
    assert check.ok, check.problem
    assert isinstance(check.entry, LogEntry) and check.entry.content_hash == kept.agreement_id
    # a copy with another price is no agreement the log records
    forged = kept.model_copy(
        update={"offer": kept.offer.model_copy(update={"price": Decimal("1")})}
    )
    forged = forged.model_copy(update={"agreement_id": forged.computed_id()})
    bad = await verify_kept(secure_kafka.broker_settings(f"vendor-{FLOW_VENDOR}"), forged)
    assert not bad.ok


async def test_the_customer_verifies_its_receipt_against_the_log(
    secure_kafka: SecureKafka, agreed: Agreed
) -> None:
    check = await verify_kept(secure_kafka.broker_settings("customer"), agreed.agreement)
    assert check.ok, check.problem
    assert check.entry is not None and check.chained == check.entry.seq + 1
