"""One consume loop: poll with a timeout, hand the batch over, commit, stop cleanly.

Every hand-written consumer of the project (the vendor SDK's, the customer's reply reader,
the processors' profile gate and registry) runs this loop, so how it stops (a ``stop`` event
between batches, or cancellation while it waits for records) and what a failed commit means
are decided once. Like aiokafka's own examples it polls with ``getmany`` and commits offsets
by hand after the batch was handled (at least once: a crash in between means redelivery).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from typing import Any, Final

from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition
from aiokafka.errors import KafkaError
from aiokafka.structs import OffsetAndMetadata

__all__ = ["POLL_MS", "Batch", "BatchHandler", "commit_batch", "consume", "records_of", "stop_task"]

log = logging.getLogger(__name__)

POLL_MS: Final = 500
"""How long one poll waits for records: also how soon a ``stop`` event is noticed."""

Batch = dict[TopicPartition, list[ConsumerRecord[bytes, bytes]]]
BatchHandler = Callable[[Batch], Awaitable[bool | None]]
"""Handles one batch (also an empty one, after a poll that timed out); True ends the loop."""


def records_of(batch: Batch) -> list[ConsumerRecord[bytes, bytes]]:
    """The records of a batch, partition by partition, each partition in offset order."""
    return [record for records in batch.values() for record in records]


async def consume(
    consumer: AIOKafkaConsumer,
    handle: BatchHandler,
    *,
    name: str,
    stop: asyncio.Event | None = None,
    max_records: int | None = None,
    commit: bool = False,
    retry_after: float | None = None,
) -> bool:
    """Poll and handle batches until ``stop`` is set or ``handle`` returns True (then True).

    With ``commit`` each non-empty batch is committed after ``handle`` returned. A Kafka error
    ends the loop, unless ``retry_after`` is given: then the loop waits that long, goes back
    to the last committed offsets (nothing of the failed batch was committed) and goes on.
    Cancelling the task that runs it is the other way to stop it.
    """
    stop = stop or asyncio.Event()
    while not stop.is_set():
        try:
            batch: Batch = await consumer.getmany(timeout_ms=POLL_MS, max_records=max_records)
            done = await handle(batch)
            if commit and batch:
                await commit_batch(consumer, batch, name)
            if done:
                return True
        except KafkaError as exc:
            if retry_after is None:
                raise
            log.warning("%s: %s: %s; retrying", name, type(exc).__name__, exc)
            await asyncio.sleep(retry_after)
            with contextlib.suppress(KafkaError):
                await consumer.seek_to_committed()
    return False


async def commit_batch(consumer: AIOKafkaConsumer, batch: Batch, name: str) -> None:
    """Commit the offset after each partition's last record; a failure is only logged.

    A commit fails when the group rebalanced meanwhile: the partition's new owner reads these
    records again, which at-least-once delivery already allows for.
    """
    offsets = {tp: OffsetAndMetadata(recs[-1].offset + 1, "") for tp, recs in batch.items()}
    try:
        await consumer.commit(offsets)
    except KafkaError as exc:  # CommitFailedError is one
        log.warning("%s: commit failed (%s); the records will be handled again", name, exc)


async def stop_task(task: asyncio.Task[Any] | None) -> None:
    """Cancel a background loop and wait until it ended, whatever it was doing."""
    if task is None:
        return
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
