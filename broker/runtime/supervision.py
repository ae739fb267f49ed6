"""A worker that cannot work leaves, so its supervisor starts a fresh one.

faust's own crash path (`app.crash`) stops services one by one and can hang on a consumer
thread or a producer that waits for a broker which is gone: the process then stays alive,
answers nothing and ignores SIGTERM. Every stop therefore arms a watchdog thread first, which
ends the process with `os._exit` if the orderly stop has not finished in time. A thread, not
a task: it fires even when the event loop itself is what hangs.

Exit status: 1 after a fault (the supervisor should restart), 0 after an orderly SIGTERM that
finished; a SIGTERM stop that overran its budget exits 1, since its last progress may not have
been committed (nothing is lost: the inputs are replayed).
"""

from __future__ import annotations

import logging
import os
import sys
import threading
import time
from collections.abc import Callable
from typing import Any

log = logging.getLogger("intentcast.broker.runtime")
FAULT_GRACE_S = 5.0  # after a fault: time for the orderly part of the stop
SHUTDOWN_GRACE_S = 8.0  # after SIGTERM: inside the 10 s a supervisor usually grants


class Supervision:
    """One per worker process: `fatal` after a fault, `stopping` when the worker stops."""

    def __init__(self, app: Any) -> None:
        self._app = app
        self._armed = threading.Lock()
        self._timer: threading.Timer | None = None
        self.fault: BaseException | None = None

    def _arm(self, after_s: float, status: int, why: str) -> None:
        with self._armed:
            if self._timer is not None:
                return

            def leave() -> None:
                log.critical("%s; the worker did not stop within %.0f s: exiting", why, after_s)
                logging.shutdown()
                sys.stderr.flush()
                os._exit(status)

            self._timer = threading.Timer(after_s, leave)
            self._timer.daemon = True
            self._timer.name = "intentcast-exit-watchdog"
            self._timer.start()

    async def fatal(self, what: str, exc: BaseException) -> None:
        """The worker cannot go on: say so in one line, stop, and exit 1 whatever happens."""
        if self.fault is None:
            self.fault = exc
            log.critical(
                "%s: %s: %s; stopping the worker (exit 1) so its supervisor restarts it",
                what, type(exc).__name__, exc,
            )  # fmt: skip
        self._arm(FAULT_GRACE_S, 1, what)
        await self._app.crash(exc)

    def stopping(self) -> None:
        """The worker began to stop (SIGTERM, or after `fatal`): bound how long that takes."""
        self._arm(SHUTDOWN_GRACE_S, 1, "shutdown overran its budget")

    def extend(self, after_s: float, why: str) -> None:
        """The stop is over but `why` must still run in this process (the exit scan for
        undecodable input): the watchdog armed for the stop would cut it short, so it is
        replaced by one that allows `after_s` from now and still ends the process with 1."""
        with self._armed:
            if self._timer is not None:
                self._timer.cancel()
                self._timer = None
        self._arm(after_s, 1, why)

    def exit_status(self) -> int:
        return 0 if self.fault is None else 1


class KafkaLiveness:
    """When Kafka last acknowledged something of this worker (a batch, the metrics, a tick).

    A worker with nothing to handle never retries a batch, so a broker that is gone would
    leave it alive and useless for as long as the outage lasts: past the budget it counts as
    a fault of the whole worker like any other, and a fresh process starts over.
    """

    def __init__(self, budget_s: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.budget_s = budget_s
        self._clock = clock
        self._last = clock()

    def ok(self) -> None:
        self._last = self._clock()

    def silent_for(self) -> float:
        return self._clock() - self._last

    def gone(self) -> bool:
        return self.silent_for() > self.budget_s
