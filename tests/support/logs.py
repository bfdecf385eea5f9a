"""Putting the process's logging back as it was after a test that calls ``configure_logging``."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager

import structlog

from gateway.logging import CHATTY_LOGGERS


@contextmanager
def logging_restored() -> Iterator[None]:
    """Restore the root handlers and level, the levels ``configure_logging`` sets, and structlog's config."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    names = (*CHATTY_LOGGERS, "alembic.runtime.migration")
    levels = {name: logging.getLogger(name).level for name in names}
    config = structlog.get_config()
    try:
        yield
    finally:
        root.handlers[:] = handlers
        root.setLevel(level)
        for name, saved in levels.items():
            logging.getLogger(name).setLevel(saved)
        structlog.configure(**config)
