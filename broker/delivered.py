"""Offers already delivered on a partition, read back from the delivered-offers topic itself.

A crash after a delivered offer was acknowledged but before the table's changelog reached Kafka
leaves the offer in the topic and not in state, so the replayed offer would be delivered again.
Each delivered record therefore carries a header with a hash of its offer id, and the first time
a worker delivers on a partition (after start or a rebalance) it reads that partition's recent
tail, as the ledger reads the agreement log. The hash, not the id, goes into the header: the
offer id stays inside the sealed box.
"""

from __future__ import annotations

import hashlib

from intentcast.broker.partition_reader import read_partition
from intentcast.broker.settings import BrokerSettings
from intentcast.schemas import OFFERS_DELIVERED

OFFER_HEADER = "intentcast.offer"


def offer_tag(offer_id: str) -> bytes:
    """What the header holds: a domain-separated hash of the offer id."""
    return (
        hashlib.sha256(b"intentcast.delivered-offer\0" + offer_id.encode())
        .hexdigest()[:32]
        .encode()
    )


class DeliveredOffers:
    """Per partition, the offer tags delivered since shortly before this worker's replay began.

    Reading from `since - max_clock_skew` is enough: a replayed offer was submitted after the
    first record of the replay (within clock skew), and delivered after it was submitted.
    """

    def __init__(self, settings: BrokerSettings) -> None:
        self._settings = settings
        self._tails: dict[int, tuple[int, set[bytes]]] = {}  # partition -> (since_ms, tags)

    def forget(self, partitions: set[int] | None = None) -> None:
        if partitions is None:
            self._tails.clear()
        else:
            for p in partitions:
                self._tails.pop(p, None)

    async def delivered(self, partition: int, offer_id: str, since_ms: int) -> bool:
        """Whether this offer is on the delivered topic since `since_ms` (less clock skew).

        The tail is read once per assignment, and again only if a caller needs an earlier start.
        """
        start = max(0, since_ms - int(self._settings.max_clock_skew_seconds * 1000))
        cached = self._tails.get(partition)
        if cached is None or start < cached[0]:
            cached = (start, await read_tail(self._settings, partition, start))
            self._tails[partition] = cached
        return offer_tag(offer_id) in cached[1]


async def read_tail(settings: BrokerSettings, partition: int, since_ms: int) -> set[bytes]:
    """The offer tags on one partition of the delivered topic from `since_ms` to its end."""
    tags: set[bytes] = set()
    client_id = f"{settings.app_id}-delivered"
    records = read_partition(
        settings, OFFERS_DELIVERED, partition, client_id=client_id, since_ms=since_ms
    )
    async for record in records:
        for name, value in record.headers or ():
            if name == OFFER_HEADER:
                tags.add(bytes(value))
    return tags
