"""What a handler may use: one narrow view per thing it does, and nothing that runs the worker.

A handler reads and stages intent state, queues outputs, looks up vendor keys, chains
agreements, asks whether an offer was delivered before a crash, counts, and reads the clock.
It never starts, stops, flushes or commits anything, and never waits for an upstream replay:
the runtime does all of that around it (`broker.runtime.batch_loop`). The handlers are typed
against `HandlerContext`, so mypy refuses a handler that reaches for more; `broker.context.
Context` is the one object that satisfies it, and a unit test can build one with a dict for a
table and outputs that are only queued (`tests/broker/test_handlers_without_kafka.py`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Protocol

from intentcast.broker.ledger import BuildAgreement, BuildContent, M
from intentcast.broker.records import IntentRecord
from intentcast.broker.settings import BrokerSettings
from intentcast.schemas import Agreement, ReasonCode, StatusKind
from intentcast.schemas.log import EntryKind, LogEntry, Reader

Headers = list[tuple[str, bytes]]


class IntentState(Protocol):
    """The intent table as one batch sees it: its own staged writes over what is applied."""

    def get(self, intent_id: str) -> IntentRecord | None: ...
    def put(self, intent_id: str, record: IntentRecord) -> None: ...
    def drop(self, intent_id: str) -> None: ...
    def schedule(self, intent_id: str, expires_at_ms: int) -> None: ...
    def due(self, partition: int, now_ms: int) -> list[str]: ...
    def open_count(self) -> int: ...


class Emitter(Protocol):
    """Records queued with the batch; they reach Kafka when the runtime flushes it."""

    async def send(
        self,
        topic: str,
        value: bytes,
        key: bytes | None,
        *,
        partition: int | None = None,
        headers: Headers | None = None,
    ) -> None: ...

    async def status(
        self,
        intent_id: str,
        status: StatusKind,
        *,
        reason: ReasonCode | None = None,
        detail: str = "",
        agreement_id: str | None = None,
    ) -> None: ...

    async def dead_letter(
        self,
        *,
        topic: str,
        partition: int,
        offset: int,
        key: bytes | None,
        value: bytes | None,
        reason: ReasonCode,
        detail: str,
    ) -> None: ...

    async def feedback(
        self,
        *,
        vendor_id: str,
        offer_id: str,
        intent_id: str,
        reason: ReasonCode | None,
        detail: str = "",
    ) -> None: ...


class VendorKeys(Protocol):
    """Registered vendors' signing keys (the registry topic, folded by the worker)."""

    def key_of(self, vendor_id: str) -> str | None: ...
    def sealing_key_of(self, vendor_id: str) -> str | None: ...
    async def current_key(self, vendor_id: str) -> str | None: ...


class AgreementChain(Protocol):
    """The agreement log of one partition: what it records, and the next link (an agreement,
    or an entry of any type in :data:`intentcast.schemas.log.ENTRY_KINDS`)."""

    async def recorded(self, partition: int, intent_id: str) -> str | None: ...
    async def append(self, partition: int, intent_id: str, build: BuildAgreement) -> Agreement: ...
    async def append_entry(
        self,
        partition: int,
        kind: EntryKind[M],
        build: BuildContent[M],
        readers: Mapping[Reader, str] | Callable[[M], Mapping[Reader, str]],
    ) -> tuple[M, LogEntry]: ...
    async def find(self, partition: int, intent_id: str) -> Agreement | None: ...


class DeliveryLog(Protocol):
    """Whether a delivered offer reached Kafka before a crash, though state does not say so."""

    async def delivered(self, partition: int, offer_id: str, since_ms: int) -> bool: ...


class Counters(Protocol):
    def count(self, name: str, n: int = 1) -> None: ...
    def observe(self, name: str, value_ms: float) -> None: ...
    def gauge(self, name: str, value: float) -> None: ...


class HandlerContext(Protocol):
    """Everything a handler is given; read-only, so a handler cannot swap a part out."""

    @property
    def settings(self) -> BrokerSettings: ...
    @property
    def store(self) -> IntentState: ...
    @property
    def outputs(self) -> Emitter: ...
    @property
    def registry(self) -> VendorKeys: ...
    @property
    def ledger(self) -> AgreementChain: ...
    @property
    def delivered(self) -> DeliveryLog: ...
    @property
    def metrics(self) -> Counters: ...
    @property
    def clock(self) -> Callable[[], datetime]: ...
