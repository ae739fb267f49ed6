"""Every Python example in the docs runs, against the session broker, processors and vendors.

Examples use the default settings, so `INTENTCAST_BOOTSTRAP` points them at the session
broker and `XDG_DATA_HOME` keeps any wallet they write inside the test's temporary folder.
(Beside the flow tests for the session's `processors` fixture; see tests/docs/examples.py.)
"""

from __future__ import annotations

from pathlib import Path

import pytest

from intentcast.agents import Vendor
from intentcast.processes import Processors
from tests.docs.examples import Block, python_blocks, run_python

pytestmark = pytest.mark.kafka


@pytest.mark.parametrize("block", python_blocks(), ids=lambda b: b.id)
async def test_python_example_in_docs_runs(
    block: Block,
    kafka_bootstrap: str,
    processors: Processors,
    vendors: dict[str, Vendor],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    monkeypatch.setenv("INTENTCAST_BOOTSTRAP", kafka_bootstrap)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path))
    await run_python(block)
