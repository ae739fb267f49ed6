"""The drills report what faust got wrong from the processors' own counters (metrics topic)."""

from __future__ import annotations

import secrets
import time
from datetime import timedelta

import pytest
from aiokafka import AIOKafkaProducer

from drills.counters import counters_as_of, totals
from intentcast.broker.settings import BrokerSettings
from intentcast.processes import Processors
from intentcast.schemas import INTENTS_SUBMITTED, MetricsSnapshot, utcnow
from tests.watchers import TopicWatcher, dead_letter_for

START = utcnow()


def _snap(source: str, second: int, **counters: int) -> MetricsSnapshot:
    named = {name.replace("__", "."): n for name, n in counters.items()}
    return MetricsSnapshot(source=source, at=START + timedelta(seconds=second), counters=named)


def test_one_worker_counts_its_latest_snapshot() -> None:
    found = [
        _snap("p", 0, consumer__skips_filled=2),
        _snap("p", 2, consumer__skips_filled=5, consumer__rereads=1),
    ]
    assert totals(found) == {"consumer.skips_filled": 5, "consumer.rereads": 1}


def test_a_restarted_worker_adds_to_what_it_counted_before() -> None:
    found = [
        _snap("p", 0, consumer__commits=40, consumer__skips_filled=3),
        _snap("p", 2, consumer__commits=2),  # killed and started again: from zero
        _snap("p", 4, consumer__commits=9, consumer__skips_filled=1),
    ]
    assert totals(found) == {"consumer.commits": 49, "consumer.skips_filled": 4}


def test_two_workers_under_one_source_are_not_counted_twice() -> None:
    """Workers of one deployment on one host share a source; their snapshots interleave."""
    found = [
        _snap("p", 0, consumer__commits=100, consumer__rereads=1),
        _snap("p", 1, consumer__commits=5),
        _snap("p", 2, consumer__commits=110, consumer__rereads=1),
        _snap("p", 3, consumer__commits=12, consumer__skips_filled=4),
        _snap("p", 4, consumer__commits=120, consumer__rereads=2),
    ]
    assert totals(found) == {
        "consumer.commits": 132,
        "consumer.rereads": 2,
        "consumer.skips_filled": 4,
    }


def test_sources_are_summed() -> None:
    found = [_snap("a", 0, consumer__rereads=1), _snap("b", 0, consumer__rereads=2)]
    assert totals(found)["consumer.rereads"] == 3
    assert totals([])["consumer.rereads"] == 0  # nothing published: nothing counted


@pytest.mark.kafka
async def test_what_a_worker_counted_before_the_question_is_in_the_answer(
    kafka_bootstrap: str,
    processors: Processors,
    producer: AIOKafkaProducer,
    dead_letters: TopicWatcher,
) -> None:
    """A worker publishes at an interval: the answer waits for a snapshot taken after it."""
    settings = BrokerSettings(bootstrap=kafka_bootstrap)
    before = await counters_as_of(settings, time.time())
    key = f"junk-{secrets.token_hex(4)}".encode()
    await producer.send_and_wait(INTENTS_SUBMITTED, b"{not json", key=key)
    await dead_letters.wait(dead_letter_for(key, "malformed_json"), "the junk dead-lettered")
    after = await counters_as_of(settings, time.time())
    assert after["deadletters.malformed_json"] >= before["deadletters.malformed_json"] + 1
