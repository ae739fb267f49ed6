"""What the vendor runtime needs from a transport, so Kafka can be swapped for memory in tests.

The runtime hands a transport encoded bytes and gets encoded bytes back: decoding,
validation and signing always run in the runtime, whichever transport carries the records
(`agents.kafka_transport` on a real cluster, `agents.memory_transport` in a unit test).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Collection, Sequence
from typing import NamedTuple, Protocol

from intentcast.agents.declaration import Subscription
from intentcast.schemas.offer import VendorProfile

__all__ = ["Outgoing", "Received", "RecordsHandler", "VendorTransport"]


class Received(Protocol):
    """A consumed record as the runtime reads it (aiokafka's ``ConsumerRecord`` is one)."""

    @property
    def topic(self) -> str: ...
    @property
    def partition(self) -> int: ...
    @property
    def offset(self) -> int: ...
    @property
    def key(self) -> bytes | None: ...
    @property
    def value(self) -> bytes | None: ...


class Outgoing(NamedTuple):
    """A record to produce: the runtime has already encoded and signed what ``value`` holds."""

    topic: str
    key: bytes
    value: bytes


RecordsHandler = Callable[[Sequence[Received]], Awaitable[None]]


class VendorTransport(Protocol):
    """Carries one vendor's records; every method is called by `VendorRuntime` in this order:
    ``register``, ``subscribe``, ``history``, then ``consume`` (with ``send`` from its handler
    and from the retention schedule), ``close``."""

    async def register(self, profile: VendorProfile, stop: asyncio.Event) -> bool:
        """Publish the signed profile and return once the vendor is registered (False if
        ``stop`` was set first)."""
        ...

    async def subscribe(self, subscription: Subscription) -> None:
        """Join the consumer group of ``subscription`` (its topics may appear later)."""
        ...

    async def consume(self, handle: RecordsHandler, stop: asyncio.Event) -> None:
        """Hand each non-empty batch to ``handle`` and commit it after, until ``stop``."""
        ...

    async def send(self, records: Sequence[Outgoing]) -> None:
        """Produce ``records`` and return once every one was acknowledged (or raise)."""
        ...

    async def history(
        self, topics: Sequence[str], partitions: Collection[int] | None = None
    ) -> Sequence[Received]:
        """Every record ``topics`` hold now (only ``partitions`` of each, if given), from their
        start, outside the consumer group (a topic that does not exist yet holds none); what a
        restarted vendor rebuilds from."""
        ...

    def assignment(self) -> frozenset[tuple[str, int]]:
        """(topic, partition) pairs this instance consumes right now."""
        ...

    async def latest(self, topic: str, key: str) -> bytes | None:
        """The value of the last record keyed ``key`` on one of the vendor's own topics (an
        agreement a disclosure names, when it was read before a restart), or None."""
        ...

    async def close(self) -> None:
        """Leave the group and release the connections; safe to call more than once."""
        ...
