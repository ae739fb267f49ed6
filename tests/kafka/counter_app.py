"""A tiny faust-streaming app for the smoke test: consume, count per key in a table, produce.

Run as `python -m tests.kafka.counter_app worker`; names come from the environment so every
test run uses its own topics, app id and data folder.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from typing import Any

import faust

BOOTSTRAP = os.environ["SMOKE_BOOTSTRAP"]
SOURCE = os.environ["SMOKE_SOURCE"]
SINK = os.environ["SMOKE_SINK"]

app = faust.App(
    os.environ["SMOKE_APP_ID"],
    broker=f"kafka://{BOOTSTRAP}",
    store="memory://",
    datadir=os.environ["SMOKE_DATADIR"],
    topic_partitions=3,
    topic_replication_factor=1,
    topic_allow_declare=True,
    web_enabled=False,
    producer_acks=-1,
    consumer_auto_offset_reset="earliest",
    # a member that died without leaving is evicted quickly, so the restart is not held up
    broker_session_timeout=10.0,
    broker_heartbeat_interval=2.0,
)
source = app.topic(SOURCE, key_serializer="raw", value_serializer="raw")
sink = app.topic(SINK, key_serializer="raw", value_serializer="raw")
counts = app.Table("counts", default=int, partitions=3)


@app.agent(source, concurrency=1)
async def count(stream: Any) -> AsyncIterator[None]:
    async for event in stream.events():
        key = event.key.decode()
        counts[key] += 1
        await sink.send(key=event.key, value=f"{key}={counts[key]}".encode())
        yield None


if __name__ == "__main__":
    app.main()
