"""The doctor's freee checks: the token (refreshed when it has expired), the connection and company, and the
partner-code setting."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Final, Protocol

from sdk.errors import HubSpotFreeeError
from sdk.freee.errors import SETUP_FREEE as SETUP_COMMAND
from sdk.freee.errors import FreeeAuthError, FreeeError, FreeeUnavailable
from sdk.freee.tokens import REFRESH_TOKEN_LIFETIME, RENEW_REFRESH_TOKEN_AFTER
from sdk.usecases.doctor.results import guarded, ok, problem, skipped, then_skipped, transient_or_other

if TYPE_CHECKING:
    from sdk.clock import Clock
    from sdk.freee.client import Company
    from sdk.freee.tokens import TokenSet, TokenStore
    from sdk.settings import Settings
    from sdk.usecases.doctor.results import CheckResult

#: the command that connects freee, as the checks' messages name it
SETUP_FREEE: Final = f"`{SETUP_COMMAND}`"


class FreeeReader(Protocol):
    def list_companies(self) -> list[Company]: ...

    def uses_partner_codes(self) -> bool: ...


class AccessTokens(Protocol):
    def access_token(self, *, rejected: str | None = None) -> str: ...


def freee_failure(name: str, exc: BaseException, api_base: str) -> CheckResult:
    if isinstance(exc, FreeeUnavailable):
        return problem(
            name,
            f"freee unreachable at {api_base} / freee に接続できません",
            "check FREEE_API_BASE / FREEE_AUTH_BASE, the network and any proxy / 接続先とネットワークを確認してください",
        )
    if isinstance(exc, FreeeAuthError):
        return problem(
            name,
            f"freee refused the credentials / freee が認証を拒否しました: {exc}",
            f"run {SETUP_FREEE} again (and check FREEE_CLIENT_ID / FREEE_CLIENT_SECRET) / "
            f"再度 {SETUP_FREEE} を実行してください",
        )
    busy = (
        f"freee is busy or failing at {api_base} / freee が一時的なエラーを返しました: {exc}",
        "try again in a few minutes / 数分後に再実行してください",
    )
    return transient_or_other(name, exc, "freee", busy)


def check_freee_token(
    store: TokenStore, tokens: AccessTokens, clock: Clock, auth_base: str, *, skew: float = 60.0
) -> CheckResult:
    """A token pair is stored; the access token is valid, or is refreshed now (a refused refresh token means
    authorising again)."""
    name = "freee token / freeeトークン"
    row = store.load_token()
    if row is None:
        return problem(
            name,
            "freee is not connected: no token in the store (STORAGE_URL) / freee が未接続です",
            f"run {SETUP_FREEE} / {SETUP_FREEE} を実行してください",
        )
    if row.disconnected:
        since = row.disconnected_at
        return problem(
            name,
            f"freee is disconnected since {_when(since) if since else '(unknown)'}: "
            f"{row.disconnected_reason or 'freee refused the refresh token'}. No invoice is created and no "
            "payment synced until then; queued deals wait (held, not dead-lettered) "
            f"/ {_when(since) if since else ''} からfreee接続が切れています。請求書の作成と入金同期は止まっています",
            f"run {SETUP_FREEE} against this STORAGE_URL; the waiting deals are then invoiced automatically "
            f"/ {SETUP_FREEE} で再接続すると、待機中の取引は自動で請求書が作成されます",
        )
    now = clock.now()
    expires = row.tokens.access_expires_at
    if expires - timedelta(seconds=skew) > now:
        return ok(
            name,
            f"access token valid until {_when(expires)} ({_left(expires - now)}); renewed with the refresh token "
            f"when it expires{_refresh_end(row.tokens)} / 有効",
        )
    try:
        tokens.access_token()
    except FreeeAuthError:
        ended = row.tokens.refresh_expires_at
        why = (
            f"it expired at {_when(ended)}: freee keeps a refresh token {REFRESH_TOKEN_LIFETIME.days} days and "
            "nothing used it"
            if ended is not None and ended <= now
            else "used, expired or revoked"
        )
        return problem(
            name,
            f"the access token expired at {_when(expires)} and freee refused the refresh token ({why}) "
            "/ リフレッシュトークンが拒否されました",
            f"run {SETUP_FREEE} again / 再度 {SETUP_FREEE} を実行してください",
        )
    except FreeeError as exc:
        return freee_failure(name, exc, auth_base)
    fresh = store.load_token()
    until = fresh.tokens.access_expires_at if fresh else expires
    return ok(
        name,
        f"the access token had expired; refreshed now, valid until {_when(until)}"
        f"{_refresh_end(fresh.tokens) if fresh else ''} / 更新しました",
    )


def _refresh_end(tokens: TokenSet) -> str:
    """When the refresh token stops working, for a pair whose issue time is known."""
    ended = tokens.refresh_expires_at
    return (
        f"; refresh token usable until {_when(ended)} (each payment sync renews it once it is "
        f"{RENEW_REFRESH_TOKEN_AFTER.days} days old)"
        if ended
        else ""
    )


def check_freee_connection(freee: FreeeReader, company_id: int | None, api_base: str) -> CheckResult:
    """freee answers with this token, and FREEE_COMPANY_ID is one of the user's companies."""
    name = "freee connection / freee接続"
    try:
        companies = freee.list_companies()
    except FreeeError as exc:
        return freee_failure(name, exc, api_base)
    listed = ", ".join(f"{c.id} ({c.name})" for c in companies) or "none"
    if company_id is None:
        return problem(
            name,
            f"FREEE_COMPANY_ID is not set; companies: {listed}",
            f"set FREEE_COMPANY_ID, or run {SETUP_FREEE}",
        )
    chosen = next((c for c in companies if c.id == company_id), None)
    if chosen is None:
        return problem(
            name,
            f"FREEE_COMPANY_ID={company_id} is not a company this token can access; companies: {listed} / "
            "アクセスできない事業所です",
            f"set FREEE_COMPANY_ID to one of them, or run {SETUP_FREEE} with a user of that company",
        )
    return ok(name, f"{api_base}: company {chosen.id} ({chosen.name}), role {chosen.role} / 接続できました")


def check_partner_codes(freee: FreeeReader, use_codes: bool) -> CheckResult:
    """FREEE_USE_PARTNER_CODES agrees with the company's 取引先コード setting (``use_partner_code`` of the
    company, ``GET /api/1/companies/{id}``)."""
    name = "partner codes / 取引先コード"
    try:
        enabled = freee.uses_partner_codes()
    except FreeeError as exc:
        return freee_failure(name, exc, "freee")
    if use_codes and not enabled:
        return problem(
            name,
            "FREEE_USE_PARTNER_CODES is true but this freee company has partner codes disabled / "
            "この事業所では取引先コードが無効です",
            "set FREEE_USE_PARTNER_CODES=false, or enable 取引先コード in freee (設定 → 事業所の設定) / "
            "FREEE_USE_PARTNER_CODES=false にするか freee で取引先コードを有効にしてください",
        )
    if enabled and not use_codes:
        return ok(
            name,
            "codes are enabled in freee but not used (FREEE_USE_PARTNER_CODES=false): partners are matched by id and name / コード未使用",
        )
    return ok(
        name, f"codes {'enabled and used' if enabled else 'disabled and not used'} / 設定が一致しています"
    )


def _when(moment: datetime) -> str:
    return moment.isoformat(timespec="minutes")


def _left(delta: timedelta) -> str:
    minutes = int(delta.total_seconds() // 60)
    return f"{minutes // 60} h {minutes % 60} min left" if minutes >= 60 else f"{minutes} min left"


def freee_checks(
    settings: Settings,
    clock: Clock,
    open_store: Callable[[Settings], Any],
    build: Callable[[Settings, TokenStore, Any], FreeeReader],
) -> list[CheckResult]:
    """The freee checks, each skipped when the app's credentials are not set or an earlier one failed."""
    token_name, connection, codes = (
        "freee token / freeeトークン",
        "freee connection / freee接続",
        "partner codes / 取引先コード",
    )
    missing = settings.missing_error("freee_client_id", "freee_client_secret").problems
    if missing:
        because = "FREEE_CLIENT_ID / FREEE_CLIENT_SECRET are not set"
        return [skipped(token_name, because), skipped(connection, because), skipped(codes, because)]
    try:
        store = open_store(settings)
    except Exception as exc:
        opened = f"the store {settings.storage_url} cannot be opened: {type(exc).__name__}"
        failed = problem(token_name, opened, "check STORAGE_URL")
        return then_skipped(failed, (connection, codes), "the token store cannot be opened")
    try:
        freee = build(settings, store.tokens, store.rate_limits)
    except HubSpotFreeeError as exc:
        failed = problem(token_name, f"cannot build the freee client: {exc}", "check the freee settings")
        return then_skipped(failed, (connection, codes), "no freee client")
    manager = getattr(freee, "tokens", None)
    tokens: AccessTokens = manager if manager is not None else _NoRefresh()
    token = guarded(
        token_name, lambda: check_freee_token(store.tokens, tokens, clock, settings.freee_auth_base)
    )
    if not token.ok:
        return then_skipped(token, (connection, codes), "the freee token is not usable")
    link = guarded(
        connection, lambda: check_freee_connection(freee, settings.freee_company_id, settings.freee_api_base)
    )
    if not link.ok:
        return [token, link, skipped(codes, "the freee connection or company is not usable")]
    return [token, link, guarded(codes, lambda: check_partner_codes(freee, settings.freee_use_partner_codes))]


class _NoRefresh:
    def access_token(self, *, rejected: str | None = None) -> str:
        raise FreeeAuthError(f"no token manager; run {SETUP_FREEE}")


def freee_client(clock: Clock) -> Callable[[Settings, TokenStore, Any], FreeeReader]:
    def build(settings: Settings, tokens: TokenStore, rates: Any) -> FreeeReader:
        from sdk.freee.client import FreeeClient

        # listing companies needs no company id; one try per call so an outage is reported at once
        quick = settings.model_copy(
            update={"freee_company_id": settings.freee_company_id or 1, "freee_max_attempts": 1}
        )
        return FreeeClient.from_settings(quick, token_store=tokens, rate_store=rates, clock=clock)

    return build
