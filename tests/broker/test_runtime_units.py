"""The runtime's pieces one by one, without Kafka: progress, fault classes, throttled logs."""

from __future__ import annotations

import asyncio
import gzip
import inspect
import logging
import subprocess
import sys
import time
import zlib
from pathlib import Path
from types import SimpleNamespace
from typing import cast

import cramjam
import pytest
from aiokafka.errors import (
    CorruptRecordException,
    KafkaConnectionError,
    KafkaTimeoutError,
    MessageSizeTooLargeError,
    NotLeaderForPartitionError,
    RequestTimedOutError,
    TopicAuthorizationFailedError,
    UnknownTopicOrPartitionError,
    UnsupportedCodecError,
)

from intentcast.broker.context import OutputsResetError
from intentcast.broker.metrics import Metrics
from intentcast.broker.processors.incoming import Incoming
from intentcast.broker.runtime.batch_loop import AgentLoop, Runtime
from intentcast.broker.runtime.checkpoint import Checkpoint, Progress
from intentcast.broker.runtime.faults import Fault, ThrottledLog, classify
from intentcast.broker.runtime.holes import HoleFiller
from intentcast.broker.runtime.quarantine import BadRange, load_ranges, save_ranges
from intentcast.broker.runtime.supervision import KafkaLiveness
from intentcast.broker.runtime.upstream import UPSTREAM
from intentcast.broker.settings import BrokerSettings
from intentcast.schemas import ACCEPTANCES, INTENTS_SUBMITTED, OFFERS_SUBMITTED
from tests.conftest import REPO_ROOT

TOPIC = "in"


def _rec(offset: int, partition: int = 0) -> Incoming:
    return Incoming(topic=TOPIC, partition=partition, offset=offset, key=None, value=b"{}")


def _checkpoint(start: int = 3) -> Checkpoint:
    cp = Checkpoint(
        BrokerSettings(bootstrap="127.0.0.1:1"),
        frozenset({TOPIC}),
        Metrics("t"),
        lambda: None,
        lambda: asyncio.sleep(0),
    )
    cp._progress[(TOPIC, 0)] = Progress(start, committed=start)
    return cp


def test_done_advances_only_over_contiguous_offsets() -> None:
    cp = _checkpoint(3)
    cp.done([_rec(5), _rec(6)], cp.generation)
    assert cp.commit_offset(TOPIC, 0) == 3  # 3 and 4 not done: nothing past them
    cp.done([_rec(3)], cp.generation)
    assert cp.commit_offset(TOPIC, 0) == 4
    cp.done([_rec(4)], cp.generation)
    assert cp.commit_offset(TOPIC, 0) == 7
    cp.done([_rec(2), _rec(5)], cp.generation)  # replays of done records change nothing
    assert cp.commit_offset(TOPIC, 0) == 7


def test_a_batch_that_spans_a_rebalance_is_not_counted() -> None:
    cp = _checkpoint(3)
    generation = cp.generation
    cp.forget()  # a rebalance while the batch ran
    cp._progress[(TOPIC, 0)] = Progress(3, committed=3)  # seeded again from Kafka
    cp.done([_rec(3), _rec(4)], generation)
    assert cp.commit_offset(TOPIC, 0) == 3
    assert cp._metrics.counters["consumer.batches_across_rebalance"] == 1


def test_unknown_partitions_are_never_committed_from_the_first_record() -> None:
    cp = _checkpoint(3)
    cp.done([_rec(10, partition=1)], cp.generation)  # no seed from Kafka for partition 1
    assert cp.commit_offset(TOPIC, 1) is None


def test_records_deleted_before_they_were_handled_stop_holding_the_commit() -> None:
    cp = _checkpoint(3)
    cp.done([_rec(8), _rec(9)], cp.generation)
    cp.deleted_below(TOPIC, 0, 8)  # retention removed 3..7 unhandled
    assert cp.commit_offset(TOPIC, 0) == 10  # 8 and 9 were done: folded in
    assert cp._metrics.counters["consumer.deleted_unhandled"] == 5
    cp.deleted_below(TOPIC, 0, 4)  # an older start changes nothing
    assert cp.commit_offset(TOPIC, 0) == 10


@pytest.mark.parametrize(
    ("exc", "in_record", "fault"),
    [
        (KafkaConnectionError("away"), False, Fault.TRANSIENT),
        (KafkaTimeoutError(), True, Fault.TRANSIENT),
        (NotLeaderForPartitionError(), False, Fault.TRANSIENT),
        (RequestTimedOutError(), False, Fault.TRANSIENT),
        (UnknownTopicOrPartitionError(), False, Fault.TRANSIENT),
        (OutputsResetError("reset"), False, Fault.TRANSIENT),
        (TimeoutError(), True, Fault.TRANSIENT),
        (TopicAuthorizationFailedError(), False, Fault.WORKER),
        (MessageSizeTooLargeError(), False, Fault.WORKER),
        (UnsupportedCodecError("snappy"), False, Fault.UNDECODABLE),
        (CorruptRecordException(), False, Fault.UNDECODABLE),
        (ValueError("bug"), True, Fault.BUG),
        (ValueError("bug"), False, Fault.WORKER),
    ],
)
def test_faults_are_classified(exc: BaseException, in_record: bool, fault: Fault) -> None:
    assert classify(exc, in_record=in_record) is fault


def test_one_line_per_cause_per_interval(caplog: pytest.LogCaptureFixture) -> None:
    now = [0.0]
    metrics = Metrics("t")
    throttled = ThrottledLog(logging.getLogger("t.throttle"), metrics, 30.0, lambda: now[0])
    with caplog.at_level(logging.WARNING, logger="t.throttle"):
        logged = [throttled.warning("away", "Kafka away") for _ in range(1000)]
        throttled.warning("other", "another cause")
        now[0] = 31.0
        throttled.warning("away", "Kafka away")
    assert logged.count(True) == 1
    lines = [r.getMessage() for r in caplog.records]
    assert lines == [
        "Kafka away",
        "another cause",
        "Kafka away (999 more like it in the last 30 s)",
    ]
    assert metrics.counters["faults.away"] == 1001


def test_liveness_counts_silence_from_the_last_acknowledgement() -> None:
    now = [0.0]
    liveness = KafkaLiveness(10.0, lambda: now[0])
    now[0] = 9.0
    assert not liveness.gone()
    liveness.ok()
    now[0] = 18.0
    assert not liveness.gone() and liveness.silent_for() == 9.0
    now[0] = 19.5
    assert liveness.gone()


HUNG_STOP = """
import asyncio, sys
from intentcast.broker.runtime import supervision
supervision.FAULT_GRACE_S = 0.5

class App:
    async def crash(self, exc):
        await asyncio.Event().wait()  # an orderly stop that never finishes

async def main():
    await supervision.Supervision(App()).fatal("test", RuntimeError("boom"))

asyncio.run(main())
"""


def test_a_worker_whose_stop_hangs_still_exits_1() -> None:
    """The defect this guards against: a crashed worker that stays alive doing nothing."""
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-c", HUNG_STOP], cwd=REPO_ROOT, capture_output=True, timeout=30
    )
    assert done.returncode == 1, done.stderr.decode()[-2000:]
    assert time.monotonic() - started < 15
    assert b"did not stop within" in done.stderr


# -- undecodable input (broker.runtime.quarantine) --------------------------------------------


@pytest.mark.parametrize(
    "exc",
    [
        cramjam.DecompressionError("lz4: ERROR_frameType_unknown"),
        gzip.BadGzipFile("Not a gzipped file"),
        zlib.error("invalid stored block lengths"),
        UnsupportedCodecError("Unknown compression codec 0x05"),
        CorruptRecordException("Invalid CRC"),
    ],
)
def test_a_payload_its_codec_rejects_is_undecodable_not_a_crash_of_the_worker(
    exc: BaseException,
) -> None:
    assert classify(exc, in_record=False) is Fault.UNDECODABLE
    assert classify(exc, in_record=True) is Fault.UNDECODABLE


def test_connection_errors_stay_transient_next_to_the_codec_errors() -> None:
    """gzip's error is an OSError like ConnectionError: only the latter may be retried."""
    assert classify(ConnectionResetError(), in_record=False) is Fault.TRANSIENT
    assert classify(KafkaConnectionError(), in_record=False) is Fault.TRANSIENT


def test_skipped_offsets_let_the_commit_pass_an_undecodable_batch() -> None:
    cp = _checkpoint(3)
    cp.done([_rec(3), _rec(8)], cp.generation)
    assert cp.commit_offset(TOPIC, 0) == 4  # 4..6 undecodable, 7 not handled yet
    assert cp.skip(TOPIC, 0, 4, 7) == 3
    assert cp.commit_offset(TOPIC, 0) == 7
    cp.done([_rec(7)], cp.generation)
    assert cp.commit_offset(TOPIC, 0) == 9
    assert cp.skip(TOPIC, 0, 4, 7) == 0  # skipped again (a second assignment): counted once
    assert cp.skip(TOPIC, 5, 0, 2) == 0  # a partition not known: nothing to mark
    assert cp._metrics.counters["consumer.undecodable_skipped"] == 3


async def test_the_next_record_after_a_skipped_batch_is_no_hole_to_read() -> None:
    async def positions(keys: list[tuple[str, int]]) -> dict[tuple[str, int], int]:
        return dict.fromkeys(keys, 4)

    holes = HoleFiller(
        BrokerSettings(bootstrap="127.0.0.1:1"), Metrics("t"), positions, lambda *a: None
    )
    assert await holes.missed_before(_rec(4)) == []
    holes.skip_to(TOPIC, 0, 9)  # offsets 5..8 were one batch nothing decodes, dead-lettered
    # with a hole this would read 5..8 from a broker that is not there
    assert await asyncio.wait_for(holes.missed_before(_rec(9)), 5.0) == []


def test_handlers_leave_the_replay_wait_to_the_loop_that_knows_their_upstream() -> None:
    """Each dependent input's loop waits for exactly its UPSTREAM topics; no handler reaches
    into the replay barrier itself."""
    from intentcast.broker.runtime.app import HANDLERS

    for topic, (_, handler) in HANDLERS.items():
        assert "wait_for" not in inspect.getsource(handler), topic
    assert set(UPSTREAM) <= set(HANDLERS)
    assert all(set(up) <= set(HANDLERS) for up in UPSTREAM.values())


async def test_a_dependent_batch_waits_for_each_upstream_partition_before_its_handler() -> None:
    waited: list[tuple[str, int]] = []

    class Barrier:
        async def wait_for(self, topic: str, partition: int) -> None:
            waited.append((topic, partition))

    ctx = SimpleNamespace(replay=Barrier())
    rt = cast(Runtime, SimpleNamespace(ctx=ctx))
    loop = AgentLoop("acceptances", ACCEPTANCES, _never_called, rt, UPSTREAM[ACCEPTANCES])
    await loop._wait_for_upstream([_rec(1, partition=2), _rec(2, partition=0), _rec(3, 2)])
    assert waited == [
        (INTENTS_SUBMITTED, 0), (OFFERS_SUBMITTED, 0), (INTENTS_SUBMITTED, 2), (OFFERS_SUBMITTED, 2)
    ]  # fmt: skip


async def _never_called(ctx: object, rec: Incoming) -> None:
    raise AssertionError("the wait alone runs no handler")


def test_the_quarantine_file_round_trips_and_a_broken_one_is_ignored(tmp_path: Path) -> None:
    path = tmp_path / "data" / "quarantine.json"
    assert load_ranges(path) == []
    one = BadRange(TOPIC, 2, 10, 13, "CorruptRecordException: Invalid CRC")
    save_ranges(path, [one, one, BadRange(TOPIC, 0, 5, 6, "UnsupportedCodecError: 0x05")])
    assert load_ranges(path) == [BadRange(TOPIC, 0, 5, 6, "UnsupportedCodecError: 0x05"), one]
    path.write_text("{not json")
    assert load_ranges(path) == []


LONGER_STOP = """
import sys, threading, time
from intentcast.broker.runtime import supervision
supervision.SHUTDOWN_GRACE_S = 0.3

sup = supervision.Supervision(app=None)
sup.stopping()
sup.extend(1.5, "the scan")
time.sleep(0.8)  # the stop's watchdog would have ended the process by now
print("still here", flush=True)
time.sleep(30)
"""


def test_the_exit_scan_gets_its_own_watchdog_and_still_exits_1() -> None:
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-c", LONGER_STOP], cwd=REPO_ROOT, capture_output=True, timeout=30
    )
    assert done.returncode == 1, done.stderr.decode()[-2000:]
    assert done.stdout == b"still here\n"
    assert time.monotonic() - started < 15
    assert b"the scan; the worker did not stop within 2 s" in done.stderr


def test_fault_counters_named_after_exceptions_make_a_valid_snapshot() -> None:
    """The broker-restart drill found this: `faults.transient.LeaderNotAvailableError` failed
    the metrics schema, the metrics timer raised and the worker stopped."""
    metrics = Metrics("t")
    throttled = ThrottledLog(logging.getLogger("t.names"), metrics)
    throttled.warning("transient.LeaderNotAvailableError", "Kafka fault")
    metrics.gauges["vendor_unhealthy.Acme Bikes!"] = 1.0
    snapshot = metrics.snapshot()
    assert snapshot.counters == {"faults.transient.leader_not_available_error": 1}
    assert list(snapshot.gauges) == ["vendor_unhealthy.acme_bikes_"]
