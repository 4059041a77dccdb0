"""The daily billing pass (EventBridge): every schedule with a period due today or earlier is put on the invoice
queue (one message per deal, trigger ``billing``); the worker bills its due periods exactly once each, within
freee's limits (a month-end of 2,000 invoices takes over an hour at freee's 1,500 calls an hour: more than one
Lambda may run, so the work goes through the queue, not this function).

The same use case runs inline from the CLI (``hubspot-freee billing run``), with a progress bar.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from sdk.runtime import LambdaRuntime

RUNTIME = LambdaRuntime()


def lambda_handler(event: dict[str, Any] | None, context: Any) -> dict[str, Any]:
    """EventBridge → Lambda. The event may carry ``date`` (YYYY-MM-DD, default today in Tokyo); the answer says
    how many deals were queued."""
    from sdk.usecases.billing import queue_due

    event = event or {}
    on = date.fromisoformat(event["date"]) if event.get("date") else None
    return queue_due(RUNTIME.context, RUNTIME.queue, on=on).as_dict()
