"""The same work as a Quix Streams application: a StreamingDataFrame that expands each record.

A Quix Streams user would write this: `apply(..., expand=True)` works a record and returns its
outputs, `to_topic` produces them with the input's key, and the at-least-once checkpoint
flushes the producer (every output acknowledged) before it commits the input offsets, every
`BATCH` records. Quix runs on confluent-kafka, so the gap to `bench.peers.confluent_
passthrough` is the framework's own cost.
"""

from __future__ import annotations

import time
import warnings
from typing import Any

with warnings.catch_warnings():  # a dependency of Quix Streams warns about its own httpx use
    warnings.filterwarnings("ignore", message="The httpx module is deprecated")
    from quixstreams import Application

from intentcast.bench.peers import PeerJob, PeerRun

BATCH = 500


def run(job: PeerJob) -> dict[str, Any]:
    app = Application(
        broker_address=job.bootstrap,
        consumer_group=job.group("quix"),
        auto_offset_reset="earliest",
        processing_guarantee="at-least-once",
        commit_every=BATCH,
        loglevel="WARNING",
        auto_create_topics=False,
        use_changelog_topics=False,
        producer_extra_config={"enable.idempotence": True, "acks": "all", "linger.ms": 1},
    )
    src = app.topic(job.source, value_deserializer="bytes", key_deserializer="bytes")
    out = app.topic(job.sink, value_serializer="bytes", key_serializer="bytes")
    seen = 0
    started: float | None = None

    def expand(value: bytes) -> list[bytes]:
        nonlocal seen, started
        if started is None:
            started = time.perf_counter()
        job.work(value)
        seen += 1
        return [value] * job.fanout.next()

    app.dataframe(src).apply(expand, expand=True).to_topic(out)
    total = job.fanout.total(job.count)
    # stops after `total` outputs; an input whose fanout is 0 writes none, so the count
    # of inputs is checked below rather than trusted
    app.run(count=total, timeout=job.timeout_s, collect=False)
    finished = time.perf_counter()
    if seen < job.count:
        raise RuntimeError(
            f"Quix Streams handled {seen} of {job.count} inputs in {job.timeout_s:.0f} s"
        )
    return PeerRun(seen, total, finished - (started or finished)).summary()
