"""The processors' shared output queue, on a real broker."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import pytest

from intentcast.broker.outputs import Outputs
from intentcast.broker.settings import BrokerSettings

pytestmark = pytest.mark.kafka


async def test_after_a_failed_flush_no_later_flush_succeeds(
    kafka_bootstrap: str,
    unique: Callable[[str], str],
    make_topics: Callable[..., Awaitable[None]],
) -> None:
    """A failed flush may have taken another agent's queued records with it: that agent's own
    flush must fail too, or it would apply state whose outputs never reached Kafka."""
    topic = unique("outputs")
    await make_topics(topic, partitions=1)
    outputs = Outputs(BrokerSettings(bootstrap=kafka_bootstrap, app_id="outputs-test"))
    await outputs.send(topic, b"fine", b"k")
    await outputs.flush()  # a healthy queue is acknowledged
    await outputs.send(topic, b"lost", b"k", partition=7)  # no such partition
    with pytest.raises(AssertionError, match="Unrecognized partition") as first:
        await outputs.flush()
    await outputs.send(topic, b"another agent's record", b"k")
    with pytest.raises(AssertionError) as again:
        await outputs.flush()
    assert again.value is first.value
    with pytest.raises(AssertionError):
        await outputs.stop()  # still says so at shutdown...
    assert outputs._producer is None  # ...and the producer is stopped all the same
