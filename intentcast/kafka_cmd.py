"""`intentcast kafka start|stop|status|fetch`: a real local Kafka without Docker."""

from __future__ import annotations

import os
from pathlib import Path

import typer

from broker.kafka_local import KafkaLaunchError, KafkaNode, resolve_distribution
from broker.kafka_local.distribution import KAFKA_VERSION, cache_root
from intentcast.console import console, fail

app = typer.Typer(
    help="Run Apache Kafka (KRaft) locally on 127.0.0.1, no Docker needed.", no_args_is_help=True
)

PortOpt = typer.Option(9092, "--port", "-p", help="Client port on 127.0.0.1.")
DataOpt = typer.Option(
    None,
    "--data-dir",
    help="Node folder (config, log, data). Default: ~/.local/state/intentcast/kafka-<port>.",
)


def default_data_dir(port: int) -> Path:
    state = os.environ.get("XDG_STATE_HOME")
    root = Path(state) if state else Path.home() / ".local" / "state"
    return root / "intentcast" / f"kafka-{port}"


def _node(port: int, data_dir: Path | None, controller_port: int | None = None) -> KafkaNode:
    dist = resolve_distribution()
    return KafkaNode(
        dist=dist,
        data_dir=data_dir or default_data_dir(port),
        port=port,
        controller_port=controller_port or port + 1,
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
    port: int = PortOpt,
    controller_port: int = typer.Option(None, help="Controller port (default: port + 1)."),
    data_dir: Path = DataOpt,
    timeout: float = typer.Option(90.0, help="Seconds to wait until metadata can be fetched."),
) -> None:
    """Start one KRaft node (broker + controller); harmless if it already runs."""
    try:
        with console.status(f"Starting Kafka {KAFKA_VERSION} on 127.0.0.1:{port}…"):
            node = _node(port, data_dir, controller_port)
            st = node.start(timeout=timeout)
    except KafkaLaunchError as exc:
        raise fail(str(exc)) from exc
    console.print(
        f"[green]Kafka is up[/] at [bold]{st.bootstrap}[/] (pid {st.pid}); "
        f"data and log in {node.data_dir}"
    )


@app.command()
def stop(port: int = PortOpt, data_dir: Path = DataOpt) -> None:
    """Stop the node cleanly (SIGTERM, then SIGKILL after 30 s)."""
    try:
        node = _node(port, data_dir)
    except KafkaLaunchError as exc:
        raise fail(str(exc)) from exc
    if node.stop():
        console.print(f"Kafka on port {port} stopped.")
    else:
        console.print(f"No Kafka of ours was running on port {port}.")


@app.command()
def status(port: int = PortOpt, data_dir: Path = DataOpt) -> None:
    """Tell whether the node runs and answers metadata requests (exit 1 if not ready)."""
    try:
        st = _node(port, data_dir).status()
    except KafkaLaunchError as exc:
        raise fail(str(exc)) from exc
    colour = "green" if st.ready else "red"
    console.print(f"[{colour}]{st.detail}[/] bootstrap={st.bootstrap} pid={st.pid}")
    console.print(f"jars cache: {cache_root()}")
    if not st.ready:
        raise typer.Exit(1)
