"""The like-for-like passthrough on confluent-kafka (librdkafka): what the client itself costs.

Same work and same discipline as `bench.passthrough` with a fanout and a group: a batch is
consumed, worked, its outputs produced and flushed (acknowledged by Kafka), and only then are
its offsets committed, synchronously.
"""

from __future__ import annotations

import time
import uuid
from typing import Any

from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaError, Producer, TopicPartition

from intentcast.bench.fanout import Fanout
from intentcast.bench.passthrough import Work
from intentcast.bench.peers import PeerRun

BATCH = 500


def passthrough(
    bootstrap: str,
    source: str,
    sink: str,
    partitions: int,
    count: int,
    work: Work,
    fanout: Fanout,
    timeout_s: float = 300.0,
    group_id: str | None = None,
) -> dict[str, Any]:
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": group_id or f"bench-confluent-{uuid.uuid4().hex[:8]}",
            "enable.auto.commit": False,
            "auto.offset.reset": "earliest",
        }
    )
    producer = Producer(
        {"bootstrap.servers": bootstrap, "acks": "all", "enable.idempotence": True,
         "linger.ms": 1}
    )  # fmt: skip
    failures: list[KafkaError] = []

    def acknowledged(err: KafkaError | None, _msg: Any) -> None:
        if err is not None:
            failures.append(err)

    consumer.assign([TopicPartition(source, p, OFFSET_BEGINNING) for p in range(partitions)])
    done = written = 0
    started: float | None = None
    deadline = time.monotonic() + timeout_s
    try:
        while done < count and time.monotonic() < deadline:
            batch = consumer.consume(num_messages=BATCH, timeout=0.5)
            if batch and started is None:
                started = time.perf_counter()
            for msg in batch:
                if msg.error() is not None:
                    raise RuntimeError(f"consume failed: {msg.error()}")
                value = msg.value() or b""
                work(value)
                for _ in range(fanout.next()):
                    producer.produce(sink, value, msg.key(), on_delivery=acknowledged)
                    written += 1
                producer.poll(0)
                done += 1
            if batch:
                if producer.flush(30) != 0 or failures:
                    raise RuntimeError(f"outputs not acknowledged: {failures[:3]}")
                consumer.commit(asynchronous=False)
    finally:
        elapsed = time.perf_counter() - (started or time.perf_counter())
        consumer.close()
    return PeerRun(done, written, elapsed).summary()
