"""`intentcast intent list|keep`: each intent and agreement in the wallet, with its retention end,
whether the vendor attested deletion, and which private keys were dropped and why."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path

import typer
from rich.table import Table

from intentcast.agents import (
    AgreementRetention,
    ClientSettings,
    DroppedKeys,
    KafkaUnavailableError,
    RetentionState,
    Wallet,
    default_wallet_path,
)
from intentcast.agents.retention_sync import sync_from_log
from intentcast.console import console, fail
from intentcast.schemas.errors import IntentcastError
from intentcast.schemas.timeutil import utcnow

_STATE_TEXT = {
    RetentionState.KEPT_UNTIL_REVOKED: "kept until you revoke",
    RetentionState.RUNNING: "not due yet",
    RetentionState.AWAITING_ATTESTATION: "[yellow]due, not attested[/]",
    RetentionState.ATTESTED: "[green]attested[/]",
}


def _minute(moment: datetime) -> str:
    """To the minute, in UTC: what a person reads in a table (the wallet keeps the exact time)."""
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def _attestation_text(row: AgreementRetention, now: datetime) -> str:
    state = row.state(now)
    if state is RetentionState.ATTESTED and row.attestation is not None:
        return f"[green]attested[/], deleted {_minute(row.attestation.deleted_at)}"
    if state is RetentionState.ATTESTED:
        return "[green]attested[/] (seen in the log after its keys were dropped)"
    return _STATE_TEXT[state]


def _keys_text(row: AgreementRetention) -> str:
    if not row.keys_held:
        return "dropped"
    return "kept (your choice)" if row.keep_keys else "held"


def _print_agreements(rows: list[AgreementRetention], now: datetime) -> None:
    """Two lines per agreement (a table wraps into unreadable cells in a narrow terminal)."""
    console.print("[bold]Agreements and retention[/]")
    for row in rows:
        end = row.retention_end
        console.print(
            f"[bold]{row.agreement_id[:12]}[/] with {row.vendor_id}: "
            f"{row.agreement.intent.want.item} (intent {row.intent_id})",
            soft_wrap=True,
        )
        console.print(
            f"  retention end {'until revoked' if end is None else _minute(end)}; "
            f"deletion {_attestation_text(row, now)}; keys {_keys_text(row)}",
            soft_wrap=True,
        )


def _open_table(wallet: Wallet, agreed: set[str]) -> Table | None:
    open_ids = [i for i in wallet.intent_ids() if i not in agreed]
    if not open_ids:
        return None
    table = Table(title="Intents without an agreement (keys held)", title_justify="left")
    table.add_column("intent")
    table.add_column("keys")
    for intent_id in open_ids:
        table.add_row(intent_id, "kept (your choice)" if wallet.keeps(intent_id) else "held")
    return table


def _report_dropped(dropped: list[DroppedKeys]) -> None:
    for item in dropped:
        console.print(
            f"Dropped the private keys of intent [bold]{item.intent_id}[/]: {item.reason}. "
            "Its receipt and records stay in the wallet.",
            soft_wrap=True,
        )


def register(app: typer.Typer) -> None:
    """Add `list` and `keep` to the `intent` command group."""

    @app.command(
        name="list",
        help="List your agreements with each one's retention end and whether the vendor "
        "attested deletion; drop the private keys nothing needs any more, and say which.",
    )
    def list_intents(
        wallet: Path | None = typer.Option(None, help="Wallet file (default ~/.local/share/...)."),
        offline: bool = typer.Option(
            False, "--offline", help="Do not read the agreement log for new attestations."
        ),
        keep_all: bool = typer.Option(
            False, "--no-drop", help="Show what is due, but drop no keys this time."
        ),
        bootstrap: str | None = typer.Option(
            None, help="Kafka bootstrap (default $INTENTCAST_BOOTSTRAP or 127.0.0.1:9092)."
        ),
    ) -> None:
        """The wallet's agreements and their retention, after a look at the log."""
        try:
            store = Wallet(wallet or default_wallet_path())
            if not offline:
                settings = ClientSettings(bootstrap=bootstrap) if bootstrap else ClientSettings()
                try:
                    with console.status("Reading the agreement log for attestations…"):
                        asyncio.run(sync_from_log(settings, store))
                except KafkaUnavailableError as exc:
                    console.print(
                        f"[yellow]Could not read the log ({exc}); showing the wallet.[/]",
                        soft_wrap=True,
                    )
            now = utcnow()
            if not keep_all:
                _report_dropped(store.drop_due(now))
            rows = store.retention()
        except IntentcastError as exc:
            raise fail(str(exc)) from None
        if rows:
            _print_agreements(rows, now)
        else:
            console.print("No agreements yet: accept an offer with `intentcast intent publish`.")
        unagreed = _open_table(store, {row.intent_id for row in rows})
        if unagreed is not None:
            console.print(unagreed)

    @app.command()
    def keep(
        intent_id: str = typer.Argument(
            ..., help="The intent whose private keys to keep (its id, or a unique prefix)."
        ),
        release: bool = typer.Option(
            False, "--release", help="Stop keeping them: they go when next due."
        ),
        wallet: Path | None = typer.Option(None, help="Wallet file (default ~/.local/share/...)."),
    ) -> None:
        """Keep an intent's private keys past the point they would be dropped (or release them)."""
        try:
            store = Wallet(wallet or default_wallet_path())
            matches = [i for i in store.intent_ids() if i.startswith(intent_id.lower())]
            if len(matches) != 1:
                found = "no intent" if not matches else f"{len(matches)} intents"
                raise fail(
                    f"{intent_id!r} matches {found} whose keys the wallet holds; "
                    "see `intentcast intent list`"
                )
            intent_id = matches[0]
            store.keep_keys(intent_id, not release)
        except IntentcastError as exc:
            raise fail(str(exc)) from None
        if release:
            console.print(f"The keys of intent {intent_id} go when next due.", soft_wrap=True)
        else:
            console.print(
                f"The keys of intent {intent_id} are kept until you release them.", soft_wrap=True
            )
