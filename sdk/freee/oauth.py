"""OAuth 2.0 authorization code flow against freee, and the token manager every API call goes through."""

from __future__ import annotations

import secrets
from datetime import timedelta
from typing import Any
from urllib.parse import urlencode

import requests

from sdk.clock import Clock
from sdk.errors import AuthError
from sdk.freee.errors import (
    SETUP_FREEE,
    FreeeAuthError,
    FreeeDisconnected,
    FreeeServerError,
    FreeeUnavailable,
)
from sdk.freee.tokens import RENEW_REFRESH_TOKEN_AFTER, RefreshingTokens, StoredToken, TokenSet, TokenStore
from sdk.log import get_logger

TOKEN_PATH = "/public_api/token"  # noqa: S105 (a path, not a password)
AUTHORIZE_PATH = "/public_api/authorize"
REAUTHORIZE = (
    "run `hubspot-freee setup freee` to authorise again / 再度 `hubspot-freee setup freee` を実行してください"
)


class OAuthClient:
    """freee's authorization endpoints: the URL an operator opens, code exchange, and refresh."""

    def __init__(
        self,
        *,
        auth_base: str,
        client_id: str,
        client_secret: str,
        redirect_uri: str,
        session: requests.Session,
        clock: Clock,
        timeout: float = 10.0,
    ) -> None:
        self.auth_base = auth_base.rstrip("/")
        self.client_id = client_id
        self._client_secret = client_secret
        self.redirect_uri = redirect_uri
        self.session = session
        self.clock = clock
        self.timeout = timeout

    def authorization_url(self, state: str | None = None) -> tuple[str, str]:
        """The URL to open in a browser, and the ``state`` to check on the callback."""
        state = state or secrets.token_urlsafe(16)
        query = urlencode(
            {
                "client_id": self.client_id,
                "redirect_uri": self.redirect_uri,
                "response_type": "code",
                "state": state,
                "prompt": "select_company",
            }
        )
        return f"{self.auth_base}{AUTHORIZE_PATH}?{query}", state

    def exchange_code(self, code: str) -> TokenSet:
        return self._token(
            {"grant_type": "authorization_code", "code": code, "redirect_uri": self.redirect_uri}
        )

    def refresh(self, refresh_token: str) -> TokenSet:
        return self._token({"grant_type": "refresh_token", "refresh_token": refresh_token})

    def _token(self, form: dict[str, str]) -> TokenSet:
        form = form | {"client_id": self.client_id, "client_secret": self._client_secret}
        try:
            response = self.session.post(f"{self.auth_base}{TOKEN_PATH}", data=form, timeout=self.timeout)
        except requests.ReadTimeout:
            # sent, no answer: freee may have committed it (a refresh token is then spent, DESIGN §3 / README)
            raise FreeeUnavailable(
                f"no answer from freee's token endpoint within {self.timeout:g}s (the {form['grant_type']} grant "
                "may have been committed)"
            ) from None
        except requests.RequestException as exc:
            raise FreeeUnavailable(f"freee token endpoint unreachable: {exc.__class__.__name__}") from None
        try:
            body: dict[str, Any] = response.json()
        except ValueError:
            body = {}
        if response.status_code >= 500:
            raise FreeeServerError(
                f"freee token endpoint answered {response.status_code}", status=response.status_code
            )
        if response.status_code != 200 or "access_token" not in body:
            error = str(body.get("error") or f"HTTP {response.status_code}")
            refused = FreeeAuthError(
                f"freee refused the {form['grant_type']} grant: {error}; {REAUTHORIZE}",
                status=response.status_code,
            )
            refused.oauth_error = str(body["error"]) if body.get("error") else None
            raise refused
        return TokenSet.from_grant(body, self.clock.now())


class TokenManager(RefreshingTokens):
    """freee's token row (:class:`~sdk.freee.tokens.RefreshingTokens`): refreshed through :class:`OAuthClient`,
    *disconnected* when freee answers ``invalid_grant`` to the refresh (:class:`FreeeDisconnected` at once, freee
    is not asked again) until :meth:`connect` stores a new pair (``setup freee``). A refresh that got no answer
    leaves the row as it is: freee may or may not have used the refresh token; if it did, the next refresh is
    refused and the row becomes disconnected.
    """

    service = "freee"

    def __init__(
        self,
        store: TokenStore,
        oauth: OAuthClient,
        clock: Clock,
        *,
        skew: float = 60.0,
        lease: float = 30.0,
        poll: float = 0.05,
        max_wait: float = 60.0,
    ) -> None:
        super().__init__(store, clock, skew=skew, lease=lease, poll=poll, max_wait=max_wait)
        self.oauth = oauth

    def renew_if_older(self, age: timedelta = RENEW_REFRESH_TOKEN_AFTER) -> bool:
        """Refresh now when the stored refresh token is older than ``age`` (or its age is unknown), so it never
        reaches the end of freee's 90 days unused. True when this call renewed it; False when it is young enough
        or another worker holds the refresh at this moment (that one renews it)."""
        row = self._connected_row()
        now = self.clock.now()
        issued = row.tokens.refresh_issued_at
        if issued is not None and now - issued < age:
            return False
        if not self._claim(row, now):
            return False
        return self._refresh(row) is not None

    def _refreshed(self, current: TokenSet) -> TokenSet:
        return self.oauth.refresh(current.refresh_token)

    def _revoked(self, refused: AuthError) -> str | None:
        if getattr(refused, "oauth_error", None) != "invalid_grant":
            return None
        return (
            "freee refused the refresh token (invalid_grant: already used, expired or revoked)"
            " / リフレッシュトークンが拒否されました"
        )

    def _not_connected(self) -> FreeeAuthError:
        return FreeeAuthError(f"freee is not connected; {REAUTHORIZE}")

    def _error(self, message: str) -> FreeeAuthError:
        return FreeeAuthError(message)

    def _disconnected(self, row: StoredToken) -> FreeeDisconnected:
        """The error for a disconnected row, logged as the ``freee_disconnected`` event (the AWS alarm's metric
        filter counts it) every time a caller meets it."""
        reason = row.disconnected_reason or "freee refused the refresh token"
        since = row.disconnected_at
        get_logger().error(
            {
                "event": "freee_disconnected",
                "since": since.isoformat() if since else None,
                "reason": reason,
                "fix": f"run `{SETUP_FREEE}`",
            }
        )
        return FreeeDisconnected(reason, since)
