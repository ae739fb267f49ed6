"""`kill -USR1 <worker pid>`: log what every asyncio task of the worker is waiting for.

A worker that stops making progress without an error (a hung await, a lock never released) shows
nothing in a thread dump: every coroutine is parked in the event loop. This prints each task's
coroutine stack, on the main loop and on faust's consumer thread loop, as one log record.
"""

from __future__ import annotations

import asyncio
import io
import logging
import signal
from typing import Any

log = logging.getLogger("intentcast.broker.tasks")


def _describe(loop: asyncio.AbstractEventLoop, title: str) -> str:
    out = io.StringIO()
    tasks = asyncio.all_tasks(loop)
    out.write(f"--- {title}: {len(tasks)} tasks\n")
    for task in sorted(tasks, key=lambda t: t.get_name()):
        out.write(f"* {task.get_name()} {task.get_coro()!r}\n")
        task.print_stack(limit=12, file=out)
    return out.getvalue()


def install(app: Any) -> None:
    """Call from a task running on the worker's loop (signal handlers belong to a loop)."""
    loop = asyncio.get_running_loop()

    def dump() -> None:
        text = _describe(loop, "worker loop")
        thread = getattr(app.consumer, "_thread", None)
        thread_loop = getattr(thread, "thread_loop", None)
        if thread_loop is not None and thread_loop is not loop:
            text += _describe(thread_loop, "consumer thread loop")
        log.warning("task dump\n%s", text)

    loop.add_signal_handler(signal.SIGUSR1, dump)
