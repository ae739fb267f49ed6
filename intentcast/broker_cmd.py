"""`intentcast broker run`, `intentcast topics create` and `intentcast audit ...`."""

from __future__ import annotations

import asyncio

import orjson
import typer
from rich.progress import Progress
from rich.table import Table

from intentcast.broker.audit import find_agreement, verify_log
from intentcast.broker.settings import BrokerSettings
from intentcast.broker.topic_admin import create_all
from intentcast.console import console, fail

broker_app = typer.Typer(help="Run the stream processors.", no_args_is_help=True)
topics_app = typer.Typer(help="Create the topic layout.", no_args_is_help=True)
audit_app = typer.Typer(help="Verify the agreement log and print receipts.", no_args_is_help=True)

BootstrapOpt = typer.Option(
    None,
    "--bootstrap",
    "-b",
    help="Kafka bootstrap servers (default: $INTENTCAST_BOOTSTRAP or 127.0.0.1:9092).",
)


def settings_for(bootstrap: str | None) -> BrokerSettings:
    settings = BrokerSettings()
    return settings.model_copy(update={"bootstrap": bootstrap}) if bootstrap else settings


@broker_app.command("run")
def run(
    bootstrap: str = BootstrapOpt,
    log_level: str = typer.Option("warn", help="debug, info, warn or error."),
) -> None:
    """Start the processors (intake, offers, acceptances, cancels, expiry, profiles)."""
    from intentcast.broker.worker import run_worker

    settings = settings_for(bootstrap).model_copy(update={"log_level": log_level})
    console.print(f"processors [bold]{settings.app_id}[/] on {settings.bootstrap}; Ctrl-C stops")
    run_worker(settings)


@topics_app.command("create")
def create(
    bootstrap: str = BootstrapOpt,
    vendor: list[str] = typer.Option([], "--vendor", help="Also create this vendor's topics."),
    market: list[str] = typer.Option([], "--market", help="Extra market topic to create."),
) -> None:
    """Create every missing topic (idempotent; existing topics are left as they are)."""
    settings = settings_for(bootstrap)
    try:
        created = asyncio.run(create_all(settings, vendors=vendor, markets=market))
    except Exception as exc:
        raise fail(
            f"could not create topics on {settings.bootstrap}: {exc}\n"
            "  → is Kafka running? try `intentcast kafka start`"
        ) from exc
    if created:
        console.print(f"created {len(created)} topics: " + ", ".join(created))
    else:
        console.print("all topics already exist")


@audit_app.command("verify")
def verify(
    bootstrap: str = BootstrapOpt,
    json_out: bool = typer.Option(False, "--json", help="Print the result as JSON."),
) -> None:
    """Replay the agreement log: every chain link and both signatures. Exit 1 on any break."""
    settings = settings_for(bootstrap)
    with Progress(console=console, transient=True, disable=json_out) as progress:
        task = progress.add_task("verifying agreements", total=None)
        result = asyncio.run(
            verify_log(
                settings, lambda done, total: progress.update(task, completed=done, total=total)
            )
        )
    first = result.first_break
    if json_out:
        console.print_json(
            orjson.dumps(
                {
                    "verified": result.verified,
                    "ok": result.ok,
                    "breaks": [b.__dict__ for b in result.breaks],
                }
            ).decode()
        )
    elif result.ok:
        console.print(
            f"[green]audit ok[/]: {result.verified} agreements verified "
            f"across {len(result.per_partition)} partitions"
        )
    else:
        assert first is not None
        console.print(
            f"[red]audit FAILED[/]: {result.verified} verified; first break at "
            f"partition {first.partition} offset {first.offset}: {first.problem}"
        )
        for extra in (b for b in result.breaks if b is not first):
            console.print(
                f"  also partition {extra.partition} offset {extra.offset}: {extra.problem}"
            )
    if not result.ok:
        raise typer.Exit(1)


@audit_app.command("receipt")
def receipt(
    agreement_id: str = typer.Argument(..., help="Agreement id (or a unique prefix)."),
    bootstrap: str = BootstrapOpt,
    json_out: bool = typer.Option(False, "--json", help="Print the Kantara-style JSON only."),
) -> None:
    """Print the consent receipt both sides can keep for one agreement."""
    agreement = asyncio.run(find_agreement(settings_for(bootstrap), agreement_id))
    if agreement is None:
        raise fail(f"no agreement {agreement_id!r} in the log")
    rec = agreement.receipt()
    if json_out:
        console.print_json(orjson.dumps(rec.to_kantara()).decode())
        return
    table = Table(title=f"Receipt for agreement {agreement.agreement_id[:16]}…", show_header=False)
    for k, v in rec.to_kantara().items():
        table.add_row(str(k), orjson.dumps(v).decode() if not isinstance(v, str) else v)
    console.print(table)
