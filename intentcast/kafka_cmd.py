"""`intentcast kafka start|stop|status|fetch`: a real local Kafka without Docker."""

from __future__ import annotations

import os
from pathlib import Path

import typer

from intentcast.broker.kafka_local import KafkaLaunchError, KafkaNode, resolve_distribution
from intentcast.broker.kafka_local.cluster import LocalCluster
from intentcast.broker.kafka_local.compose_secrets import (
    DEFAULT_HOSTS,
    EXAMPLE_VENDORS,
    ComposeSecrets,
)
from intentcast.broker.kafka_local.distribution import KAFKA_VERSION, cache_root
from intentcast.broker.kafka_local.secure import NodeSecurity, is_secure_folder
from intentcast.broker.settings import state_home
from intentcast.console import console, fail
from intentcast.doctor import LOCAL_HOSTS, split_bootstrap
from intentcast.schemas.errors import IntentcastError

app = typer.Typer(
    help="Run Apache Kafka (KRaft) locally on 127.0.0.1, no Docker needed.", no_args_is_help=True
)

PortOpt = typer.Option(
    None,
    "--port",
    "-p",
    show_default=False,
    help="Client port on 127.0.0.1. Default: the port of $INTENTCAST_BOOTSTRAP when it names "
    "this machine, else 9092.",
)
DataOpt = typer.Option(
    None,
    "--data-dir",
    help="Node folder (config, log, data). Default: ~/.local/state/intentcast/kafka-<port>.",
)
NodesOpt = typer.Option(
    1,
    "--nodes",
    "-n",
    min=1,
    max=9,
    help="Nodes on 127.0.0.1 (3+: a cluster with replication 3 and min.insync.replicas 2; "
    "node i uses port + 2*(i-1) and the next port for its controller).",
)


DEFAULT_PORT = 9092


def client_port(port: int | None) -> int:
    """An explicit --port, else the port of INTENTCAST_BOOTSTRAP when it is one address on
    this machine: one setting then points every command, `kafka start` included, at one
    broker (a second Kafka beside one on 9092 needs no --port everywhere)."""
    if port is not None:
        return port
    bootstrap = os.environ.get("INTENTCAST_BOOTSTRAP", "").strip()
    if bootstrap and "," not in bootstrap:
        host, found = split_bootstrap(bootstrap)
        if host in LOCAL_HOSTS:
            return found
    return DEFAULT_PORT


def default_data_dir(port: int) -> Path:
    return state_home() / "intentcast" / f"kafka-{port}"


def _node(
    port: int, data_dir: Path | None, controller_port: int | None = None, secure: bool = False
) -> KafkaNode:
    dist = resolve_distribution()
    folder = data_dir or default_data_dir(port)
    # a folder once started with --secure stays secure: status and stop find out by themselves
    security = NodeSecurity(folder) if secure or is_secure_folder(folder) else None
    return KafkaNode(
        dist=dist,
        data_dir=folder,
        port=port,
        controller_port=controller_port or port + 1,
        security=security,
    )


@app.command()
def fetch() -> None:
    """Download the Kafka jars into the cache (done automatically by `start`)."""
    try:
        with console.status(f"Fetching Apache Kafka {KAFKA_VERSION} from Maven Central…"):
            dist = resolve_distribution()
    except KafkaLaunchError as exc:
        raise fail(str(exc)) from exc
    console.print(f"Kafka jars ready in [bold]{dist.libs}[/] ({dist.source}).")


@app.command()
def start(
    port: int | None = PortOpt,
    controller_port: int = typer.Option(None, help="Controller port (default: port + 1)."),
    data_dir: Path = DataOpt,
    timeout: float = typer.Option(90.0, help="Seconds to wait until metadata can be fetched."),
    nodes: int = NodesOpt,
    secure: bool = typer.Option(
        False,
        "--secure",
        help="SASL_SSL with SCRAM-SHA-512, a local CA, ACLs (deny by default) and quotas; "
        "then create principals with `intentcast principals add`. See docs/security.md.",
    ),
) -> None:
    """Start one KRaft node (broker + controller), or a cluster; harmless if it already runs."""
    port = client_port(port)
    if secure and nodes > 1:
        raise fail("--secure runs a single node for now; drop --nodes or --secure.")
    if nodes > 1:
        _cluster_start(port, data_dir, nodes, timeout)
        return
    try:
        with console.status(f"Starting Kafka {KAFKA_VERSION} on 127.0.0.1:{port}…"):
            node = _node(port, data_dir, controller_port, secure=secure)
            st = node.start(timeout=timeout)
    except KafkaLaunchError as exc:
        raise fail(str(exc)) from exc
    console.print(
        f"[green]Kafka is up[/] at [bold]{st.bootstrap}[/] (pid {st.pid}); "
        f"data and log in {node.data_dir}",
        soft_wrap=True,
    )
    if port != client_port(None):
        console.print(
            f"the other commands reach it with INTENTCAST_BOOTSTRAP={st.bootstrap} "
            "(or --bootstrap)",
            soft_wrap=True,
        )
    if node.security is not None:
        console.print(
            f"secure mode: SASL_SSL + SCRAM-SHA-512, CA {node.security.tls.ca_cert}; "
            f"add principals with `intentcast principals add processors --port {port}`"
        )


@app.command()
def certs(
    out: Path = typer.Option(
        Path("secrets"), "--out", help="Folder to write (mode 0700); mount it read-only."
    ),
    host: list[str] = typer.Option(
        list(DEFAULT_HOSTS),
        "--host",
        help="A name or address the node certificate is valid for (repeat the option).",
    ),
    vendor: list[str] = typer.Option(
        list(EXAMPLE_VENDORS), "--vendor", help="A vendor principal to provision (repeat)."
    ),
) -> None:
    """Secrets for `docker compose --profile secure`: CA, PEM node certificate, SCRAM passwords.

    Also writes the node's server.properties, its start script and `provision.sh` (every
    principal's SCRAM credential, ACLs and quotas, run by the compose init service). Run it
    again to add vendors: the CA, certificate and passwords already there are kept (delete
    `tls/` to issue a certificate for other host names). See docs/security.md.
    """
    try:
        with console.status("Issuing the CA and node certificate…"):
            written = ComposeSecrets(out, hosts=tuple(host), vendors=tuple(vendor)).write()
    except (KafkaLaunchError, IntentcastError) as exc:
        raise fail(str(exc)) from exc
    console.print(f"[green]{len(written)} files[/] in [bold]{out}[/] (secrets: keep it private)")
    console.print(
        "Containers read them as uid 1000 (apache/kafka's appuser, the image's intentcast "
        "user); then run `docker compose --profile secure up -d`."
    )


@app.command()
def stop(port: int | None = PortOpt, data_dir: Path = DataOpt, nodes: int = NodesOpt) -> None:
    """Stop the node (or every node of the cluster) cleanly: SIGTERM, SIGKILL after 30 s."""
    port = client_port(port)
    if nodes > 1:
        stopped = _cluster(port, data_dir, nodes).stop()
        console.print(f"Cluster on port {port}+ {'stopped' if stopped else 'was not running'}.")
        return
    try:
        node = _node(port, data_dir)
    except KafkaLaunchError as exc:
        raise fail(str(exc)) from exc
    # the node is found by its folder's pid file, so name the folder, not only the port
    if node.stop():
        console.print(f"Kafka stopped (data and log in {node.data_dir}).")
    else:
        console.print(f"No Kafka of ours was running from {node.data_dir}.")


@app.command()
def status(port: int | None = PortOpt, data_dir: Path = DataOpt, nodes: int = NodesOpt) -> None:
    """Tell whether the node(s) run and answer metadata requests (exit 1 if any is not ready)."""
    port = client_port(port)
    if nodes > 1:
        _cluster_status(port, data_dir, nodes)
        return
    try:
        st = _node(port, data_dir).status()
    except KafkaLaunchError as exc:
        raise fail(str(exc)) from exc
    colour = "green" if st.ready else "red"
    console.print(f"[{colour}]{st.detail}[/] bootstrap={st.bootstrap} pid={st.pid}")
    console.print(f"jars cache: {cache_root()}")
    if not st.ready:
        raise typer.Exit(1)


def _cluster(port: int, data_dir: Path | None, nodes: int) -> LocalCluster:
    try:
        return LocalCluster(
            dist=resolve_distribution(),
            data_dir=data_dir or default_data_dir(port).with_name(f"cluster-{port}"),
            base_port=port,
            nodes=nodes,
            replication=min(3, nodes),
            min_isr=min(2, nodes),
        )
    except KafkaLaunchError as exc:
        raise fail(str(exc)) from exc


def _cluster_start(port: int, data_dir: Path | None, nodes: int, timeout: float) -> None:
    cluster = _cluster(port, data_dir, nodes)
    try:
        with console.status(f"Starting a {nodes}-node Kafka {KAFKA_VERSION} cluster…"):
            cluster.start(timeout=timeout)
    except KafkaLaunchError as exc:
        raise fail(str(exc)) from exc
    console.print(
        f"[green]Cluster is up[/]: {nodes} nodes, replication {cluster.replication}, "
        f"min.insync.replicas {cluster.min_isr}; bootstrap [bold]{cluster.bootstrap}[/]\n"
        f"Create topics with INTENTCAST_REPLICATION={cluster.replication} "
        f"INTENTCAST_MIN_INSYNC_REPLICAS={cluster.min_isr}; folders in {cluster.data_dir}"
    )


def _cluster_status(port: int, data_dir: Path | None, nodes: int) -> None:
    statuses = _cluster(port, data_dir, nodes).status()
    for i, st in enumerate(statuses, start=1):
        colour = "green" if st.ready else "red"
        console.print(f"node {i}: [{colour}]{st.detail}[/] bootstrap={st.bootstrap} pid={st.pid}")
    if not all(st.ready for st in statuses):
        raise typer.Exit(1)
