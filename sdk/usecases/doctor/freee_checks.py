"""The doctor's freee checks: the token (refreshed when it has expired; a warning when its refresh token nears
freee's 90 days), the connection and company, and the partner-code setting."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Final, Protocol

from sdk.errors import HubSpotFreeeError
from sdk.freee.errors import SETUP_FREEE as SETUP_COMMAND
from sdk.freee.errors import FreeeAuthError, FreeeError, FreeeUnavailable
from sdk.freee.tokens import REFRESH_TOKEN_LIFETIME, RENEW_REFRESH_TOKEN_AFTER
from sdk.usecases.doctor.results import (
    Bilingual,
    error,
    guarded,
    ok,
    skipped,
    then_skipped,
    transient_or_other,
    warning,
)

if TYPE_CHECKING:
    from sdk.clock import Clock
    from sdk.freee.client import Company
    from sdk.freee.tokens import TokenSet, TokenStore
    from sdk.settings import Settings
    from sdk.usecases.doctor.results import CheckResult

#: the command that connects freee, as the checks' messages name it
SETUP_FREEE: Final = f"`{SETUP_COMMAND}`"
#: a refresh token with less than this left is a warning: the payment sync renews one once it is 30 days old
#: (:data:`~sdk.freee.tokens.RENEW_REFRESH_TOKEN_AFTER`), so at 45 days old it has not run for two weeks (a weekly
#: cron included), and freee refuses it at 90 (:data:`~sdk.freee.tokens.REFRESH_TOKEN_LIFETIME`)
REFRESH_TOKEN_WARN_WITHIN: Final = timedelta(days=45)


class FreeeReader(Protocol):
    def list_companies(self) -> list[Company]: ...

    def uses_partner_codes(self) -> bool: ...


class AccessTokens(Protocol):
    def access_token(self, *, rejected: str | None = None) -> str: ...


def freee_failure(check_id: str, exc: BaseException, api_base: str) -> CheckResult:
    if isinstance(exc, FreeeUnavailable):
        return error(
            check_id,
            Bilingual(f"freee unreachable at {api_base}", f"freee に接続できません ({api_base})"),
            Bilingual(
                "check FREEE_API_BASE / FREEE_AUTH_BASE, the network and any proxy",
                "FREEE_API_BASE / FREEE_AUTH_BASE、ネットワーク、プロキシを確認してください",
            ),
        )
    if isinstance(exc, FreeeAuthError):
        return error(
            check_id,
            Bilingual(f"freee refused the credentials: {exc}", f"freee が認証を拒否しました: {exc}"),
            Bilingual(
                f"run {SETUP_FREEE} again (and check FREEE_CLIENT_ID / FREEE_CLIENT_SECRET)",
                f"{SETUP_FREEE} を再実行してください（FREEE_CLIENT_ID / FREEE_CLIENT_SECRET も確認）",
            ),
        )
    busy = (
        Bilingual(
            f"freee is busy or failing at {api_base}: {exc}",
            f"freee が一時的なエラーを返しました ({api_base}): {exc}",
        ),
        Bilingual("try again in a few minutes", "数分後に再実行してください"),
    )
    return transient_or_other(check_id, exc, "freee", busy)


def check_freee_token(
    store: TokenStore, tokens: AccessTokens, clock: Clock, auth_base: str, *, skew: float = 60.0
) -> CheckResult:
    """A token pair is stored; the access token is valid, or is refreshed now (a refused refresh token means
    authorising again); a refresh token close to freee's 90 days is a warning (:func:`refresh_token_age`)."""
    check_id = "freee.token"
    row = store.load_token()
    if row is None:
        return error(
            check_id,
            Bilingual(
                "freee is not connected: no token in the store (STORAGE_URL)",
                "freee が未接続です（STORAGE_URL のストアにトークンがありません）",
            ),
            Bilingual(f"run {SETUP_FREEE}", f"{SETUP_FREEE} を実行してください"),
        )
    if row.disconnected:
        since = _when(row.disconnected_at) if row.disconnected_at else "(unknown)"
        why = row.disconnected_reason or "freee refused the refresh token"
        return error(
            check_id,
            Bilingual(
                f"freee is disconnected since {since}: {why}. No invoice is created and no payment synced until "
                "then; queued deals wait (held, not dead-lettered)",
                f"{since} からfreee接続が切れています（{why}）。請求書の作成と入金同期は止まっています。"
                "キューの取引は待機中です",
            ),
            Bilingual(
                f"run {SETUP_FREEE} against this STORAGE_URL; the waiting deals are then invoiced automatically",
                f"この STORAGE_URL で {SETUP_FREEE} を実行して再接続すると、待機中の取引は自動で請求書が"
                "作成されます",
            ),
        )
    now = clock.now()
    expires = row.tokens.access_expires_at
    if expires - timedelta(seconds=skew) > now:
        return refresh_token_age(
            row.tokens,
            now,
            Bilingual(
                f"access token valid until {_when(expires)} ({_left(expires - now)}); renewed with the refresh "
                f"token when it expires{_refresh_end(row.tokens)}",
                f"アクセストークンは {_when(expires)} まで有効です（期限切れ後はリフレッシュトークンで更新）",
            ),
        )
    try:
        tokens.access_token()
    except FreeeAuthError:
        ended = row.tokens.refresh_expires_at
        expired = ended is not None and ended <= now
        why = (
            f"it expired at {_when(ended)}: freee keeps a refresh token {REFRESH_TOKEN_LIFETIME.days} days and "
            "nothing used it"
            if expired and ended is not None
            else "used, expired or revoked"
        )
        why_ja = (
            f"{_when(ended)} に期限切れ: freee のリフレッシュトークンは {REFRESH_TOKEN_LIFETIME.days} 日で失効します"
            if expired and ended is not None
            else "使用済み・期限切れ・取り消し"
        )
        return error(
            check_id,
            Bilingual(
                f"the access token expired at {_when(expires)} and freee refused the refresh token ({why})",
                f"アクセストークンが {_when(expires)} に期限切れとなり、リフレッシュトークンが拒否されました"
                f"（{why_ja}）",
            ),
            Bilingual(f"run {SETUP_FREEE} again", f"{SETUP_FREEE} を再実行してください"),
        )
    except FreeeError as exc:
        return freee_failure(check_id, exc, auth_base)
    fresh = store.load_token()
    until = fresh.tokens.access_expires_at if fresh else expires
    return ok(
        check_id,
        f"the access token had expired; refreshed now, valid until {_when(until)}"
        f"{_refresh_end(fresh.tokens) if fresh else ''}",
        f"アクセストークンを更新しました（{_when(until)} まで有効）",
    )


def refresh_token_age(tokens: TokenSet, now: datetime, fine: Bilingual) -> CheckResult:
    """``fine`` (the access token's state) when the refresh token has more than
    :data:`REFRESH_TOKEN_WARN_WITHIN` left (or its age is unknown); else a warning: the payment sync renews a
    refresh token once it is :data:`~sdk.freee.tokens.RENEW_REFRESH_TOKEN_AFTER` old, so one this old means the
    sync has not run, and freee will refuse it at :attr:`~sdk.freee.tokens.TokenSet.refresh_expires_at`."""
    ends = tokens.refresh_expires_at
    if ends is None or tokens.refresh_issued_at is None or ends - now > REFRESH_TOKEN_WARN_WITHIN:
        return ok("freee.token", fine.en, fine.ja)
    age = (now - tokens.refresh_issued_at).days
    left = max(0, (ends - now).days)
    renew = RENEW_REFRESH_TOKEN_AFTER.days
    return warning(
        "freee.token",
        Bilingual(
            f"{fine.en}. But the refresh token is {age} days old and freee refuses it at {_when(ends)} (in "
            f"{left} days, {REFRESH_TOKEN_LIFETIME.days} days after it was issued): the payment sync renews it "
            f"at {renew} days, so the sync has not run",
            f"{fine.ja}。ただしリフレッシュトークンは発行から {age} 日経過し、{_when(ends)}（あと {left} 日）に"
            f"失効します。入金同期が {renew} 日で更新するはずなので、同期が動いていません",
        ),
        Bilingual(
            "run `hubspot-freee sync payments` now (it renews the refresh token) and keep it scheduled (on AWS "
            "the stack's schedule; on one machine cron every 15 minutes); once it has expired, only "
            f"{SETUP_FREEE} connects again",
            "今すぐ `hubspot-freee sync payments` を実行し（リフレッシュトークンを更新します）、定期実行して"
            f"ください（AWSはスタックのスケジュール、1台運用なら15分ごとのcron）。失効後は {SETUP_FREEE} で"
            "再接続が必要です",
        ),
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
    check_id = "freee.connection"
    try:
        companies = freee.list_companies()
    except FreeeError as exc:
        return freee_failure(check_id, exc, api_base)
    listed = ", ".join(f"{c.id} ({c.name})" for c in companies) or "none"
    if company_id is None:
        return error(
            check_id,
            Bilingual(
                f"FREEE_COMPANY_ID is not set; companies: {listed}",
                f"FREEE_COMPANY_ID が未設定です。事業所: {listed}",
            ),
            Bilingual(
                f"set FREEE_COMPANY_ID, or run {SETUP_FREEE}",
                f"FREEE_COMPANY_ID を設定するか {SETUP_FREEE} を実行してください",
            ),
        )
    chosen = next((c for c in companies if c.id == company_id), None)
    if chosen is None:
        return error(
            check_id,
            Bilingual(
                f"FREEE_COMPANY_ID={company_id} is not a company this token can access; companies: {listed}",
                f"FREEE_COMPANY_ID={company_id} はこのトークンでアクセスできない事業所です。事業所: {listed}",
            ),
            Bilingual(
                f"set FREEE_COMPANY_ID to one of them, or run {SETUP_FREEE} with a user of that company",
                f"FREEE_COMPANY_ID をいずれかに設定するか、その事業所のユーザーで {SETUP_FREEE} を実行してください",
            ),
        )
    return ok(
        check_id,
        f"{api_base}: company {chosen.id} ({chosen.name}), role {chosen.role}",
        f"{api_base}: 事業所 {chosen.id}（{chosen.name}）、権限 {chosen.role} で接続できました",
    )


def check_partner_codes(freee: FreeeReader, use_codes: bool) -> CheckResult:
    """FREEE_USE_PARTNER_CODES agrees with the company's 取引先コード setting (``use_partner_code`` of the
    company, ``GET /api/1/companies/{id}``)."""
    check_id = "freee.partner_codes"
    try:
        enabled = freee.uses_partner_codes()
    except FreeeError as exc:
        return freee_failure(check_id, exc, "freee")
    if use_codes and not enabled:
        return error(
            check_id,
            Bilingual(
                "FREEE_USE_PARTNER_CODES is true but this freee company has partner codes disabled",
                "FREEE_USE_PARTNER_CODES が true ですが、この事業所では取引先コードが無効です",
            ),
            Bilingual(
                "set FREEE_USE_PARTNER_CODES=false, or enable 取引先コード in freee (設定 → 事業所の設定)",
                "FREEE_USE_PARTNER_CODES=false にするか、freee で取引先コードを有効にしてください"
                "（設定 → 事業所の設定）",
            ),
        )
    if enabled and not use_codes:
        return ok(
            check_id,
            "codes are enabled in freee but not used (FREEE_USE_PARTNER_CODES=false): partners are matched by id "
            "and name",
            "freee で取引先コードは有効ですが使っていません（FREEE_USE_PARTNER_CODES=false）。取引先はIDと名前で"
            "照合します",
        )
    return ok(
        check_id,
        f"codes {'enabled and used' if enabled else 'disabled and not used'}",
        f"取引先コードの設定が一致しています（{'使用' if enabled else '不使用'}）",
    )


def _when(moment: datetime) -> str:
    return moment.isoformat(timespec="minutes")


def _left(delta: timedelta) -> str:
    minutes = int(delta.total_seconds() // 60)
    return f"{minutes // 60} h {minutes % 60} min left" if minutes >= 60 else f"{minutes} min left"


def freee_checks(
    settings: Settings,
    clock: Clock,
    store: Any,
    build: Callable[[Settings, TokenStore, Any], FreeeReader],
) -> list[CheckResult]:
    """The freee checks, each skipped when the app's credentials are not set, the store cannot be opened
    (``store`` None: the store check says why) or an earlier one failed."""
    later = ("freee.connection", "freee.partner_codes")
    missing = settings.missing_error("freee_client_id", "freee_client_secret").problems
    if missing:
        because = Bilingual(
            "FREEE_CLIENT_ID / FREEE_CLIENT_SECRET are not set",
            "FREEE_CLIENT_ID / FREEE_CLIENT_SECRET が未設定です",
        )
        return then_skipped(skipped("freee.token", because), later, because)
    if store is None:
        because = Bilingual("the store cannot be opened", "ストアを開けません")
        return then_skipped(skipped("freee.token", because), later, because)
    try:
        freee = build(settings, store.tokens, store.rate_limits)
    except HubSpotFreeeError as exc:
        failed = error(
            "freee.token",
            Bilingual(f"cannot build the freee client: {exc}", f"freee クライアントを作成できません: {exc}"),
            Bilingual("check the freee settings named above", "上記の freee の設定を確認してください"),
        )
        return then_skipped(failed, later, Bilingual("no freee client", "freee クライアントがありません"))
    manager = getattr(freee, "tokens", None)
    tokens: AccessTokens = manager if manager is not None else _NoRefresh()
    token = guarded(
        "freee.token", lambda: check_freee_token(store.tokens, tokens, clock, settings.freee_auth_base)
    )
    if not token.ok:
        return then_skipped(
            token, later, Bilingual("the freee token is not usable", "freee トークンが使えません")
        )
    link = guarded(
        "freee.connection",
        lambda: check_freee_connection(freee, settings.freee_company_id, settings.freee_api_base),
    )
    if not link.ok:
        because = Bilingual(
            "the freee connection or company is not usable", "freee の接続または事業所が使えません"
        )
        return [token, link, skipped("freee.partner_codes", because)]
    codes = guarded(
        "freee.partner_codes", lambda: check_partner_codes(freee, settings.freee_use_partner_codes)
    )
    return [token, link, codes]


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
