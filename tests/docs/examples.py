"""Find the code examples in the docs and run them the way a reader would.

Conventions (docs/*.md and README.md):
- every ```python block is executed (top-level `await` allowed) by
  tests/flow/test_doc_examples_flow.py, with a real broker, processors and vendors running;
- in ```bash blocks, every line that runs `intentcast` is checked: the command exists, its
  `--help` works and every `--option` on the line is one it declares;
- a block preceded by `<!-- no-run: why -->` is skipped, and must say why.
"""

from __future__ import annotations

import ast
import re
import shlex
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.conftest import REPO_ROOT

DOCS = sorted([*(REPO_ROOT / "docs").glob("*.md"), REPO_ROOT / "README.md"])
_FENCE = re.compile(r"^```(\w*)\s*$")
_NO_RUN = re.compile(r"^<!--\s*no-run:?(.*?)-->\s*$")


@dataclass(frozen=True)
class Block:
    path: Path
    line: int
    lang: str
    code: str
    no_run: str | None

    @property
    def id(self) -> str:
        return f"{self.path.name}:{self.line}"


def blocks(paths: list[Path] = DOCS) -> list[Block]:
    """Every fenced block of the docs, with its language and any no-run reason."""
    found: list[Block] = []
    for path in paths:
        lines = path.read_text(encoding="utf-8").splitlines()
        i = 0
        while i < len(lines):
            m = _FENCE.match(lines[i])
            if not m:
                i += 1
                continue
            start, body = i, []
            i += 1
            while i < len(lines) and lines[i].strip() != "```":
                body.append(lines[i])
                i += 1
            prev = lines[start - 1].strip() if start > 0 else ""
            skip = _NO_RUN.match(prev)
            found.append(Block(path, start + 1, m[1], "\n".join(body) + "\n",
                               skip[1].strip() if skip else None))  # fmt: skip
            i += 1
    return found


def python_blocks() -> list[Block]:
    return [b for b in blocks() if b.lang == "python" and b.no_run is None]


async def run_python(block: Block) -> dict[str, Any]:
    """Execute a block as a module would run it; top-level `await` is allowed, as in asyncio."""
    code = compile(block.code, block.id, "exec", flags=ast.PyCF_ALLOW_TOP_LEVEL_AWAIT)
    namespace: dict[str, Any] = {"__name__": "__doc_example__"}
    result = eval(code, namespace)  # the docs are ours; running them is the point
    if result is not None:
        await result
    return namespace


def intentcast_lines(block: Block) -> list[list[str]]:
    """The `intentcast ...` commands of a bash block, continuation lines joined, comments cut."""
    joined = block.code.replace("\\\n", " ")
    commands = []
    for line in joined.splitlines():
        words = shlex.split(line, comments=True)
        if words and words[0].split("/")[-1] == "intentcast":
            commands.append(words[1:])
    return commands


def resolve(root: Any, args: list[str]) -> tuple[list[str], Any]:
    """Walk sub-commands as far as the words go; return the command path and the command.

    Typed Any: typer ships its own copy of click, whose classes are not importable publicly.
    """
    path: list[str] = []
    command = root
    for word in args:
        if word.startswith("-") or not hasattr(command, "commands"):
            break
        sub = command.commands.get(word)
        if sub is None:
            break
        path.append(word)
        command = sub
    return path, command


def options_of(command: Any) -> set[str]:
    return {opt for p in command.params for opt in (*p.opts, *p.secondary_opts)}
