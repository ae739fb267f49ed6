"""`intentcast dashboard`: a local web page with live charts, `/api/snapshot` and `/metrics`.

The server lives in `server.py` and is imported only when the command runs, so the rest of
the CLI starts without loading aiohttp.
"""

from __future__ import annotations

import asyncio

import typer

from intentcast.agents import ClientSettings
from intentcast.console import console, fail
from intentcast.monitoring import MonitorError

__all__ = ["dashboard"]


async def _serve(settings: ClientSettings, host: str, port: int, lookback: float) -> None:
    from intentcast.dashboard.server import DashboardServer

    server = DashboardServer(settings.kafka_kwargs(), host=host, port=port, lookback=lookback)
    await server.start()
    console.print(
        f"dashboard on [bold]{server.url}[/]  ·  Prometheus: {server.url}metrics  ·  "
        f"JSON: {server.url}api/snapshot  ·  reading {settings.bootstrap}; Ctrl-C stops"
    )
    try:
        await asyncio.Event().wait()
    finally:
        await server.stop()


def dashboard(
    port: int = typer.Option(8765, help="HTTP port."),
    host: str = typer.Option(
        "127.0.0.1", help="Address to bind. The page has no login: keep it local or behind a proxy."
    ),
    bootstrap: str | None = typer.Option(
        None, "--bootstrap", "-b", help="Kafka bootstrap servers (default: $INTENTCAST_BOOTSTRAP)."
    ),
    lookback: float = typer.Option(
        900.0, min=0, help="Seconds of metrics history to load at start (for the charts)."
    ),
) -> None:
    """Serve a live web dashboard: flows, refusals by reason, agreements, latency percentiles.

    Same figures as `intentcast monitor`, read the same way (metrics and status topics, no
    consumer group). Also serves /metrics (Prometheus text format) and /api/snapshot (JSON).
    """
    try:
        settings = ClientSettings(bootstrap=bootstrap) if bootstrap else ClientSettings()
        asyncio.run(_serve(settings, host, port, lookback))
    except MonitorError as exc:
        raise fail(str(exc)) from exc
    except OSError as exc:
        raise fail(f"cannot listen on {host}:{port}: {exc}\n  → pick another --port") from exc
    except KeyboardInterrupt:
        console.print("dashboard stopped")
