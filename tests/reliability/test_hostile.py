"""Hostile input on a private stack: the corpus, a hypothesis fuzzer, and the topic settings."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import orjson
import pytest
from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from drills.harness import Stack, topic_config
from drills.hostile import WRITABLE, Hostile, corpus, throw
from intentcast.broker.ledger import find_recorded
from intentcast.schemas import (
    AGREEMENT_ENTRY,
    AGREEMENTS,
    INTENTS_SUBMITTED,
    OFFERS_DELIVERED,
    Reader,
    SealingKey,
    encode,
)
from tests.agents.helpers import make_agreement

pytestmark = pytest.mark.kafka

_int64 = st.integers(-(2**63), 2**63 - 1)  # orjson's range; bigger numbers come as raw bytes
_json = st.recursive(
    st.none() | st.booleans() | _int64 | st.floats(allow_nan=False) | st.text(max_size=40),
    lambda inner: st.lists(inner, max_size=4)
    | st.dictionaries(st.text(max_size=12), inner, max_size=4),
    max_leaves=20,
)  # fmt: skip
_value = st.one_of(
    st.binary(max_size=300),
    _json.map(orjson.dumps),
    st.fixed_dictionaries({"kind": st.sampled_from(["intent", "offer", "acceptance", "cancel"]),
                           "schema_version": _int64, "intent_id": st.text(max_size=40)},
                          optional={"extra": _json}).map(orjson.dumps),
)  # fmt: skip
_record = st.builds(
    Hostile, topic=st.sampled_from(WRITABLE), key=st.none() | st.binary(min_size=1, max_size=40),
    value=_value, note=st.just("fuzz"),
)  # fmt: skip


@pytest.fixture(scope="module")
async def stack(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Stack]:
    async with Stack(tmp_path_factory.mktemp("hostile")) as running:
        yield running


async def test_corpus_every_record_comes_out(stack: Stack) -> None:
    result = await throw(stack.bootstrap, corpus(), stack.vendors, timeout=90)
    assert result["sent"] >= 60
    assert result["accounted"] == result["sent"], result["missing"]
    assert stack.processors is not None and stack.processors.alive()


def test_corpus_has_a_file_per_kind() -> None:
    names = {p.name for p in Path("tests/reliability/corpus").iterdir()}
    assert {"truncated_intent.json", "binary.bin", "acceptance_v2.json"} <= names


@settings(max_examples=2, deadline=None, suppress_health_check=list(HealthCheck))
@given(records=st.lists(_record, min_size=40, max_size=40))
def test_fuzzed_records_are_all_accounted(stack: Stack, records: list[Hostile]) -> None:
    """count in == count out, and the processors neither crash nor stall."""
    loop = asyncio.new_event_loop()
    try:
        result = loop.run_until_complete(throw(stack.bootstrap, records, stack.vendors, 90))
    finally:
        loop.close()
    assert result["accounted"] == result["sent"], result["missing"]
    assert stack.processors is not None and stack.processors.alive()


async def test_topics_are_created_with_safe_settings(stack: Stack) -> None:
    for topic in (AGREEMENTS, INTENTS_SUBMITTED, OFFERS_DELIVERED):
        config = await topic_config(stack.bootstrap, topic)
        assert config["min.insync.replicas"] == str(stack.settings().min_insync_replicas)
        assert config["unclean.leader.election.enable"] == "false"
    admin = AIOKafkaAdminClient(bootstrap_servers=stack.bootstrap)
    await admin.start()
    try:
        [response] = await admin.describe_configs(
            [
                ConfigResource(
                    ConfigResourceType.BROKER, "1", configs={"auto.create.topics.enable": None}
                )
            ]
        )
    finally:
        await admin.close()
    entries = {entry[0]: entry[1] for resource in response.resources for entry in resource[4]}
    assert entries["auto.create.topics.enable"] == "false"


async def test_reconcile_finds_the_logged_agreement(stack: Stack) -> None:
    """A replayed acceptance re-sends the vendor's copy, read back from the log itself."""
    agreement = make_agreement()
    intent_id = agreement.intent.intent_id
    key, other = SealingKey.generate(), SealingKey.generate()
    entry = AGREEMENT_ENTRY.entry(
        agreement,
        partition=agreement.partition,
        seq=agreement.seq,
        prev_hash=agreement.prev_hash,
        readers={Reader.PROCESSORS: key.public_key},
        recorded_at=agreement.recorded_at,
    )
    producer = AIOKafkaProducer(bootstrap_servers=stack.bootstrap, acks="all")
    await producer.start()
    try:
        await producer.send_and_wait(AGREEMENTS, encode(entry), intent_id.encode(), partition=0)
    finally:
        await producer.stop()
    assert await find_recorded(stack.settings(), key, 0, intent_id) == agreement
    assert await find_recorded(stack.settings(), key, 0, "f" * 32) is None
    # an entry not sealed to the processors' key is not theirs to read back
    assert await find_recorded(stack.settings(), other, 0, intent_id) is None
