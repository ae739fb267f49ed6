"""CI-sized versions of the four drills; each brings its own Kafka (they restart and kill it).

Every intent is accepted (accept_every=1), so a run ends as soon as all are agreed instead of
waiting for expiry. The full-size runs and their numbers are in docs/reliability.md.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from drills import broker_restart, cluster, processor_crash, rebalance, vendor_crash

# part of `make test`; `make test-drills` runs only these
pytestmark = [pytest.mark.kafka, pytest.mark.drills]


def _clean(result: dict[str, object]) -> None:
    """The pass rule: everything acknowledged accounted for, nothing duplicated."""
    assert result["intents_lost"] == 0, result["unsettled_sample"]
    assert result["agreements_missing"] == 0
    assert result["agreements_duplicated"] == 0
    assert result["offers_duplicated"] == 0
    assert result["audit_ok"], result["audit_first_break"]
    assert result["passed"], json.dumps(result, default=str)[:3000]


async def test_processor_crash_kill_9_twice(tmp_path: Path) -> None:
    result = await processor_crash.drill(
        intents=240, rate=30, kills=2, down_s=1.0, expires_s=90, seed=3, work=tmp_path,
        accept_every=1,
    )  # fmt: skip
    assert result["kills"] == 2
    assert result["agreements_exactly_one"] == result["acceptances_acknowledged"] == 240
    _clean(result)


async def test_broker_restart_clients_reconnect(tmp_path: Path) -> None:
    result = await broker_restart.drill(
        intents=200, rate=25, down_s=3.0, expires_s=120, work=tmp_path, accept_every=1
    )
    assert result["broker_down_s"] >= 3.0
    _clean(result)


async def test_vendor_crash_survivor_answers(tmp_path: Path) -> None:
    result = await vendor_crash.drill(
        intents=200, rate=25, expires_s=90, work=tmp_path, accept_every=1
    )
    assert result["survivor_alive"]
    assert result["intents_unanswered_by"]["drill-a"] == 0
    _clean(result)


async def test_cluster_one_node_down(tmp_path: Path) -> None:
    result = await cluster.drill(
        intents=200, rate=25, node_id=1, kill=False, expires_s=120, work=tmp_path,
        accept_every=1,
    )  # fmt: skip
    assert result["replication_factor"] == [3]
    assert result["min_insync_replicas"] == "2"
    _clean(result)


async def test_broker_gone_past_the_retry_budget_worker_exits_and_is_restarted(
    tmp_path: Path,
) -> None:
    """Kafka away longer than the processors' retry budget: the worker does not hang alive,
    it exits non-zero, the supervisor starts it again, and nothing is lost."""
    result = await broker_restart.drill(
        intents=200, rate=25, down_s=12.0, expires_s=120, work=tmp_path, accept_every=1,
        processor_env={"INTENTCAST_RETRY_BUDGET_SECONDS": "3"},
    )  # fmt: skip
    assert result["broker_down_s"] >= 12.0
    assert result["processor_restarts_by_supervisor"] >= 1, result["processor_exit_statuses"]
    assert all(status not in (0, None) for status in result["processor_exit_statuses"])
    _clean(result)


async def test_commits_racing_rebalances_and_sigterm_under_load(tmp_path: Path) -> None:
    """A second worker joins and leaves (SIGTERM) three times while intents flow: no worker
    crashes on a commit, each SIGTERM ends the busy worker within 10 s, nothing is lost."""
    # each join stays 10 s: a worker stopped while still importing dies of the signal (-15)
    # before it has a loop to handle it, which says nothing about a busy worker
    result = await rebalance.drill(
        intents=300, rate=25, cycles=3, up_s=10.0, down_s=1.5, expires_s=120, work=tmp_path,
        accept_every=1,
    )  # fmt: skip
    assert result["crashes"] == []
    assert result["first_worker_alive"]
    assert result["sigterm_stop_max_s"] <= 10.0, result["sigterm_stop_s"]
    assert result["second_exit_statuses"] == [0, 0, 0]
    _clean(result)
