"""`intentcast principals add|remove|list|env`: credentials, ACLs and quotas on a secure node."""

from __future__ import annotations

import asyncio
from pathlib import Path

import typer
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import KafkaError
from rich.table import Table

from intentcast.broker.kafka_local import KafkaLaunchError, resolve_distribution
from intentcast.broker.kafka_local.secure import MECHANISM, NodeSecurity, is_secure_folder
from intentcast.broker.kafka_local.secure_admin import SecureAdmin
from intentcast.broker.principals import DEFAULT_APP_PREFIX, Kind, Principal, PrincipalError
from intentcast.broker.settings import BrokerSettings
from intentcast.broker.topic_admin import ensure_topics, planned_vendor
from intentcast.console import console, fail
from intentcast.kafka_cmd import default_data_dir

app = typer.Typer(
    help="Principals of a secure node (`intentcast kafka start --secure`): one SCRAM user "
    "with its ACLs and quotas per processors, customer, monitor, auditor and each vendor.",
    no_args_is_help=True,
)

PortOpt = typer.Option(9092, "--port", "-p", help="Client port of the secure node.")
DataOpt = typer.Option(
    None, "--data-dir", help="The node's folder (default: ~/.local/state/intentcast/kafka-<port>)."
)
KindArg = typer.Argument(..., help="processors, customer, monitor, auditor or vendor.")
VendorArg = typer.Argument(None, help="The vendor id (only for `vendor`), e.g. acme-bikes.")
AppOpt = typer.Option(
    DEFAULT_APP_PREFIX, help="Processors only: prefix of their faust app ids (group, topics)."
)


def _admin(port: int, data_dir: Path | None) -> SecureAdmin:
    folder = data_dir or default_data_dir(port)
    if not is_secure_folder(folder):
        raise fail(
            f"{folder} is not a secure node's folder; start one with "
            f"`intentcast kafka start --secure --port {port}`"
        )
    try:
        return SecureAdmin(resolve_distribution(), NodeSecurity(folder), f"127.0.0.1:{port}")
    except KafkaLaunchError as exc:
        raise fail(str(exc)) from exc


def _principal(kind: str, vendor_id: str | None, app_prefix: str) -> Principal:
    try:
        return Principal(Kind(kind), vendor_id, app_prefix=app_prefix)
    except ValueError:
        raise fail(
            f"unknown kind {kind!r}: use processors, customer, monitor, auditor or vendor"
        ) from None
    except PrincipalError as exc:
        raise fail(str(exc)) from exc


def env_lines(admin: SecureAdmin, user: str, password: str) -> list[str]:
    """The client settings as INTENTCAST_* lines, ready for `export` or an env file."""
    return [
        f"INTENTCAST_BOOTSTRAP={admin.bootstrap}",
        "INTENTCAST_SECURITY_PROTOCOL=SASL_SSL",
        f"INTENTCAST_SASL_MECHANISM={MECHANISM}",
        f"INTENTCAST_SASL_USERNAME={user}",
        f"INTENTCAST_SASL_PASSWORD={password}",
        f"INTENTCAST_SSL_CAFILE={admin.security.tls.ca_cert}",
    ]


@app.command()
def add(
    kind: str = KindArg,
    vendor_id: str = VendorArg,
    port: int = PortOpt,
    data_dir: Path = DataOpt,
    app_prefix: str = AppOpt,
    show_password: bool = typer.Option(False, help="Print the password instead of a mask."),
) -> None:
    """Create (or refresh) a principal: SCRAM credential, ACLs and quotas in one step.

    Example: `intentcast principals add vendor acme-bikes`. For a vendor it also creates its
    topics (`intentcast.vendor.<id>.profile`, `.feedback`, `.agreements`). Running it again
    keeps the password and sets the ACLs and quotas again.
    """
    principal = _principal(kind, vendor_id, app_prefix)
    admin = _admin(port, data_dir)
    try:
        with console.status(f"Creating {principal.username} with Kafka's admin tools…"):
            (done,) = admin.provision([principal])
    except KafkaLaunchError as exc:
        raise fail(str(exc)) from exc
    quota = ", ".join(f"{k}={v}" for k, v in done.quota.items()) or "none"
    console.print(
        f"[green]{done.username}[/]: SCRAM credential, {done.acls} ACL entries, quotas {quota}"
    )
    if principal.vendor_id is not None:
        try:
            created = asyncio.run(_vendor_topics(admin, principal.vendor_id))
        except KafkaError as exc:
            raise fail(f"creating the vendor's topics failed: {exc}") from exc
        console.print(f"vendor topics created: {', '.join(created) or 'none (all existed)'}")
    password = done.password if show_password else "********"
    console.print("Client settings:", style="bold")
    for line in env_lines(admin, done.username, password):
        print(line)
    if not show_password:
        console.print(
            f"(password masked; `intentcast principals env {done.username} --port {port}` "
            "prints the lines with it)"
        )


async def _vendor_topics(admin: SecureAdmin, vendor_id: str) -> list[str]:
    """The vendor's profile, feedback and agreement topics: vendors cannot create topics."""
    settings = BrokerSettings(bootstrap=admin.bootstrap)  # partitions etc. from INTENTCAST_*
    client = AIOKafkaAdminClient(
        bootstrap_servers=admin.bootstrap, **admin.security.client_kwargs()
    )
    await client.start()
    try:
        return await ensure_topics(
            client, planned_vendor(vendor_id, settings), settings.replication
        )
    finally:
        await client.close()


@app.command()
def env(
    username: str = typer.Argument(..., help="e.g. vendor-acme-bikes, customer, processors."),
    port: int = PortOpt,
    data_dir: Path = DataOpt,
) -> None:
    """Print a principal's INTENTCAST_* client settings, password included (for `export`)."""
    admin = _admin(port, data_dir)
    password = admin.security.credentials.password(username)
    if password is None:
        raise fail(f"no principal {username!r} on this node; create it with `principals add`")
    for line in env_lines(admin, username, password):
        print(line)


@app.command()
def remove(
    kind: str = KindArg,
    vendor_id: str = VendorArg,
    port: int = PortOpt,
    data_dir: Path = DataOpt,
    app_prefix: str = AppOpt,
) -> None:
    """Delete a principal's ACLs, quotas and SCRAM credential; its clients are refused at once."""
    principal = _principal(kind, vendor_id, app_prefix)
    admin = _admin(port, data_dir)
    try:
        with console.status(f"Removing {principal.username}…"):
            admin.deprovision(principal)
    except KafkaLaunchError as exc:
        raise fail(str(exc)) from exc
    console.print(f"{principal.username} removed.")


@app.command("list")
def list_(
    port: int = PortOpt,
    data_dir: Path = DataOpt,
    acls: bool = typer.Option(False, help="Also print every ACL the node holds."),
) -> None:
    """The principals this node knows, with their kind (passwords are never shown)."""
    admin = _admin(port, data_dir)
    table = Table("user", "kind", "vendor")
    for user in sorted(admin.security.credentials.load()):
        try:
            principal = Principal.parse(user)
            table.add_row(user, principal.kind.value, principal.vendor_id or "")
        except PrincipalError:
            table.add_row(user, "super user" if user == "admin" else "?", "")
    console.print(table)
    if acls:
        try:
            print(admin.list_acls())
        except KafkaLaunchError as exc:
            raise fail(str(exc)) from exc
