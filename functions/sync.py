"""The scheduled payment sync (EventBridge, every 15 minutes, plus the daily pass): ``sync_payments`` → summary.

The same use case runs from the CLI (``hubspot-freee sync payments``). The daily pass is the same call: days
overdue follow the calendar, so the first run of a new day moves them even when freee did not change.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from sdk.log import get_logger
from sdk.runtime import LambdaRuntime

RUNTIME = LambdaRuntime()


def lambda_handler(event: dict[str, Any] | None, context: Any) -> dict[str, Any]:
    """EventBridge → Lambda. The event may carry ``since`` (YYYY-MM-DD) and ``dry_run``; the answer is the
    summary (``ok`` false when another sync was running or something could not be written)."""
    from sdk.usecases.sync_payments import sync_payments

    event = event or {}
    since = date.fromisoformat(event["since"]) if event.get("since") else None
    summary = sync_payments(RUNTIME.context, since=since, dry_run=bool(event.get("dry_run", False)))
    result = summary.as_dict()
    result.pop("deal_changes", None)
    result.pop("company_changes", None)
    get_logger().info({"event": "payment_sync_done", **result})
    return result
