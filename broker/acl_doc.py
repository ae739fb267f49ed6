"""Writes (or with ``--check`` verifies) the ACL table of docs/security.md.

Run ``python -m intentcast.broker.acl_doc``; ``make generate`` runs it after
``python -m intentcast.schemas._tools.generate``. It is apart from that generator because the floor
imports nothing of the broker, and the ACLs are the broker's reading of the topic specs.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Final

from intentcast.broker.principals import acl_table_markdown
from intentcast.schemas._tools.generate import REPO_DIR

SECURITY_DOC: Final = REPO_DIR / "docs" / "security.md"
BEGIN: Final = "<!-- acl-table:start -->\n"
END: Final = "<!-- acl-table:end -->"


def with_table(text: str) -> str:
    """``text`` with the part between the markers replaced by the generated table."""
    if BEGIN not in text or END not in text:
        raise ValueError(f"docs/security.md lacks the markers {BEGIN.strip()} ... {END}")
    head, rest = text.split(BEGIN, 1)
    _, tail = rest.split(END, 1)
    return f"{head}{BEGIN}{acl_table_markdown()}{END}{tail}"


def drifted(path: Path = SECURITY_DOC) -> bool:
    text = path.read_text(encoding="utf-8")
    return with_table(text) != text


def main(argv: Sequence[str] | None = None) -> int:
    """CLI entry point; exit status 1 with ``--check`` when the table drifted."""
    parser = argparse.ArgumentParser(
        prog="python -m intentcast.broker.acl_doc", description=__doc__
    )
    parser.add_argument("--check", action="store_true", help="only report whether it drifted")
    args = parser.parse_args(argv)
    stale = drifted()
    if args.check:
        if stale:
            print(
                "drifted: docs/security.md; run: python -m intentcast.broker.acl_doc",
                file=sys.stderr,
            )
        return 1 if stale else 0
    if stale:
        SECURITY_DOC.write_text(
            with_table(SECURITY_DOC.read_text(encoding="utf-8")), encoding="utf-8"
        )
        print("wrote docs/security.md")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
