"""Entry point of the `intentcast` command; each sub-command group lives in its own module."""

from __future__ import annotations

import typer

from intentcast import (
    bench_cmd,
    broker_cmd,
    customer_app,
    dashboard,
    disclose_cmd,
    doctor,
    intent_cmd,
    kafka_cmd,
    monitor,
    principals_cmd,
    vendor_cmd,
)
from intentcast.logs import setup_logging
from intentcast.schemas import IntentcastError

app = typer.Typer(
    name="intentcast",
    help="Intent-casting on Apache Kafka: customers broadcast intents on their own terms, "
    "vendors answer, every agreement is audited.",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,
)
app.add_typer(kafka_cmd.app, name="kafka")
app.add_typer(broker_cmd.topics_app, name="topics")
app.add_typer(broker_cmd.broker_app, name="broker")
app.add_typer(broker_cmd.audit_app, name="audit")
intent_cmd.app.command()(disclose_cmd.disclose)
intent_cmd.app.command()(disclose_cmd.disclosures)
app.add_typer(intent_cmd.app, name="intent")
app.add_typer(vendor_cmd.app, name="vendor")
app.add_typer(principals_cmd.app, name="principals")
app.command()(monitor.monitor)
app.command()(dashboard.dashboard)
app.command()(customer_app.customer)
app.command()(bench_cmd.bench)
app.command()(doctor.doctor)


@app.command()
def demo(
    port: int = typer.Option(9092, help="Kafka port on 127.0.0.1 (started if nothing answers)."),
    json_out: bool = typer.Option(False, "--json", help="End with a one-line JSON summary."),
    timeout: float = typer.Option(90.0, help="Seconds to wait for each step."),
    keep_kafka: bool = typer.Option(False, help="Leave a Kafka the demo started running."),
) -> None:
    """Run the whole flow: intent, offers, agreement, audit; then stop what was started."""
    import orjson

    from intentcast.console import console
    from intentcast.demo import run_demo

    result = run_demo(port, lambda line: console.print(f"• {line}"), timeout, keep_kafka)
    console.print(f"[green]demo finished[/] in {result.seconds:.1f}s")
    if json_out:
        print(orjson.dumps(result.summary()).decode())
    if not (result.agreements and result.audit_verified):
        raise typer.Exit(1)


def main() -> None:
    setup_logging()  # JSON lines on stderr from every process (INTENTCAST_LOG_LEVEL)
    try:
        app()
    except IntentcastError as exc:
        # the project's errors already say what to do next (settings that cannot work, a
        # contract violation): one line on stderr and exit 1, never a traceback
        from intentcast.console import err_console

        err_console.print(f"error: {exc}", markup=False, soft_wrap=True)
        raise SystemExit(1) from None
