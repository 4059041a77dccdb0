"""Typed errors of the HubSpot client, and the one place the official client's failures become them.

:func:`translate_error` maps the official client's ``ApiException`` (and urllib3's connection errors) once:
401/403 → :class:`HubSpotAuthError` (an :class:`~sdk.errors.AuthError`), 429/5xx and unreachable →
:class:`HubSpotRetryable` (a :class:`~sdk.errors.Retryable` with ``retry_after``), 404 → :class:`HubSpotNotFound`,
any other 4xx → :class:`HubSpotRequestError` with HubSpot's own message.

Cheap to import (nothing of urllib3 or of the official client): a use case tells a missing deal by
:class:`HubSpotNotFound` without loading the HTTP client (cold start of the handlers).
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from sdk.errors import AuthError, HubSpotFreeeError, Retryable


class HubSpotNotFound(HubSpotFreeeError):
    """The record (or route) does not exist in HubSpot (404). ``context`` is the error body's (a batch names
    the ids it did not find in ``context["ids"]``)."""

    def __init__(
        self,
        message: str,
        *,
        operation: str,
        category: str | None = None,
        correlation_id: str | None = None,
        context: dict[str, list[str]] | None = None,
    ) -> None:
        self.status = 404
        self.operation = operation
        self.category = category
        self.correlation_id = correlation_id
        self.context = context or {}
        super().__init__(message)


class HubSpotRequestError(HubSpotFreeeError):
    """HubSpot refused the request (a 4xx other than 401/403/404/429): its message says why. Not retried."""

    def __init__(
        self,
        message: str,
        *,
        status: int,
        operation: str,
        category: str | None = None,
        correlation_id: str | None = None,
        context: dict[str, list[str]] | None = None,
    ) -> None:
        self.status = status
        self.operation = operation
        self.category = category
        self.correlation_id = correlation_id
        self.context = context or {}
        super().__init__(message)


class HubSpotAuthError(AuthError):
    """The private app token is missing, wrong, expired or lacks a scope (401/403)."""

    def __init__(self, message: str, *, status: int, operation: str) -> None:
        self.status = status
        self.operation = operation
        super().__init__(message)


class HubSpotTokenRefused(HubSpotAuthError):
    """HubSpot's token endpoint (``POST /oauth/v1/token``) refused to refresh a public app's access token.

    ``code`` is HubSpot's ``status`` of the answer (``BAD_REFRESH_TOKEN``: the app was uninstalled or the token
    revoked; ``BAD_CLIENT_ID`` / ``BAD_CLIENT_SECRET``: the app's settings), ``fix`` what to do about it."""

    def __init__(self, message: str, *, status: int, code: str | None, fix: str) -> None:
        self.code = code
        self.fix = fix
        super().__init__(f"{message}: {fix}", status=status, operation="oauth.token")


class HubSpotDisconnected(HubSpotAuthError):
    """HubSpot refused the stored refresh token for good, so no access token can be had until an operator
    installs the app again and sets the new refresh token (``HUBSPOT_REFRESH_TOKEN``). Kept on the token row
    (:meth:`sdk.freee.tokens.TokenStore.mark_disconnected`): every later call raises it at once, without asking
    HubSpot again, until the setting changes."""

    fix = (
        "install the app in the HubSpot portal again and set HUBSPOT_REFRESH_TOKEN to the refresh token of the new "
        "installation (or use a private app's HUBSPOT_ACCESS_TOKEN instead) / HubSpot のポータルにアプリを再"
        "インストールし、新しいリフレッシュトークンを HUBSPOT_REFRESH_TOKEN に設定してください"
    )

    def __init__(self, reason: str, since: datetime | None = None) -> None:
        self.reason = reason
        self.since = since
        when = f"{since.isoformat(timespec='seconds')}, " if since else ""
        super().__init__(
            f"HubSpot接続が切れています（{when}{reason}）。/ The HubSpot connection is lost ({when}{reason}). "
            f"Fix: {self.fix}",
            status=401,
            operation="oauth.token",
        )


class HubSpotRetryable(Retryable):
    """Rate limited, a server error, or HubSpot could not be reached, after the client's own retries."""

    def __init__(
        self, message: str, *, status: int | None, operation: str, retry_after: float | None = None
    ) -> None:
        self.status = status
        self.operation = operation
        super().__init__(message, retry_after=retry_after)


def _header(headers: Any, name: str) -> str | None:
    if headers is None:
        return None
    try:
        value = headers.get(name)
    except AttributeError:
        return None
    return None if value is None else str(value)


def _seconds(raw: str | None) -> float | None:
    try:
        return max(0.0, float(raw)) if raw is not None else None
    except ValueError:
        return None


def translate_error(exc: BaseException, operation: str) -> HubSpotFreeeError | None:
    """This package's error for an exception of the official client (or urllib3); None for anything else."""
    from urllib3.exceptions import HTTPError as Urllib3Error  # deferred: see the module's docstring

    status = getattr(exc, "status", None)
    if isinstance(status, int) and any(cls.__name__ == "ApiException" for cls in type(exc).__mro__):
        return _from_status(status, getattr(exc, "body", None), getattr(exc, "headers", None), exc, operation)
    if isinstance(exc, Urllib3Error):
        return HubSpotRetryable(
            f"HubSpot could not be reached ({operation}): {type(exc).__name__}. It will be tried again later. / "
            "HubSpot に接続できませんでした。後で再試行します。",
            status=None,
            operation=operation,
        )
    return None


def _from_status(
    status: int, body: Any, headers: Any, exc: BaseException, operation: str
) -> HubSpotFreeeError:
    message, category, correlation = error_details(body, str(getattr(exc, "reason", "") or ""))
    where = f"HubSpot {operation} → {status}" + (f" {category}" if category else "")
    said = f"{where}: {message}" if message else where
    if status in (401, 403):
        return HubSpotAuthError(
            f"{said}. Check HUBSPOT_ACCESS_TOKEN and the private app's scopes. / "
            "HubSpot のアクセストークンとスコープを確認してください。",
            status=status,
            operation=operation,
        )
    if status == 404:
        return HubSpotNotFound(
            said,
            operation=operation,
            category=category,
            correlation_id=correlation,
            context=error_context(body),
        )
    if status == 429 or status >= 500 or status == 0:
        retry_after = _seconds(_header(headers, "Retry-After"))
        if retry_after is None and status == 429:
            interval = _seconds(_header(headers, "X-HubSpot-RateLimit-Interval-Milliseconds"))
            retry_after = interval / 1000 if interval is not None else None
        return HubSpotRetryable(
            f"{said}. It will be tried again later. / 後で再試行します。",
            status=status or None,
            operation=operation,
            retry_after=retry_after,
        )
    return HubSpotRequestError(
        said,
        status=status,
        operation=operation,
        category=category,
        correlation_id=correlation,
        context=error_context(body),
    )


def _error_json(body: Any) -> dict[str, Any] | None:
    if isinstance(body, bytes | bytearray):
        body = body.decode("utf-8", "replace")
    try:
        data = json.loads(body) if isinstance(body, str) and body.strip() else None
    except ValueError:
        return None
    return data if isinstance(data, dict) else None


def error_context(body: Any) -> dict[str, list[str]]:
    """The ``context`` of HubSpot's error body (``{"ids": ["123"]}``, ...), its values as lists of text."""
    context = (_error_json(body) or {}).get("context")
    if not isinstance(context, dict):
        return {}
    return {
        str(k): [str(v) for v in values] if isinstance(values, list) else [str(values)]
        for k, values in context.items()
    }


def error_details(body: Any, reason: str) -> tuple[str, str | None, str | None]:
    """``(message, category, correlationId)`` from HubSpot's error body (JSON), else the HTTP reason."""
    data = _error_json(body)
    if data is None:
        return reason, None, None
    category = data.get("category") or data.get("errorType") or data.get("policyName")
    correlation = data.get("correlationId")
    return (
        str(data.get("message") or reason),
        str(category) if category else None,
        str(correlation) if correlation else None,
    )
