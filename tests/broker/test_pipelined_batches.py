"""The pipelined batch loop on a real broker: a batch is taken while the one before is still
in flight, and the checkpoint moves only over records whose outputs were acknowledged; a
failure throws away the batch it hit and every batch after it, and handles them again in
order."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from types import SimpleNamespace

import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.errors import KafkaConnectionError

from intentcast.broker.context import Context, IntentStore
from intentcast.broker.metrics import Metrics
from intentcast.broker.processors.incoming import Incoming
from intentcast.broker.records import IntentRecord
from intentcast.broker.runtime.batch_loop import AgentLoop, Runtime
from intentcast.broker.runtime.checkpoint import Checkpoint
from intentcast.broker.runtime.faults import ThrottledLog
from intentcast.broker.runtime.holes import HoleFiller
from intentcast.broker.runtime.supervision import KafkaLiveness, Supervision
from intentcast.broker.settings import BrokerSettings
from tests.conftest import wait_for

pytestmark = pytest.mark.kafka
log = logging.getLogger("tests.pipelined_batches")


async def _no_flush() -> None:
    """The table's changelog flush; these tests never commit."""


class Flow:
    """One agent loop over a real Outputs: each record is written to `out` on its partition."""

    def __init__(self, bootstrap: str, source: str, out: str, group: str) -> None:
        self.source, self.out = source, out
        settings = BrokerSettings(bootstrap=bootstrap, app_id=group)
        self.ctx = Context.build(settings, IntentStore(table={}, partitions=1))
        assignment = {TopicPartition(source, 0)}
        consumer = SimpleNamespace(assignment=lambda: assignment)
        self.checkpoint = Checkpoint(
            settings, frozenset({source}), self.ctx.metrics, lambda: consumer, _no_flush
        )
        holes = HoleFiller(
            settings, self.ctx.metrics, self.checkpoint.positions, self.checkpoint.deleted_below
        )
        rt = Runtime(
            self.ctx,
            self.checkpoint,
            holes,
            Supervision(app=None),
            ThrottledLog(log, Metrics("t")),
            30.0,
            KafkaLiveness(60.0),
        )
        self.handled: list[int] = []
        self.fail_once: set[int] = set()
        self.loop = AgentLoop("t", source, self.handle, rt)

    async def handle(self, ctx: Context, rec: Incoming) -> None:
        self.handled.append(rec.offset)
        if rec.offset in self.fail_once:
            self.fail_once.discard(rec.offset)
            raise KafkaConnectionError("the broker went away mid-batch")
        ctx.store.put(f"i{rec.offset}", _record(rec.offset))
        await ctx.outputs.send(self.out, rec.value or b"", rec.key, partition=0)

    def records(self, start: int, end: int) -> list[Incoming]:
        return [
            Incoming(topic=self.source, partition=0, offset=o, key=b"k", value=b"%d" % o)
            for o in range(start, end)
        ]

    def done_upto(self) -> int | None:
        return self.checkpoint.commit_offset(self.source, 0)


def _record(offset: int) -> IntentRecord:
    return IntentRecord(
        intent_json="{}", intent_hash=f"h{offset}", expires_at_ms=10**13, partition=0
    )


@pytest.fixture
async def flow(
    kafka_bootstrap: str,
    unique: Callable[[str], str],
    make_topics: Callable[..., Awaitable[None]],
) -> AsyncIterator[Flow]:
    source, out = unique("pipelined-in"), unique("pipelined-out")
    await make_topics(source, out, partitions=1)
    flow = Flow(kafka_bootstrap, source, out, unique("pipelined-group"))

    async def known() -> bool:  # a fresh broker's group coordinator takes a moment
        await flow.checkpoint.ensure()
        return flow.done_upto() is not None

    await wait_for(known, what="the group's committed offsets")
    assert flow.done_upto() == 0
    try:
        yield flow
    finally:
        await flow.ctx.outputs.stop()


async def _written(bootstrap: str, topic: str, count: int) -> list[bytes]:
    consumer = AIOKafkaConsumer(
        topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest", enable_auto_commit=False
    )
    await consumer.start()
    try:
        values: list[bytes] = []
        for _ in range(100):
            batches = await consumer.getmany(timeout_ms=200)
            values += [r.value for recs in batches.values() for r in recs if r.value is not None]
            if len(values) >= count:
                break
        return values
    finally:
        await consumer.stop()


def _last_handlings_in_order(handled: list[int]) -> bool:
    """Each offset's final handling comes after every lower offset's final handling."""
    last = {offset: i for i, offset in enumerate(handled)}
    order = [offset for offset, _ in sorted(last.items(), key=lambda kv: kv[1])]
    return order == sorted(order)


async def test_the_next_batch_is_taken_while_the_last_ones_outputs_are_in_flight(
    flow: Flow, kafka_bootstrap: str
) -> None:
    await flow.loop.submit(flow.records(0, 3))
    await flow.loop.submit(flow.records(3, 6))
    # both handed over, neither acknowledged yet (that takes a round trip to the broker)
    assert flow.handled == list(range(6))
    assert flow.done_upto() == 0
    assert flow.ctx.store.table == {}  # staged state waits for the acknowledgements too
    await flow.loop.process(flow.records(6, 9))
    assert flow.done_upto() == 9
    assert sorted(flow.ctx.store.table) == [f"i{o}".encode() for o in range(9)]
    assert flow.ctx.metrics.counters["consumer.batch_records"] == 9
    values = await _written(kafka_bootstrap, flow.out, 9)
    assert values == [b"%d" % o for o in range(9)]  # one partition: in the order handled


async def test_outputs_dropped_in_flight_hand_that_batch_and_every_later_one_over_again(
    flow: Flow, kafka_bootstrap: str
) -> None:
    """Another agent's retry resets the shared outputs while two batches await their
    acknowledgements: both are handled again, in order, and only then counted done."""
    await flow.loop.submit(flow.records(0, 3))
    await flow.loop.submit(flow.records(3, 6))
    await flow.ctx.outputs.reset()  # before either batch's acknowledgement could arrive
    assert flow.done_upto() == 0
    await flow.loop.process(flow.records(6, 9))
    assert flow.done_upto() == 9
    assert flow.handled.count(0) == 2 and flow.handled.count(3) == 2
    assert _last_handlings_in_order(flow.handled)
    assert sorted(flow.ctx.store.table) == [f"i{o}".encode() for o in range(9)]
    values = await _written(kafka_bootstrap, flow.out, 9)
    assert set(values) == {b"%d" % o for o in range(9)}  # all of them, some twice at most


async def test_a_kafka_fault_while_handling_handles_the_batch_again_before_the_next(
    flow: Flow, kafka_bootstrap: str
) -> None:
    flow.fail_once = {4}
    await flow.loop.submit(flow.records(0, 3))
    await flow.loop.submit(flow.records(3, 6))  # fails at 4, handled again by the finisher
    await flow.loop.process(flow.records(6, 9))
    assert flow.done_upto() == 9
    assert flow.handled.count(3) == 2 and flow.handled.count(4) == 2
    assert _last_handlings_in_order(flow.handled)
    assert b"i4" in flow.ctx.store.table
    values = await _written(kafka_bootstrap, flow.out, 9)
    assert set(values) == {b"%d" % o for o in range(9)}
