"""The drills report what faust got wrong from the processors' own counters (metrics topic)."""

from __future__ import annotations

from datetime import timedelta

from drills.counters import totals
from intentcast.schemas import MetricsSnapshot, utcnow

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
