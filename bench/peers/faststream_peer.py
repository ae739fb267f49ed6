"""The same work as a FastStream (aiokafka) application: a batch subscriber that publishes.

A FastStream user would write this: a batch subscriber in a consumer group, with
`AckPolicy.ACK` so the batch's offsets are committed when the handler returns, and a handler
that works every record, publishes its outputs without waiting for each one, then waits for
all of their acknowledgements before it returns.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from faststream import AckPolicy
from faststream.kafka import KafkaBroker
from faststream.kafka.annotations import KafkaMessage

from intentcast.bench.peers import PeerJob, PeerRun

BATCH = 500


async def run(job: PeerJob) -> dict[str, Any]:
    broker = KafkaBroker(
        job.bootstrap, acks="all", enable_idempotence=True, linger_ms=1, logger=None
    )
    done = asyncio.Event()
    seen = written = 0
    started: float | None = None
    finished = 0.0

    @broker.subscriber(
        job.source,
        batch=True,
        max_records=BATCH,
        group_id=job.group("faststream"),
        auto_offset_reset="earliest",
        ack_policy=AckPolicy.ACK,
    )
    async def handle(message: KafkaMessage) -> None:  # the records, undecoded: work decodes
        nonlocal seen, written, started, finished
        if started is None:
            started = time.perf_counter()
        pending = []
        for record in message.raw_message:
            value = record.value or b""
            job.work(value)
            for _ in range(job.fanout.next()):
                pending.append(
                    await broker.publish(value, job.sink, key=record.key, no_confirm=True)
                )
        await asyncio.gather(*pending)  # acknowledged before the batch is acked
        written += len(pending)
        seen += len(message.raw_message)
        if seen >= job.count:
            finished = time.perf_counter()
            done.set()

    async with broker:
        await broker.start()
        await asyncio.wait_for(done.wait(), job.timeout_s)
        await asyncio.sleep(0.2)  # the last batch's commit follows the handler's return
    return PeerRun(seen, written, finished - (started or finished)).summary()
