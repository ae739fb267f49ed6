"""Handlers see the processors' parts only through `broker.handler_context`'s narrow views."""

from __future__ import annotations

import ast
from pathlib import Path

import intentcast.broker.processors as processors
from intentcast.broker.context import Context
from intentcast.broker.handler_context import HandlerContext
from intentcast.broker.intent_store import IntentStore
from intentcast.broker.settings import BrokerSettings

RUNTIME_ONLY = {"intentcast.broker.context", "intentcast.broker.runtime"}


def _imports(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return found


def test_no_handler_module_imports_the_runtime_or_the_full_context() -> None:
    folder = Path(processors.__file__).parent
    offenders = {
        f"{path.name}: {name}"
        for path in sorted(folder.glob("*.py"))
        for name in _imports(path)
        if any(name == banned or name.startswith(banned + ".") for banned in RUNTIME_ONLY)
    }
    assert offenders == set()


def test_the_context_offers_handlers_no_lifecycle_through_their_view() -> None:
    view = {name for name in dir(HandlerContext) if not name.startswith("_")}
    assert view == {
        "clock",
        "delivered",
        "ledger",
        "metrics",
        "outputs",
        "registry",
        "settings",
        "store",
    }
    ctx: HandlerContext = Context.build(
        BrokerSettings(bootstrap="127.0.0.1:1"), IntentStore(table={}, partitions=1)
    )
    for name in view:
        getattr(ctx, name)  # every view the protocol names is there on the real object
