"""Every `intentcast` command line in the docs exists, takes the options shown, and has --help.

The docs' Python examples run in tests/flow/test_doc_examples_flow.py (they need a broker);
here we check the conventions that make every example either run or say why it does not.
"""

from __future__ import annotations

import pytest
import typer
from typer.testing import CliRunner

from intentcast.cli import app
from tests.docs.examples import Block, blocks, intentcast_lines, options_of, resolve

ROOT = typer.main.get_command(app)
BASH = [b for b in blocks() if b.lang in ("bash", "sh") and b.no_run is None]


def test_the_docs_have_examples_of_both_kinds() -> None:
    found = blocks()
    assert sum(b.lang == "python" for b in found) >= 4
    assert sum(len(intentcast_lines(b)) for b in BASH) >= 15


def test_every_skipped_block_says_why() -> None:
    assert all(b.no_run for b in blocks() if b.no_run is not None)


@pytest.mark.parametrize("block", BASH, ids=lambda b: b.id)
def test_intentcast_commands_in_docs_exist_with_their_options(block: Block) -> None:
    runner = CliRunner()
    for words in intentcast_lines(block):
        path, command = resolve(ROOT, words)
        assert path, f"{block.id}: `intentcast {' '.join(words)}` names no command"
        rest = words[len(path) :]
        if hasattr(command, "commands"):
            assert not rest, f"{block.id}: {' '.join(path)} needs a sub-command"
        known = options_of(command)
        for word in rest:
            if word.startswith("--"):
                assert word.split("=")[0] in known, f"{block.id}: {' '.join(path)} has no {word}"
        result = runner.invoke(app, [*path, "--help"])
        assert result.exit_code == 0, f"{block.id}: {' '.join(path)} --help: {result.output}"
