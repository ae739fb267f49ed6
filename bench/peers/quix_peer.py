"""The same work as a Quix Streams application: a StreamingDataFrame that expands each record.

A Quix Streams user would write this: `apply(..., expand=True)` works a record and returns its
outputs, `to_topic` produces them with the input's key, and the at-least-once checkpoint
flushes the producer (every output acknowledged) before it commits the input offsets, every
`BATCH` records. Quix runs on confluent-kafka, so the gap to `bench.peers.confluent_
passthrough` is the framework's own cost.
"""

from __future__ import annotations

import time
import uuid
from typing import Any

from quixstreams import Application

from intentcast.bench.fanout import Fanout
from intentcast.bench.passthrough import Work
from intentcast.bench.peers import PeerRun

BATCH = 500


def run(
    bootstrap: str,
    source: str,
    sink: str,
    count: int,
    work: Work,
    fanout: Fanout,
    timeout_s: float = 300.0,
    group_id: str | None = None,
) -> dict[str, Any]:
    app = Application(
        broker_address=bootstrap,
        consumer_group=group_id or f"bench-quix-{uuid.uuid4().hex[:8]}",
        auto_offset_reset="earliest",
        processing_guarantee="at-least-once",
        commit_every=BATCH,
        loglevel="WARNING",
        auto_create_topics=False,
        use_changelog_topics=False,
        producer_extra_config={"enable.idempotence": True, "acks": "all", "linger.ms": 1},
    )
    src = app.topic(source, value_deserializer="bytes", key_deserializer="bytes")
    out = app.topic(sink, value_serializer="bytes", key_serializer="bytes")
    seen = 0
    started: float | None = None

    def expand(value: bytes) -> list[bytes]:
        nonlocal seen, started
        if started is None:
            started = time.perf_counter()
        work(value)
        seen += 1
        return [value] * fanout.next()

    app.dataframe(src).apply(expand, expand=True).to_topic(out)
    total = fanout.total(count)
    # stops after `total` outputs; an input whose fanout is 0 writes none, so the count
    # of inputs is checked below rather than trusted
    app.run(count=total, timeout=timeout_s, collect=False)
    finished = time.perf_counter()
    if seen < count:
        raise RuntimeError(f"Quix Streams handled {seen} of {count} inputs in {timeout_s:.0f} s")
    return PeerRun(seen, total, finished - (started or finished)).summary()
