"""Typed errors of the freee client. Each says what happened in freee's words and what to do.

Retryable ones (:class:`FreeeRateLimited`, :class:`FreeeServerError`, :class:`FreeeUnavailable`,
:class:`FreeeOutcomeUnknown`) derive from :class:`sdk.errors.Retryable`; auth problems from
:class:`sdk.errors.AuthError`, among them :class:`FreeeDisconnected` (the refresh token is gone: reconnect).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sdk.errors import AuthError, HubSpotFreeeError, Retryable

#: what an operator runs to authorise freee again
SETUP_FREEE = "hubspot-freee setup freee"


class FreeeError(HubSpotFreeeError):
    """An answer from freee that is not a success."""

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        messages: Sequence[str] = (),
        request_id: str | None = None,
    ) -> None:
        self.status = status
        self.messages = list(messages)
        self.request_id = request_id
        detail = f" ({'; '.join(self.messages)})" if self.messages else ""
        rid = f" [X-Freee-Request-ID {request_id}]" if request_id else ""
        super().__init__(f"{message}{detail}{rid}")


class FreeeValidationError(FreeeError):
    """freee refused the request (400): its messages say why. Not retried: fix the data."""


class FreeeNotFound(FreeeError):
    """The partner, invoice or deal does not exist (404)."""


class FreeeAuthError(FreeeError, AuthError):
    """Not authorised: no token stored, the refresh token was rejected, or the app lacks permission."""

    #: the OAuth ``error`` of a refused grant (``invalid_grant``, ``invalid_client``, …), when freee gave one
    oauth_error: str | None = None


class FreeeDisconnected(FreeeAuthError):
    """freee refused the stored refresh token (``invalid_grant``: used, expired or revoked), so no access token
    can be had until an operator authorises again with ``hubspot-freee setup freee``.

    freee's refresh tokens are single-use and a lost answer cannot be recovered, so this state is kept on the
    token row (:meth:`sdk.freee.tokens.TokenStore.mark_disconnected`): every later call raises it at once, without
    asking freee again, until ``setup freee`` stores a new pair. Not :class:`~sdk.errors.Retryable`: waiting does
    not fix it, but the work is kept (the worker holds its message) and done after reconnecting.
    """

    def __init__(self, reason: str, since: datetime | None = None) -> None:
        self.reason = reason
        self.since = since
        when = f"{since.isoformat(timespec='seconds')}, " if since else ""
        super().__init__(
            f"freee接続が切れています（{when}{reason}）。運用担当者が `{SETUP_FREEE}` で再接続してください。"
            f" / The freee connection is lost ({when}{reason}): an operator must reconnect with `{SETUP_FREEE}`."
        )


class FreeeRateLimited(FreeeError, Retryable):
    """freee's rate limit (429) or its lock-out for sustained overuse (403); try again after ``retry_after``."""

    def __init__(self, message: str, *, retry_after: float | None = None, **kwargs: object) -> None:
        FreeeError.__init__(self, message, **kwargs)  # type: ignore[arg-type]
        self.retry_after = retry_after


class FreeeServerError(FreeeError, Retryable):
    """freee answered 5xx (or an unreadable page) after the client's retries."""

    def __init__(self, message: str, *, retry_after: float | None = None, **kwargs: object) -> None:
        FreeeError.__init__(self, message, **kwargs)  # type: ignore[arg-type]
        self.retry_after = retry_after


class FreeeUnavailable(FreeeError, Retryable):
    """freee could not be reached (connection refused, DNS, connect time-out): the request was not sent."""

    def __init__(self, message: str, **kwargs: object) -> None:
        FreeeError.__init__(self, message, **kwargs)  # type: ignore[arg-type]
        self.retry_after = None


class FreeeOutcomeUnknown(FreeeError, Retryable):
    """A write was sent but no answer came back (time-out, reset): it may or may not have been applied.

    Never retried blindly by the client: the caller reconciles (e.g. finds the invoice by its marker) first.
    """

    def __init__(self, message: str, **kwargs: object) -> None:
        FreeeError.__init__(self, message, **kwargs)  # type: ignore[arg-type]
        self.retry_after = None


class RateLimitWait(HubSpotFreeeError):
    """Room comes only after ``seconds``, more than the caller was willing to wait (:mod:`sdk.freee.ratelimit`)."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        super().__init__(f"the rate limit frees a call in {seconds:.1f}s")


class SetupFailed(HubSpotFreeeError):
    """The freee connection could not be made (``hubspot-freee setup freee``, :mod:`sdk.usecases.setup_freee`);
    the message says why and what to do (ja + en)."""
