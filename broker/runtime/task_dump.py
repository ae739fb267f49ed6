"""`kill -USR1 <worker pid>`: log what every asyncio task of the worker is waiting for.

A worker that stops making progress without an error (a hung await, a lock never released) shows
nothing in a thread dump: every coroutine is parked in the event loop. This prints each task's
coroutine stack on the worker's loop, every suspended coroutine of the project, the
assignment and the runtime's own state, as one log record (public API of faust only).
"""

from __future__ import annotations

import asyncio
import gc
import io
import logging
import signal
import types
from collections.abc import Callable
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


def _chain(obj: Any) -> list[str]:
    """Where a suspended coroutine or async generator waits, following what it awaits."""
    lines = []
    while obj is not None:
        frame = getattr(obj, "cr_frame", None) or getattr(obj, "ag_frame", None)
        if frame is not None:
            lines.append(f"  {frame.f_code.co_filename}:{frame.f_lineno} {frame.f_code.co_name}")
        obj = getattr(obj, "cr_await", None) or getattr(obj, "ag_await", None)
    return lines


def _ours() -> str:
    """Every suspended coroutine of the project itself (task stacks stop at faust's wrappers)."""
    out = io.StringIO()
    out.write("--- project coroutines\n")
    for obj in gc.get_objects():
        if isinstance(obj, (types.CoroutineType, types.AsyncGeneratorType)):
            lines = _chain(obj)
            if lines and any(f"/{pkg}/" in lines[0] for pkg in ("broker", "agents")):
                out.write("\n".join(lines) + "\n\n")
    return out.getvalue()


def _consumer_state(app: Any) -> str:
    """The assignment as faust's public API shows it (the checkpoint adds what is done)."""
    try:
        consumer = app.consumer
        lines = [
            f"--- consumer: rebalancing={app.rebalancing} in_recovery={app.in_recovery}"
            f" flow_active={consumer.flow_active} flow_control={app.flow_control.is_active()}"
        ]
        lines += [f"  assigned {tp.topic}[{tp.partition}]" for tp in sorted(consumer.assignment())]
        return "\n".join(lines) + "\n"
    except Exception as exc:  # a worker between assignments
        return f"--- consumer: unavailable ({exc!r})\n"


def install(app: Any, *extra: Callable[[], str]) -> None:
    """Call from a task running on the worker's loop (signal handlers belong to a loop).

    `extra` adds lines of other components' state (checkpoint, stall watch) to every dump."""
    loop = asyncio.get_running_loop()

    def dump() -> None:
        text = _describe(loop, "worker loop")
        text += _ours() + _consumer_state(app) + "".join(part() for part in extra)
        log.warning("task dump\n%s", text)

    loop.add_signal_handler(signal.SIGUSR1, dump)
