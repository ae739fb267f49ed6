"""`intentcast vendor run|keygen|conformance`: run an SDK vendor, make a key, test a vendor."""

from __future__ import annotations

import asyncio
import hashlib
import importlib
import importlib.util
import os
import sys
from pathlib import Path
from types import ModuleType

import typer
from rich.live import Live
from rich.text import Text

from intentcast.agents import ClientSettings, Vendor, VendorStats
from intentcast.agents.conformance import (
    DEFAULT_QUIET_SECONDS,
    DEFAULT_TIMEOUT,
    ConformanceSetupError,
    Report,
    run_conformance,
)
from intentcast.console import console, err_console, fail
from intentcast.demo import EXAMPLES
from intentcast.schemas.crypto import SigningKey
from intentcast.schemas.errors import IntentcastError, SchemaError
from intentcast.schemas.topics import market_topic, sandbox_market

app = typer.Typer(
    help="Run vendor agents written with the Intentcast SDK, and test any vendor's conformance.",
    no_args_is_help=True,
)

SHIPPED = {module.rsplit(".", 1)[1]: module for module in EXAMPLES}
"""The example vendors in the package, by short name: a wheel user has no examples/ folder."""


def resolve_vendor_module(target: str) -> str | Path:
    """What `vendor run TARGET` names: a Python file (a Path) or an importable module (a str).

    A file wins, so `acme` in a folder holding a file called `acme` still means that file;
    something spelled like a path but missing fails here rather than as an unknown module.
    """
    path = Path(target)
    if path.is_file():
        return path
    if target.endswith(".py") or os.sep in target or "/" in target:
        raise fail(f"{target} is not a file; give the path of a vendor module or {_choices()}.")
    if target in SHIPPED:
        return SHIPPED[target]
    if all(part.isidentifier() for part in target.split(".")):
        return target
    raise _unknown(target)


def _choices() -> str:
    return f"a shipped example ({', '.join(SHIPPED)})"


def _unknown(target: str) -> typer.Exit:
    return fail(
        f"no vendor module {target!r}: give {_choices()}, a module path such as mypkg.myvendor "
        "or the path of a Python file."
    )


def _import_file(path: Path) -> ModuleType:
    name = "intentcast_vendor_" + hashlib.sha256(str(path.resolve()).encode()).hexdigest()[:12]
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise fail(f"cannot import {path}; is it a Python file?")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def _import_module(name: str) -> ModuleType:
    """Import a dotted module, searching the current folder too (as `python -m` does), so a
    vendor package written there runs uninstalled; last, so it never shadows an installed one."""
    if os.getcwd() not in sys.path:
        sys.path.append(os.getcwd())
    try:
        return importlib.import_module(name)
    except ModuleNotFoundError as exc:
        parts = name.split(".")
        if exc.name in {".".join(parts[:i]) for i in range(1, len(parts) + 1)}:
            raise _unknown(name) from None
        raise fail(
            f"{name} imports {exc.name!r}, which is not installed; install it first."
        ) from None


def load_vendor(target: str | Path) -> Vendor:
    """Import a vendor module by file, shipped example name or module path; return its vendor:
    ``vendor``, or the only Vendor it defines."""
    where = resolve_vendor_module(str(target))
    try:
        module = _import_file(where) if isinstance(where, Path) else _import_module(where)
    except IntentcastError as exc:
        raise fail(f"{target}: {exc}") from None
    found = getattr(module, "vendor", None)
    if isinstance(found, Vendor):
        return found
    vendors = [value for value in vars(module).values() if isinstance(value, Vendor)]
    if len(vendors) != 1:
        raise fail(
            f"{target} defines {len(vendors)} Vendor instances; name the one to run `vendor`"
        )
    return vendors[0]


def _stats_line(vendor: Vendor, stats: VendorStats) -> Text:
    return Text.assemble(
        (f"{vendor.vendor_id} ", "bold"),
        f"intents {stats.intents_seen}  offers {stats.offers_sent}  ",
        f"declined {stats.declined}  skipped(terms) {stats.skipped_terms}  ",
        f"expired {stats.skipped_expired}  errors {stats.handler_errors}  ",
        f"feedback {stats.feedback_received}  agreements {stats.agreements_received}",
    )


def add_sandbox_market(vendor: Vendor) -> str:
    """Serve ``sandbox-<vendor_id>`` too, answering it with the handler of the first market.

    The conformance kit tests a vendor there (docs/protocol.md, "The sandbox market"); the
    profile then lists the sandbox beside the real markets, so the registry stays truthful.
    """
    market = sandbox_market(vendor.vendor_id)
    if market in vendor.markets:
        return market
    handler = vendor.intent_handler(vendor.markets[0])
    if handler is None:
        raise fail(f"{vendor.vendor_id} has no @vendor.on_intent handler for {vendor.markets[0]}")
    vendor.markets = (*vendor.markets, market)
    vendor.topics_for_markets[market_topic(market)] = market
    vendor.on_intent(market)(handler)
    return market


async def _serve(vendor: Vendor) -> None:
    runner = asyncio.create_task(vendor.run())
    with Live(_stats_line(vendor, vendor.stats), console=console, refresh_per_second=2) as live:
        while not runner.done():
            await asyncio.wait({runner}, timeout=0.5)
            live.update(_stats_line(vendor, vendor.stats))
    await runner


BootstrapOpt = typer.Option(
    None, "--bootstrap", help="Kafka bootstrap (default $INTENTCAST_BOOTSTRAP or 127.0.0.1:9092)."
)


@app.command()
def run(
    target: str = typer.Argument(
        ...,
        metavar="VENDOR",
        help=f"A shipped example ({', '.join(SHIPPED)}), a module path (mypkg.myvendor) or a "
        "Python file (examples/acme.py) defining a Vendor.",
    ),
    bootstrap: str | None = BootstrapOpt,
    sandbox: bool = typer.Option(
        False,
        "--sandbox",
        help="Also serve the vendor's sandbox market sandbox-<vendor_id> (with the handler of "
        "its first market), where `intentcast vendor conformance` tests it.",
    ),
) -> None:
    """Run a vendor until Ctrl-C: register its profile, answer intents, show live counters."""
    vendor = load_vendor(target)
    if bootstrap:
        vendor.settings = ClientSettings(bootstrap=bootstrap)
    if sandbox:
        add_sandbox_market(vendor)
    console.print(
        f"Vendor [bold]{vendor.vendor_id}[/] ({vendor.display_name}) serving "
        f"{', '.join(vendor.markets)}; accepts {', '.join(r.id for r in vendor.accepts)}. "
        "Ctrl-C stops it cleanly."
    )
    try:
        asyncio.run(_serve(vendor))
    except IntentcastError as exc:
        raise fail(
            f"{exc}\nIs Kafka running (`intentcast kafka start`) and are the processors up?"
        ) from None
    console.print(f"\nStopped. {_stats_line(vendor, vendor.stats)}")


@app.command()
def keygen() -> None:
    """Print a new vendor signing key: a secret seed to keep, and its public key."""
    key = SigningKey.generate()
    console.print(f"seed (secret, keep it safe): [bold]{key.seed.hex()}[/]")
    console.print(f"public key:                  [bold]{key.public_key}[/]")
    console.print(
        "Use it with: key = SigningKey.from_seed(bytes.fromhex(os.environ['VENDOR_SEED']))"
    )


def _settings(bootstrap: str | None) -> ClientSettings:
    """$INTENTCAST_* (security included), with --bootstrap winning over the environment."""
    try:
        settings = ClientSettings()
        return settings.model_copy(update={"bootstrap": bootstrap}) if bootstrap else settings
    except IntentcastError as exc:
        raise fail(f"{exc}; fix the INTENTCAST_* settings.") from None


@app.command()
def conformance(
    vendor_id: str = typer.Option(
        ..., "--vendor-id", help="The live vendor to test; it must serve sandbox-<vendor_id>."
    ),
    bootstrap: str | None = BootstrapOpt,
    timeout: float = typer.Option(
        DEFAULT_TIMEOUT, min=5, help="Seconds the whole run may take; what is missing then fails."
    ),
    quiet: float = typer.Option(
        DEFAULT_QUIET_SECONDS,
        min=0,
        help="Seconds to keep listening once every expected offer came, for offers to intents "
        "the vendor must ignore.",
    ),
    as_json: bool = typer.Option(False, "--json", help="Print a machine-readable report."),
) -> None:
    """Test a live vendor (any language) on its sandbox market against docs/protocol.md.

    Publishes test intents on sandbox-<vendor_id> through the real processors, reads every
    offer the vendor sends, and grades each check with the clause it tests. Exits 1 if any
    check fails. The processors must accept the sandbox market (INTENTCAST_SANDBOX_VENDORS);
    in secure mode run it as the operator's `admin` principal.
    """
    try:
        market = sandbox_market(vendor_id)
    except SchemaError as exc:
        raise fail(f"{exc.detail}; give the vendor id as its profile states it.") from None
    settings = _settings(bootstrap)
    status_console = err_console if as_json else console
    try:
        with status_console.status(f"testing {vendor_id} on {market}…") as status:
            report = asyncio.run(
                run_conformance(
                    vendor_id,
                    settings=settings,
                    timeout=timeout,
                    quiet_seconds=quiet,
                    progress=lambda line: status.update(f"{vendor_id}: {line}"),
                )
            )
    except ConformanceSetupError as exc:
        raise fail(str(exc)) from None
    except IntentcastError as exc:
        raise fail(f"{exc}\nIs Kafka running and are the processors up?") from None
    _show(report, as_json)
    if not report.passed:
        raise typer.Exit(1)


def _show(report: Report, as_json: bool) -> None:
    if as_json:
        sys.stdout.write(report.to_json() + "\n")
        return
    console.print(report.table())
    if report.passed:
        console.print(f"[green]{report.vendor_id} conforms[/] ({report.elapsed_seconds:.0f} s).")
    else:
        console.print(
            f"[bold red]{len(report.failed())} check(s) failed.[/] Each names the clause of "
            "docs/protocol.md it tests; fix the vendor and run the kit again."
        )
