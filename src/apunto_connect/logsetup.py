"""``APUNTO_LOG=info|debug``: the library's own switch for logging to standard error.

Like the ``*_LOG`` variables of well-known API clients, it needs no code: the first provider
built in the process (``Transport`` construction) reads it and attaches one stderr handler to
the ``apunto_connect`` logger, with the same redaction as everywhere else. Without the variable
nothing is attached and the logger keeps its ``NullHandler``, so applications configure logging
as they always do.
"""

from __future__ import annotations

import logging
import os
import sys
import threading

from .redaction import RedactingFilter

__all__ = ["ENV_VAR", "LEVELS", "configure_from_environment", "configure_logging"]

ENV_VAR = "APUNTO_LOG"
LEVELS = {"debug": logging.DEBUG, "info": logging.INFO}
LOGGER = "apunto_connect"
FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"

_lock = threading.Lock()


class _StderrHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """The handler APUNTO_LOG attaches (a class of its own, so it is attached only once)."""

    def __init__(self) -> None:
        super().__init__(sys.stderr)
        self.addFilter(RedactingFilter())
        self.setFormatter(logging.Formatter(FORMAT))

    def emit(self, record: logging.LogRecord) -> None:
        self.stream = sys.stderr  # follow redirections (pytest's capture, a CLI's devnull)
        super().emit(record)


def configure_logging(level: str) -> None:
    """Log the SDK to standard error at ``level`` (``"info"`` or ``"debug"``), redacted.

    Safe to call many times and from many threads: one handler is attached, its level updated.
    Unknown levels are ignored.
    """
    wanted = LEVELS.get(level.strip().lower())
    if wanted is None:
        return
    logger = logging.getLogger(LOGGER)
    with _lock:
        if not any(isinstance(h, _StderrHandler) for h in logger.handlers):
            logger.addHandler(_StderrHandler())
        logger.setLevel(wanted)


def configure_from_environment() -> None:
    """Apply ``APUNTO_LOG`` when it is set; do nothing otherwise."""
    value = os.environ.get(ENV_VAR, "")
    if value:
        configure_logging(value)
