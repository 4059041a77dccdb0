"""The HubSpot sandbox: :class:`HubSpotSandbox` (the app and the Python helpers that mirror its admin API), its
request hooks (auth, rate limit, call log, error answers) and :func:`create_hubspot_sandbox`."""

from __future__ import annotations

import hmac
import random
import threading
from collections import deque
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date
from typing import Any, Literal

from flask import Flask, Response, g, request

from sandbox import APP_ID, PORTAL_ID
from sandbox.admin import ADMIN_PREFIX, install_faults
from sandbox.faults import FaultInjector
from sandbox.hubspot.catalog import _GROUPS
from sandbox.hubspot.demo_world import demo_world
from sandbox.hubspot.errors import HubSpotApiError, _json_response, _missing_scopes
from sandbox.hubspot.facts import (
    _ACTION_DEFINITIONS_PATH,
    _ASSOCIATION_TYPES,
    _AUTH_MESSAGE,
    _INVALID_API_KEY,
    _WEBHOOK_SETTINGS_PATH,
    DEVELOPER_SCOPES,
    DEVELOPERS_READ,
    DEVELOPERS_WRITE,
    WEBHOOK_RETRY_DELAYS,
    _iso,
    normalize_type,
)
from sandbox.hubspot.oauth import ACCESS_TOKEN_TTL, TOKEN_PATH, OAuthApp, TokenRefused
from sandbox.hubspot.routes import install_admin_routes, install_api_routes
from sandbox.hubspot.state import ApiCall, CallbackCompletion, HubSpotState
from sandbox.hubspot.webhooks import WebhookDelivery, WebhookDispatcher, WebhookTarget
from sdk.clock import Clock, SystemClock


@dataclass
class RateLimiter:
    """HubSpot's ten-secondly rolling window (and a daily cap), on the sandbox clock."""

    clock: Clock
    per_10s: int
    daily: int = 250_000
    window_seconds: float = 10.0
    _calls: deque[float] = field(default_factory=deque)
    _day: date | None = None
    _day_count: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def take(self) -> tuple[str | None, int, int]:
        """``(policy refused or None, remaining in window, remaining today)``; counts the call when allowed."""
        with self._lock:
            now = self.clock.monotonic()
            today = self.clock.now().date()
            if today != self._day:
                self._day, self._day_count = today, 0
            while self._calls and self._calls[0] <= now - self.window_seconds:
                self._calls.popleft()
            if self._day_count >= self.daily:
                return "DAILY", max(0, self.per_10s - len(self._calls)), 0
            if len(self._calls) >= self.per_10s:
                return "TEN_SECONDLY_ROLLING", 0, self.daily - self._day_count
            self._calls.append(now)
            self._day_count += 1
            return None, self.per_10s - len(self._calls), self.daily - self._day_count

    def reset(self) -> None:
        with self._lock:
            self._calls.clear()
            self._day, self._day_count = None, 0


@dataclass(eq=False)
class HubSpotSandbox:
    """The app plus Python helpers that mirror its ``/_sandbox`` admin API."""

    app: Flask
    state: HubSpotState
    clock: Clock
    faults: FaultInjector
    dispatcher: WebhookDispatcher
    limiter: RateLimiter
    access_token: str
    client_secret: str
    #: the public app's OAuth (refresh tokens, expiring access tokens, ``POST /oauth/v1/token``)
    oauth: OAuthApp
    #: action definitions take an OAuth token of the app's developer account (not the portal's), as HubSpot's
    #: current v4 reference lists: reading needs the scope ``developers-read``, writing ``developers-write``
    developer_access_token: str = "sandbox-hubspot-developer-token"  # noqa: S105 - a sandbox's well-known value
    developer_scopes: frozenset[str] = DEVELOPER_SCOPES
    #: set: ``?hapikey=`` with this developer API key is taken too, as the reference listed before 2026-04-15
    developer_api_key: str | None = None
    #: a batch update naming a record that is not there (deleted, or never created): ``"refuse"`` answers 404
    #: ``OBJECT_NOT_FOUND`` for the whole batch with the ids in ``context.ids`` and writes nothing; ``"partial"``
    #: writes the others and answers 207 with the ids among ``errors``. HubSpot's reference allows both.
    batch_update_missing: Literal["refuse", "partial"] = "refuse"

    @property
    def portal_id(self) -> int:
        return self.state.portal_id

    @property
    def app_id(self) -> int:
        return self.state.app_id

    # -- lifecycle ---------------------------------------------------------------------------------------------

    def reset(self) -> None:
        """Back to an empty portal: standard properties and pipelines only; logs, rate window and OAuth tokens
        cleared."""
        self.state.reset()
        self.dispatcher.clear()
        self.limiter.reset()
        self.oauth.reset()

    # -- the public app's OAuth --------------------------------------------------------------------------------

    def install_app(self) -> str:
        """Install the public app in the portal: the refresh token of the installation (HUBSPOT_REFRESH_TOKEN)."""
        return self.oauth.install()

    def uninstall_app(self) -> int:
        """Uninstall it: its refresh tokens are revoked (``BAD_REFRESH_TOKEN`` from then on); how many."""
        return self.oauth.uninstall()

    def expire_access_tokens(self) -> int:
        """Every OAuth access token issued so far expires now (a private app's token never does)."""
        return self.oauth.expire_access_tokens()

    @property
    def token_calls(self) -> dict[str, int]:
        """``POST /oauth/v1/token`` calls by grant type."""
        return dict(self.oauth.stats()["calls"])

    def close(self) -> None:
        self.dispatcher.close()

    # -- building a world --------------------------------------------------------------------------------------

    def define_property(
        self,
        object_type: str,
        name: str,
        *,
        type: str = "string",
        field_type: str = "text",
        label: str | None = None,
        group: str | None = None,
        options: Sequence[str] = (),
    ) -> None:
        """Create a custom property, as the project's setup does (e.g. to seed ``freee_*`` values)."""
        object_type = normalize_type(object_type)
        with self.state.lock:
            group_name = group or _GROUPS[object_type][0]
            if group_name not in self.state.groups[object_type]:
                self.state.define_group(object_type, {"name": group_name, "label": group_name})
            if name in self.state.properties[object_type]:
                return
            self.state.define_property(
                object_type,
                {
                    "name": name,
                    "label": label or name,
                    "type": type,
                    "fieldType": field_type,
                    "groupName": group_name,
                    "options": [{"label": o, "value": o} for o in options],
                },
            )

    def create_company(self, **properties: Any) -> str:
        return self.state.create("companies", properties).id

    def create_contact(self, **properties: Any) -> str:
        return self.state.create("contacts", properties).id

    def create_line_item(self, **properties: Any) -> str:
        return self.state.create("line_items", properties).id

    def create_deal(
        self,
        *,
        company: str | None = None,
        companies: Sequence[str] = (),
        contacts: Sequence[str] = (),
        line_items: Sequence[Mapping[str, Any] | str] = (),
        **properties: Any,
    ) -> str:
        """A deal with its primary ``company``, other (unlabeled) ``companies``, ``contacts`` and line items
        (ids of existing ones, or property dicts to create)."""
        with self.state.lock:
            deal_id = self.state.create("deals", properties).id
            for other in companies:
                self.associate("deals", deal_id, "companies", other)
            if company is not None:
                self.associate("deals", deal_id, "companies", company, primary=True)
            for contact_id in contacts:
                self.associate("deals", deal_id, "contacts", contact_id)
            for item in line_items:
                item_id = item if isinstance(item, str) else self.create_line_item(**item)
                self.associate("deals", deal_id, "line_items", item_id)
            return deal_id

    def associate(
        self,
        from_type: str,
        from_id: str,
        to_type: str,
        to_id: str,
        *,
        primary: bool = False,
        type_id: int | None = None,
    ) -> None:
        """Associate two records (and the reverse); ``primary`` uses the primary type (deal → company: 5)."""
        if primary and type_id is None:
            pair = _ASSOCIATION_TYPES.get((normalize_type(from_type), normalize_type(to_type)))
            type_id = pair[1] if pair else None
            if type_id is None:
                raise ValueError(f"{from_type} → {to_type} has no primary association")
        self.state.associate(from_type, str(from_id), to_type, str(to_id), type_id)

    def move_deal_to_stage(self, deal_id: str, stage_id: str, *, user_id: int = 2_468_135) -> None:
        """A rep drags the deal in the board: the stage changes and the webhook event is emitted."""
        self.state.update(
            "deals",
            str(deal_id),
            {"dealstage": stage_id},
            change_source="CRM_UI",
            source_id=f"userId:{user_id}",
        )

    def delete(self, object_type: str, object_id: str) -> None:
        """Someone deletes the record in HubSpot (it is archived: reads and writes by id no longer find it)."""
        self.state.archive(normalize_type(object_type), str(object_id))

    def update(self, object_type: str, object_id: str, **properties: Any) -> None:
        self.state.update(normalize_type(object_type), str(object_id), properties)

    def properties_of(self, object_type: str, object_id: str) -> dict[str, str | None]:
        """Every stored property of a record (a copy)."""
        with self.state.lock:
            return dict(self.state.get(normalize_type(object_type), str(object_id)).properties)

    def seed(self, data: Mapping[str, Any] | None = None) -> dict[str, str]:
        """Create a world and return ``{key: id}``.

        ``data`` has ``companies`` and ``contacts`` (``{"key", "properties"}``) and ``deals`` (``{"key",
        "properties", "company": key-or-id (primary), "companies": [...], "contacts": [...], "line_items":
        [{"key"?, "properties"}]}``). Without ``data``: a small Japanese demo world.
        """
        data = demo_world() if data is None else data
        ids: dict[str, str] = {}

        def resolve(ref: Any) -> str:
            return ids.get(str(ref), str(ref))

        with self.state.lock:
            for kind in ("companies", "contacts"):
                for index, entry in enumerate(data.get(kind) or []):
                    created = self.state.create(kind, entry.get("properties") or {}).id
                    ids[str(entry.get("key", f"{kind}:{index}"))] = created
            for index, entry in enumerate(data.get("deals") or []):
                items = []
                for line_index, item in enumerate(entry.get("line_items") or []):
                    item_id = self.create_line_item(**(item.get("properties") or {}))
                    ids[str(item.get("key", f"deals:{index}:line_items:{line_index}"))] = item_id
                    items.append(item_id)
                deal_id = self.create_deal(
                    company=resolve(entry["company"]) if entry.get("company") else None,
                    companies=[resolve(c) for c in entry.get("companies") or []],
                    contacts=[resolve(c) for c in entry.get("contacts") or []],
                    line_items=items,
                    **(entry.get("properties") or {}),
                )
                ids[str(entry.get("key", f"deals:{index}"))] = deal_id
        return ids

    # -- what happened -----------------------------------------------------------------------------------------

    @property
    def deliveries(self) -> list[WebhookDelivery]:
        with self.dispatcher._cond:
            return list(self.dispatcher.deliveries)

    @property
    def api_calls(self) -> list[ApiCall]:
        with self.state.lock:
            return list(self.state.api_calls)

    @property
    def callbacks(self) -> list[CallbackCompletion]:
        with self.state.lock:
            return list(self.state.callbacks)

    @property
    def events(self) -> list[dict[str, Any]]:
        with self.state.lock:
            return list(self.state.events)

    def action_definitions(self, *, archived: bool = False) -> list[dict[str, Any]]:
        """The app's custom workflow action definitions, as ``GET /automation/v4/actions/{appId}`` lists them."""
        return self.state.list_action_definitions(self.state.app_id, archived=archived)

    def set_webhook_target(self, target: str | WebhookTarget | None, *, uri: str | None = None) -> None:
        """Where webhook batches go: a URL, or a callable (then ``uri`` is the URL signed, as if served there);
        None: nowhere. The app's webhook settings (``GET /webhooks/v3/{appId}/settings``) report it."""
        self.dispatcher.configure(target, uri)

    @contextmanager
    def webhooks_lost(self) -> Iterator[None]:
        """While the block runs, webhook events are made but never delivered: an import, or an outage longer
        than HubSpot's redelivery window (the deals only the reconciliation sweep can find)."""
        target = self.dispatcher.target
        self.dispatcher.configure(None)
        try:
            yield
        finally:
            self.dispatcher.configure(target)

    @property
    def webhook_target_url(self) -> str | None:
        """The app's webhook target URL: the URL batches are sent to (or signed for), None when none is set."""
        target = self.dispatcher.target
        if target is None:
            return None
        return target if isinstance(target, str) else self.dispatcher.target_uri

    def wait_idle(self, timeout: float = 5.0) -> bool:
        """Wait (real seconds) until every queued webhook is delivered or given up. True when idle."""
        return self.dispatcher.wait_idle(timeout)

    def flush(self, timeout: float = 5.0) -> list[WebhookDelivery]:
        """Wait for the webhook queue to drain and return the delivery log."""
        self.wait_idle(timeout)
        return self.deliveries


def create_hubspot_sandbox(
    *,
    clock: Clock | None = None,
    faults: FaultInjector | None = None,
    portal_id: int = PORTAL_ID,
    app_id: int = APP_ID,
    client_secret: str = "sandbox-hubspot-client-secret",  # noqa: S107 - a sandbox's well-known value
    access_token: str = "sandbox-hubspot-token",  # noqa: S107 - a sandbox's well-known value
    webhook_url: str | WebhookTarget | None = None,
    rate_limit_per_10s: int = 100,
    duplicate_delivery_probability: float = 0.0,
    seed: int | None = None,
    daily_limit: int = 250_000,
    webhook_uri: str = "https://webhooks.sandbox.invalid/hubspot",
    webhook_retry_delays: Sequence[float] = WEBHOOK_RETRY_DELAYS,
    webhook_timeout_seconds: float = 5.0,
    client_id: str = "sandbox-hubspot-client-id",
    access_token_ttl: float = ACCESS_TOKEN_TTL,
    rotate_refresh_tokens: bool = False,
    developer_access_token: str = "sandbox-hubspot-developer-token",  # noqa: S107 - a sandbox's well-known value
    developer_scopes: Sequence[str] = tuple(sorted(DEVELOPER_SCOPES)),
    developer_api_key: str | None = None,
) -> HubSpotSandbox:
    """A fresh portal. ``webhook_url`` may be a URL or a callable taking a :class:`WebhookRequest` and returning
    the HTTP status (then ``webhook_uri`` is the URL that is signed). Action definitions take
    ``developer_access_token`` (with ``developer_scopes``); ``developer_api_key`` set, ``?hapikey=`` too (the
    legacy way, which HubSpot's current reference no longer lists)."""
    clock = clock if clock is not None else SystemClock()
    faults = faults if faults is not None else FaultInjector(seed=seed)
    rng = random.Random(seed)
    state = HubSpotState(clock, portal_id=portal_id, app_id=app_id, rng=rng)
    dispatcher = WebhookDispatcher(
        clock,
        random.Random(None if seed is None else seed + 1),
        client_secret=client_secret,
        target=webhook_url,
        target_uri=webhook_uri,
        retry_delays=webhook_retry_delays,
        duplicate_probability=duplicate_delivery_probability,
        timeout_seconds=webhook_timeout_seconds,
    )
    state.on_events = dispatcher.enqueue
    limiter = RateLimiter(clock, rate_limit_per_10s, daily_limit)
    app = Flask("sandbox.hubspot")
    oauth = OAuthApp(
        clock,
        client_id=client_id,
        client_secret=client_secret,
        access_token_ttl=access_token_ttl,
        rotate=rotate_refresh_tokens,
    )
    sandbox = HubSpotSandbox(
        app,
        state,
        clock,
        faults,
        dispatcher,
        limiter,
        access_token,
        client_secret,
        oauth,
        developer_access_token,
        frozenset(developer_scopes),
        developer_api_key,
    )
    _install_hooks(app, sandbox)
    install_api_routes(app, sandbox)
    install_admin_routes(app, sandbox)
    return sandbox


def _rate_limit_error(sandbox: HubSpotSandbox, policy: str, remaining_daily: int) -> Response:
    state = sandbox.state
    body = {
        "status": "error",
        "message": f"You have reached your {policy.lower()} limit.",
        "errorType": "RATE_LIMIT",
        "correlationId": state.correlation_id(),
        "policyName": policy,
        "groupName": f"publicapi:private-app-api-calls-{'ten-secondly' if policy != 'DAILY' else 'daily'}:"
        f"{state.app_id}:{state.portal_id}",
    }
    return _json_response(body, 429, _limit_headers(sandbox, 0, remaining_daily))


def _limit_headers(sandbox: HubSpotSandbox, remaining: int, remaining_daily: int) -> dict[str, str]:
    limiter = sandbox.limiter
    return {
        "X-HubSpot-RateLimit-Interval-Milliseconds": str(int(limiter.window_seconds * 1000)),
        "X-HubSpot-RateLimit-Max": str(limiter.per_10s),
        "X-HubSpot-RateLimit-Remaining": str(max(0, remaining)),
        "X-HubSpot-RateLimit-Daily": str(limiter.daily),
        "X-HubSpot-RateLimit-Daily-Remaining": str(max(0, remaining_daily)),
    }


def _bearer() -> str:
    header = request.headers.get("Authorization", "")
    return header.removeprefix("Bearer ").strip() if header.startswith("Bearer ") else ""


def _same_secret(given: str, expected: str | None) -> bool:
    return bool(given) and expected is not None and hmac.compare_digest(given.encode(), expected.encode())


def _developer_refusal(sandbox: HubSpotSandbox) -> HubSpotApiError | None:
    """Why a call to the action definitions is refused (None: it is not). A Bearer token of the developer account
    with the scope the method needs (``developers-read`` to read, ``developers-write`` to write); the portal's
    token lacks both scopes; ``?hapikey=`` only where the sandbox models the legacy developer API key."""
    token = _bearer()
    if token:
        if _same_secret(token, sandbox.developer_access_token):
            granted = sandbox.developer_scopes
        elif _same_secret(token, sandbox.access_token):
            granted = frozenset()
        else:
            return HubSpotApiError(401, _AUTH_MESSAGE, "INVALID_AUTHENTICATION")
        needed = DEVELOPERS_READ if request.method in ("GET", "HEAD") else DEVELOPERS_WRITE
        return None if needed in granted else _missing_scopes(needed)
    key = request.args.get("hapikey", "")
    if key and sandbox.developer_api_key is not None:
        if _same_secret(key, sandbox.developer_api_key):
            return None
        return HubSpotApiError(401, _INVALID_API_KEY, "INVALID_AUTHENTICATION")
    return HubSpotApiError(401, _AUTH_MESSAGE, "INVALID_AUTHENTICATION")


def _install_hooks(app: Flask, sandbox: HubSpotSandbox) -> None:
    """Token (or developer API key) and rate limit before every call, faults, the call log, error answers."""
    state = sandbox.state

    def error_response(exc: HubSpotApiError) -> Response:
        return _json_response(exc.body(state.correlation_id()), exc.status, exc.headers)

    def fault_error(status: int, kind: str) -> Response:
        if status == 429:
            return _rate_limit_error(sandbox, "TEN_SECONDLY_ROLLING", sandbox.limiter.daily)
        return error_response(
            HubSpotApiError(
                status,
                "Internal error (injected by the sandbox: " + kind + ")",
                "INTERNAL_ERROR" if status == 500 else "SERVICE_UNAVAILABLE",
            )
        )

    @app.before_request
    def _auth_and_limits() -> Response | None:
        if request.path.startswith(ADMIN_PREFIX):
            return None
        if _ACTION_DEFINITIONS_PATH.match(request.path) or _WEBHOOK_SETTINGS_PATH.match(request.path):
            # the developer account (action definitions, the app's webhook settings), not the portal
            refused_developer = _developer_refusal(sandbox)
            return error_response(refused_developer) if refused_developer is not None else _take_limit()
        if request.path == TOKEN_PATH:  # the app's credentials are in the form
            return None
        token = _bearer()
        if token and _same_secret(token, sandbox.access_token):
            return _take_limit()  # the private app's token: it never expires
        refused = sandbox.oauth.check(token) if token else "unknown"
        if refused == "unknown":
            return error_response(HubSpotApiError(401, _AUTH_MESSAGE, "INVALID_AUTHENTICATION"))
        if refused is not None:
            return error_response(HubSpotApiError(401, refused, "EXPIRED_AUTHENTICATION"))
        return _take_limit()

    def _take_limit() -> Response | None:
        refused, remaining, remaining_daily = sandbox.limiter.take()
        if refused is not None:
            return _rate_limit_error(sandbox, refused, remaining_daily)
        g.hubspot_rate_limit = (remaining, remaining_daily)
        return None

    install_faults(app, sandbox.faults, sandbox.clock, error=fault_error)

    @app.after_request
    def _record(response: Response) -> Response:
        if request.path.startswith(ADMIN_PREFIX):
            return response
        taken = getattr(g, "hubspot_rate_limit", None)
        if taken is not None:
            for name, value in _limit_headers(sandbox, *taken).items():
                response.headers.setdefault(name, value)
        with state.lock:
            state.api_calls.append(
                ApiCall(request.method, request.path, response.status_code, _iso(sandbox.clock.now()))
            )
        return response

    @app.errorhandler(HubSpotApiError)
    def _api_error(exc: HubSpotApiError) -> Response:
        return error_response(exc)

    @app.post(TOKEN_PATH)
    def _oauth_token() -> Response:
        try:
            body = sandbox.oauth.grant(request.form)
        except TokenRefused as refused:
            answer = {
                "status": refused.code,
                "message": refused.message,
                "correlationId": state.correlation_id(),
            }
            return _json_response(answer, 400)
        return _json_response(body, 200, {"Cache-Control": "no-store"})

    @app.errorhandler(404)
    def _no_route(exc: Exception) -> Response:
        return error_response(
            HubSpotApiError(404, f"No route for {request.method} {request.path}", "NOT_FOUND")
        )

    @app.errorhandler(405)
    def _no_method(exc: Exception) -> Response:
        return error_response(
            HubSpotApiError(
                405, f"Method {request.method} not allowed on {request.path}", "METHOD_NOT_ALLOWED"
            )
        )
