"""Child processes the CLI starts (Kafka, processors) and stops again, by PID, in reverse order."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from contextlib import AbstractContextManager
from pathlib import Path
from types import TracebackType

from intentcast.broker.kafka_local import KafkaNode, resolve_distribution
from intentcast.broker.kafka_local.node import port_free
from intentcast.broker.kafka_local.probe import metadata_ready


class Processors(AbstractContextManager["Processors"]):
    """`intentcast broker run` in a child process, logging to a file."""

    def __init__(self, bootstrap: str, datadir: Path, log: Path, env: dict[str, str] | None = None):
        self.bootstrap, self.datadir, self.log = bootstrap, datadir, log
        self.env = {
            **os.environ,
            **(env or {}),
            "INTENTCAST_BOOTSTRAP": bootstrap,
            "INTENTCAST_DATADIR": str(datadir),
        }
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.log.parent.mkdir(parents=True, exist_ok=True)
        with self.log.open("ab") as fh:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "intentcast", "broker", "run", "--log-level", "warn"],
                env=self.env,
                stdout=fh,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
            )

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def stop(self, timeout: float = 30.0) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()

    def kill(self) -> None:
        """SIGKILL, as a crash would."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    def __enter__(self) -> Processors:
        self.start()
        return self

    def __exit__(
        self, et: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


def ensure_kafka(port: int, data_dir: Path) -> tuple[str, KafkaNode | None]:
    """Use a broker already answering on the port, or start one; return the node we started."""
    bootstrap = f"127.0.0.1:{port}"
    if not port_free(port) and metadata_ready(bootstrap, timeout=5.0):
        return bootstrap, None
    node = KafkaNode(
        dist=resolve_distribution(), data_dir=data_dir, port=port, controller_port=port + 1
    )
    node.start()
    return bootstrap, node
