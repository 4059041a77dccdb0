"""A HubSpot public app's OAuth access token: kept in the store's HubSpot token row and refreshed before it expires.

A private app's token (``HUBSPOT_ACCESS_TOKEN``) never expires and needs none of this. A public app installed in
the portal gives a refresh token (``HUBSPOT_REFRESH_TOKEN``) and access tokens that live 30 minutes (``expires_in``
1800). The refresh token seeds the store's ``hubspot`` token row (:class:`~sdk.freee.tokens.TokenStore`, reached
as ``store.hubspot_tokens``), and the row is refreshed the way freee's is (:class:`~sdk.freee.tokens.RefreshingTokens`):
``skew`` seconds (5 minutes) before the access token expires, one worker claims the refresh and calls
``POST /oauth/v1/token`` (``grant_type=refresh_token``, form-encoded), stores the new pair, and every other worker
uses it. HubSpot answering ``BAD_REFRESH_TOKEN`` (the app was uninstalled, or the token revoked) marks the row
disconnected: :class:`~sdk.hubspot.errors.HubSpotDisconnected` at once, naming the fix, until the operator sets a
new refresh token (the row remembers which configured token it descends from, ``TokenSet.origin``, and a new one
replaces it).

HubSpot documents the refresh answer's ``refresh_token`` but not whether it changes on each refresh; whichever it
answers is stored, so a rotating and a fixed refresh token both work.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Final

import requests

from sdk.errors import AuthError
from sdk.freee.tokens import RefreshingTokens, StoredToken, TokenSet
from sdk.hubspot.errors import HubSpotAuthError, HubSpotDisconnected, HubSpotRetryable, HubSpotTokenRefused
from sdk.log import get_logger

if TYPE_CHECKING:
    from sdk.clock import Clock
    from sdk.freee.tokens import TokenStore
    from sdk.settings import Settings

TOKEN_PATH: Final = "/oauth/v1/token"  # noqa: S105 (a path, not a password)
#: refresh this long before the access token expires (HubSpot's live 30 minutes)
REFRESH_BEFORE_SECONDS: Final = 300.0
#: HubSpot's ``status`` when the refresh token itself is refused (uninstalled, revoked); OAuth's name for it too
REVOKED: Final = frozenset({"BAD_REFRESH_TOKEN", "invalid_grant"})
_NEVER: Final = datetime(1970, 1, 1, tzinfo=UTC)


def fingerprint(refresh_token: str) -> str:
    """Which configured refresh token a row descends from, without keeping the token itself a second time."""
    return hashlib.sha256(refresh_token.encode()).hexdigest()[:16]


class HubSpotOAuth:
    """HubSpot's token endpoint, for the refresh grant."""

    def __init__(
        self,
        *,
        api_base: str,
        client_id: str,
        client_secret: str,
        session: requests.Session,
        timeout: float = 10.0,
    ) -> None:
        self.api_base = api_base.rstrip("/")
        self.client_id = client_id
        self._client_secret = client_secret
        self.session = session
        self.timeout = timeout

    def refresh(self, refresh_token: str) -> dict[str, Any]:
        """HubSpot's answer (``access_token``, ``refresh_token``, ``expires_in``) to the refresh grant;
        :class:`HubSpotTokenRefused` when it says no, :class:`HubSpotRetryable` when it does not answer."""
        form = {
            "grant_type": "refresh_token",
            "client_id": self.client_id,
            "client_secret": self._client_secret,
            "refresh_token": refresh_token,
        }
        url = f"{self.api_base}{TOKEN_PATH}"
        try:
            response = self.session.post(url, data=form, timeout=self.timeout)
        except requests.RequestException as exc:
            raise HubSpotRetryable(
                f"HubSpot's token endpoint could not be reached ({type(exc).__name__}); it will be tried again / "
                "HubSpot のトークンエンドポイントに接続できませんでした",
                status=None,
                operation="oauth.token",
            ) from None
        try:
            answer: Any = response.json()
        except ValueError:
            answer = None
        body: dict[str, Any] = answer if isinstance(answer, dict) else {}
        if response.status_code == 429 or response.status_code >= 500:
            raise HubSpotRetryable(
                f"HubSpot's token endpoint answered {response.status_code}; it will be tried again / 後で再試行します",
                status=response.status_code,
                operation="oauth.token",
            )
        if response.status_code == 200 and body.get("access_token"):
            return body
        code = body.get("status") or body.get("error")
        said = body.get("message") or body.get("error_description") or f"HTTP {response.status_code}"
        raise HubSpotTokenRefused(
            f"HubSpot refused to refresh the access token ({code or response.status_code}: {said})",
            status=response.status_code,
            code=str(code) if code else None,
            fix=_fix(str(code) if code else None),
        )


def _fix(code: str | None) -> str:
    if code in REVOKED:
        return HubSpotDisconnected.fix
    if code in ("BAD_CLIENT_ID", "BAD_CLIENT_SECRET", "invalid_client"):
        return (
            "check HUBSPOT_CLIENT_ID and HUBSPOT_CLIENT_SECRET (the public app's Auth tab) / 公開アプリの"
            "クライアントIDとシークレットを確認してください"
        )
    return (
        "check HUBSPOT_CLIENT_ID, HUBSPOT_CLIENT_SECRET and HUBSPOT_REFRESH_TOKEN / HubSpot の公開アプリの設定を"
        "確認してください"
    )


class HubSpotTokens(RefreshingTokens):
    """The access token of a public app's installation, from the store's ``hubspot`` row seeded by
    ``HUBSPOT_REFRESH_TOKEN``, refreshed ``skew`` seconds before it expires, one refresher at a time."""

    service = "hubspot"

    def __init__(
        self,
        store: TokenStore,
        oauth: HubSpotOAuth,
        clock: Clock,
        refresh_token: str,
        *,
        skew: float = REFRESH_BEFORE_SECONDS,
        lease: float = 30.0,
        poll: float = 0.05,
        max_wait: float = 60.0,
    ) -> None:
        super().__init__(store, clock, skew=skew, lease=lease, poll=poll, max_wait=max_wait)
        self.oauth = oauth
        self._seed = refresh_token
        self.origin = fingerprint(refresh_token)

    @classmethod
    def from_settings(cls, settings: Settings, store: TokenStore, clock: Clock) -> HubSpotTokens:
        """For ``settings.hubspot_refresh_token`` (required, with the app's client id and secret)."""
        error = settings.hubspot_auth_error()
        if error.problems or not settings.hubspot_oauth:
            raise error if error.problems else ValueError("HUBSPOT_REFRESH_TOKEN is not set")
        secret, seed = settings.hubspot_client_secret, settings.hubspot_refresh_token
        oauth = HubSpotOAuth(
            api_base=settings.hubspot_api_base,
            client_id=str(settings.hubspot_client_id),
            client_secret=secret.get_secret_value() if secret else "",
            session=requests.Session(),
        )
        return cls(store, oauth, clock, seed.get_secret_value().strip() if seed else "")

    def _connected_row(self) -> StoredToken:
        """The row, seeded from the configured refresh token when there is none or it descends from another one
        (the operator set a new token: it wins, a disconnected row included)."""
        row = self.store.load_token()
        if row is None or row.tokens.origin != self.origin:
            seeded = TokenSet(
                "", self._seed, _NEVER, origin=self.origin
            )  # expired: the first use refreshes it
            saved = self.store.save_token(seeded, expected_version=row.version if row else None)
            if saved is not None:
                get_logger().info({"event": "hubspot_token_seeded", "version": saved.version})
            row = saved or self.store.load_token()  # or another worker seeded it first
            if row is None:
                raise self._not_connected()
        if row.disconnected:
            raise self._disconnected(row)
        return row

    def _refreshed(self, current: TokenSet) -> TokenSet:
        now = self.clock.now()
        body = self.oauth.refresh(current.refresh_token)
        body = body | {"refresh_token": body.get("refresh_token") or current.refresh_token}
        pair = TokenSet.from_grant(body, now)
        return TokenSet(
            pair.access_token,
            pair.refresh_token,
            pair.access_expires_at,
            refresh_issued_at=pair.refresh_issued_at,
            origin=current.origin,
        )

    def _revoked(self, refused: AuthError) -> str | None:
        if not isinstance(refused, HubSpotTokenRefused) or refused.code not in REVOKED:
            return None
        return (
            f"HubSpot refused the refresh token ({refused.code}: the app was uninstalled from the portal, or the "
            "token revoked) / HubSpot がリフレッシュトークンを拒否しました"
        )

    def _not_connected(self) -> HubSpotAuthError:
        return HubSpotAuthError(
            "HubSpot is not connected: set HUBSPOT_REFRESH_TOKEN / HUBSPOT_REFRESH_TOKEN を設定してください",
            status=401,
            operation="oauth.token",
        )

    def _error(self, message: str) -> HubSpotAuthError:
        return HubSpotAuthError(message, status=401, operation="oauth.token")

    def _disconnected(self, row: StoredToken) -> HubSpotDisconnected:
        """The error for a disconnected row, logged as the ``hubspot_disconnected`` event each time it is met."""
        reason = row.disconnected_reason or "HubSpot refused the refresh token"
        since = row.disconnected_at
        get_logger().error(
            {
                "event": "hubspot_disconnected",
                "since": since.isoformat() if since else None,
                "reason": reason,
                "fix": HubSpotDisconnected.fix,
            }
        )
        return HubSpotDisconnected(reason, since)
