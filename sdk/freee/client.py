"""A thin typed client for the parts of freee this package uses (there is no maintained Python client).

Every call goes through one path (:meth:`FreeeClient._call`): the shared rate limiter, a valid access token,
retries with exponential back-off and jitter, and one mapping from freee's answers to typed errors.

Retries: 429 (honouring ``Retry-After`` / ``X-RateLimit-Reset``), a 401 once after a token refresh, and for reads
also 5xx, time-outs and connection errors. A write (``POST``) is retried only when freee certainly did not
process it (429, connection refused); a write that timed out or was cut off raises
:class:`~sdk.freee.errors.FreeeOutcomeUnknown`, because freee has no idempotency key and a blind retry could
create a second invoice. The caller reconciles by the invoice marker instead.
"""

from __future__ import annotations

import copy
import random
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import TYPE_CHECKING, Any

import requests
from urllib3.exceptions import NewConnectionError

from sdk.clock import Clock, SystemClock
from sdk.freee.errors import (
    FreeeAuthError,
    FreeeError,
    FreeeNotFound,
    FreeeOutcomeUnknown,
    FreeeRateLimited,
    FreeeServerError,
    FreeeUnavailable,
    FreeeValidationError,
    RateLimitWait,
)
from sdk.freee.oauth import OAuthClient, TokenManager
from sdk.freee.ratelimit import RateLimiter, RateLimitStore
from sdk.freee.tokens import TokenStore
from sdk.log import get_logger
from sdk.models.freee import (
    AccountingDeal,
    FreeeErrorBody,
    Invoice,
    InvoiceRequest,
    Partner,
    PartnerCreateRequest,
)

if TYPE_CHECKING:
    from sdk.settings import Settings

INVOICE_API = "/iv"
PARTNER_PAGE = 3000  # the most partners freee lists per call
MAX_LIST_OFFSET = 10_000  # freee refuses offset + limit over 10,000: page by date windows instead


@dataclass(frozen=True, slots=True)
class Template:
    id: int
    name: str


@dataclass(frozen=True, slots=True)
class Company:
    """A freee 事業所 the token's user belongs to (``GET /api/1/companies``), with the user's role in it."""

    id: int
    name: str
    role: str


@dataclass
class RetryPolicy:
    max_attempts: int = 5
    base_delay: float = 1.0
    max_delay: float = 60.0
    rng: random.Random = field(default_factory=random.Random)

    def backoff(self, attempt: int) -> float:
        """Exponential back-off with jitter (half to all of the capped exponential delay)."""
        ceiling = min(self.max_delay, self.base_delay * 2.0 ** (attempt - 1))
        return ceiling * (0.5 + self.rng.random() / 2)


class FreeeClient:
    def __init__(
        self,
        *,
        api_base: str,
        company_id: int,
        tokens: TokenManager,
        limiter: RateLimiter,
        clock: Clock,
        session: requests.Session | None = None,
        retry: RetryPolicy | None = None,
        timeout: float = 10.0,
    ) -> None:
        self.api_base = api_base.rstrip("/")
        self.company_id = company_id
        self.tokens, self.limiter, self.clock = tokens, limiter, clock
        self.session = session or requests.Session()
        self.retry = retry or RetryPolicy()
        self.timeout = timeout
        self.calls = 0  # HTTP requests sent (retries included), for benchmarks
        self.max_limiter_wait: float | None = None

    def keep_connected(self) -> bool:
        """Renew the refresh token when it is old (:meth:`TokenManager.renew_if_older`); True when renewed."""
        return self.tokens.renew_if_older()

    def with_deadline(self, seconds: float) -> FreeeClient:
        """The same client for a caller that cannot wait: a call that would wait more than ``seconds`` for the
        rate limit raises :class:`FreeeRateLimited` at once (nothing sent), instead of blocking."""
        clone = copy.copy(self)
        clone.max_limiter_wait = seconds
        return clone

    @classmethod
    def from_settings(
        cls,
        settings: Settings,
        *,
        token_store: TokenStore,
        rate_store: RateLimitStore,
        clock: Clock | None = None,
        session: requests.Session | None = None,
    ) -> FreeeClient:
        """The client as configured: base URLs, credentials, company, limits. Names every missing setting."""
        client_id, secret, company_id = (
            settings.freee_client_id,
            settings.freee_client_secret,
            settings.freee_company_id,
        )
        if not client_id or secret is None or not secret.get_secret_value() or company_id is None:
            raise settings.missing_error("freee_client_id", "freee_client_secret", "freee_company_id")
        clock = clock or SystemClock()
        session = session or requests.Session()
        oauth = OAuthClient(
            auth_base=settings.freee_auth_base,
            client_id=client_id,
            client_secret=secret.get_secret_value(),
            redirect_uri=settings.freee_redirect_uri,
            session=session,
            clock=clock,
            timeout=settings.freee_timeout_seconds,
        )
        windows = ((settings.freee_rate_limit_per_minute, 60.0), (settings.freee_rate_limit_per_hour, 3600.0))
        return cls(
            api_base=settings.freee_api_base,
            company_id=company_id,
            tokens=TokenManager(token_store, oauth, clock),
            limiter=RateLimiter(rate_store, clock, windows),
            clock=clock,
            session=session,
            retry=RetryPolicy(max_attempts=settings.freee_max_attempts),
            timeout=settings.freee_timeout_seconds,
        )

    # ------------------------------------------------------------------------------------------ partners

    def get_partner(self, partner_id: int) -> Partner:
        body = self._call("GET", f"/api/1/partners/{partner_id}", params={"company_id": self.company_id})
        return Partner.model_validate(body["partner"])

    def get_partner_by_code(self, code: str) -> Partner | None:
        """The partner with exactly this code, or None.

        freee has no look-up by code (``/partners/code/{code}`` only takes ``PUT``): the partner list's
        ``keyword`` matches codes, names and kana partially, so its pages are filtered to the exact code. One call
        unless more than 3,000 partners match the keyword.
        """
        offset = 0
        while True:
            params = {"company_id": self.company_id, "keyword": code, "offset": offset, "limit": PARTNER_PAGE}
            listed = self._call("GET", "/api/1/partners", params=params)["partners"]
            for partner in listed:
                if partner.get("code") == code:
                    return Partner.model_validate(partner)
            if len(listed) < PARTNER_PAGE:
                return None
            offset += PARTNER_PAGE

    def uses_partner_codes(self) -> bool:
        """Whether the company has 取引先コード enabled (``use_partner_code`` of ``GET /api/1/companies/{id}``)."""
        body = self._call("GET", f"/api/1/companies/{self.company_id}")
        return bool(body["company"]["use_partner_code"])

    def search_partners(self, keyword: str, *, offset: int = 0, limit: int = 100) -> list[Partner]:
        params = {"company_id": self.company_id, "keyword": keyword, "offset": offset, "limit": limit}
        body = self._call("GET", "/api/1/partners", params=params)
        return [Partner.model_validate(p) for p in body["partners"]]

    def create_partner(
        self, request: PartnerCreateRequest, *, before_send: Callable[[], None] | None = None
    ) -> Partner:
        body = self._call("POST", "/api/1/partners", json=request.to_json(), before_send=before_send)
        return Partner.model_validate(body["partner"])

    def upsert_partner_by_code(self, code: str, request: PartnerCreateRequest) -> Partner:
        partner = {k: v for k, v in request.to_json().items() if k not in ("company_id", "code")}
        body = self._call(
            "PUT",
            "/api/1/partners/upsert_by_code",
            json={"company_id": self.company_id, "code": code, "partner": partner},
        )
        return Partner.model_validate(body["partner"])

    # ------------------------------------------------------------------------------------------ invoices

    def create_invoice(
        self, request: InvoiceRequest, *, before_send: Callable[[], None] | None = None
    ) -> Invoice:
        """``before_send`` runs right before each time the request goes out (after the rate limiter, a back-off
        or a token refresh): the invoice process renews its lease on the deal there, and raises to send nothing."""
        body = self._call("POST", f"{INVOICE_API}/invoices", json=request.to_json(), before_send=before_send)
        return Invoice.model_validate(body["invoice"])

    def get_invoice(self, invoice_id: int) -> Invoice:
        body = self._call(
            "GET", f"{INVOICE_API}/invoices/{invoice_id}", params={"company_id": self.company_id}
        )
        return Invoice.model_validate(body["invoice"])

    def list_invoices(self, *, offset: int = 0, limit: int = 100, **filters: Any) -> list[Invoice]:
        """One page of ``GET /iv/invoices``; filters as freee names them (``partner_ids``, ``payment_status``,
        ``start_billing_date``, ...; dates may be ``date`` objects, ``partner_ids`` a list)."""
        if offset + limit > MAX_LIST_OFFSET:
            raise ValueError("freee lists at most 10,000 rows per query; narrow the billing-date window")
        params = {"company_id": self.company_id, "offset": offset, "limit": limit} | _params(filters)
        body = self._call("GET", f"{INVOICE_API}/invoices", params=params)
        return [Invoice.model_validate(i) for i in body["invoices"]]

    def iter_invoices(
        self, *, start: date, end: date, page_size: int = 100, **filters: Any
    ) -> Iterator[Invoice]:
        """Every invoice billed from ``start`` to ``end`` (with ``filters``), each once.

        The whole range is one query while it holds at most 10,000 rows (freee's offset ceiling), so the calls
        are ceil(rows / page_size) plus at most one short page. A range that overflows is halved by billing
        date and each half listed on its own (the invoices already yielded are not yielded again); a single day
        with more than 10,000 matching invoices cannot be listed and raises :class:`FreeeError`.
        """
        yielded: set[int] = set()
        ranges = [(start, end)]
        while ranges:
            low, high = ranges.pop()
            offset = 0
            while True:
                page = self.list_invoices(
                    offset=offset, limit=page_size, start_billing_date=low, end_billing_date=high, **filters
                )
                for invoice in page:
                    if invoice.id not in yielded:
                        yielded.add(invoice.id)
                        yield invoice
                if len(page) < page_size:
                    break
                offset += page_size
                if offset + page_size > MAX_LIST_OFFSET:
                    if low == high:
                        raise FreeeError(
                            f"more than {MAX_LIST_OFFSET} invoices billed on {low}: freee cannot list them "
                            "in one query / 同じ請求日の請求書が10,000件を超えています"
                        )
                    middle = low + timedelta(days=(high - low).days // 2)
                    ranges += [(middle + timedelta(days=1), high), (low, middle)]
                    break

    def cancel_invoice(self, invoice_id: int) -> None:
        self._call("PUT", f"{INVOICE_API}/invoices/{invoice_id}/cancel", json={"company_id": self.company_id})

    def list_templates(self) -> list[Template]:
        body = self._call("GET", f"{INVOICE_API}/invoices/templates", params={"company_id": self.company_id})
        return [Template(id=int(t["id"]), name=str(t["name"])) for t in body["templates"]]

    # ---------------------------------------------------------------------------------------- companies

    def list_companies(self) -> list[Company]:
        """Every company the token's user belongs to (the one call that needs no ``company_id``)."""
        body = self._call("GET", "/api/1/companies")
        return [
            Company(
                id=int(c["id"]),
                name=str(c.get("display_name") or c.get("name") or c["id"]),
                role=str(c.get("role") or ""),
            )
            for c in body["companies"]
        ]

    # ---------------------------------------------------------------------------------- accounting deals

    def get_deal(self, deal_id: int) -> AccountingDeal:
        body = self._call("GET", f"/api/1/deals/{deal_id}", params={"company_id": self.company_id})
        return AccountingDeal.model_validate(body["deal"])

    def list_deals(
        self, *, offset: int = 0, limit: int = 100, **filters: Any
    ) -> tuple[list[AccountingDeal], int]:
        """One page of ``GET /api/1/deals`` with payments, and the total count matching the filters."""
        params = {"company_id": self.company_id, "offset": offset, "limit": limit} | _params(filters)
        body = self._call("GET", "/api/1/deals", params=params)
        return [AccountingDeal.model_validate(d) for d in body["deals"]], int(body["meta"]["total_count"])

    def iter_deals(self, *, page_size: int = 100, **filters: Any) -> Iterator[AccountingDeal]:
        offset = 0
        while True:
            deals, total = self.list_deals(offset=offset, limit=page_size, **filters)
            yield from deals
            offset += len(deals)
            if not deals or offset >= total:
                return

    # ------------------------------------------------------------------------------------------ the call

    def _call(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        json: Mapping[str, Any] | None = None,
        before_send: Callable[[], None] | None = None,
    ) -> dict[str, Any]:
        log = get_logger()
        write = method == "POST"
        rejected: str | None = None
        refreshed = False
        attempt = 0
        while True:
            attempt += 1
            try:
                self.limiter.acquire(max_wait=self.max_limiter_wait)
            except RateLimitWait as busy:
                raise FreeeRateLimited(
                    f"the shared freee rate limit has no room for {busy.seconds:.0f}s",
                    retry_after=busy.seconds,
                ) from None
            token = self.tokens.access_token(rejected=rejected)
            rejected = None
            if before_send is not None:  # the last thing before the request: every wait is behind us
                before_send()
            started = time.perf_counter()
            self.calls += 1
            try:
                response = self.session.request(
                    method,
                    f"{self.api_base}{path}",
                    params=params,
                    json=json,
                    headers={"Authorization": f"Bearer {token}", "Accept": "application/json"},
                    timeout=self.timeout,
                )
            except requests.RequestException as exc:
                error = self._transport_error(exc, write, method, path)
                if isinstance(error, FreeeOutcomeUnknown) or attempt >= self.retry.max_attempts:
                    raise error from None
                log.warning(
                    {"event": "freee_call_retry", "method": method, "path": path, "reason": str(error)}
                )
                self.clock.sleep(self.retry.backoff(attempt))
                continue
            request_id = response.headers.get("X-Freee-Request-ID")
            log.info(
                {
                    "event": "freee_call",
                    "method": method,
                    "path": path,
                    "status": response.status_code,
                    "freee_request_id": request_id,
                    "attempt": attempt,
                    "elapsed_ms": round((time.perf_counter() - started) * 1000, 1),
                }
            )
            status = response.status_code
            if 200 <= status < 300:
                return self._json(response, request_id, write)
            messages = _messages(response)
            if status == 401 and not refreshed:
                refreshed, rejected = True, token
                attempt -= 1  # a refresh is not a failed attempt
                continue
            if status == 429 or (status == 403 and _is_lockout(response, messages)):
                wait = _retry_after(response)
                if status == 429 and attempt < self.retry.max_attempts:
                    self.clock.sleep(wait if wait is not None else self.retry.backoff(attempt))
                    continue
                raise FreeeRateLimited(
                    "freee rate limit reached"
                    if status == 429
                    else "freee locked the API for sustained overuse",
                    retry_after=wait,
                    status=status,
                    messages=messages,
                    request_id=request_id,
                )
            if status >= 500:
                if not write and attempt < self.retry.max_attempts:
                    self.clock.sleep(_retry_after(response) or self.retry.backoff(attempt))
                    continue
                raise FreeeServerError(
                    f"freee answered {status} to {method} {path}",
                    retry_after=_retry_after(response),
                    status=status,
                    messages=messages,
                    request_id=request_id,
                )
            raise _client_error(status, method, path, messages, request_id)

    def _transport_error(
        self, exc: requests.RequestException, write: bool, method: str, path: str
    ) -> FreeeError:
        where = f"{method} {path}"
        if isinstance(exc, requests.ConnectTimeout) or _never_connected(exc):
            return FreeeUnavailable(f"freee unreachable for {where}: {exc.__class__.__name__}")
        if write:
            return FreeeOutcomeUnknown(
                f"no answer from freee for {where} ({exc.__class__.__name__}): it may have been applied"
            )
        return FreeeUnavailable(f"no answer from freee for {where}: {exc.__class__.__name__}")

    def _json(self, response: requests.Response, request_id: str | None, write: bool) -> dict[str, Any]:
        try:
            body = response.json()
        except ValueError:
            body = None
        if not isinstance(body, dict):
            kind = FreeeOutcomeUnknown if write else FreeeServerError
            raise kind(
                f"freee answered {response.status_code} with a body that is not JSON "
                f"({response.headers.get('Content-Type', 'no content type')})",
                request_id=request_id,
            )
        return body


def _params(filters: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in filters.items():
        if value is None:
            continue
        if isinstance(value, date):
            value = value.isoformat()
        elif isinstance(value, list | tuple | set):
            value = ",".join(str(v) for v in value)
        out[key] = value
    return out


def _messages(response: requests.Response) -> list[str]:
    try:
        return FreeeErrorBody.model_validate(response.json()).messages
    except ValueError:
        text = response.text.strip()
        return [f"non-JSON answer: {text[:120]}"] if text else []


def _retry_after(response: requests.Response) -> float | None:
    for header in ("Retry-After", "X-RateLimit-Reset"):
        raw = response.headers.get(header)
        if raw is None:
            continue
        try:
            seconds = float(raw)
        except ValueError:
            continue
        if seconds > 1e9:  # an epoch timestamp rather than a delay
            continue
        return max(0.0, seconds)
    return None


def _is_lockout(response: requests.Response, messages: list[str]) -> bool:
    """freee answers 403 for minutes after sustained overuse; tell that from a permission 403."""
    if "Retry-After" in response.headers or "X-RateLimit-Limit" in response.headers:
        return True
    return any("制限" in m or "rate" in m.lower() or "too many" in m.lower() for m in messages)


def _never_connected(exc: requests.RequestException) -> bool:
    reason: BaseException | None = exc
    while reason is not None:
        if isinstance(reason, NewConnectionError | ConnectionRefusedError):
            return True
        reason = (
            reason.__context__
            or reason.__cause__
            or (reason.args[0] if reason.args and isinstance(reason.args[0], BaseException) else None)
        )
    return False


def _client_error(
    status: int, method: str, path: str, messages: list[str], request_id: str | None
) -> FreeeError:
    where = f"{method} {path}"
    if status == 400:
        return FreeeValidationError(
            f"freee refused {where}", status=status, messages=messages, request_id=request_id
        )
    if status in (401, 403):
        return FreeeAuthError(
            f"freee denied {where} ({status}); check the app's permissions or reconnect with `hubspot-freee setup freee`",
            status=status,
            messages=messages,
            request_id=request_id,
        )
    if status == 404:
        return FreeeNotFound(
            f"not found in freee: {where}", status=status, messages=messages, request_id=request_id
        )
    return FreeeError(
        f"freee answered {status} to {where}", status=status, messages=messages, request_id=request_id
    )
