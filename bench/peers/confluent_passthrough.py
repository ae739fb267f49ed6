"""The like-for-like passthrough on confluent-kafka (librdkafka): what the client itself costs.

Same work and same discipline as `bench.passthrough` with a fanout and a group: a batch is
consumed, worked, its outputs produced and flushed (acknowledged by Kafka), and only then are
its offsets committed, synchronously.
"""

from __future__ import annotations

import time
from typing import Any

from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaError, Producer, TopicPartition

from intentcast.bench.peers import PeerJob, PeerRun

BATCH = 500


def passthrough(job: PeerJob) -> dict[str, Any]:
    consumer = Consumer(
        {
            "bootstrap.servers": job.bootstrap,
            "group.id": job.group("confluent"),
            "enable.auto.commit": False,
            "auto.offset.reset": "earliest",
        }
    )
    producer = Producer(
        {"bootstrap.servers": job.bootstrap, "acks": "all", "enable.idempotence": True,
         "linger.ms": 1}
    )  # fmt: skip
    failures: list[KafkaError] = []

    def acknowledged(err: KafkaError | None, _msg: Any) -> None:
        if err is not None:
            failures.append(err)

    tps = [TopicPartition(job.source, p, OFFSET_BEGINNING) for p in range(job.partitions)]
    consumer.assign(tps)
    done = written = 0
    started: float | None = None
    deadline = time.monotonic() + job.timeout_s
    try:
        while done < job.count and time.monotonic() < deadline:
            batch = consumer.consume(num_messages=BATCH, timeout=0.5)
            if batch and started is None:
                started = time.perf_counter()
            for msg in batch:
                if msg.error() is not None:
                    raise RuntimeError(f"consume failed: {msg.error()}")
                value = msg.value() or b""
                job.work(value)
                for _ in range(job.fanout.next()):
                    producer.produce(job.sink, value, msg.key(), on_delivery=acknowledged)
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
