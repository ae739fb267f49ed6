"""What a failure means for the processors, and what the runtime does about each kind.

The classes, from the narrowest scope to the widest:

    Fault
    ├── DESTINATION   one vendor's topic is missing, not authorised, or refuses the size:
    │                 that output is dead-lettered (`broker.outputs`), everyone else goes on
    ├── TRANSIENT     Kafka is away, a leader moves, a request times out: the batch is
    │                 handled again after a backoff, nothing past it is committed
    ├── UNDECODABLE   an input the client cannot decode: dead-lettered where it can be
    │                 located (topic, partition, offset), skipped and counted
    ├── BUG           our handler raised on one record: that record goes to the dead-letter
    │                 topic as `internal_error`, the stream goes on
    └── WORKER        anything else outside a record, or transient faults past the retry
                      budget: the process exits non-zero so its supervisor restarts it

Only the runtime decides what an exception means; handlers raise and never catch Kafka errors.
"""

from __future__ import annotations

import enum
import gzip
import logging
import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field

import cramjam
from aiokafka.errors import (
    CorruptRecordException,
    KafkaConnectionError,
    KafkaError,
    KafkaTimeoutError,
    MessageSizeTooLargeError,
    TopicAuthorizationFailedError,
    UnknownTopicOrPartitionError,
    UnsupportedCodecError,
)

from intentcast.broker.metrics import Metrics


class Fault(enum.Enum):
    DESTINATION = "destination"
    TRANSIENT = "transient"
    UNDECODABLE = "undecodable"
    BUG = "bug"
    WORKER = "worker"


_REFUSED = (TopicAuthorizationFailedError, MessageSizeTooLargeError)
# a codec the client lacks, a stored batch whose CRC fails, and (when the CRC holds or is not
# checked) a compressed payload its codec rejects: snappy, lz4 and zstd in cramjam, gzip in the
# standard library
_UNDECODABLE = (
    UnsupportedCodecError,
    CorruptRecordException,
    cramjam.DecompressionError,
    gzip.BadGzipFile,
    zlib.error,
)


def classify(exc: BaseException, *, in_record: bool) -> Fault:
    """The class of `exc`, raised while handling one record (`in_record`) or around records.

    A destination fault that still reaches the runtime was not one of a vendor's topics
    (`broker.outputs` keeps those to themselves) but one of the system's own. Refused (no ACL,
    too large) no retry mends it, so the worker stops and says so. Unknown is transient: a
    restarted broker briefly answers so for topics it is still loading, and a topic that
    stays missing exhausts the retry budget and stops the worker the same way.
    """
    if isinstance(exc, _UNDECODABLE):
        return Fault.UNDECODABLE
    if isinstance(exc, _REFUSED):
        return Fault.WORKER
    if isinstance(exc, UnknownTopicOrPartitionError):
        return Fault.TRANSIENT
    if isinstance(exc, KafkaError):
        retriable = getattr(exc, "retriable", False)
        if retriable or isinstance(exc, KafkaConnectionError | KafkaTimeoutError):
            return Fault.TRANSIENT
        return Fault.WORKER
    if isinstance(exc, TimeoutError | ConnectionError):
        return Fault.TRANSIENT
    return Fault.BUG if in_record else Fault.WORKER


@dataclass
class ThrottledLog:
    """At most one line per cause per interval; what was held back is counted, and the count
    rides on the next line. A broker away for two minutes is one line, not 23,000."""

    logger: logging.Logger
    metrics: Metrics
    interval_s: float = 30.0
    clock: Callable[[], float] = time.monotonic
    _last: dict[str, float] = field(default_factory=dict)
    _held: dict[str, int] = field(default_factory=dict)

    def warning(self, cause: str, message: str, *args: object) -> bool:
        """Log unless `cause` was logged less than `interval_s` ago; return whether it was."""
        self.metrics.count(f"faults.{cause}")
        now = self.clock()
        last = self._last.get(cause)
        if last is not None and now - last < self.interval_s:
            self._held[cause] = self._held.get(cause, 0) + 1
            return False
        self._last[cause] = now
        held = self._held.pop(cause, 0)
        suffix = f" ({held} more like it in the last {self.interval_s:.0f} s)" if held else ""
        self.logger.warning(message + suffix, *args)
        return True
