"""The drills report what faust got wrong from the processors' own log lines."""

from __future__ import annotations

import json
from pathlib import Path

from drills.harness import Stack


def _line(logger: str, msg: str) -> str:
    return "\x1b[?25l" + json.dumps({"level": "warning", "logger": logger, "msg": msg})


def test_faust_faults_are_counted_from_the_processors_log(tmp_path: Path) -> None:
    (tmp_path / "processors.log").write_text(
        "\n".join(
            [
                "a line that is not JSON",
                _line(
                    "intentcast.broker.runtime.holes",
                    "x[1]: offsets 1..23 were never handed to the agent; read 23 of them from"
                    " the log and handled them first",
                ),
                _line("intentcast.broker.runtime.holes", "y[0]: offsets 4..5 ...; read 2 of them"),
                _line("intentcast.broker.runtime.stalls", "x[0] stuck: first offset not done 1"),
                _line("intentcast.broker.runtime.stalls", "stall check skipped: Timeout"),
            ]
        )
    )
    assert Stack(tmp_path).faust_faults() == {
        "skips": 2,
        "skipped_records_read": 25,
        "rereads": 1,
    }
    assert Stack(tmp_path / "none").faust_faults()["skips"] == 0  # no log: nothing seen
