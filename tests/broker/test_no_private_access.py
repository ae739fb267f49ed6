"""Only `broker/runtime/checkpoint.py` and `broker/runtime/changelog_metadata.py` may reach into
a private name of faust or aiokafka.

Such names change without notice between releases (faust-streaming's master already differs
from 0.15.3), so every one of them is one place to re-check on an upgrade, pinned by
`test_runtime_contract.py`. This test reads every Python file of the project and fails on an
attribute access `x._name` (not on `self` or `cls`) whose name is private in faust, mode or
aiokafka and is not also one of the project's own private names, and on an import of such a
name.
"""

from __future__ import annotations

import ast
import importlib
from functools import cache
from pathlib import Path

from tests.conftest import REPO_ROOT

ALLOWED = {
    REPO_ROOT / "broker" / "runtime" / "checkpoint.py",
    REPO_ROOT / "broker" / "runtime" / "changelog_metadata.py",
}
LIBRARIES = ("faust", "mode", "aiokafka")
PROJECT_DIRS = ("broker", "agents", "schemas", "intentcast", "drills", "bench", "examples", "tests")


def _private(name: str) -> bool:
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


def _defined_private_names(files: list[Path]) -> set[str]:
    """Private names a body of code defines: methods, class attributes, `self._x = ...`."""
    names: set[str] = set()
    for path in files:
        try:
            tree = ast.parse(path.read_text(encoding="utf-8"))
        except (SyntaxError, UnicodeDecodeError):
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                names.add(node.name)
            elif isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Store):
                names.add(node.attr)
            elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
                names.add(node.id)
            elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
                names.add(node.target.id)
    return {n for n in names if _private(n)}


def _project_files() -> list[Path]:
    files: list[Path] = []
    for folder in PROJECT_DIRS:
        files += sorted((REPO_ROOT / folder).rglob("*.py"))
    return files


@cache
def library_private_names() -> frozenset[str]:
    files: list[Path] = []
    for lib in LIBRARIES:
        # the package's own folders (find_spec gives None for faust once it is imported)
        for location in importlib.import_module(lib).__path__:
            files += sorted(Path(location).rglob("*.py"))
    return frozenset(_defined_private_names(files))


# private names the project also uses for its own objects, and which are the classic ways into
# the libraries' innards: checked on every receiver but `self`/`cls`, whoever defines them
ALWAYS_CHECKED = frozenset(
    {"_commit", "_consumer", "_client", "_cluster", "_thread", "_fetcher",
     "_coordinator", "_subscription", "_commit_offsets", "_acked", "_committed_offset"}
)  # fmt: skip


def violations(source: str, own: set[str]) -> list[str]:
    """`line: what` for each reach into a library's private name in `source`."""
    private = (library_private_names() - own) | (ALWAYS_CHECKED & library_private_names())
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Attribute) and _private(node.attr) and node.attr in private:
            receiver = node.value
            if isinstance(receiver, ast.Name) and receiver.id in ("self", "cls"):
                continue
            found.append(f"{node.lineno}: .{node.attr}")
        elif isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] in LIBRARIES:
            found += [f"{node.lineno}: import {a.name}" for a in node.names if _private(a.name)]
    return found


def test_no_file_but_the_checkpoint_touches_faust_or_aiokafka_internals() -> None:
    files = _project_files()
    own = _defined_private_names(files)
    report = {
        str(path.relative_to(REPO_ROOT)): hits
        for path in files
        if path not in ALLOWED and (hits := violations(path.read_text(encoding="utf-8"), own))
    }
    assert report == {}, "reach into faust/aiokafka internals only in ALLOWED files"


def test_the_checker_sees_the_accesses_it_is_meant_to_forbid() -> None:
    """The checker itself can fail: the accesses removed from the old runtime are caught."""
    own = _defined_private_names(_project_files())
    old = (
        "consumer._new_offset = f\n"
        "x = app.consumer._read_offset[tp]\n"
        "y = consumer._active_partitions\n"
        "z = app.topics._topic_name_index\n"
        "from aiokafka.consumer.fetcher import _something_private\n"
        "self._add_gap = 1\n"  # on self: the project's own attribute, allowed
    )
    hits = sorted(violations(old, own), key=lambda h: int(h.split(":")[0]))
    assert [h.split(": ")[1] for h in hits] == [
        "._new_offset",
        "._read_offset",
        "._active_partitions",
        "._topic_name_index",
        "import _something_private",
    ]
    assert violations("ok = app.consumer._commit(offsets)\n", own) == ["1: ._commit"]


def test_the_one_allowed_access_is_where_the_docs_say() -> None:
    source = (REPO_ROOT / "broker" / "runtime" / "checkpoint.py").read_text(encoding="utf-8")
    assert [h.split(": ")[1] for h in violations(source, set())] == ["._thread"]
