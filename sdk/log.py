"""Structured JSON logs (Powertools ``Logger``) under one service name, for every module.

Keys used across the package: ``deal_id``, ``portal_id``, ``trigger``, ``freee_request_id``. Never log a token,
a secret or a full payload at info level.

The logger is built once per process, under a lock: Powertools configures the shared ``logging`` logger of the
service when a ``Logger`` is first made, and two threads making it at once (the first requests at a just-started
server) left a handler without its formatter, after which every ``append_context_keys`` failed.
"""

from __future__ import annotations

import os
import threading
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from aws_lambda_powertools import Logger

SERVICE = "hubspot-freee"

_lock = threading.Lock()
_logger: Logger | None = None
_level: str | None = None  # set_level's: the level whatever LOG_LEVEL says (None: LOG_LEVEL's)


def get_logger() -> Logger:
    """JSON lines on standard error: command output (``--json``) on standard out stays clean, and Lambda sends
    both streams to CloudWatch. The same logger for every caller and thread, built on first use."""
    logger = _logger
    if logger is not None:
        return logger
    with _lock:
        if _logger is None:
            _build()
        assert _logger is not None  # noqa: S101 - _build sets it or raises
        return _logger


LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")


def set_level(level: str | None) -> None:
    """Log at ``level`` from now on (``None``: as ``LOG_LEVEL`` says), whether or not the logger is built yet: a
    command sets it at start without paying for building a logger it may never use."""
    global _level
    with _lock:
        _level = level
        if _logger is not None:
            _logger.setLevel(level or env_level())


def env_level() -> str:
    """``LOG_LEVEL`` when it names a level, else ``INFO`` (the settings report a bad value in their own words;
    the logger must not fail before they can)."""
    level = os.environ.get("LOG_LEVEL", "INFO").strip().upper()
    return level if level in LEVELS else "INFO"


def _build() -> None:
    global _logger
    import logging
    import sys

    from aws_lambda_powertools import Logger  # deferred: importing sdk stays cheap

    class _CurrentStderr(logging.StreamHandler):  # type: ignore[type-arg]
        """Writes to ``sys.stderr`` as it is when a line is logged, not as it was when the logger was built: a
        runner that swaps standard error for a while (the CLI's test runner, a host capturing output) and closes
        its stream afterwards must not leave the one process-wide logger writing into a closed file."""

        def __init__(self) -> None:
            super().__init__(sys.stderr)

        @property
        def stream(self) -> Any:
            return sys.stderr

        @stream.setter
        def stream(self, _value: Any) -> None:
            pass  # always the current sys.stderr

    _logger = Logger(
        service=SERVICE,
        level=_level or env_level(),
        log_uncaught_exceptions=False,
        logger_handler=_CurrentStderr(),
    )
