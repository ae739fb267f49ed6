"""`intentcast customer`: the customer's own app, a web page served by their own process.

The server lives in `server.py` and is imported only when the command runs, so the rest of
the CLI starts without loading aiohttp.
"""

from __future__ import annotations

import asyncio
import webbrowser
from pathlib import Path

import typer

from intentcast.agents import ClientSettings, Wallet, WalletError, default_wallet_path
from intentcast.console import console, fail

__all__ = ["customer"]


async def _serve(settings: ClientSettings, wallet: Wallet, port: int, open_browser: bool) -> None:
    from intentcast.customer_app.server import CustomerAppServer
    from intentcast.customer_app.session import CustomerSession

    server = CustomerAppServer(CustomerSession(settings, wallet), port=port)
    await server.start()
    console.print(
        f"your app: [bold]{server.url}[/]\n"
        f"  keys and receipts stay in {wallet.path}; Kafka: {settings.bootstrap}; Ctrl-C stops",
        soft_wrap=True,
    )
    if open_browser:
        webbrowser.open(server.url)
    try:
        await asyncio.Event().wait()
    finally:
        await server.stop()


def customer(
    port: int = typer.Option(8766, min=0, max=65535, help="HTTP port on 127.0.0.1 (0: any)."),
    wallet: Path | None = typer.Option(
        None, help="Wallet file for keys and receipts (default ~/.local/share/intentcast)."
    ),
    bootstrap: str | None = typer.Option(
        None, "--bootstrap", "-b", help="Kafka bootstrap (default $INTENTCAST_BOOTSTRAP)."
    ),
    open_browser: bool = typer.Option(False, "--open", help="Open the page in your browser."),
) -> None:
    """Serve your personal app on 127.0.0.1: write intents, compare offers, keep receipts.

    The page talks only to this process, which alone talks to Kafka; your keys stay in your
    wallet on this machine. The printed address carries a one-run token: only a browser that
    opened it can use the app. Everything the page shows can be exported as JSON.
    """
    try:
        settings = ClientSettings(bootstrap=bootstrap) if bootstrap else ClientSettings()
        keep = Wallet(wallet or default_wallet_path())
        asyncio.run(_serve(settings, keep, port, open_browser))
    except WalletError as exc:
        raise fail(str(exc)) from None
    except OSError as exc:
        raise fail(f"cannot listen on 127.0.0.1:{port}: {exc}\n  → pick another --port") from exc
    except KeyboardInterrupt:
        console.print("customer app stopped")
