"""freee's OAuth: authorisation codes, token pairs with single-use refresh tokens (the token state is a part of
:class:`~sandbox.freee.state.FreeeState`), and the ``/public_api`` endpoints."""

from __future__ import annotations

import html
import secrets
import threading
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import urlencode

from flask import Flask, Response, request

from sandbox.freee.facts import AUTH_CODE_TTL, REFRESH_TOKEN_TTL
from sandbox.freee.web import _json
from sdk.clock import Clock

if TYPE_CHECKING:
    from sandbox.freee.state import FreeeState


class _OAuthError(Exception):
    def __init__(self, status: int, error: str, description: str) -> None:
        self.status, self.error, self.description = status, error, description
        super().__init__(f"{error}: {description}")


@dataclass
class _RefreshToken:
    expires_at: float
    used: bool = False


@dataclass
class _AuthCode:
    expires_at: float
    redirect_uri: str | None
    used: bool = False


_Grant = TypeVar("_Grant", _AuthCode, _RefreshToken)


def _unused(
    form: Mapping[str, str], name: str, held: Mapping[str, _Grant], now: float, invalid: str
) -> _Grant:
    """The single-use code or refresh token the form names in ``name``: given, known, unused and unexpired."""
    value = form.get(name) or ""
    if not value:
        raise _OAuthError(400, "invalid_request", f"{name} を指定してください。")
    found = held.get(value)
    if found is None or found.used or found.expires_at <= now:
        raise _OAuthError(401, "invalid_grant", invalid)
    return found


class OAuthState:
    """The OAuth half of :class:`~sandbox.freee.state.FreeeState`, which holds the lock, clock and credentials."""

    lock: threading.RLock
    clock: Clock
    company_id: int
    client_id: str
    client_secret: str
    access_token_ttl: float

    def _reset_tokens(self) -> None:
        """Forget every code and token (``FreeeState.reset``, under the lock)."""
        self.access_tokens: dict[str, float] = {}
        self.refresh_tokens: dict[str, _RefreshToken] = {}
        self.codes: dict[str, _AuthCode] = {}
        self.consent_denied = False  # the user clicks "deny" on the consent page
        self.token_calls: Counter[str] = Counter()

    def _now(self) -> float:
        """The sandbox clock as epoch seconds (token and code expiry, rate windows)."""
        return self.clock.now().timestamp()

    def issue_code(self, redirect_uri: str | None = None) -> str:
        with self.lock:
            code = secrets.token_urlsafe(24)
            self.codes[code] = _AuthCode(self._now() + AUTH_CODE_TTL, redirect_uri)
            return code

    def _token_pair(self) -> dict[str, Any]:
        now = self._now()
        access, refresh = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
        self.access_tokens[access] = now + self.access_token_ttl
        self.refresh_tokens[refresh] = _RefreshToken(now + REFRESH_TOKEN_TTL)
        return {
            "access_token": access,
            "token_type": "bearer",
            "expires_in": int(self.access_token_ttl),
            "refresh_token": refresh,
            "scope": "read write",
            "created_at": int(now),
            "company_id": self.company_id,
        }

    def issue_tokens(self) -> dict[str, Any]:
        with self.lock:
            return self._token_pair()

    def grant(
        self, form: Mapping[str, str], client_id: str | None, client_secret: str | None
    ) -> dict[str, Any]:
        """``POST /public_api/token``; raises :class:`_OAuthError` for every refusal."""
        with self.lock:
            grant_type = form.get("grant_type") or ""
            self.token_calls[grant_type or "(none)"] += 1
            if not grant_type:
                raise _OAuthError(400, "invalid_request", "grant_type を指定してください。")
            if client_id != self.client_id or client_secret != self.client_secret:
                raise _OAuthError(
                    401,
                    "invalid_client",
                    "クライアント認証に失敗しました。client_id と client_secret を確認してください。",
                )
            now = self._now()
            if grant_type == "authorization_code":
                found = _unused(
                    form, "code", self.codes, now, "認可コードが無効です。認可からやり直してください。"
                )
                if found.redirect_uri is not None and form.get("redirect_uri") != found.redirect_uri:
                    raise _OAuthError(401, "invalid_grant", "redirect_uri が認可リクエストと一致しません。")
                found.used = True
                return self._token_pair()
            if grant_type == "refresh_token":
                held = _unused(
                    form,
                    "refresh_token",
                    self.refresh_tokens,
                    now,
                    "リフレッシュトークンが無効です（使用済み、期限切れ、または不明）。再度認可してください。",
                )
                held.used = True
                return self._token_pair()
            raise _OAuthError(
                400, "unsupported_grant_type", f"grant_type {grant_type} には対応していません。"
            )

    def check_access_token(self, token: str | None) -> str | None:
        """None when the token is good, else freee's error code for it."""
        with self.lock:
            if not token:
                return "invalid_access_token"
            expires = self.access_tokens.get(token)
            if expires is None:
                return "invalid_access_token"
            if expires <= self._now():
                return "expired_access_token"
            return None

    def expire_access_tokens(self, *, refresh_tokens: bool = False) -> int:
        with self.lock:
            now = self._now()
            count = 0
            for token, expires in self.access_tokens.items():
                if expires > now:
                    self.access_tokens[token] = now
                    count += 1
            if refresh_tokens:
                for held in self.refresh_tokens.values():
                    held.expires_at = min(held.expires_at, now)
            return count

    def token_stats(self) -> dict[str, Any]:
        with self.lock:
            now = self._now()
            return {
                "calls": dict(self.token_calls),
                "active_access_tokens": sum(1 for e in self.access_tokens.values() if e > now),
                "usable_refresh_tokens": sum(
                    1 for r in self.refresh_tokens.values() if not r.used and r.expires_at > now
                ),
            }


#: the redirect URI of the copy-the-code flow: freee shows the code on its own page instead of redirecting
OUT_OF_BAND = "urn:ietf:wg:oauth:2.0:oob"
_PAGE = (
    '<!doctype html><html lang="ja"><meta charset="utf-8"><title>{title} - freee (sandbox)</title>'
    "<body><h1>{title}</h1>{body}</body></html>"
)


def _authorization_request(given: Mapping[str, str], client_id: str) -> dict[str, str]:
    """The authorisation request's parameters (query of the consent page, or its form), checked as freee does."""
    if given.get("client_id") != client_id:
        raise _OAuthError(400, "invalid_client", "client_id が正しくありません。")
    if not given.get("redirect_uri"):
        raise _OAuthError(400, "invalid_request", "redirect_uri を指定してください。")
    if given.get("response_type") != "code":
        raise _OAuthError(400, "unsupported_response_type", "response_type には code を指定してください。")
    names = ("client_id", "redirect_uri", "response_type", "state", "prompt")
    return {name: str(given[name]) for name in names if given.get(name) is not None}


def _redirect(redirect_uri: str, query: Mapping[str, str]) -> Response:
    separator = "&" if "?" in redirect_uri else "?"
    response = Response(status=302)
    response.headers["Location"] = f"{redirect_uri}{separator}{urlencode(query)}"
    return response


def install_oauth_routes(app: Flask, state: FreeeState) -> None:
    """``POST /public_api/token``, and ``/public_api/authorize``: ``GET`` the consent page, ``POST`` its answer."""

    @app.post("/public_api/token")
    def token() -> Response:
        form: Mapping[str, str] = request.form
        if request.is_json:
            data = request.get_json(silent=True)
            form = {k: str(v) for k, v in data.items()} if isinstance(data, dict) else {}
        client_id, client_secret = form.get("client_id"), form.get("client_secret")
        if request.authorization is not None and request.authorization.type == "basic":
            client_id = request.authorization.username
            client_secret = request.authorization.password
        body = state.grant(form, client_id, client_secret)
        return _json(body, 200, headers={"Cache-Control": "no-store", "Pragma": "no-cache"})

    @app.get("/public_api/authorize")
    def authorize() -> Response:
        """freee's consent page (アプリ連携の開始): a form that posts the request back with 許可する / 拒否する."""
        args = _authorization_request(request.args, state.client_id)
        hidden = "".join(
            f'<input type="hidden" name="{html.escape(k)}" value="{html.escape(v)}">' for k, v in args.items()
        )
        page = _PAGE.format(
            title="アプリ連携の開始",
            body=f"<p>アプリ {html.escape(args['client_id'])} に freee のデータへのアクセスを許可しますか？</p>"
            f'<form method="post" action="/public_api/authorize">{hidden}'
            '<button type="submit" name="decision" value="allow">許可する</button> '
            '<button type="submit" name="decision" value="deny">拒否する</button></form>',
        )
        return Response(page, 200, content_type="text/html; charset=utf-8")

    @app.post("/public_api/authorize")
    def decide() -> Response:
        """The user's answer on the consent page: a code (or ``error=access_denied``) on the redirect, or, for
        the out-of-band URI ``urn:ietf:wg:oauth:2.0:oob``, on a page of freee's own for the user to copy."""
        args = _authorization_request(request.form, state.client_id)
        redirect_uri = args["redirect_uri"]
        out_of_band = redirect_uri.startswith(OUT_OF_BAND)
        keep_state = {"state": args["state"]} if "state" in args else {}
        if state.consent_denied or request.form.get("decision") != "allow":
            if out_of_band:
                page = _PAGE.format(
                    title="認可されませんでした", body="<p>アプリ連携は許可されませんでした。</p>"
                )
                return Response(page, 200, content_type="text/html; charset=utf-8")
            denied = {"error": "access_denied", "error_description": "ユーザーが許可しませんでした。"}
            return _redirect(redirect_uri, denied | keep_state)
        code = state.issue_code(redirect_uri)
        if out_of_band:
            page = _PAGE.format(
                title="認可コード",
                body="<p>以下の認可コードをコピーして、アプリケーションに貼り付けてください。</p>"
                f'<p><code id="code">{html.escape(code)}</code></p>',
            )
            return Response(page, 200, content_type="text/html; charset=utf-8")
        return _redirect(redirect_uri, {"code": code} | keep_state)

    # ---------------------------------------------------------------------------------- partners
