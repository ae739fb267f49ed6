"""Faults of one vendor's output topic, told apart from Kafka being away.

The processors write into topics that belong to one vendor each (`intentcast.vendor.<id>.*`:
its feedback and its copy of agreements). Such a topic can be deleted, lose the processors'
ACL, or be configured to refuse a record's size. None of that is mended by retrying, and none
of it is the other tenants' business: if it failed the whole flush, the worker would stop,
replay the same record after its restart and fail again, and one vendor's topic would become
an outage for everyone. So `broker.outputs` dead-letters those records instead
(`destination_unavailable`, `destination_too_large`) and remembers the topic as unhealthy for
a while; this module decides what a failure means and keeps that memory.

Kafka's answers are ambiguous on their own: aiokafka 0.14 reports a deleted topic as
`NotLeaderForPartitionError` after 30 s when a batch was already queued for it, as
`UnknownTopicOrPartitionError` after 30 s from `partitions_for`, and a cluster that is not
reachable at all the same way. So every ambiguous failure is checked with one metadata request
for that topic: only a cluster that answers, and says the topic does not exist or is not
authorised, makes it a destination fault. Everything else stays transient (the flush raises,
the runtime retries).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Final

from aiokafka import AIOKafkaProducer
from aiokafka.errors import (
    KafkaError,
    KafkaTimeoutError,
    LeaderNotAvailableError,
    MessageSizeTooLargeError,
    NotLeaderForPartitionError,
    RecordTooLargeError,
    RequestTimedOutError,
    TopicAuthorizationFailedError,
    UnknownTopicOrPartitionError,
    for_code,
)
from aiokafka.protocol.metadata import MetadataRequest
from aiokafka.structs import TopicPartition

from intentcast.broker.metrics import Metrics
from intentcast.schemas import ReasonCode
from intentcast.schemas.topics import VENDOR_TOPIC_PREFIX

__all__ = [
    "PROBE_TIMEOUT_S",
    "Cause",
    "DestinationFault",
    "DestinationHealth",
    "Probe",
    "is_vendor_scoped",
    "needs_probe",
    "probe",
    "quiet_client_logs",
    "refused",
    "vendor_of",
]

log = logging.getLogger("intentcast.broker.destinations")

PROBE_TIMEOUT_S: Final = 5.0
"""A metadata request that takes longer says nothing about the topic: the cluster is away."""
_MISSING: Final = UnknownTopicOrPartitionError.errno
_NOT_AUTHORISED: Final = TopicAuthorizationFailedError.errno


def is_vendor_scoped(topic: str) -> bool:
    """Whether a fault of this topic concerns one vendor only (and may be dead-lettered)."""
    return topic.startswith(VENDOR_TOPIC_PREFIX)


def vendor_of(topic: str) -> str:
    """The vendor id in `intentcast.vendor.<id>.<kind>` (vendor ids hold no dots)."""
    return topic.removeprefix(VENDOR_TOPIC_PREFIX).rpartition(".")[0]


def _kind_of(topic: str) -> str:
    return topic.rpartition(".")[2]


class Cause(StrEnum):
    """What is wrong with the destination, as metric names and the monitor spell it."""

    TOPIC_MISSING = "topic_missing"
    NOT_AUTHORISED = "not_authorised"
    TOO_LARGE = "too_large"


_EXPLAINED: Final = {
    Cause.TOPIC_MISSING: "topic missing",
    Cause.NOT_AUTHORISED: "topic not authorised for the processors",
    Cause.TOO_LARGE: "record larger than the topic accepts",
}


@dataclass(frozen=True)
class DestinationFault:
    """One vendor topic refused its records, for a reason no retry mends."""

    topic: str
    cause: Cause
    error: str  # the Kafka error's class name, as aiokafka raised it or the metadata said

    @property
    def vendor_id(self) -> str:
        return vendor_of(self.topic)

    @property
    def reason(self) -> ReasonCode:
        if self.cause is Cause.TOO_LARGE:
            return ReasonCode.DESTINATION_TOO_LARGE
        return ReasonCode.DESTINATION_UNAVAILABLE

    @property
    def blocks(self) -> bool:
        """A missing or forbidden topic refuses every record; a size limit only some."""
        return self.cause is not Cause.TOO_LARGE

    @property
    def detail(self) -> str:
        return f"{self.topic}: {self.error} ({_EXPLAINED[self.cause]})"


def refused(topic: str, exc: BaseException) -> DestinationFault | None:
    """The fault an error names by itself, with no need to ask the cluster.

    Only for vendor topics: the same error on one of the system's own topics is the runtime's
    to judge (it stops the worker). `RecordTooLargeError` is raised by aiokafka's consumer
    only, but names the same fault should a producer ever raise it.
    """
    if not is_vendor_scoped(topic):
        return None
    if isinstance(exc, TopicAuthorizationFailedError):
        return DestinationFault(topic, Cause.NOT_AUTHORISED, type(exc).__name__)
    if isinstance(exc, MessageSizeTooLargeError | RecordTooLargeError):
        return DestinationFault(topic, Cause.TOO_LARGE, type(exc).__name__)
    return None


_AMBIGUOUS: Final = (
    UnknownTopicOrPartitionError,
    NotLeaderForPartitionError,
    LeaderNotAvailableError,
    KafkaTimeoutError,
    RequestTimedOutError,
)


def needs_probe(exc: BaseException) -> bool:
    """Errors a deleted topic and an unreachable cluster both produce."""
    return isinstance(exc, _AMBIGUOUS)


@dataclass(frozen=True)
class Probe:
    """What one metadata request said about a topic.

    `partitions > 0`: it exists and the processors may describe it. `fault`: the cluster
    answered that it is missing or not authorised. Neither: no answer worth acting on.
    """

    partitions: int = 0
    fault: DestinationFault | None = None

    @property
    def exists(self) -> bool:
        return self.partitions > 0


async def probe(producer: AIOKafkaProducer, topic: str, timeout: float = PROBE_TIMEOUT_S) -> Probe:
    """Ask the cluster about one topic over the producer's own connections.

    Not `producer.partitions_for`: for a missing topic it polls for 30 s and then raises the
    same error as for a cluster that never answered, and it leaves the topic in the producer's
    metadata, which then logs an error for it at every refresh. Auto-creation is refused, so
    asking about a deleted topic never brings it back on a cluster that allows it.
    """
    client = producer.client
    node = client.get_random_node()
    if node is None:
        return Probe()
    request = MetadataRequest([topic], allow_auto_topic_creation=False)
    try:
        response = await asyncio.wait_for(client.send(node, request), timeout)
    except (KafkaError, TimeoutError, OSError):
        return Probe()
    for entry in response.to_object().get("topics", []):
        if entry.get("topic", entry.get("name")) != topic:
            continue
        code = entry.get("error_code", 0)
        if code == _MISSING:
            return Probe(
                fault=DestinationFault(topic, Cause.TOPIC_MISSING, for_code(code).__name__)
            )
        if code == _NOT_AUTHORISED:
            name = for_code(code).__name__
            return Probe(fault=DestinationFault(topic, Cause.NOT_AUTHORISED, name))
        if code == 0:
            return Probe(partitions=len(entry.get("partitions") or ()))
    return Probe()


class DestinationHealth:
    """Which vendor topics are unhealthy now, what that does to the metrics and the log.

    A topic found missing or not authorised is skipped for `retry_s` (its records go straight
    to the dead-letter topic), then tried again; the first record it acknowledges makes it
    healthy again. The gauge `vendor_unhealthy.<vendor>` is 1 while any of the vendor's topics
    is unhealthy and 0 once all recovered; `vendor_unhealthy.<vendor>.<kind>.<cause>` says which
    topic and why (it disappears at recovery). Counters: `destinations.unavailable.<vendor>`
    and `destinations.too_large.<vendor>` count records dead-lettered for each cause, and
    `deadletters.<reason>` as for every other dead letter.
    """

    def __init__(
        self,
        metrics: Metrics | None,
        retry_s: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._metrics = metrics
        self.retry_s = retry_s
        self._clock = clock
        self._unhealthy: dict[str, tuple[DestinationFault, float]] = {}  # topic -> (fault, until)
        self._logged: dict[tuple[str, Cause], float] = {}
        self._held: dict[tuple[str, Cause], int] = {}

    def blocked(self, topic: str) -> DestinationFault | None:
        """The fault to dead-letter a record for at once, or None to try the topic."""
        entry = self._unhealthy.get(topic)
        if entry is None or self._clock() >= entry[1]:
            return None
        return entry[0]

    def unhealthy_topics(self) -> dict[str, DestinationFault]:
        return {topic: fault for topic, (fault, _) in self._unhealthy.items()}

    def failed(self, fault: DestinationFault) -> None:
        """The destination refused records: remember it (unless only their size was wrong)."""
        if fault.blocks:
            old = self._unhealthy.get(fault.topic)
            self._unhealthy[fault.topic] = (fault, self._clock() + self.retry_s)
            if old is not None and old[0].cause is not fault.cause:
                self._gauge_cause(old[0], None)
            self._gauge_cause(fault, 1.0)
            self._gauge_vendor(fault.vendor_id)
        self._log(fault)

    def dead_lettered(self, fault: DestinationFault, records: int) -> None:
        if self._metrics is None or records == 0:
            return
        kind = "too_large" if fault.cause is Cause.TOO_LARGE else "unavailable"
        self._metrics.count(f"destinations.{kind}.{fault.vendor_id}", records)
        self._metrics.count(f"deadletters.{fault.reason.value}", records)
        key = (fault.topic, fault.cause)
        if key in self._held:
            self._held[key] += records

    def recovered(self, topic: str) -> None:
        """A record reached the topic: it is healthy (again)."""
        entry = self._unhealthy.pop(topic, None)
        if entry is None:
            return
        fault = entry[0]
        self._gauge_cause(fault, None)
        self._gauge_vendor(fault.vendor_id)
        self._logged.pop((topic, fault.cause), None)
        self._held.pop((topic, fault.cause), None)
        log.warning("destination %s is writable again; its records go there again", topic)

    def _log(self, fault: DestinationFault) -> None:
        """One line per destination and cause per interval: the fault of one vendor's topic
        once flooded the log with 23,000 identical lines in two minutes."""
        key = (fault.topic, fault.cause)
        now = self._clock()
        last = self._logged.get(key)
        if last is not None and now - last < self.retry_s:
            return
        self._logged[key] = now
        held = self._held.get(key, 0)
        since = f"; {held} record(s) dead-lettered since the last line" if held else ""
        self._held[key] = 0
        then = (
            f"its records go to the dead-letter topic for {self.retry_s:.0f} s, then it is tried"
            " again"
            if fault.blocks
            else "records too large for it go to the dead-letter topic"
        )
        log.warning("destination %s: %s%s", fault.detail, then, since)

    def _gauge_cause(self, fault: DestinationFault, value: float | None) -> None:
        if self._metrics is None:
            return
        name = f"vendor_unhealthy.{fault.vendor_id}.{_kind_of(fault.topic)}.{fault.cause.value}"
        if value is None:
            self._metrics.gauges.pop(name, None)
        else:
            self._metrics.gauges[name] = value

    def _gauge_vendor(self, vendor_id: str) -> None:
        if self._metrics is None:
            return
        down = any(f.vendor_id == vendor_id for f, _ in self._unhealthy.values())
        self._metrics.gauges[f"vendor_unhealthy.{vendor_id}"] = 1.0 if down else 0.0


class _OncePerTopic(logging.Filter):
    """Lets through one record per (logger, message, vendor topic) per interval.

    aiokafka logs a missing topic at every metadata refresh of a producer that knows it, and
    a producer with a batch queued for it refreshes in a tight loop until the batch expires
    (measured: about 1,200 lines a second for 30 s). Lines about other topics pass untouched.
    """

    def __init__(self, interval_s: float, clock: Callable[[], float] = time.monotonic) -> None:
        super().__init__()
        self.interval_s = interval_s
        self._clock = clock
        self._last: dict[tuple[str, str, str], float] = {}

    def filter(self, record: logging.LogRecord) -> bool:
        topic = _vendor_topic_in(record.args)
        if topic is None:
            return True
        key = (record.name, str(record.msg), topic)
        now = self._clock()
        last = self._last.get(key)
        if last is not None and now - last < self.interval_s:
            return False
        if len(self._last) > 10_000:
            self._last.clear()
        self._last[key] = now
        return True


def _vendor_topic_in(args: Any) -> str | None:
    values = args if isinstance(args, tuple) else (args,)
    for value in values:
        topic = value.topic if isinstance(value, TopicPartition) else value
        if isinstance(topic, str) and is_vendor_scoped(topic):
            return topic
    return None


_CLIENT_LOGGERS: Final = ("aiokafka.cluster", "aiokafka.client", "aiokafka.producer.sender")


def quiet_client_logs(interval_s: float) -> None:
    """Install the per-topic limit on aiokafka's loggers (once per process)."""
    for name in _CLIENT_LOGGERS:
        logger = logging.getLogger(name)
        if not any(isinstance(f, _OncePerTopic) for f in logger.filters):
            logger.addFilter(_OncePerTopic(interval_s))
