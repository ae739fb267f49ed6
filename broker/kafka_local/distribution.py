"""Where the Kafka jars come from: an existing KAFKA_HOME, or a one-time Maven download.

The download goes to a cache outside the repository so that every checkout, test run and CI
run on a machine shares one copy, and a second run never downloads again.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from intentcast.broker.kafka_local.errors import DownloadFailedError, JavaMissingError

KAFKA_VERSION = "4.1.1"
_COMPLETE_MARKER = ".complete"


@dataclass(frozen=True)
class KafkaDistribution:
    """A folder of Kafka jars and the Java that runs them."""

    libs: Path
    java: Path
    source: str  # "KAFKA_HOME" or "maven-cache"

    @property
    def classpath(self) -> str:
        return str(self.libs / "*")


def cache_root() -> Path:
    explicit = os.environ.get("INTENTCAST_CACHE_DIR")
    if explicit:
        return Path(explicit)
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg) if xdg else Path.home() / ".cache") / "intentcast"


def find_java() -> Path:
    java_home = os.environ.get("JAVA_HOME")
    if java_home and (Path(java_home) / "bin" / "java").exists():
        return Path(java_home) / "bin" / "java"
    found = shutil.which("java")
    if not found:
        raise JavaMissingError("Java was not found on PATH and JAVA_HOME is not set.")
    return Path(found)


def _download(target: Path) -> None:
    mvn = shutil.which("mvn")
    if not mvn:
        raise DownloadFailedError("Maven (`mvn`) is not installed, so Kafka cannot be fetched.")
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f"{target.name}.", dir=target.parent))
    with resources.as_file(resources.files("intentcast.broker.kafka_local") / "pom.xml") as pom:
        cmd = [
            mvn,
            "-B",
            "-q",
            "-f",
            str(pom),
            "dependency:copy-dependencies",
            "-DincludeScope=runtime",
            f"-Dkafka.version={KAFKA_VERSION}",
            f"-DoutputDirectory={staging}",
        ]
        proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if proc.returncode != 0 or not any(staging.glob("kafka_2.13-*.jar")):
        shutil.rmtree(staging, ignore_errors=True)
        tail = "\n".join((proc.stdout + proc.stderr).strip().splitlines()[-15:])
        raise DownloadFailedError(
            f"Fetching Kafka {KAFKA_VERSION} from Maven Central failed:\n{tail}"
        )
    (staging / _COMPLETE_MARKER).write_text(KAFKA_VERSION + "\n")
    if target.exists():  # another process won the race; keep its copy
        shutil.rmtree(staging, ignore_errors=True)
        return
    staging.rename(target)


def resolve_distribution(*, download: bool = True) -> KafkaDistribution:
    """Return the jars to run, downloading them once if no KAFKA_HOME is given."""
    java = find_java()
    kafka_home = os.environ.get("KAFKA_HOME")
    if kafka_home:
        libs = Path(kafka_home) / "libs"
        if not any(libs.glob("kafka_2.13-*.jar")):
            raise DownloadFailedError(
                f"KAFKA_HOME={kafka_home} has no libs/kafka_2.13-*.jar.",
                hint="Point KAFKA_HOME at an unpacked Apache Kafka 4.x, or unset it to download.",
            )
        return KafkaDistribution(libs=libs, java=java, source="KAFKA_HOME")
    libs = cache_root() / f"kafka-{KAFKA_VERSION}"
    if not (libs / _COMPLETE_MARKER).exists():
        if not download:
            raise DownloadFailedError(f"Kafka {KAFKA_VERSION} is not in the cache at {libs}.")
        if libs.exists():  # a broken earlier attempt
            shutil.rmtree(libs)
        _download(libs)
    return KafkaDistribution(libs=libs, java=java, source="maven-cache")
