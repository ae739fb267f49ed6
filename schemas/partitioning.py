"""Record keys and Kafka's default partitioner: how an offer finds its intent's partition.

Every record about one intent is keyed by the UTF-8 bytes of its ``intent_id`` (the 32 hex
characters, not the 16 bytes they spell), and every intent-keyed topic has the same number of
partitions, so Kafka's default partitioner puts an intent, its offers, its acceptance and its
cancel on the same partition number, where one processor holds its state. A producer in
another language must use this partitioner (the Java client's, murmur2), which is not every
client's default: librdkafka's is CRC32 (``partitioner=murmur2_random`` fixes it).
"""

from __future__ import annotations

from typing import Final

__all__ = ["KAFKA_TEST_KEYS", "key_partition", "murmur2", "record_key"]

_SEED: Final = 0x9747B28C
_M: Final = 0x5BD1E995
_MASK: Final = 0xFFFFFFFF

KAFKA_TEST_KEYS: Final = {
    "21": -973932308,
    "foobar": -790332482,
    "a-little-bit-long-string": -985981536,
    "a-little-bit-longer-string": -1486304829,
    "lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8": -58897971,
    "abc": 479470107,
}
"""murmur2 of these keys as Kafka's own tests state them (UtilsTest.testMurmur2, signed)."""


def murmur2(data: bytes) -> int:
    """Kafka's ``Utils.murmur2``: MurmurHash2, seed 0x9747b28c, as a signed 32-bit int."""
    length = len(data)
    h = (_SEED ^ length) & _MASK
    whole = length - length % 4
    for i in range(0, whole, 4):
        k = int.from_bytes(data[i : i + 4], "little")
        k = (k * _M) & _MASK
        k ^= k >> 24
        k = (k * _M) & _MASK
        h = ((h * _M) & _MASK) ^ k
    tail = data[whole:]
    if len(tail) >= 3:
        h ^= tail[2] << 16
    if len(tail) >= 2:
        h ^= tail[1] << 8
    if tail:
        h ^= tail[0]
        h = (h * _M) & _MASK
    h ^= h >> 13
    h = (h * _M) & _MASK
    h ^= h >> 15
    return h - (1 << 32) if h & 0x80000000 else h


def key_partition(key: bytes, partitions: int) -> int:
    """The partition Kafka's default partitioner picks for a keyed record:
    ``toPositive(murmur2(key)) % partitions``, where toPositive clears the sign bit."""
    if partitions < 1:
        raise ValueError("a topic has at least one partition")
    return (murmur2(key) & 0x7FFFFFFF) % partitions


def record_key(message_id: str) -> bytes:
    """The record key of a message about ``message_id`` (an intent id or a vendor id)."""
    return message_id.encode("utf-8")
