"""One KRaft node (broker and controller in one JVM) supervised by PID.

State lives in the node's own folder (config, log, pid file, data), so `status` and `stop`
work from any later process, and two nodes on different ports never share anything.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

from intentcast.broker.kafka_local.cluster_id import new_cluster_id
from intentcast.broker.kafka_local.distribution import KafkaDistribution
from intentcast.broker.kafka_local.errors import NodeNotReadyError, PortInUseError
from intentcast.broker.kafka_local.probe import metadata_ready
from intentcast.broker.kafka_local.secure import NodeSecurity

_LOG4J = """\
status = warn
appender.console.type = Console
appender.console.name = STDOUT
appender.console.layout.type = PatternLayout
appender.console.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = INFO
rootLogger.appenderRef.stdout.ref = STDOUT
logger.kafka.name = kafka
logger.kafka.level = INFO
logger.apache.name = org.apache.kafka
logger.apache.level = WARN
"""


@dataclass(frozen=True)
class NodeStatus:
    running: bool
    pid: int | None
    bootstrap: str
    ready: bool
    detail: str


@dataclass
class KafkaNode:
    """A local Kafka node. `voters` lists every controller for a multi-node cluster."""

    dist: KafkaDistribution
    data_dir: Path
    port: int = 9092
    controller_port: int = 9093
    node_id: int = 1
    voters: tuple[tuple[int, int], ...] = ()  # (node_id, controller_port) of every voter
    replication: int = 1
    min_isr: int = 1
    extra_config: dict[str, str] = field(default_factory=dict)
    heap: str = "768m"
    security: NodeSecurity | None = None  # secure mode: SASL_SSL, SCRAM, ACLs (secure.py)

    _child: subprocess.Popen[bytes] | None = field(default=None, init=False, repr=False)

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def pid_file(self) -> Path:
        return self.data_dir / "kafka.pid"

    @property
    def log_file(self) -> Path:
        return self.data_dir / "kafka.log"

    @property
    def config_file(self) -> Path:
        return self.data_dir / "server.properties"

    @property
    def log_dir(self) -> Path:
        return self.data_dir / "data"

    def _voter_string(self) -> str:
        voters = self.voters or ((self.node_id, self.controller_port),)
        return ",".join(f"{nid}@127.0.0.1:{cport}" for nid, cport in voters)

    def render_config(self) -> str:
        config = {
            "process.roles": "broker,controller",
            "node.id": str(self.node_id),
            "controller.quorum.voters": self._voter_string(),
            "listeners": (
                f"PLAINTEXT://127.0.0.1:{self.port},CONTROLLER://127.0.0.1:{self.controller_port}"
            ),
            "advertised.listeners": f"PLAINTEXT://127.0.0.1:{self.port}",
            "controller.listener.names": "CONTROLLER",
            "inter.broker.listener.name": "PLAINTEXT",
            "listener.security.protocol.map": "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
            "log.dirs": str(self.log_dir),
            "num.partitions": "1",
            "default.replication.factor": str(self.replication),
            "min.insync.replicas": str(self.min_isr),
            "offsets.topic.replication.factor": str(self.replication),
            "offsets.topic.num.partitions": "8",
            "transaction.state.log.replication.factor": str(self.replication),
            "transaction.state.log.min.isr": str(self.min_isr),
            "transaction.state.log.num.partitions": "8",
            "share.coordinator.state.topic.replication.factor": str(self.replication),
            "share.coordinator.state.topic.min.isr": str(self.min_isr),
            "group.initial.rebalance.delay.ms": "0",
            "auto.create.topics.enable": "false",
            "unclean.leader.election.enable": "false",
            "log.segment.bytes": str(64 * 1024 * 1024),
        }
        if self.security is not None:
            config.update(self.security.server_config(self.port, self.controller_port))
        config.update(self.extra_config)
        return "".join(f"{k}={v}\n" for k, v in config.items())

    # -- process state -------------------------------------------------------------------

    def _read_pid(self) -> int | None:
        try:
            pid = int(self.pid_file.read_text().strip())
        except (OSError, ValueError):
            return None
        return pid if _is_our_kafka(pid, self.config_file) else None

    def status(self) -> NodeStatus:
        pid = self._read_pid()
        if pid is None:
            return NodeStatus(False, None, self.bootstrap, False, "not running")
        ready = self._answers(timeout=5.0)
        detail = "ready" if ready else "process alive but not answering metadata requests"
        return NodeStatus(True, pid, self.bootstrap, ready, detail)

    # -- lifecycle -----------------------------------------------------------------------

    def _format(self, cluster_id: str | None = None) -> None:
        if (self.log_dir / "meta.properties").exists():
            return
        cluster_id = cluster_id or os.environ.get("INTENTCAST_CLUSTER_ID") or new_cluster_id()
        self._run_tool(
            "kafka.tools.StorageTool",
            "format",
            "--ignore-formatted",
            f"--cluster-id={cluster_id}",
            "-c",
            str(self.config_file),
            *(self.security.format_args() if self.security is not None else ()),
        )

    def _run_tool(self, main_class: str, *args: str) -> str:
        cmd = [
            str(self.dist.java),
            f"-Dlog4j2.configurationFile={self.data_dir / 'log4j2.properties'}",
            "-cp",
            self.dist.classpath,
            main_class,
            *args,
        ]
        proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
        if proc.returncode != 0:
            raise NodeNotReadyError(f"{main_class} {' '.join(args)} failed:\n{proc.stderr[-2000:]}")
        return proc.stdout

    def prepare(self, cluster_id: str | None = None) -> None:
        """Write config and format storage (with `cluster_id`, or `INTENTCAST_CLUSTER_ID`, or a
        new one); a formatted folder is left as it is."""
        self.data_dir.mkdir(parents=True, exist_ok=True)
        if self.security is not None:
            self.security.prepare()  # certificates and passwords before the config names them
        self.config_file.write_text(self.render_config())
        (self.data_dir / "log4j2.properties").write_text(_LOG4J)
        self._format(cluster_id)

    def spawn(self) -> int:
        """Start the JVM without waiting for readiness (clusters start all nodes first)."""
        existing = self._read_pid()
        if existing is not None:
            return existing
        for p in (self.port, self.controller_port):
            if not port_free(p):
                raise PortInUseError(f"Port {p} on 127.0.0.1 is already in use.")
        self.prepare()
        cmd = [
            str(self.dist.java),
            f"-Xmx{self.heap}",
            "-Xms128m",
            "-XX:+UseG1GC",
            "-Djava.awt.headless=true",
            f"-Dlog4j2.configurationFile={self.data_dir / 'log4j2.properties'}",
            f"-Dkafka.logs.dir={self.data_dir}",
            "-cp",
            self.dist.classpath,
            "kafka.Kafka",
            str(self.config_file),
        ]
        with self.log_file.open("ab") as log:
            proc = subprocess.Popen(
                cmd,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        self.pid_file.write_text(f"{proc.pid}\n")
        self._child = proc
        return proc.pid

    def _exited(self) -> bool:
        """Whether the JVM is gone; our own child is asked directly, others by PID.

        Reading /proc right after the launch can catch the java launcher mid-exec (an empty
        command line), so a PID that looks foreign is only believed when it looks so twice.
        """
        if self._child is not None:
            return self._child.poll() is not None
        if self._read_pid() is not None:
            return False
        time.sleep(0.5)
        return self._read_pid() is None

    def wait_ready(self, timeout: float = 90.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._exited():
                raise NodeNotReadyError(
                    f"Kafka exited during start-up; end of {self.log_file}:\n{self.log_tail()}"
                )
            if self._answers(timeout=3.0):
                return
            time.sleep(0.3)
        raise NodeNotReadyError(
            f"Kafka did not answer metadata requests within {timeout:.0f}s (log: {self.log_file})."
        )

    def start(self, timeout: float = 90.0) -> NodeStatus:
        """Start (or find already running) and wait until clients can fetch metadata."""
        self.spawn()
        try:
            self.wait_ready(timeout)
        except NodeNotReadyError:
            self.stop()
            raise
        return self.status()

    def _answers(self, timeout: float) -> bool:
        if self.security is not None:
            return self.security.ready(self.bootstrap, timeout)
        return metadata_ready(self.bootstrap, timeout=timeout)

    def stop(self, timeout: float = 30.0) -> bool:
        """SIGTERM, wait for a clean shutdown, SIGKILL as a last resort. True if it was running."""
        pid = self._read_pid()
        if pid is None:
            self.pid_file.unlink(missing_ok=True)
            return False
        _signal(pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and _alive(pid):
            time.sleep(0.1)
        if _alive(pid):
            _signal(pid, signal.SIGKILL)
            while _alive(pid):
                time.sleep(0.05)
        self.pid_file.unlink(missing_ok=True)
        return True

    def kill(self) -> None:
        """SIGKILL, for crash drills."""
        pid = self._read_pid()
        if pid is not None:
            _signal(pid, signal.SIGKILL)
            while _alive(pid):
                time.sleep(0.05)

    def log_tail(self, lines: int = 25) -> str:
        try:
            return "\n".join(self.log_file.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"


def port_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # a zombie child of ours counts as gone
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        return stat.rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def _signal(pid: int, sig: signal.Signals) -> None:
    try:
        os.kill(pid, sig)
    except ProcessLookupError:
        return
    # reap if it is our own child, so it does not linger as a zombie
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)


def _is_our_kafka(pid: int, config_file: Path) -> bool:
    """Guard against PID reuse: the process must be a JVM running *this* node's config."""
    if not _alive(pid):
        return False
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return False
    return b"kafka.Kafka" in cmdline and str(config_file).encode() in cmdline
