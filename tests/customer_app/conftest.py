"""The customer app served for real on 127.0.0.1, with its own wallet in a temporary folder."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import aiohttp

from intentcast.agents import ClientSettings, Wallet
from intentcast.customer_app.server import TOKEN_HEADER, CustomerAppServer
from intentcast.customer_app.session import CustomerSession


@asynccontextmanager
async def serving(
    bootstrap: str, wallet_path: Path, **session_kw: float
) -> AsyncIterator[CustomerAppServer]:
    """The app on a free port, stopped again on exit."""
    session = CustomerSession(
        ClientSettings(bootstrap=bootstrap), Wallet(wallet_path), **session_kw
    )
    server = CustomerAppServer(session, port=0, refresh=0.2, retention_every=5.0)
    await server.start()
    try:
        yield server
    finally:
        await server.stop()


@asynccontextmanager
async def signed_in(server: CustomerAppServer) -> AsyncIterator[aiohttp.ClientSession]:
    """An HTTP client that opened the printed URL (so holds the cookie) and sends the header."""
    jar = aiohttp.CookieJar(unsafe=True)  # cookies for a bare IP address
    async with aiohttp.ClientSession(cookie_jar=jar, headers={TOKEN_HEADER: server.token}) as http:
        async with http.get(server.url, allow_redirects=False) as response:
            assert response.status == 303
        yield http
