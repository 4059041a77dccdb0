"""A public app's OAuth in the HubSpot sandbox: installing the app gives a refresh token, ``POST /oauth/v1/token``
(form-encoded, ``grant_type=refresh_token``) trades it for an access token that expires ``access_token_ttl``
seconds later on the sandbox clock (HubSpot's 30 minutes), and uninstalling revokes the refresh tokens.

HubSpot documents the refresh answer (``access_token``, ``refresh_token``, ``expires_in``, ``token_type``) but not
whether the refresh token changes on each refresh: by default the same one comes back, ``rotate=True`` issues a
new one and retires the old. A refused refresh answers 400 with HubSpot's ``status`` (``BAD_REFRESH_TOKEN``,
``BAD_CLIENT_ID``, ``BAD_CLIENT_SECRET``, ``BAD_GRANT_TYPE``) and ``message``, the shape HubSpot's v1 endpoint
answers in.
"""

from __future__ import annotations

import secrets
import threading
from collections import Counter
from collections.abc import Mapping
from typing import Any, Final

from sdk.clock import Clock

TOKEN_PATH: Final = "/oauth/v1/token"  # noqa: S105 (a path, not a password)
ACCESS_TOKEN_TTL: Final = 1800.0


class TokenRefused(Exception):
    """The token endpoint's 400: HubSpot's ``status`` code and ``message``."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code, self.message = code, message


class OAuthApp:
    """The public app's tokens in the portal: refresh tokens of its installations and the access tokens issued."""

    def __init__(
        self,
        clock: Clock,
        *,
        client_id: str,
        client_secret: str,
        access_token_ttl: float = ACCESS_TOKEN_TTL,
        rotate: bool = False,
    ) -> None:
        self.clock = clock
        self.client_id = client_id
        self.client_secret = client_secret
        self.access_token_ttl = access_token_ttl
        self.rotate = rotate
        self.lock = threading.Lock()
        self.reset()

    def reset(self) -> None:
        with self.lock:
            self.refresh_tokens: set[str] = set()
            self.access_tokens: dict[str, float] = {}  # token → expiry (epoch seconds on the sandbox clock)
            self.calls: Counter[str] = Counter()

    def _now(self) -> float:
        return self.clock.now().timestamp()

    def install(self) -> str:
        """Install the app in the portal: its refresh token (what the operator sets as HUBSPOT_REFRESH_TOKEN)."""
        with self.lock:
            token = f"sandbox-refresh-{secrets.token_urlsafe(24)}"
            self.refresh_tokens.add(token)
            return token

    def uninstall(self) -> int:
        """Uninstall the app: every refresh token is revoked (access tokens live until they expire); how many."""
        with self.lock:
            count = len(self.refresh_tokens)
            self.refresh_tokens.clear()
            return count

    def expire_access_tokens(self) -> int:
        """Every issued access token expires now; how many were live."""
        with self.lock:
            now = self._now()
            live = [t for t, until in self.access_tokens.items() if until > now]
            for token in live:
                self.access_tokens[token] = now
            return len(live)

    def grant(self, form: Mapping[str, str]) -> dict[str, Any]:
        """``POST /oauth/v1/token``; :class:`TokenRefused` for every refusal."""
        with self.lock:
            grant_type = form.get("grant_type") or ""
            self.calls[grant_type or "(none)"] += 1
            if form.get("client_id") != self.client_id:
                raise TokenRefused("BAD_CLIENT_ID", "missing or unknown client id")
            if form.get("client_secret") != self.client_secret:
                raise TokenRefused("BAD_CLIENT_SECRET", "missing or invalid client secret")
            if grant_type != "refresh_token":
                raise TokenRefused("BAD_GRANT_TYPE", f"unsupported grant_type {grant_type!r} in this sandbox")
            refresh = form.get("refresh_token") or ""
            if refresh not in self.refresh_tokens:
                raise TokenRefused("BAD_REFRESH_TOKEN", "missing or invalid refresh token")
            if self.rotate:
                self.refresh_tokens.discard(refresh)
                refresh = f"sandbox-refresh-{secrets.token_urlsafe(24)}"
                self.refresh_tokens.add(refresh)
            access = f"sandbox-oauth-{secrets.token_urlsafe(32)}"
            self.access_tokens[access] = self._now() + self.access_token_ttl
            return {
                "token_type": "bearer",
                "refresh_token": refresh,
                "access_token": access,
                "expires_in": int(self.access_token_ttl),
            }

    def check(self, token: str) -> str | None:
        """None when ``token`` is a live access token of the app; else why not (HubSpot's 401 message)."""
        with self.lock:
            until = self.access_tokens.get(token)
            if until is None:
                return "unknown"
            late = self._now() - until
            if late >= 0:
                return f"The OAuth token used to make this call expired {int(late)} second(s) ago."
            return None

    def stats(self) -> dict[str, Any]:
        with self.lock:
            now = self._now()
            return {
                "calls": dict(self.calls),
                "refresh_tokens": len(self.refresh_tokens),
                "live_access_tokens": sum(1 for until in self.access_tokens.values() if until > now),
            }
