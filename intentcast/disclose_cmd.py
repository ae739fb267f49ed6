"""`intentcast intent disclose|disclosures`: tell the vendor of an agreement what it needs, and
only it; list what was told to whom."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import typer
from rich.table import Table

from intentcast.agents import (
    CustomerClient,
    Disclosure,
    DisclosureError,
    Receipt,
    Wallet,
    WalletError,
    default_wallet_path,
)
from intentcast.console import console, fail
from intentcast.intent_cmd import _settings, next_step
from intentcast.schemas.canonical import decode
from intentcast.schemas.errors import IntentcastError
from intentcast.schemas.timeutil import format_utc


def _receipt(wallet: Wallet, agreement: str) -> Receipt:
    """The wallet's receipt whose agreement id starts with ``agreement``."""
    found = [r for r in wallet.receipts() if r.agreement_id.startswith(agreement.lower())]
    if len(found) != 1:
        what = "no agreement" if not found else f"{len(found)} agreements"
        raise fail(
            f"{what} in {wallet.path} starts with {agreement!r}; "
            "see `intentcast intent receipts` for the ids"
        )
    return found[0]


def _fields(
    *,
    name: str | None,
    address: list[str],
    city: str | None,
    postal_code: str | None,
    region: str | None,
    country: str | None,
    email: str | None,
    phone: str | None,
    note: str | None,
) -> dict[str, Any]:
    fields: dict[str, Any] = {"name": name, "email": email, "phone": phone, "note": note}
    if address or city or postal_code or region:
        if not (address and city and country):
            raise fail("a delivery address needs --address (one per line), --city and --country")
        fields["delivery_address"] = {
            "lines": address, "city": city, "postal_code": postal_code, "region": region,
            "country": country.upper(),
        }  # fmt: skip
    chosen = {key: value for key, value in fields.items() if value is not None}
    if not chosen:
        raise fail("choose what to disclose: --name, --address, --email, --phone or --note")
    return chosen


def disclose(
    agreement: str = typer.Argument(..., help="The agreement id (or a unique prefix of it)."),
    name: str | None = typer.Option(None, help="Your name, as the vendor should use it."),
    address: list[str] = typer.Option(
        [], help="A line of the delivery address (street and number...); repeat for more lines."
    ),
    city: str | None = typer.Option(None, help="City of the delivery address."),
    postal_code: str | None = typer.Option(None, help="Postcode of the delivery address."),
    region: str | None = typer.Option(None, help="Region of the delivery address."),
    country: str | None = typer.Option(None, help="ISO 3166 alpha-2 code of the address."),
    email: str | None = typer.Option(None, help="An e-mail address the vendor may use."),
    phone: str | None = typer.Option(None, help="A phone number the vendor may use."),
    note: str | None = typer.Option(None, help="Free text for the vendor (delivery hints...)."),
    wallet: Path | None = typer.Option(
        None, help="Wallet holding the agreement and its intent's keys (default ~/.local/share)."
    ),
    bootstrap: str | None = typer.Option(
        None, help="Kafka bootstrap (default $INTENTCAST_BOOTSTRAP or 127.0.0.1:9092)."
    ),
) -> None:
    """Disclose your name, delivery address, e-mail, phone or a note to the vendor of one of
    your agreements, sealed so that only that vendor can read it.

    The processors check it is signed with the intent's key and bound to the agreement, and
    chain its hash and the field names (never the values) into the agreement log.
    """
    fields = _fields(
        name=name, address=address, city=city, postal_code=postal_code, region=region,
        country=country, email=email, phone=phone, note=note,
    )  # fmt: skip
    try:
        kept = Wallet(wallet or default_wallet_path())
        receipt = _receipt(kept, agreement)
        asyncio.run(_disclose(kept, receipt, fields, bootstrap))
    except IntentcastError as exc:
        hint = exc.reason.description if isinstance(exc, DisclosureError) and exc.reason else ""
        hint = hint or next_step(exc)
        raise fail(f"{exc}" + (f"\n{hint}" if hint else "")) from None


async def _disclose(
    wallet: Wallet, receipt: Receipt, fields: dict[str, Any], bootstrap: str | None
) -> None:
    vendor = receipt.agreement.offer.vendor_id
    async with CustomerClient(settings=_settings(bootstrap), wallet=wallet) as client:
        with console.status(f"Sealing and sending to {vendor}…"):
            disclosure = await client.disclose(receipt, fields)
    console.print(
        f"[green]Disclosed[/] {', '.join(disclosure.fields)} to [bold]{vendor}[/] only "
        f"(disclosure {disclosure.disclosure_id}); the agreement log records its hash and "
        "the field names."
    )


def disclosures(
    wallet: Path | None = typer.Option(None, help="Wallet file (default ~/.local/share/...)."),
    as_json: bool = typer.Option(False, "--json", help="Print them as JSON, values included."),
) -> None:
    """List what you disclosed, to which vendor, for which agreement (from your wallet)."""
    try:
        kept = Wallet(wallet or default_wallet_path()).disclosures()
        sent = [decode(Disclosure, item["disclosure"]) for item in kept]
    except (IntentcastError, KeyError, TypeError) as exc:
        detail = (
            exc if isinstance(exc, WalletError) else f"a stored disclosure is unreadable: {exc}"
        )
        raise fail(str(detail)) from None
    if as_json:
        console.print_json(data=kept)
        return
    if not sent:
        console.print("No disclosures yet: see `intentcast intent disclose --help`.")
        return
    table = Table(title="Disclosures", title_justify="left")
    for column in ("disclosure", "agreement", "vendor", "fields", "at"):
        table.add_column(column)
    for disclosure in sent:
        table.add_row(
            disclosure.disclosure_id[:12], disclosure.agreement_id[:12], disclosure.vendor_id,
            ", ".join(disclosure.fields), format_utc(disclosure.disclosed_at),
        )  # fmt: skip
    console.print(table)
