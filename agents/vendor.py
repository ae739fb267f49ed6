"""The vendor SDK: declare a vendor and its handlers, then serve it on Kafka or in memory.

`Vendor` is the declaration (`agents.declaration`) plus the ways to serve it: ``run()``,
``async with vendor``, or ``vendor.serving(transport)`` with any `VendorTransport`, for
example the in-memory one a unit test uses. Serving builds a `VendorRuntime` from the
declaration; the declaration itself holds nothing that runs.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import signal
from collections.abc import AsyncIterator
from types import TracebackType

from intentcast.agents.declaration import VendorDeclaration
from intentcast.agents.errors import VendorConfigError
from intentcast.agents.kafka_transport import KafkaTransport
from intentcast.agents.transport import VendorTransport
from intentcast.agents.vendor_runtime import VendorRuntime, VendorStats

__all__ = ["Vendor"]

_SIGNALS = (signal.SIGINT, signal.SIGTERM)


class Vendor(VendorDeclaration):
    """A vendor agent: what it is (see `VendorDeclaration`) and the ways to serve it.

    ``run()`` and ``async with vendor`` serve it on the Kafka its ``settings`` name (default:
    the ``INTENTCAST_*`` environment) and count in ``stats``; ``serving(transport)`` serves it
    on any transport with a runtime of its own.
    """

    _runtime: VendorRuntime | None = None
    """The runtime of ``run()`` / ``async with vendor`` while one is running."""

    @functools.cached_property
    def stats(self) -> VendorStats:
        """Counters of every ``run()`` / ``async with vendor`` of this vendor so far."""
        return VendorStats()

    @contextlib.asynccontextmanager
    async def serving(
        self, transport: VendorTransport | None = None
    ) -> AsyncIterator[VendorRuntime]:
        """Serve this vendor on ``transport`` (Kafka from ``settings`` if None) inside the block.

        The runtime it yields has counters of its own (``runtime.stats``), so one declaration
        can be served by several runtimes at once, for example in tests.
        """
        runtime = VendorRuntime(self, transport or KafkaTransport(self.settings))
        await runtime.start()
        try:
            yield runtime
        finally:
            await runtime.close()

    @property
    def assignment(self) -> frozenset[tuple[str, int]]:
        """(market topic, partition) pairs the running vendor consumes; empty if stopped."""
        return frozenset() if self._runtime is None else self._runtime.assignment()

    async def __aenter__(self) -> Vendor:
        runtime = VendorRuntime(self, KafkaTransport(self.settings), self.stats)
        self._runtime = runtime  # before start: stop() must reach it while it registers
        try:
            await runtime.start()
        except BaseException:
            self._runtime = None
            raise
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        runtime, self._runtime = self._runtime, None
        if runtime is not None:
            await runtime.close()

    def stop(self) -> None:
        """Ask the running vendor to finish: stop consuming, flush, commit, close."""
        if self._runtime is not None:
            self._runtime.stop()

    async def wait(self) -> None:
        """Run until :meth:`stop` (re-raising what ended the consume loop, if it failed)."""
        if self._runtime is None:
            raise VendorConfigError("the vendor is not started; use `async with vendor:`")
        await self._runtime.wait()

    async def run(self) -> None:
        """Serve on Kafka until stopped by :meth:`stop`, SIGINT or SIGTERM, then shut down.

        Several vendors may run in one process: one signal handler stops them all (a handler
        per vendor would replace the previous one, leaving the others running forever).
        """
        loop = asyncio.get_running_loop()
        if not _RUNNING:
            for sig in _SIGNALS:
                with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
                    loop.add_signal_handler(sig, _stop_all)
        _RUNNING.add(self)
        try:
            async with self:
                await self.wait()
        finally:
            _RUNNING.discard(self)
            if not _RUNNING:
                for sig in _SIGNALS:
                    with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
                        loop.remove_signal_handler(sig)


_RUNNING: set[Vendor] = set()
"""Vendors running in this process, so one signal handler can stop every one of them."""


def _stop_all() -> None:
    for vendor in list(_RUNNING):
        vendor.stop()
