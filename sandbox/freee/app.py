"""The freee sandbox: its Flask app (error shapes, the token check and rate limit before every API call), the
Python helpers tests use instead of HTTP, and :func:`create_freee_sandbox`."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from datetime import date, datetime
from typing import Any

from flask import Flask, Response, g, request
from werkzeug.exceptions import HTTPException

from sandbox.admin import install_faults
from sandbox.faults import FaultInjector
from sandbox.freee.errors import FreeeSandboxError
from sandbox.freee.facts import JST, REQUEST_ID_HEADER
from sandbox.freee.fields import _Fields
from sandbox.freee.oauth import _OAuthError, install_oauth_routes
from sandbox.freee.partners import _partner_attributes
from sandbox.freee.ratelimit import _RateLimiter, _Verdict
from sandbox.freee.routes import install_admin_routes, install_api_routes
from sandbox.freee.state import FreeeState
from sandbox.freee.views import _invoice_view
from sandbox.freee.web import _is_api, _json
from sdk.clock import Clock, SystemClock


class FreeeSandbox:
    """The app, its state and the helpers tests use instead of HTTP (each mirrors an admin endpoint)."""

    def __init__(self, state: FreeeState, clock: Clock, faults: FaultInjector) -> None:
        self.state = state
        self.clock = clock
        self.faults = faults
        self.app = Flask("sandbox.freee")
        self.app.url_map.strict_slashes = False
        install_faults(self.app, faults, clock, error=self._fault_error)
        self._routes()

    # --------------------------------------------------------------------------------- python helpers

    def reset(self) -> None:
        """Forget everything (partners, invoices, deals, tokens, counters, rate-limit windows); faults stay."""
        self.state.reset()

    def seed(self, partners: Iterable[Mapping[str, Any]] = ()) -> list[dict[str, Any]]:
        """Create partners directly (``code`` may be left out even when the company uses partner codes)."""
        created = []
        for given in partners:
            f = _Fields(given)
            name = f.string("name", required=True, min_length=1, max_length=255)
            code = f.string("code", max_length=255)
            attributes = _partner_attributes(f, available=True)
            f.raise_if_any()
            created.append(self.state.create_partner(name or "", code, attributes, seeding=True))
        return created

    def add_partner(self, name: str, code: str | None = None, **attributes: Any) -> dict[str, Any]:
        return self.seed([{"name": name, "code": code, **attributes}])[0]

    def issue_code(self, redirect_uri: str | None = None) -> str:
        return self.state.issue_code(redirect_uri)

    def issue_tokens(self) -> dict[str, Any]:
        """A ready token pair (not counted as a token-endpoint call)."""
        return self.state.issue_tokens()

    def deny_consent(self, denied: bool = True) -> None:
        """The next authorisations are refused by the user (``error=access_denied`` on the redirect)."""
        with self.state.lock:
            self.state.consent_denied = denied

    def expire_access_tokens(self, *, refresh_tokens: bool = False) -> int:
        return self.state.expire_access_tokens(refresh_tokens=refresh_tokens)

    def pay(self, invoice_id: int, amount: int, on: date | None = None) -> dict[str, Any]:
        """Record a payment on the invoice's accounting deal (registering it first); returns the deal."""
        return self.state.pay(invoice_id, amount, on or self.state.today())

    def register_deal(self, invoice_id: int) -> dict[str, Any]:
        return self.state.register_deal(invoice_id)

    def invoices(self) -> list[dict[str, Any]]:
        return [_invoice_view(r, "show") for r in self.state.all_invoices()]

    def invoice(self, invoice_id: int) -> dict[str, Any]:
        return _invoice_view(self.state.get_invoice(invoice_id), "show")

    def partners(self) -> list[dict[str, Any]]:
        return self.state.all_partners()

    def deals(self) -> list[dict[str, Any]]:
        return self.state.all_deals()

    def deal(self, deal_id: int) -> dict[str, Any]:
        return self.state.get_deal(deal_id)

    @property
    def token_calls(self) -> dict[str, int]:
        with self.state.lock:
            return dict(self.state.token_calls)

    @property
    def api_calls(self) -> int:
        with self.state.lock:
            return self.state.api_calls

    def snapshot(self) -> dict[str, Any]:
        return self.state.snapshot()

    # ------------------------------------------------------------------------------------ error shapes

    def _error(self, status: int, messages: list[str], kind: str, code: str | None = None) -> Response:
        """freee's error body for this path and status, in the content type the spec gives it."""
        path = request.path
        message = " ".join(messages)
        if path.startswith("/public_api"):
            return _json({"error": code or kind, "error_description": message}, status)
        if status == 401:
            return _json(
                {"message": message, "code": code or "invalid_access_token"},
                401,
                headers={
                    "WWW-Authenticate": f'Bearer realm="freee", error="invalid_token", error_description="{code}"'
                },
            )
        problem = path == "/iv" or path.startswith("/iv/")
        if status == 403 and not problem:
            return _json({"message": message, "code": code or "forbidden"}, 403)
        body: dict[str, Any] = {"status_code": status, "errors": [{"type": kind, "messages": messages}]}
        return _json(
            body,
            status,
            content_type="application/problem+json" if problem and status != 429 else "application/json",
        )

    def _fault_error(self, status: int, kind: str) -> Response:
        if status == 429:
            per_minute = self.state.limiter.windows[0][0]
            now = self.clock.now().timestamp()
            response = self._rate_limited(_Verdict(429, per_minute, 0, 1, 60, per_minute, 0, now + 1))
        else:
            response = self._error(
                status,
                ["システム内で予期しないエラーが発生しました。しばらく時間をおいてから再度お試しください。"],
                "error",
                code="server_error" if status < 503 else "temporarily_unavailable",
            )
        response.headers["X-Sandbox-Injected"] = kind
        return response

    def _rate_limited(self, verdict: _Verdict) -> Response:
        path = request.path
        message = "APIの利用回数制限を超えました。しばらく時間をおいてから再度お試しください。"
        if path.startswith("/public_api"):
            return _json(
                {"error": "too_many_requests", "error_description": message}, 429, headers=verdict.headers()
            )
        body = {
            "status_code": 429,
            "errors": [{"type": "status", "messages": [message]}],
            "meta": {
                "limit": verdict.limit,
                "period": verdict.period,
                "remaining": 0,
                "reset": datetime.fromtimestamp(
                    self.clock.now().timestamp() + verdict.reset_seconds, JST
                ).isoformat(timespec="seconds"),
            },
        }
        return _json(body, 429, headers=verdict.headers())

    # ---------------------------------------------------------------------------------------- request flow

    def _guard(self) -> Response | None:
        """Before every API call: count it, check the token, then the rate limit and the lock-out."""
        if not _is_api(request.path):
            return None
        state = self.state
        with state.lock:
            state.api_calls += 1
        header = request.headers.get("Authorization", "")
        scheme, _, token = header.partition(" ")
        problem = state.check_access_token(token.strip() if scheme.lower() == "bearer" else None)
        if problem is not None:
            return self._error(401, ["アクセスする権限がありません"], "status", code=problem)
        with state.lock:
            verdict = state.limiter.decide(self.clock.now().timestamp())
        g.freee_rate = verdict
        if verdict.status == 403:
            response = self._error(
                403,
                [
                    "API の利用が一時的に制限されています（短時間に過度なアクセスを検知しました）。しばらくしてから再度お試しください。"
                ],
                "status",
                code="access_restricted",
            )
            for name, value in verdict.headers().items():
                response.headers[name] = value
            return response
        if verdict.status == 429:
            return self._rate_limited(verdict)
        return None

    def _finish(self, response: Response) -> Response:
        response.headers[REQUEST_ID_HEADER] = uuid.uuid4().hex
        verdict = g.get("freee_rate")
        if verdict is not None and verdict.status == 200:
            for name, value in verdict.headers().items():
                response.headers.setdefault(name, value)
        return response

    # ------------------------------------------------------------------------------------------ routes

    def _routes(self) -> None:
        app, state = self.app, self.state
        app.before_request(self._guard)
        app.after_request(self._finish)

        @app.errorhandler(FreeeSandboxError)
        def _refused(error: FreeeSandboxError) -> Response:
            response = self._error(error.status, error.messages, error.kind)
            for name, value in error.headers.items():
                response.headers[name] = value
            return response

        @app.errorhandler(_OAuthError)
        def _oauth_refused(error: _OAuthError) -> Response:
            return _json({"error": error.error, "error_description": error.description}, error.status)

        @app.errorhandler(HTTPException)
        def _http(error: HTTPException) -> Response:
            status = error.code or 500
            messages = {
                404: "指定されたリソースが見つかりません。",
                405: "このメソッドは利用できません。",
            }
            response = self._error(
                status,
                [messages.get(status, error.description or "不正なリクエストです。")],
                "status" if status < 500 else "error",
            )
            if status == 405 and error.get_headers():
                for name, value in error.get_headers():
                    if name.lower() == "allow":
                        response.headers[name] = value
            return response

        @app.errorhandler(Exception)
        def _crash(
            error: Exception,
        ) -> Response:  # pragma: no cover - a bug in the sandbox, not in the caller
            app.logger.exception("freee sandbox crashed")
            return self._error(
                500, [f"システム内で予期しないエラーが発生しました。({type(error).__name__})"], "error"
            )

        install_oauth_routes(app, state)
        install_api_routes(app, state)
        install_admin_routes(app, self)


def create_freee_sandbox(
    *,
    clock: Clock | None = None,
    faults: FaultInjector | None = None,
    company_id: int = 1,
    rate_limit_per_minute: int = 30,
    rate_limit_per_hour: int = 1500,
    lockout_after_429s: int | None = None,
    lockout_seconds: float = 600,
    use_partner_codes: bool = True,
    auto_register_deals: bool = True,
    client_id: str = "sandbox-client-id",
    client_secret: str = "sandbox-client-secret",  # noqa: S107 - the sandbox's own test credential
    access_token_ttl: float = 21600,
    invoice_order: str = "newest_first",
    invoice_order_seed: int = 0,
) -> FreeeSandbox:
    """A fresh freee sandbox. Serve ``.app`` (WSGI) or mount it into ``requests`` with
    :class:`sandbox.transport.WSGIAdapter`; drive time with the ``clock`` given (rate windows, token expiry,
    created-at dates). ``invoice_order`` (:data:`INVOICE_ORDERS`, with ``invoice_order_seed`` when shuffled) is
    the order ``GET /iv/invoices`` lists in."""
    clock = clock or SystemClock()
    faults = faults if faults is not None else FaultInjector()
    limiter = _RateLimiter(rate_limit_per_minute, rate_limit_per_hour, lockout_after_429s, lockout_seconds)
    state = FreeeState(
        clock=clock,
        company_id=company_id,
        use_partner_codes=use_partner_codes,
        auto_register_deals=auto_register_deals,
        client_id=client_id,
        client_secret=client_secret,
        access_token_ttl=access_token_ttl,
        limiter=limiter,
        invoice_order=invoice_order,
        invoice_order_seed=invoice_order_seed,
    )
    return FreeeSandbox(state, clock, faults)
