"""Run the processors as a faust worker in this process (`intentcast broker run`)."""

from __future__ import annotations

import faust

from broker.app import build_app
from broker.settings import BrokerSettings


def run_worker(settings: BrokerSettings) -> None:
    """Block until SIGINT/SIGTERM; faust handles the signals and a clean shutdown."""
    app, _ = build_app(settings)
    worker = faust.Worker(app, loglevel=settings.log_level, quiet=True)
    worker.execute_from_commandline()
