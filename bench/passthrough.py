"""The Python limit: raw aiokafka consume → decode → produce, alone and with the crypto needed.

The "+crypto" variant does for each record exactly the signature and sealing work the pipeline
must do for a record of that kind (verify every signature, seal every delivered offer), so the
pipeline can be compared with an honest ceiling rather than with bare byte shuffling. The
like-for-like variant also does the pipeline's I/O: as many output records per input as the
pipeline wrote in the same run (`bench.fanout`), and its input offsets committed only after
those outputs are acknowledged.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import orjson
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from intentcast.bench.peers import PeerJob, PeerRun, Work
from intentcast.schemas import Acceptance, Intent, Offer, decode, seal_offer, verify_model


def no_crypto(value: bytes) -> None:
    orjson.loads(value)


def make_crypto_work(
    intent_keys: dict[str, str], vendor_keys: dict[str, str], sealing: dict[str, str]
) -> Work:
    """Validate with the models and do the per-kind crypto of the pipeline."""

    def work(value: bytes) -> None:
        kind = orjson.loads(value).get("kind")
        if kind == "intent":
            intent = decode(Intent, value)
            verify_model(intent, intent.signing_key)
        elif kind == "offer":
            offer = decode(Offer, value)
            verify_model(offer, vendor_keys[offer.vendor_id])
            seal_offer(offer, sealing[offer.intent_id])
        elif kind == "acceptance":
            acceptance = decode(Acceptance, value)
            verify_model(acceptance, intent_keys[acceptance.intent_id])

    return work


async def fill(bootstrap: str, topic: str, records: list[tuple[bytes, bytes]]) -> None:
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap, acks="all", enable_idempotence=True, linger_ms=5
    )
    await producer.start()
    try:
        for key, value in records:
            await producer.send(topic, value, key=key)
        await producer.flush()
    finally:
        await producer.stop()


async def passthrough(job: PeerJob) -> dict[str, Any]:
    """Read `count` records from the start of `source`, apply `work`, write to `sink` the
    fanout's number of records per input; with a `group_id`, each batch's offsets are
    committed after its outputs are acknowledged."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=job.bootstrap,
        group_id=job.group_id,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        max_poll_records=500,
    )
    producer = AIOKafkaProducer(
        bootstrap_servers=job.bootstrap, acks="all", enable_idempotence=True, linger_ms=1
    )
    await consumer.start()
    await producer.start()
    tps = [TopicPartition(job.source, p) for p in range(job.partitions)]
    consumer.assign(tps)
    await consumer.seek_to_beginning(*tps)
    done = written = 0
    started: float | None = None
    try:
        while done < job.count:
            batch = await consumer.getmany(timeout_ms=500, max_records=500)
            if batch and started is None:
                started = time.perf_counter()
            futures = []
            for records in batch.values():
                for record in records:
                    job.work(record.value or b"")
                    for _ in range(job.fanout.next()):
                        futures.append(await producer.send(job.sink, record.value, key=record.key))
                    done += 1
            if futures:  # the same at-least-once discipline as the processors
                await asyncio.gather(*futures)
                written += len(futures)
            if batch and job.group_id is not None:
                await consumer.commit()
    finally:
        elapsed = time.perf_counter() - (started or time.perf_counter())
        await consumer.stop()
        await producer.stop()
    return PeerRun(done, written, elapsed).summary()
