"""`intentcast vendor run|keygen`: run a vendor module written with the SDK, or make a key."""

from __future__ import annotations

import asyncio
import hashlib
import importlib.util
import sys
from pathlib import Path

import typer
from rich.live import Live
from rich.text import Text

from intentcast.agents import ClientSettings, Vendor, VendorStats
from intentcast.console import console, fail
from intentcast.schemas.crypto import SigningKey
from intentcast.schemas.errors import IntentcastError

app = typer.Typer(help="Run vendor agents written with the Intentcast SDK.", no_args_is_help=True)


def load_vendor(path: Path) -> Vendor:
    """Import the module at ``path`` and return its vendor: ``vendor``, or the only Vendor."""
    if not path.is_file():
        raise fail(f"{path} is not a file; give the path of a vendor module, e.g. examples/acme.py")
    name = "intentcast_vendor_" + hashlib.sha256(str(path.resolve()).encode()).hexdigest()[:12]
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise fail(f"cannot import {path}; is it a Python file?")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except IntentcastError as exc:
        raise fail(f"{path}: {exc}") from None
    found = getattr(module, "vendor", None)
    if isinstance(found, Vendor):
        return found
    vendors = [value for value in vars(module).values() if isinstance(value, Vendor)]
    if len(vendors) != 1:
        raise fail(f"{path} defines {len(vendors)} Vendor instances; name the one to run `vendor`")
    return vendors[0]


def _stats_line(vendor: Vendor, stats: VendorStats) -> Text:
    return Text.assemble(
        (f"{vendor.vendor_id} ", "bold"),
        f"intents {stats.intents_seen}  offers {stats.offers_sent}  ",
        f"declined {stats.declined}  skipped(terms) {stats.skipped_terms}  ",
        f"expired {stats.skipped_expired}  errors {stats.handler_errors}  ",
        f"feedback {stats.feedback_received}  agreements {stats.agreements_received}",
    )


async def _serve(vendor: Vendor) -> None:
    runner = asyncio.create_task(vendor.run())
    with Live(_stats_line(vendor, vendor.stats), console=console, refresh_per_second=2) as live:
        while not runner.done():
            await asyncio.wait({runner}, timeout=0.5)
            live.update(_stats_line(vendor, vendor.stats))
    await runner


@app.command()
def run(
    path: Path = typer.Argument(..., help="Python file defining a Vendor, e.g. examples/acme.py."),
    bootstrap: str | None = typer.Option(
        None, help="Kafka bootstrap (default $INTENTCAST_BOOTSTRAP or 127.0.0.1:9092)."
    ),
) -> None:
    """Run a vendor until Ctrl-C: register its profile, answer intents, show live counters."""
    vendor = load_vendor(path)
    if bootstrap:
        vendor.settings = ClientSettings(bootstrap=bootstrap)
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
