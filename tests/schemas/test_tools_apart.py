"""The contract does not depend on its tooling: no module of `schemas/` outside `_tools/`
imports `intentcast.schemas._tools`, so importing the contract never loads the samples, the
vectors or the generator (and they may change without touching the rules of the wire)."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

SCHEMAS = Path(__file__).resolve().parents[2] / "schemas"
TOOLS = "intentcast.schemas._tools"


def _package_of(path: Path) -> str:
    return "intentcast." + ".".join(path.relative_to(SCHEMAS.parent).parent.parts)


def _imported_modules(source: str, package: str) -> set[str]:
    """Every module `source` imports (and every name it imports from one, which may be a
    submodule), relative imports resolved against `package`."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parent = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                base = f"{parent}.{base}" if base else parent
            found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names)
    return found


def _names_tools(modules: set[str]) -> bool:
    return any(name == TOOLS or name.startswith(TOOLS + ".") for name in modules)


def _contract_modules() -> list[Path]:
    return sorted(p for p in SCHEMAS.rglob("*.py") if "_tools" not in p.relative_to(SCHEMAS).parts)


def test_no_contract_module_imports_the_tools() -> None:
    offenders = [
        str(path.relative_to(SCHEMAS.parent))
        for path in _contract_modules()
        if _names_tools(_imported_modules(path.read_text(encoding="utf-8"), _package_of(path)))
    ]
    assert offenders == [], f"the contract must not import {TOOLS}: {offenders}"


def test_the_check_sees_every_spelling_of_an_import_of_the_tools() -> None:
    """The scan above finds absolute and relative imports, so its empty answer means something."""
    spellings = (
        f"from {TOOLS}.samples import sample",
        f"import {TOOLS}.vectors",
        "from intentcast.schemas import _tools",
        "from ._tools import generate",
        "from . import _tools",
    )
    for line in spellings:
        assert _names_tools(_imported_modules(line, "intentcast.schemas")), line
    assert not _names_tools(
        _imported_modules("from .canonical import encode", "intentcast.schemas")
    )


def test_importing_the_contract_loads_no_tool() -> None:
    """At run time too: every contract module imported, and not one `_tools` module loaded."""
    names = [
        "intentcast.schemas"
        + "".join(f".{part}" for part in path.relative_to(SCHEMAS).with_suffix("").parts)
        for path in _contract_modules()
    ]
    names = [name.removesuffix(".__init__") for name in names]
    probe = (
        "import importlib, sys\n"
        f"for name in {names!r}: importlib.import_module(name)\n"
        f"print(sorted(m for m in sys.modules if m.startswith({TOOLS!r})))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == "[]"
