"""The scheduled reconciliation sweep (EventBridge): every hour HubSpot only (``{"check_freee": false}``), once a
day with freee's invoices checked too: ``sweep`` → summary.

The same use case runs from the CLI (``hubspot-freee invoice sweep``). Won deals that never sent a webhook are put
on the invoice queue, as the webhook would; the worker invoices them exactly once whoever queued them.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from sdk.log import get_logger
from sdk.runtime import LambdaRuntime

RUNTIME = LambdaRuntime()


def lambda_handler(event: dict[str, Any] | None, context: Any) -> dict[str, Any]:
    """EventBridge → Lambda. The event may carry ``since`` (YYYY-MM-DD), ``dry_run`` and ``check_freee`` (default
    true); the answer is the
    summary without the per-deal items (those are in the log line ``sweep_item``, one per deal)."""
    from sdk.usecases.sweep import sweep

    event = event or {}
    since = date.fromisoformat(event["since"]) if event.get("since") else None
    report = sweep(
        RUNTIME.context,
        RUNTIME.queue,
        since=since,
        dry_run=bool(event.get("dry_run", False)),
        check_freee=bool(event.get("check_freee", True)),
    )
    logger = get_logger()
    for item in report.items:
        logger.info({"event": "sweep_item", **item.as_dict()})
    result = report.as_dict()
    result.pop("items")
    return result
