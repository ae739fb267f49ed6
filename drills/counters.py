"""The processors' own counters, read back from the metrics topic of the drill's Kafka.

Each worker publishes its cumulative counters under a source name made of the host and the app
id. A worker killed and started again counts from zero under the same name, and so does a
second worker of the same deployment on the same host (the rebalance drill's), whose snapshots
interleave with the first one's. The snapshots of one source are therefore folded into runs:
a snapshot continues the run it does not go below on any counter (the nearest, if several),
otherwise it starts a run of its own; the totals are the sum of every run's last snapshot.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import Counter
from collections.abc import Iterable, Mapping

from intentcast.broker.kafka_meta import topic_partitions
from intentcast.broker.partition_reader import read_partition
from intentcast.broker.settings import BrokerSettings
from intentcast.schemas import METRICS, MetricsSnapshot, SchemaError, decode

Counts = Mapping[str, int]


async def snapshots(settings: BrokerSettings) -> list[MetricsSnapshot]:
    """Every snapshot on the metrics topic, in order per source (each source keys one partition)."""
    found: list[MetricsSnapshot] = []
    for tp in await topic_partitions(settings.kafka_kwargs(), [METRICS], wait_s=30.0):
        async for record in read_partition(settings, METRICS, tp.partition, client_id="drill"):
            with contextlib.suppress(SchemaError):
                found.append(decode(MetricsSnapshot, record.value or b""))
    return found


def continues(run: Counts, counters: Counts) -> bool:
    """Whether `counters` can be a later snapshot of the process that counted `run`."""
    return all(counters.get(name, 0) >= n for name, n in run.items())


def gap(run: Counts, counters: Counts) -> int:
    return sum(counters.values()) - sum(run.values())


def totals(found: Iterable[MetricsSnapshot]) -> Counter[str]:
    """What all the worker processes counted together, restarts and shared sources included."""
    runs: dict[str, list[Counts]] = {}
    for snapshot in found:
        own = runs.setdefault(snapshot.source, [])
        later = [i for i, run in enumerate(own) if continues(run, snapshot.counters)]
        if later:
            own[min(later, key=lambda i: gap(own[i], snapshot.counters))] = snapshot.counters
        else:
            own.append(snapshot.counters)
    total: Counter[str] = Counter()
    for own in runs.values():
        for run in own:
            total.update(run)
    return total


async def counters_as_of(
    settings: BrokerSettings, asked: float | None, timeout: float = 10.0
) -> Counter[str]:
    """The totals including everything counted before `asked` (wall-clock seconds): a worker
    publishes at an interval, so wait (at most `timeout`) for a snapshot taken after it. With
    `asked` None (no worker running to publish one), what the topic holds."""
    deadline = time.monotonic() + timeout
    while True:
        found = await snapshots(settings)
        newest = max((s.at.timestamp() for s in found), default=0.0)
        if asked is None or newest >= asked or time.monotonic() > deadline:
            return totals(found)
        await asyncio.sleep(1.0)
