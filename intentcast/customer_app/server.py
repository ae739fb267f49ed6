"""The customer app's web server (aiohttp, as the dashboard): one page and a small JSON API.

It binds 127.0.0.1 only and answers only a browser that holds this run's random token: the
URL printed at start carries it once, the page then keeps it in a same-site, HTTP-only cookie
and repeats it in a header on every change. Another local user (or a web page in another tab)
cannot read the token, so cannot drive the app. The page loads nothing from anywhere else
(its Content-Security-Policy forbids it), so nothing about the customer leaves this process
except the intents and acceptances it sends to Kafka.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import secrets
import socket
from collections.abc import Awaitable, Callable
from importlib import resources
from typing import Any, Final

import orjson
from aiohttp import web

from intentcast.agents import WalletError
from intentcast.customer_app.session import AppError, CustomerSession

__all__ = ["HOST", "TOKEN_COOKIE", "TOKEN_HEADER", "CustomerAppServer"]

HOST: Final = "127.0.0.1"
TOKEN_COOKIE: Final = "intentcast_app"
TOKEN_HEADER: Final = "X-Intentcast-Token"
SECURITY_HEADERS: Final = {
    "Content-Security-Policy": "default-src 'none'; script-src 'unsafe-inline'; "
    "style-src 'unsafe-inline'; img-src data:; connect-src 'self'; form-action 'none'; "
    "frame-ancestors 'none'; base-uri 'none'",
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
    "Cache-Control": "no-store",
}
_UNSAFE: Final = frozenset({"POST", "PUT", "PATCH", "DELETE"})

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def _json(data: Any, status: int = 200) -> web.Response:
    return web.Response(body=orjson.dumps(data), status=status, content_type="application/json")


def _error(status: int, message: str, fields: dict[str, str] | None = None) -> web.Response:
    return _json({"error": message, "fields": fields or {}}, status)


class CustomerAppServer:
    """Serves one customer's app on 127.0.0.1; :attr:`url` carries the run's token."""

    def __init__(
        self,
        session: CustomerSession,
        port: int = 8766,
        refresh: float = 0.4,
        retention_every: float = 60.0,
    ) -> None:
        self.session, self.port, self.refresh = session, port, refresh
        self.retention_every = retention_every
        self.watcher: asyncio.Task[None] | None = None
        self.token = secrets.token_urlsafe(24)
        self.runner: web.AppRunner | None = None
        page = resources.files(__package__).joinpath("static/index.html").read_text("utf-8")
        self.page = page.replace("{{TOKEN}}", self.token).encode("utf-8")

    @property
    def origin(self) -> str:
        return f"http://{HOST}:{self.port}"

    @property
    def url(self) -> str:
        """The address to open: once visited, the token moves into a cookie."""
        return f"{self.origin}/?token={self.token}"

    def app(self) -> web.Application:
        app = web.Application(middlewares=[self._guard], client_max_size=64 * 1024)
        routes = app.router
        routes.add_get("/", self.index)
        routes.add_get("/api/roster", self.roster)
        routes.add_get("/api/intents", self.intents)
        routes.add_post("/api/intents", self.publish)
        routes.add_get("/api/intents/{intent_id}", self.intent)
        routes.add_post("/api/intents/{intent_id}/accept", self.accept)
        routes.add_post("/api/intents/{intent_id}/cancel", self.cancel)
        routes.add_delete("/api/intents/{intent_id}", self.delete)
        routes.add_post("/api/intents/{intent_id}/keep", self.keep)
        routes.add_post("/api/intents/{intent_id}/disclose", self.disclose)
        routes.add_post("/api/retention/refresh", self.refresh_retention)
        routes.add_get("/api/agreements/{agreement_id}/verify", self.verify)
        routes.add_get("/api/export", self.export)
        routes.add_get("/api/events", self.events)
        return app

    async def start(self) -> None:
        """Listen on 127.0.0.1 (port 0: any free port, then :attr:`port` is the real one)."""
        self.runner = web.AppRunner(self.app(), access_log=None)
        await self.runner.setup()
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind((HOST, self.port))
        except OSError:
            sock.close()
            await self.runner.cleanup()
            raise
        self.port = sock.getsockname()[1]
        await web.SockSite(self.runner, sock).start()
        self.watcher = asyncio.create_task(
            self.session.watch_retention(self.retention_every), name="customer-app-retention"
        )

    async def stop(self) -> None:
        if self.watcher is not None:
            self.watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self.watcher
        if self.runner is not None:
            await self.runner.cleanup()
        await self.session.close()

    def _holds_token(self, request: web.Request) -> bool:
        cookie = request.cookies.get(TOKEN_COOKIE, "")
        if not hmac.compare_digest(cookie.encode(), self.token.encode()):
            return False
        if request.method in _UNSAFE:  # a forged form post cannot set a header
            header = request.headers.get(TOKEN_HEADER, "")
            return hmac.compare_digest(header.encode(), self.token.encode())
        return True

    @web.middleware
    async def _guard(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        """Token, loopback Host (no DNS rebinding), security headers, errors as one sentence."""
        if request.host not in (f"{HOST}:{self.port}", f"localhost:{self.port}"):
            return _error(403, "Open the app at the address `intentcast customer` printed.")
        given = request.query.get("token")
        if request.path == "/" and given is not None:
            if not hmac.compare_digest(given.encode(), self.token.encode()):
                return _error(403, "This link is from another run: open the address printed now.")
            response: web.StreamResponse = web.Response(status=303, headers={"Location": "/"})
            response.set_cookie(TOKEN_COOKIE, self.token, httponly=True, samesite="Strict")
        elif not self._holds_token(request):
            return _error(403, "Open the app at the address `intentcast customer` printed "
                          "(it carries this run's token).")  # fmt: skip
        else:
            try:
                response = await handler(request)
            except AppError as exc:
                response = _error(exc.status, exc.message, exc.fields)
            except WalletError as exc:  # says what is wrong with the file and what to run
                response = _error(500, str(exc))
        if not response.prepared:
            response.headers.update(SECURITY_HEADERS)
        return response

    async def _body(self, request: web.Request) -> dict[str, Any]:
        try:
            body = orjson.loads(await request.read())
        except orjson.JSONDecodeError:
            raise AppError(400, "The request was not JSON; reload the page.") from None
        if not isinstance(body, dict):
            raise AppError(400, "The request was not a JSON object; reload the page.")
        return body

    async def index(self, request: web.Request) -> web.Response:
        return web.Response(body=self.page, content_type="text/html", charset="utf-8")

    async def roster(self, request: web.Request) -> web.Response:
        return _json(self.session.roster())

    async def intents(self, request: web.Request) -> web.Response:
        return _json(self.session.views())

    async def intent(self, request: web.Request) -> web.Response:
        return _json(self.session.view(request.match_info["intent_id"]))

    async def publish(self, request: web.Request) -> web.Response:
        return _json(await self.session.publish(await self._body(request)), 201)

    async def accept(self, request: web.Request) -> web.Response:
        offer_id = (await self._body(request)).get("offer_id")
        if not isinstance(offer_id, str):
            raise AppError(400, "Choose an offer to accept.")
        return _json(await self.session.accept(request.match_info["intent_id"], offer_id))

    async def cancel(self, request: web.Request) -> web.Response:
        return _json(await self.session.cancel(request.match_info["intent_id"]))

    async def delete(self, request: web.Request) -> web.Response:
        await self.session.delete(request.match_info["intent_id"])
        return _json({"deleted": request.match_info["intent_id"]})

    async def disclose(self, request: web.Request) -> web.Response:
        form = await self._body(request)
        return _json(await self.session.disclose(request.match_info["intent_id"], form))

    async def keep(self, request: web.Request) -> web.Response:
        keep = (await self._body(request)).get("keep")
        if not isinstance(keep, bool):
            raise AppError(400, "Say whether to keep the keys (true or false).")
        return _json(self.session.keep_keys(request.match_info["intent_id"], keep))

    async def refresh_retention(self, request: web.Request) -> web.Response:
        return _json(await self.session.refresh_retention())

    async def verify(self, request: web.Request) -> web.Response:
        return _json(self.session.verify(request.match_info["agreement_id"]))

    async def export(self, request: web.Request) -> web.Response:
        data = self.session.export(include_keys=request.query.get("keys") == "1")
        response = _json(data)
        response.headers["Content-Disposition"] = 'attachment; filename="intentcast-export.json"'
        return response

    async def events(self, request: web.Request) -> web.StreamResponse:
        """Server-sent events: every intent's view, sent again whenever it changed."""
        response = web.StreamResponse(
            headers={"Content-Type": "text/event-stream", **SECURITY_HEADERS}
        )
        await response.prepare(request)
        last = b""
        with contextlib.suppress(ConnectionResetError, asyncio.CancelledError):
            while True:
                data = orjson.dumps({"intents": self.session.views(), **self.session.status()})
                if data != last:
                    await response.write(b"data: " + data + b"\n\n")
                    last = data
                await asyncio.sleep(self.refresh)
        return response
