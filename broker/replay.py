"""A replay barrier: after a restart, steps that read another step's state wait for its replay.

Each agent resumes from its own committed offset, so right after a crash the acceptances agent
can see an acceptance before intake has replayed the intent it refers to (or before the offers
agent has replayed the offer), and would refuse it as unknown. The first time a dependent step
handles a partition after start or a rebalance, it notes the upstream topic's end offset and
waits until the upstream agent has handled everything before it. Steady-state processing never
waits: a customer or vendor only answers what an upstream step already recorded.

faust feeds every agent from one fetch loop, so an agent that waits long enough to fill its
buffer stalls the very upstream agent it waits for. So the wait does not rely on faust: after
PULL_AFTER_S the runtime reads the upstream records itself (`pull`, a plain read handed to the
upstream agent's loop, `broker.runtime.app`). The wait stays bounded (MAX_WAIT_S for all
partitions together, per assignment); past the budget, the step goes on as before the barrier.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.errors import KafkaError

from intentcast.broker.kafka_meta import committed_offsets
from intentcast.broker.settings import BrokerSettings

log = logging.getLogger(__name__)
MAX_WAIT_S = 30.0
PULL_AFTER_S = 0.5
# reads [start, end) of an upstream partition and hands it to its agent's loop
Pull = Callable[[str, int, int, int], Awaitable[int]]


class ReplayBarrier:
    """Per (topic, partition): the last offset its agent handled, and which waits are done."""

    def __init__(self, settings: BrokerSettings) -> None:
        self._settings = settings
        self._handled: dict[tuple[str, int], int] = {}
        self._passed: set[tuple[str, int]] = set()
        self._deadline: float | None = None  # one budget per assignment
        self.pull: Pull | None = None  # set by the runtime once the agent loops exist

    def forget(self) -> None:
        """On rebalance: the upstream agents replay again, so dependents wait again."""
        self._passed.clear()
        self._handled.clear()
        self._deadline = None

    def handled(self, topic: str, partition: int, offset: int) -> None:
        """The agent loop calls this for every record it handled (since the last rebalance)."""
        key = (topic, partition)
        if offset > self._handled.get(key, -1):
            self._handled[key] = offset

    def handled_upto(self, topic: str, partition: int) -> int:
        """The highest offset of `topic[partition]` handled since the last rebalance, or -1."""
        return self._handled.get((topic, partition), -1)

    async def wait_for(self, topic: str, partition: int) -> None:
        """Return once the agent of `topic` handled what was on `partition` at the first call."""
        key = (topic, partition)
        if key in self._passed:
            return
        try:  # a coordinator still loading must not hold the agent: then go on unguarded
            committed, end = await asyncio.wait_for(
                _committed_and_end(self._settings, TopicPartition(topic, partition)), 5.0
            )
        except (TimeoutError, KafkaError) as exc:
            log.warning("%s[%d]: replay position unknown (%r); going on", *key, exc)
            self._passed.add(key)
            return
        if self._deadline is None:
            self._deadline = time.monotonic() + MAX_WAIT_S
        if committed < end:
            started = time.monotonic()
            while self.handled_upto(*key) < end - 1:
                if time.monotonic() > self._deadline:
                    log.warning("%s[%d]: replay wait budget spent; going on", *key)
                    break
                if self.pull is not None and time.monotonic() - started > PULL_AFTER_S:
                    start = max(committed, self.handled_upto(*key) + 1)
                    await self.pull(topic, partition, start, end)
                    started = time.monotonic()
                    continue
                await asyncio.sleep(0.05)
        self._passed.add(key)


async def _committed_and_end(settings: BrokerSettings, tp: TopicPartition) -> tuple[int, int]:
    """The processors' committed offset (-1 if none) and the end offset of one partition."""
    committed = await committed_offsets(settings.kafka_kwargs(), settings.app_id, [tp])
    consumer = AIOKafkaConsumer(**settings.kafka_kwargs(), enable_auto_commit=False)
    await consumer.start()
    try:
        end = (await consumer.end_offsets([tp]))[tp]
    finally:
        await consumer.stop()
    return committed.get(tp, -1), end
