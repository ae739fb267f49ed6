"""The SDK's example vendors, each run as `intentcast vendor run <name> --sandbox`, pass the kit
run as `intentcast vendor conformance --json`; a vendor that is not there fails it, exit 1."""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from aiokafka import AIOKafkaProducer

from intentcast.broker.settings import BrokerSettings
from intentcast.broker.topic_admin import create_all
from intentcast.processes import Processors
from intentcast.schemas.canonical import encode
from intentcast.schemas.crypto import SigningKey, sign_model
from intentcast.schemas.offer import VendorProfile
from intentcast.schemas.terms import term_ref
from intentcast.schemas.timeutil import utcnow
from intentcast.schemas.topics import sandbox_market, vendor_profile_topic
from tests.conftest import SANDBOX_VENDORS

pytestmark = pytest.mark.kafka

VENDOR_RUN = (sys.executable, "-m", "intentcast", "vendor", "run")
EXAMPLES = {"acme": "acme-bikes", "careful": "careful-cycles", "premium": "premium-wheels"}


@pytest.fixture(scope="module")
def example_vendors(
    kafka_bootstrap: str, ready_processors: Processors, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Path]:
    folder = tmp_path_factory.mktemp("example-vendors")
    procs: list[subprocess.Popen[bytes]] = []
    try:
        for name in EXAMPLES:
            with (folder / f"{name}.log").open("wb") as log:
                command = [*VENDOR_RUN, name, "--sandbox", "--bootstrap", kafka_bootstrap]
                procs.append(
                    subprocess.Popen(
                        command, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL
                    )
                )
        yield folder
    finally:
        for proc in procs:
            proc.send_signal(signal.SIGTERM)
        for proc in procs:
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


async def _kit(bootstrap: str, *args: str) -> tuple[int, str, str]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "intentcast", "vendor", "conformance", "--bootstrap", bootstrap,
        *args, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        env={**os.environ, "COLUMNS": "240"},  # one table row per line, whatever the terminal
    )  # fmt: skip
    out, err = await proc.communicate()
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()


async def test_the_example_vendors_pass(kafka_bootstrap: str, example_vendors: Path) -> None:
    runs = await asyncio.gather(
        *(
            _kit(kafka_bootstrap, "--vendor-id", vendor_id, "--json", "--timeout", "150")
            for vendor_id in EXAMPLES.values()
        )
    )
    reports: dict[str, dict[str, Any]] = {}
    for vendor_id, (code, out, err) in zip(EXAMPLES.values(), runs, strict=True):
        assert out, f"{vendor_id}: no report; stderr: {err[-2000:]}"
        report = json.loads(out)
        assert (code, report["passed"]) == (0, True), json.dumps(report, indent=1)
        reports[vendor_id] = {c["check"]: c for c in report["checks"]}
        assert {c["status"] for c in report["checks"]} <= {"pass", "warn", "skip"}
        names = {c["name"] for c in report["cases"]}
        assert {"jpy", "gbp", "kwd", "unusual-text", "lenient-spelling", "about-to-expire"} <= names
    # careful-cycles refuses PDC-AI: it got an intent proffering it and ignored it
    assert reports["careful-cycles"]["ignores-unserved"]["status"] == "pass"
    assert reports["acme-bikes"]["ignores-unserved"]["status"] == "skip"  # accepts every term
    # premium-wheels prices over the ceiling: a warning that names the clause, not a failure
    price = reports["premium-wheels"]["price"]
    assert price["status"] == "warn" and "price_over_max" in price["details"][0]
    assert price["clause"]["anchor"] == "docs/protocol.md#what-the-processors-check"
    for checks in reports.values():
        for check in ("signature", "terms", "decimals", "partition", "valid-until", "canonical",
                      "lenient-input"):  # fmt: skip
            assert checks[check]["status"] == "pass", checks[check]


async def test_a_vendor_that_is_not_running_fails_with_the_clause(
    kafka_bootstrap: str, ready_processors: Processors
) -> None:
    code, out, _ = await _kit(kafka_bootstrap, "--vendor-id", "nobody-listening", "--timeout", "5")
    assert code == 1
    assert "FAIL" in out and "not in the registry" in out
    assert "clause (docs/protocol.md)" in out and "#what-the-processors-check (Profiles)" in out


async def test_a_vendor_id_that_has_no_sandbox_is_a_one_line_error(kafka_bootstrap: str) -> None:
    code, out, err = await _kit(kafka_bootstrap, "--vendor-id", "x" * 60)
    assert code == 1 and not out
    assert "too long for a sandbox market" in err and "Traceback" not in err


async def test_a_sandbox_the_processors_do_not_keep_is_an_error_saying_what_to_do(
    kafka_bootstrap: str, ready_processors: Processors
) -> None:
    """Registered, listing its sandbox, but the processors were not told: no grade, advice."""
    vendor_id = "no-sandbox-kept"
    assert vendor_id not in SANDBOX_VENDORS
    key = SigningKey.from_seed(hashlib.sha256(b"test:no-sandbox-kept").digest())
    profile = VendorProfile(
        vendor_id=vendor_id, display_name="No sandbox", signing_key=key.public_key,
        markets=(sandbox_market(vendor_id),), accepts=(term_ref("SD-BASE"),), updated_at=utcnow(),
    )  # fmt: skip
    await create_all(BrokerSettings(bootstrap=kafka_bootstrap), vendors=[vendor_id])
    producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap, acks="all")
    await producer.start()
    try:
        await producer.send_and_wait(
            vendor_profile_topic(vendor_id),
            encode(sign_model(profile, key)),
            key=b"no-sandbox-kept",
        )
    finally:
        await producer.stop()
    code, out, err = await _kit(kafka_bootstrap, "--vendor-id", vendor_id, "--timeout", "90")
    assert code == 1 and not out, out
    assert "do not accept the sandbox market sandbox-no-sandbox-kept" in err
    assert "INTENTCAST_SANDBOX_VENDORS" in err and "Traceback" not in err
