"""OAuth 2.0 authorization code flow against freee, and the token manager every API call goes through."""

from __future__ import annotations

import secrets
import uuid
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlencode

import requests

from sdk.clock import Clock
from sdk.freee.errors import (
    SETUP_FREEE,
    FreeeAuthError,
    FreeeDisconnected,
    FreeeServerError,
    FreeeUnavailable,
)
from sdk.freee.tokens import RENEW_REFRESH_TOKEN_AFTER, StoredToken, TokenSet, TokenStore
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


class TokenManager:
    """Hands out a valid access token; refreshes it at most once across all workers sharing the store.

    States of the token row: *usable* (an access token is handed out, refreshed under a claim when it expires),
    *disconnected* (freee answered ``invalid_grant`` to the refresh: :class:`FreeeDisconnected` at once, freee
    is not asked again) until :meth:`connect` stores a new pair. A refresh that got no answer leaves the row as
    it is and releases its claim: the next call tries again (freee may or may not have used the refresh token;
    if it did, that refresh is refused and the row becomes disconnected).
    """

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
        self.store, self.oauth, self.clock = store, oauth, clock
        self.skew, self.lease, self.poll, self.max_wait = skew, lease, poll, max_wait
        self.holder = f"worker-{uuid.uuid4().hex[:12]}"

    def access_token(self, *, rejected: str | None = None) -> str:
        """A usable access token. ``rejected``: the token freee just answered 401 to (refresh unless the store
        already holds a newer one)."""
        waited = 0.0
        while True:
            row = self._connected_row()
            now = self.clock.now()
            stale = rejected is not None and row.tokens.access_token == rejected
            if not stale and row.tokens.access_expires_at - timedelta(seconds=self.skew) > now:
                return row.tokens.access_token
            if self._claim(row, now):
                token = self._refresh(row)
                if token is not None:
                    return token
                continue  # a newer pair was stored while ours was refused: use it
            if waited >= self.max_wait:
                raise FreeeAuthError(
                    f"another worker has held the freee token refresh for {waited:.0f}s; try again"
                )
            self.clock.sleep(self.poll)
            waited += self.poll

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

    def _connected_row(self) -> StoredToken:
        """The stored token row; :class:`FreeeAuthError` when freee was never connected, :class:`FreeeDisconnected`
        when it was disconnected."""
        row = self.store.load_token()
        if row is None:
            raise FreeeAuthError(f"freee is not connected; {REAUTHORIZE}")
        if row.disconnected:
            raise self._disconnected(row)
        return row

    def _claim(self, row: StoredToken, now: datetime) -> bool:
        """Take the refresh of ``row`` for ``lease`` seconds; False when it moved on or another holds it."""
        return self.store.claim_refresh(row.version, self.holder, now, now + timedelta(seconds=self.lease))

    def _refresh(self, row: StoredToken) -> str | None:
        """Refresh ``row`` (whose claim we hold): the new access token, or ``None`` when freee refused the refresh
        token but the row had already moved on to a newer pair (the caller uses that one)."""
        log = get_logger()
        try:
            tokens = self.oauth.refresh(row.tokens.refresh_token)
        except FreeeAuthError as refused:
            log.error({"event": "freee_token_refresh_rejected", "version": row.version})
            if refused.oauth_error != "invalid_grant":
                self.store.release_refresh(row.version, self.holder)
                raise
            reason = (
                "freee refused the refresh token (invalid_grant: already used, expired or revoked)"
                " / リフレッシュトークンが拒否されました"
            )
            if not self.store.mark_disconnected(row.version, reason, self.clock.now()):
                return None
            current = self.store.load_token()
            raise self._disconnected(
                current if current is not None and current.disconnected else row
            ) from None
        except Exception:
            # no answer (or 5xx): freee may or may not have used the refresh token; let the next call find out
            self.store.release_refresh(row.version, self.holder)
            raise
        saved = self.store.save_token(tokens, expected_version=row.version)
        if saved is None:
            # our lease ran out and the row moved on; the pair we hold is still the newest freee issued
            current = self.store.load_token()
            saved = self.store.save_token(tokens, expected_version=current.version if current else None)
        log.info({"event": "freee_token_refreshed", "version": saved.version if saved else None})
        return tokens.access_token

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

    def connect(self, tokens: TokenSet) -> StoredToken:
        """Store the first pair (after ``setup freee``), replacing whatever was there (a disconnected row
        included: the installation is connected again)."""
        current = self.store.load_token()
        saved = self.store.save_token(tokens, expected_version=current.version if current else None)
        if saved is None:
            raise FreeeAuthError("the token row changed while connecting; run setup again")
        return saved
