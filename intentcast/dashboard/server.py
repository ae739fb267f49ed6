"""The dashboard's web server (aiohttp): one page, live JSON over SSE, and Prometheus `/metrics`.

The reader and the web server share one event loop and one Aggregator, so the page, the JSON
and `/metrics` always agree. It binds to 127.0.0.1 unless told otherwise: it has no login.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from importlib import resources
from typing import Any

import orjson
from aiohttp import web

from intentcast.monitoring import CONTENT_TYPE, Aggregator, TopicReader, exposition
from intentcast.monitoring.aggregate import point_json

__all__ = ["DashboardServer"]

log = logging.getLogger("intentcast.dashboard")


def _json(data: Any) -> bytes:
    return orjson.dumps(data, option=orjson.OPT_NON_STR_KEYS)


class DashboardServer:
    """Reads the topics in the background and serves what it has read."""

    def __init__(
        self,
        kafka_kwargs: dict[str, Any],
        host: str = "127.0.0.1",
        port: int = 8765,
        lookback: float = 900.0,
        refresh: float = 1.0,
    ) -> None:
        self.host, self.port, self.refresh = host, port, refresh
        self.aggregator = Aggregator()
        self.reader = TopicReader(kafka_kwargs, self.aggregator, lookback=lookback)
        self.runner: web.AppRunner | None = None
        self.task: asyncio.Task[None] | None = None
        self.page = resources.files(__package__).joinpath("static/index.html").read_bytes()

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}/"

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_get("/", self.index)
        app.router.add_get("/api/snapshot", self.snapshot)
        app.router.add_get("/api/stream", self.stream)
        app.router.add_get("/metrics", self.metrics)
        app.router.add_get("/healthz", self.health)
        return app

    async def start(self) -> None:
        """Connect to Kafka (raises MonitorError with a hint), then listen for HTTP."""
        await self.reader.start()
        self.task = asyncio.create_task(self._read_forever(), name="dashboard-reader")
        self.runner = web.AppRunner(self.app(), access_log=None)
        await self.runner.setup()
        await web.TCPSite(self.runner, self.host, self.port).start()

    async def stop(self) -> None:
        if self.task is not None:
            self.task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self.task
        if self.runner is not None:
            await self.runner.cleanup()
        await self.reader.stop()

    async def _read_forever(self) -> None:
        while True:
            try:
                await self.reader.poll(timeout_ms=500)
            except Exception as exc:  # keep serving what we have; the page shows the age
                log.warning("reading metrics failed, retrying in 2 s: %s", exc)
                await asyncio.sleep(2.0)

    def _view(self, history: bool) -> dict[str, Any]:
        data = self.aggregator.view(time.time()).as_json(history=history)
        data["bootstrap"] = self.reader.bootstrap
        return data

    async def index(self, request: web.Request) -> web.Response:
        return web.Response(body=self.page, content_type="text/html", charset="utf-8")

    async def snapshot(self, request: web.Request) -> web.Response:
        """The whole view, with its history (the page loads this once, then listens)."""
        return web.Response(body=_json(self._view(True)), content_type="application/json")

    async def stream(self, request: web.Request) -> web.StreamResponse:
        """Server-sent events: the view without history, plus its newest point, every refresh."""
        response = web.StreamResponse(
            headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache"}
        )
        await response.prepare(request)
        try:
            while True:
                data = self._view(False)
                history = self.aggregator.history
                data["point"] = point_json(history[-1]) if history else None
                await response.write(b"data: " + _json(data) + b"\n\n")
                await asyncio.sleep(self.refresh)
        except (ConnectionResetError, asyncio.CancelledError):
            pass
        return response

    async def metrics(self, request: web.Request) -> web.Response:
        body = exposition(self.aggregator.view(time.time()))
        return web.Response(body=body.encode(), headers={"Content-Type": CONTENT_TYPE})

    async def health(self, request: web.Request) -> web.Response:
        view = self.aggregator.view(time.time())
        return web.Response(
            body=_json({"ok": True, "live_sources": view.live_sources}),
            content_type="application/json",
        )
