"""Typed errors of the freee client. Each says what happened in freee's words and what to do.

Retryable ones (:class:`FreeeRateLimited`, :class:`FreeeServerError`, :class:`FreeeUnavailable`,
:class:`FreeeOutcomeUnknown`) derive from :class:`sdk.errors.Retryable`; auth problems from
:class:`sdk.errors.AuthError`.
"""

from __future__ import annotations

from collections.abc import Sequence

from sdk.errors import AuthError, HubspotFreeeError, Retryable


class FreeeError(HubspotFreeeError):
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
