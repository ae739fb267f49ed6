"""Launcher errors: each says what went wrong and what the user can do next."""

from __future__ import annotations

from intentcast.schemas.errors import IntentcastError


class KafkaLaunchError(IntentcastError):
    """Root of every failure to fetch, start or stop the local broker."""

    hint: str = ""

    def __init__(self, message: str, hint: str = "") -> None:
        super().__init__(message)
        self.hint = hint or self.hint

    def __str__(self) -> str:
        base = super().__str__()
        return f"{base}\n  → {self.hint}" if self.hint else base


class JavaMissingError(KafkaLaunchError):
    hint = "Install Java 17+ (e.g. `apt-get install openjdk-17-jre-headless`) or set JAVA_HOME."


class PortInUseError(KafkaLaunchError):
    hint = "Pick another port with --port, or stop whatever listens there."


class DownloadFailedError(KafkaLaunchError):
    hint = (
        "Check that Maven (`mvn`) is installed and Maven Central is reachable, "
        "or point KAFKA_HOME at an existing Kafka installation."
    )


class NodeNotReadyError(KafkaLaunchError):
    hint = "Read the broker log named above; `intentcast kafka stop` cleans up after it."
