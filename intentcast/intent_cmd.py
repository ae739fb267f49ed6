"""`intentcast intent publish|receipts|list|keep`: be a customer from the terminal, anonymously."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Awaitable, Callable
from datetime import timedelta
from decimal import Decimal, InvalidOperation
from pathlib import Path

import typer
from rich.live import Live
from rich.table import Table

from intentcast import retention_cmd
from intentcast.agents import (
    AgreementError,
    ClientSettings,
    CustomerClient,
    IntentHandle,
    IntentRejectedError,
    KafkaUnavailableError,
    Receipt,
    ReplyTimeoutError,
    TopicMissingError,
    Wallet,
    WalletError,
    default_wallet_path,
)
from intentcast.console import console, fail
from intentcast.schemas.errors import IntentcastError, SchemaError
from intentcast.schemas.offer import Offer
from intentcast.schemas.timeutil import format_utc

app = typer.Typer(
    help="Publish intents as an anonymous customer, watch offers arrive, accept one, "
    "and keep the receipts.",
    no_args_is_help=True,
)

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h)?\s*$")
_UNIT_SECONDS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, None: 1.0}


def parse_duration(text: str) -> float:
    """Seconds from "30s", "2m", "1h", "500ms" or a bare number of seconds."""
    match = _DURATION.match(text)
    if match is None:
        raise typer.BadParameter(f"{text!r} is not a duration; use e.g. 30s, 2m, 1h or 45")
    return float(match.group(1)) * _UNIT_SECONDS[match.group(2)]


def _settings(bootstrap: str | None) -> ClientSettings:
    return ClientSettings(bootstrap=bootstrap) if bootstrap else ClientSettings()


def _wallet(path: Path | None, no_wallet: bool) -> Wallet | None:
    if no_wallet:
        return None
    return Wallet(path or default_wallet_path())


def _offers_table(offers: list[Offer], title: str) -> Table:
    table = Table(title=title, title_justify="left")
    table.add_column("offer", style="bold")
    table.add_column("vendor")
    table.add_column("price", justify="right")
    table.add_column("valid until")
    table.add_column("description", overflow="fold")
    for offer in sorted(offers, key=lambda o: o.price):
        table.add_row(
            offer.offer_id[:8],
            offer.vendor_id,
            f"{offer.price} {offer.currency}",
            format_utc(offer.valid_until),
            offer.description,
        )
    return table


def _choose(offers: list[Offer], accept: str) -> Offer | None:
    if accept == "none" or not offers:
        return None
    if accept == "best":
        return min(offers, key=lambda o: (o.price, o.valid_until))
    matches = [o for o in offers if o.offer_id.startswith(accept.lower())]
    if len(matches) != 1:
        found = "no offer" if not matches else f"{len(matches)} offers"
        raise fail(f"--accept {accept!r} matches {found}; give a longer offer id prefix")
    return matches[0]


def next_step(exc: IntentcastError) -> str:
    """One sentence saying what to do about a client error (empty when there is nothing)."""
    if isinstance(exc, KafkaUnavailableError):
        return "Is Kafka running? Start it with `intentcast kafka start`, or pass --bootstrap."
    if isinstance(exc, TopicMissingError | ReplyTimeoutError):
        return "Are the Intentcast processors running? They create the topics and answer."
    if isinstance(exc, IntentRejectedError) and exc.reason is not None:
        return exc.reason.description
    if isinstance(exc, SchemaError):
        return "Fix the option above and try again (see `intentcast intent publish --help`)."
    if isinstance(exc, AgreementError) and exc.reason is not None:
        return exc.reason.description
    return ""


async def _collect(handle: IntentHandle, wait: float) -> list[Offer]:
    offers: list[Offer] = []
    title = f"Offers for intent {handle.intent_id[:8]} (waiting {wait:g}s)"
    with Live(_offers_table(offers, title), console=console, refresh_per_second=4) as live:
        async for offer in handle.offers(timeout=wait):
            offers.append(offer)
            live.update(_offers_table(offers, title))
    return offers


def _show_agreement(receipt: Receipt, wallet: Wallet | None) -> None:
    agreement = receipt.agreement
    console.print(
        f"[green]Agreement[/] [bold]{agreement.agreement_id}[/] with "
        f"[bold]{agreement.offer.vendor_id}[/]: {agreement.offer.price} "
        f"{agreement.offer.currency} (log partition {agreement.partition}, seq {agreement.seq})"
    )
    console.print("Consent receipt (Kantara v1.1):")
    console.print_json(data=receipt.consent.to_kantara())
    if wallet is not None:
        console.print(f"Receipt kept in {wallet.path}")
    else:
        console.print("[yellow]--no-wallet: the receipt was not saved; copy it now.[/]")


async def _publish(
    *,
    settings: ClientSettings,
    wallet: Wallet | None,
    wait: float,
    accept: str,
    submit: Callable[[CustomerClient], Awaitable[IntentHandle]],
) -> None:
    async with CustomerClient(settings=settings, wallet=wallet) as client:
        with console.status("Publishing the intent and waiting for intake…"):
            handle = await submit(client)
        console.print(
            f"Intent [bold]{handle.intent_id}[/] accepted by intake; it expires at "
            f"{format_utc(handle.intent.expires_at)}."
        )
        offers = await _collect(handle, wait)
        if not offers:
            console.print("No offers arrived in time; the intent stays open until it expires.")
            return
        chosen = _choose(offers, accept)
        if chosen is None:
            console.print("Not accepting (--accept none); the intent stays open until it expires.")
            return
        with console.status(f"Accepting offer {chosen.offer_id[:8]} from {chosen.vendor_id}…"):
            await handle.accept(chosen, timeout=max(wait, 30.0))
        if handle.receipt is not None:
            _show_agreement(handle.receipt, wallet)


@app.command()
def publish(
    market: str = typer.Option(..., help="Market to broadcast to, e.g. bikes."),
    item: str = typer.Option(..., help='What you want, in your words, e.g. "city bike".'),
    max_price: str = typer.Option(..., help="The most you will pay, e.g. 200 or 199.99."),
    currency: str = typer.Option(..., help="ISO 4217 code, e.g. EUR."),
    country: str = typer.Option(..., help="ISO 3166 alpha-2 code of where you want it, e.g. DE."),
    region: str | None = typer.Option(None, help="Region (optional; never an address)."),
    city: str | None = typer.Option(None, help="City (optional; never an address)."),
    quantity: int = typer.Option(1, min=1, help="How many."),
    terms: str = typer.Option(
        "SD-BASE,P2B1", help="Comma-separated MyTerms roster ids you proffer."
    ),
    expires_in: str = typer.Option("10m", help="How long the intent stays open (e.g. 10m)."),
    wait: str = typer.Option("30s", help="How long to collect offers: 30s, 2m or seconds."),
    accept: str = typer.Option(
        "best", help="Which offer to accept: best (cheapest), an offer id prefix, or none."
    ),
    wallet: Path | None = typer.Option(
        None, help="Wallet file for keys and receipts (default ~/.local/share/intentcast)."
    ),
    no_wallet: bool = typer.Option(False, "--no-wallet", help="Keep keys only in memory."),
    bootstrap: str | None = typer.Option(
        None, help="Kafka bootstrap (default $INTENTCAST_BOOTSTRAP or 127.0.0.1:9092)."
    ),
) -> None:
    """Publish an intent, show offers as they arrive, then accept one and print the receipt."""
    try:
        price = Decimal(max_price)
    except InvalidOperation:
        raise fail(f"--max-price {max_price!r} is not a number, e.g. 200 or 199.99") from None
    term_ids = [t.strip() for t in terms.split(",") if t.strip()]
    lifetime = timedelta(seconds=parse_duration(expires_in))

    def submit(client: CustomerClient) -> Awaitable[IntentHandle]:
        return client.publish(
            market=market, item=item, max_price=price, currency=currency.upper(),
            country=country.upper(), region=region, city=city, quantity=quantity,
            terms=term_ids, expires_in=lifetime,
        )  # fmt: skip

    try:
        settings = _settings(bootstrap)
        keep = _wallet(wallet, no_wallet)
        asyncio.run(
            _publish(settings=settings, wallet=keep, wait=parse_duration(wait), accept=accept,
                     submit=submit)
        )  # fmt: skip
    except IntentcastError as exc:
        hint = next_step(exc)
        raise fail(f"{exc}" + (f"\n{hint}" if hint else "")) from None


@app.command()
def receipts(
    wallet: Path | None = typer.Option(None, help="Wallet file (default ~/.local/share/...)."),
    as_json: bool = typer.Option(False, "--json", help="Print the Kantara receipts as JSON."),
) -> None:
    """List the agreements in your wallet (each re-verified before it is shown)."""
    try:
        stored = Wallet(wallet or default_wallet_path()).receipts()
    except WalletError as exc:
        raise fail(str(exc)) from None
    if as_json:
        console.print_json(data=[r.consent.to_kantara() for r in stored])
        return
    if not stored:
        console.print("No receipts yet: accept an offer with `intentcast intent publish`.")
        return
    table = Table(title="Receipts", title_justify="left")
    for column in ("agreement", "vendor", "item", "price", "terms", "recorded"):
        table.add_column(column)
    for receipt in stored:
        agreement = receipt.agreement
        table.add_row(
            agreement.agreement_id[:12],
            agreement.offer.vendor_id,
            agreement.intent.want.item,
            f"{agreement.offer.price} {agreement.offer.currency}",
            ",".join(ref.id for ref in agreement.terms),
            format_utc(agreement.recorded_at),
        )
    console.print(table)


retention_cmd.register(app)
