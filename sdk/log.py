"""Structured JSON logs (Powertools ``Logger``) under one service name, for every module.

Keys used across the package: ``deal_id``, ``portal_id``, ``trigger``, ``freee_request_id``. Never log a token,
a secret or a full payload at info level.
"""

from __future__ import annotations

import os
from functools import cache
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from aws_lambda_powertools import Logger

SERVICE = "hubspot-freee"


@cache
def get_logger() -> Logger:
    """JSON lines on standard error: command output (``--json``) on standard out stays clean, and Lambda sends
    both streams to CloudWatch."""
    import logging
    import sys

    from aws_lambda_powertools import Logger  # deferred: importing sdk stays cheap

    return Logger(
        service=SERVICE,
        level=os.environ.get("LOG_LEVEL", "INFO"),
        log_uncaught_exceptions=False,
        logger_handler=logging.StreamHandler(sys.stderr),
    )
