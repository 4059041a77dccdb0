"""The scheduled payment sync (EventBridge, every 15 minutes, plus the daily pass): ``sync_payments`` → summary.

The same use case runs from the CLI (``hubspot-freee sync payments``). The daily pass is the same call: days
overdue follow the calendar, so the first run of a new day moves them even when freee did not change.
"""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING, Any

from sdk.log import get_logger

if TYPE_CHECKING:
    from sdk.usecases.context import Context

_CONTEXT: Context | None = None


def lambda_context() -> Context:
    """One Context per Lambda container, built on first use from the settings (environment)."""
    global _CONTEXT
    if _CONTEXT is None:
        from sdk.settings import load_settings
        from sdk.usecases.context import Context

        _CONTEXT = Context.from_settings(load_settings())
    return _CONTEXT


def lambda_handler(event: dict[str, Any] | None, context: Any) -> dict[str, Any]:
    """EventBridge → Lambda. The event may carry ``since`` (YYYY-MM-DD) and ``dry_run``; the answer is the
    summary (``ok`` false when another sync was running or something could not be written)."""
    from sdk.usecases.sync_payments import sync_payments

    event = event or {}
    since = date.fromisoformat(event["since"]) if event.get("since") else None
    summary = sync_payments(lambda_context(), since=since, dry_run=bool(event.get("dry_run", False)))
    result = summary.as_dict()
    result.pop("deal_changes", None)
    result.pop("company_changes", None)
    get_logger().info({"event": "payment_sync_done", **result})
    return result
