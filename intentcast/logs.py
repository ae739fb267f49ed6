"""Structured logs for every `intentcast` process: one JSON object a line on stderr.

The processors' faust worker and every command of the CLI, the customer and the vendors it
runs included, log the same shape (ts, level, logger, msg, extra fields), so this module is
the one place that defines it. It is process setup, not wire contract, so it lives with the
CLI rather than in `schemas/`: the agents never configure logging (the process that hosts
them does), and `intentcast broker run` hands the same configuration to faust's worker
(`broker.worker.run_worker` takes it as an argument: the processors never import the CLI).

`INTENTCAST_LOG_LEVEL` (debug, info, warn, error; default warn) picks the level. Rich output
for people stays on stdout; logs are for machines and go to stderr, one JSON object a line.
"""

from __future__ import annotations

import logging
import logging.config
import os
from datetime import UTC, datetime
from typing import Any, Final

import orjson

__all__ = ["LOG_LEVELS", "JsonFormatter", "logging_config", "setup_logging"]

# the attributes every LogRecord has; anything else on a record came from `extra=`
_STANDARD: Final = frozenset(
    vars(logging.LogRecord("x", logging.INFO, "x", 0, "x", None, None)).keys()
) | {"message", "asctime", "taskName"}

LOG_LEVELS: Final = {"debug": "DEBUG", "info": "INFO", "warn": "WARNING", "error": "ERROR"}


def _plain(value: Any) -> Any:
    """Extra fields may hold anything; what JSON cannot carry is logged as its repr."""
    if value is None or isinstance(value, str | int | float | bool):
        return value
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    return repr(value)


class JsonFormatter(logging.Formatter):
    """Formats a record as a single-line JSON object that log shippers parse without rules."""

    def format(self, record: logging.LogRecord) -> str:
        ts = datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds")
        entry: dict[str, Any] = {
            "ts": ts.replace("+00:00", "Z"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        for key, value in vars(record).items():
            if key not in _STANDARD and key not in entry:
                entry[key] = _plain(value)
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        if record.stack_info:
            entry["stack"] = self.formatStack(record.stack_info)
        return orjson.dumps(entry, option=orjson.OPT_NON_STR_KEYS).decode()


def logging_config(level: str = "warn", stream: str = "ext://sys.stderr") -> dict[str, Any]:
    """A `logging.config.dictConfig` document: JSON lines on `stream` at `level` (debug..error).

    Returned as data so that faust's worker (which takes a `logging_config`) and the CLI apply
    the very same configuration.
    """
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"json": {"()": f"{__name__}.JsonFormatter"}},
        "handlers": {
            "json": {"class": "logging.StreamHandler", "formatter": "json", "stream": stream}
        },
        "root": {"level": LOG_LEVELS.get(level, "WARNING"), "handlers": ["json"]},
    }


def setup_logging(level: str | None = None) -> None:
    """Install the JSON formatter on the root logger (idempotent: it replaces handlers)."""
    chosen = (level or os.environ.get("INTENTCAST_LOG_LEVEL", "warn")).lower()
    logging.config.dictConfig(logging_config(chosen if chosen in LOG_LEVELS else "warn"))
