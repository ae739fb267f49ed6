"""Shared rich console and the one way the CLI reports a failure (message, hint, exit code)."""

from __future__ import annotations

import typer
from rich.console import Console

console = Console()
err_console = Console(stderr=True)


def fail(message: str, code: int = 1) -> typer.Exit:
    """Print an error in red and return the Exit to raise (so callers write `raise fail(...)`).

    Not wrapped: piped into a log or a supervisor, one error stays one line that a grep finds.
    """
    err_console.print(f"[bold red]error:[/] {message}", soft_wrap=True)
    return typer.Exit(code)
