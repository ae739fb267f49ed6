"""`kill -USR1 <worker pid>`: log what every asyncio task of the worker is waiting for.

A worker that stops making progress without an error (a hung await, a lock never released) shows
nothing in a thread dump: every coroutine is parked in the event loop. This prints each task's
coroutine stack, on the main loop and on faust's consumer thread loop, as one log record.
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
    """faust's view of the assignment: what it fetches, pauses, and believes committed."""
    try:
        consumer = app.consumer
        assigned = sorted(consumer.assignment())
        active = consumer._active_partitions or set()
        lines = [
            f"--- consumer: rebalancing={app.rebalancing} in_recovery={app.in_recovery}"
            f" flow_active={consumer.flow_active} flow_control={app.flow_control.is_active()}"
        ]
        for tp in assigned:
            flags = "".join(
                flag
                for flag, on in (
                    ("A", tp in active),
                    ("P", tp in consumer._paused_partitions),
                    ("B", tp in consumer._buffered_partitions),
                )
                if on
            )
            lines.append(
                f"  {tp.topic}[{tp.partition}] {flags or '-'} committed="
                f"{consumer._committed_offset.get(tp)} read={consumer._read_offset.get(tp)}"
                f" acked={len(consumer._acked.get(tp, ()))}"
            )
        for topic, channels in sorted(app.topics._topic_name_index.items()):
            sizes = [channel.queue.qsize() for channel in channels]
            if any(sizes):
                lines.append(f"  queued for {topic}: {sizes}")
        return "\n".join(lines) + "\n"
    except Exception as exc:  # a worker between assignments
        return f"--- consumer: unavailable ({exc!r})\n"


def install(app: Any, *extra: Callable[[], str]) -> None:
    """Call from a task running on the worker's loop (signal handlers belong to a loop).

    `extra` adds lines of other components' state (the stall guard's) to every dump."""
    loop = asyncio.get_running_loop()

    def dump() -> None:
        text = _describe(loop, "worker loop")
        thread = getattr(app.consumer, "_thread", None)
        thread_loop = getattr(thread, "thread_loop", None)
        if thread_loop is not None and thread_loop is not loop:
            text += _describe(thread_loop, "consumer thread loop")
        text += _ours() + _consumer_state(app) + "".join(part() for part in extra)
        log.warning("task dump\n%s", text)

    loop.add_signal_handler(signal.SIGUSR1, dump)
