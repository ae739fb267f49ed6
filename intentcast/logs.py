"""Structured logs for every `intentcast` process: JSON lines on stderr (schemas/logfmt.py).

`INTENTCAST_LOG_LEVEL` (debug, info, warn, error; default warn) picks the level. Rich output
for people stays on stdout; logs are for machines and go to stderr, one JSON object a line.
"""

from __future__ import annotations

import logging.config
import os

from intentcast.schemas.logfmt import LOG_LEVELS, logging_config

__all__ = ["setup_logging"]


def setup_logging(level: str | None = None) -> None:
    """Install the JSON formatter on the root logger (idempotent: it replaces handlers)."""
    chosen = (level or os.environ.get("INTENTCAST_LOG_LEVEL", "warn")).lower()
    logging.config.dictConfig(logging_config(chosen if chosen in LOG_LEVELS else "warn"))
