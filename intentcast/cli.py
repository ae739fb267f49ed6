"""Entry point of the `intentcast` command; each sub-command group lives in its own module."""

from __future__ import annotations

import typer

from intentcast import broker_cmd, kafka_cmd

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


def main() -> None:
    app()
