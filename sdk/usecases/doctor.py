"""``hubspot-freee doctor``: is this installation ready to invoice? One small check per question.

Each check is a function that returns a :class:`CheckResult` (name, status, detail, fix; Japanese and English)
and never raises: a failure it expects (a refused token, an unreachable service) is its answer, and anything
else is caught by :func:`run_doctor` and reported as that check's problem, so one broken connection never hides
the others. A check that cannot run because another failed says so (``skipped``, with the reason).

The checks, in order: settings · HubSpot connection · HubSpot portal (the access token's portal is
``HUBSPOT_PORTAL_ID``, the tenant boundary of :mod:`sdk.tenant`) · won stages per pipeline · DESIGN §5 properties
per object type · freee token (refreshed when it has expired) · freee connection and company · partner codes · queue and
dead-letter queue · orphan invoices (a second invoice for a deal, :mod:`sdk.usecases.orphans`). No check prints or
returns a secret.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from functools import partial
from typing import TYPE_CHECKING, Any, Final, Protocol

from sdk.errors import AuthError, HubspotFreeeError, Retryable, SettingsError
from sdk.freee.errors import FreeeAuthError, FreeeError, FreeeUnavailable
from sdk.freee.tokens import REFRESH_TOKEN_LIFETIME, RENEW_REFRESH_TOKEN_AFTER
from sdk.pipelines import won_stages
from sdk.properties import property_definitions
from sdk.settings import PropertyNames, env_name
from sdk.tenant import token_portal_problem

if TYPE_CHECKING:
    from sdk.clock import Clock
    from sdk.freee.client import Company
    from sdk.freee.tokens import TokenSet, TokenStore
    from sdk.models.hubspot import AccountDetails, Pipeline
    from sdk.queue import Queue
    from sdk.settings import Settings, WonStageRules
    from sdk.usecases.orphans import OrphanStore

#: what the worker and these checks need from the HubSpot private app
HUBSPOT_SCOPES: Final = (
    "crm.objects.deals.read",
    "crm.objects.deals.write",
    "crm.objects.companies.read",
    "crm.objects.companies.write",
    "crm.objects.contacts.read",
    "crm.objects.line_items.read",
    "crm.schemas.deals.read",
    "crm.schemas.companies.read",
)
SETUP_FREEE: Final = "`hubspot-freee setup freee`"
REQUIRED_SETTINGS: Final = (
    "hubspot_access_token",
    "hubspot_portal_id",
    "freee_client_id",
    "freee_client_secret",
    "freee_company_id",
)
#: every check, in the order run_doctor reports them
CHECK_NAMES: Final = (
    "settings / 設定",
    "HubSpot connection / HubSpot接続",
    "HubSpot portal / HubSpotポータル",
    "won stages / 受注ステージ",
    *(f"properties: {t} / プロパティ" for t in property_definitions(PropertyNames())),
    "freee token / freeeトークン",
    "freee connection / freee接続",
    "partner codes / 取引先コード",
    "queue / キュー",
    "orphan invoices / 二重の請求書",
)


class Status(StrEnum):
    OK = "ok"
    PROBLEM = "problem"
    SKIPPED = "skipped"


@dataclass(frozen=True, slots=True)
class CheckResult:
    """One line of the doctor's table. ``detail`` says what was found, ``fix`` what to do (both ja + en)."""

    name: str
    status: Status
    detail: str
    fix: str = ""

    @property
    def ok(self) -> bool:
        """False only for a problem (a skipped check is explained by the problem that caused it)."""
        return self.status is not Status.PROBLEM

    def as_dict(self) -> dict[str, str]:
        return {"check": self.name, "status": self.status.value, "detail": self.detail, "fix": self.fix}


def ok(name: str, detail: str) -> CheckResult:
    return CheckResult(name, Status.OK, detail)


def problem(name: str, detail: str, fix: str) -> CheckResult:
    return CheckResult(name, Status.PROBLEM, detail, fix)


def skipped(name: str, because: str) -> CheckResult:
    return CheckResult(name, Status.SKIPPED, f"skipped because {because} / 前のチェックの問題のため未実施")


# --------------------------------------------------------------------------------------------------------------
# the ports the checks read through
# --------------------------------------------------------------------------------------------------------------


class HubSpotReader(Protocol):
    def read_pipelines(self, *, refresh: bool = False) -> list[Pipeline]: ...

    def read_properties(self, object_type: str) -> Mapping[str, Mapping[str, Any]]: ...

    def read_account_details(self) -> AccountDetails: ...


class FreeeReader(Protocol):
    def list_companies(self) -> list[Company]: ...

    def uses_partner_codes(self) -> bool: ...


class AccessTokens(Protocol):
    def access_token(self, *, rejected: str | None = None) -> str: ...


# --------------------------------------------------------------------------------------------------------------
# how a failure reads
# --------------------------------------------------------------------------------------------------------------


def hubspot_failure(
    name: str, exc: BaseException, api_base: str, scopes: Sequence[str] = HUBSPOT_SCOPES
) -> CheckResult:
    status = getattr(exc, "status", None)
    if isinstance(exc, AuthError) and status == 403:
        return problem(
            name,
            f"HubSpot refused the call for missing scopes (403) / スコープが不足しています: {exc}",
            f"grant the private app these scopes, then update HUBSPOT_ACCESS_TOKEN if it changed: {', '.join(scopes)}"
            " / 非公開アプリにスコープを追加してください",
        )
    if isinstance(exc, AuthError):
        return problem(
            name,
            f"HubSpot refused the access token (401) / アクセストークンが拒否されました ({api_base})",
            "set HUBSPOT_ACCESS_TOKEN to the private app's access token (Settings → Integrations → Private apps → "
            "Auth) / HUBSPOT_ACCESS_TOKEN に非公開アプリのアクセストークンを設定してください",
        )
    if isinstance(exc, Retryable) and status is None:
        return problem(
            name,
            f"HubSpot unreachable at {api_base} / HubSpot に接続できません",
            "check HUBSPOT_API_BASE, the network and any proxy / HUBSPOT_API_BASE とネットワークを確認してください",
        )
    if isinstance(exc, Retryable):
        return problem(
            name,
            f"HubSpot answered {status} at {api_base} (rate limit or outage) / HubSpot が一時的なエラーを返しました",
            "try again in a few minutes; https://status.hubspot.com / 数分後に再実行してください",
        )
    return problem(name, f"HubSpot: {exc}", "see the message above / 上記のメッセージを確認してください")


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
    if isinstance(exc, Retryable):
        return problem(
            name,
            f"freee is busy or failing at {api_base} / freee が一時的なエラーを返しました: {exc}",
            "try again in a few minutes / 数分後に再実行してください",
        )
    return problem(name, f"freee: {exc}", "see the message above / 上記のメッセージを確認してください")


# --------------------------------------------------------------------------------------------------------------
# the checks
# --------------------------------------------------------------------------------------------------------------


def check_settings(loaded: Settings | SettingsError) -> CheckResult:
    """Every setting loads, and the ones invoicing needs are set (each named with its variable)."""
    name = "settings / 設定"
    if isinstance(loaded, SettingsError):
        return problem(
            name,
            "; ".join(loaded.problems),
            "fix each setting named (environment variable or hubspot-freee.toml) / 各設定を修正してください",
        )
    missing = loaded.missing_error(*REQUIRED_SETTINGS).problems
    if missing:
        extra = ""
        if "freee_company_id" in " ".join(missing):
            extra = f"; {SETUP_FREEE} finds FREEE_COMPANY_ID"
        if "hubspot_portal_id" in " ".join(missing):
            extra += "; the HubSpot portal check names the portal of the access token for HUBSPOT_PORTAL_ID"
        return problem(
            name,
            "; ".join(missing),
            f"set each missing variable (environment or hubspot-freee.toml){extra} / 未設定の項目を設定してください",
        )
    return ok(name, "every setting loads and the required ones are set / 必要な設定はすべてあります")


def check_hubspot_connection(hubspot: HubSpotReader, api_base: str) -> CheckResult:
    """The access token works (one read of the deal pipelines)."""
    name = "HubSpot connection / HubSpot接続"
    try:
        pipelines = hubspot.read_pipelines()
    except HubspotFreeeError as exc:
        return hubspot_failure(name, exc, api_base)
    return ok(name, f"{api_base}: token accepted, {len(pipelines)} deal pipeline(s) / 接続できました")


def check_hubspot_portal(hubspot: HubSpotReader, configured: int | None) -> CheckResult:
    """The access token belongs to ``HUBSPOT_PORTAL_ID`` (``GET /account-info/v3/details``): the installation
    serves that one portal and reads it with this token."""
    name = "HubSpot portal / HubSpotポータル"
    try:
        account = hubspot.read_account_details()
    except HubspotFreeeError as exc:
        return hubspot_failure(name, exc, "HubSpot")
    mismatch = token_portal_problem(account.portal_id, configured)
    if mismatch is not None:
        return problem(name, *mismatch)
    return ok(
        name,
        f"the access token belongs to portal {account.portal_id} = HUBSPOT_PORTAL_ID / ポータルが一致しています",
    )


def check_won_stages(hubspot: HubSpotReader, rules: WonStageRules) -> CheckResult:
    """Every pipeline whose deals are invoiced has at least one won stage (sdk/pipelines.py rules)."""
    name = "won stages / 受注ステージ"
    try:
        pipelines = [p for p in hubspot.read_pipelines() if not p.archived]
    except HubspotFreeeError as exc:
        return hubspot_failure(name, exc, "HubSpot")
    won = won_stages(pipelines, rules)
    known = {p.id for p in pipelines}
    stage_ids = {s.id for p in pipelines for s in p.stages}
    considered = [p for p in pipelines if not rules.pipelines or p.id in rules.pipelines]
    issues: list[str] = []
    fixes: list[str] = []
    for pipeline in considered:
        if not any(pid == pipeline.id for pid, _ in won):
            issues.append(
                f"pipeline {pipeline.label!r} ({pipeline.id}) has no won stage / 受注ステージがありません"
            )
            fixes.append(
                f"mark a stage of {pipeline.label!r} closed won (probability 100%) in HubSpot, or add its stage id "
                "to WON_STAGES__EXTRA_STAGE_IDS, or list only invoiced pipelines in WON_STAGES__PIPELINES"
            )
    for missing in sorted(set(rules.pipelines) - known):
        issues.append(
            f"WON_STAGES__PIPELINES names {missing}, which is not a deal pipeline / 存在しないパイプライン"
        )
        fixes.append(f"remove {missing} from WON_STAGES__PIPELINES")
    for missing in sorted(set(rules.extra_stage_ids) - stage_ids):
        issues.append(f"WON_STAGES__EXTRA_STAGE_IDS names {missing}, which is no stage / 存在しないステージ")
        fixes.append(f"remove {missing} from WON_STAGES__EXTRA_STAGE_IDS")
    if issues:
        return problem(name, "; ".join(issues), "; ".join(fixes) + " / 受注ステージを設定してください")
    labels = {(p.id, s.id): f"{p.label}: {s.label}" for p in pipelines for s in p.stages}
    found = ", ".join(sorted(labels[key] for key in won))
    return ok(name, f"{len(considered)} pipeline(s), won: {found} / 受注ステージ確認済み")


def check_properties(hubspot: HubSpotReader, names: PropertyNames, object_type: str) -> CheckResult:
    """Every DESIGN §5 property of ``object_type`` exists with the type (and options) expected."""
    name = f"properties: {object_type} / プロパティ"
    definitions = property_definitions(names)[object_type]
    try:
        present = hubspot.read_properties(object_type)
    except HubspotFreeeError as exc:
        scopes = {"deals": "crm.schemas.deals.read", "companies": "crm.schemas.companies.read"}
        return hubspot_failure(name, exc, "HubSpot", (scopes.get(object_type, "e-commerce"),))
    fields = {str(getattr(names, f)): f for f in type(names).model_fields if f != "group"}
    missing = [str(d["name"]) for d in definitions if d["name"] not in present]
    wrong: list[str] = []
    for definition in definitions:
        found = present.get(definition["name"])
        if found is None:
            continue
        if found.get("type") != definition["type"]:
            env = env_name(f"properties.{fields.get(definition['name'], '?')}")
            wrong.append(
                f"{definition['name']} is {found.get('type')}, expected {definition['type']} "
                f"(delete it in HubSpot and run setup again, or point {env} at another name)"
            )
            continue
        lacking = [
            o["value"] for o in definition.get("options", []) if o["value"] not in found.get("options", [])
        ]
        if lacking:
            wrong.append(
                f"{definition['name']} lacks the option(s) {', '.join(lacking)} (add them in HubSpot)"
            )
    if missing or wrong:
        detail = "; ".join(
            ([f"missing / ありません: {', '.join(missing)}"] if missing else [])
            + ([f"wrong type / 型が違います: {'; '.join(wrong)}"] if wrong else [])
        )
        fix = "run `hubspot-freee setup hubspot` (creates what is missing) / `hubspot-freee setup hubspot` を実行"
        if wrong:
            fix += "; " + "; ".join(w.split(" (", 1)[1].rstrip(")") for w in wrong)
        return problem(name, detail, fix)
    return ok(
        name,
        f"{len(definitions)} propert{'y' if len(definitions) == 1 else 'ies'} with the expected types / 確認済み",
    )


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


def check_queue(queue: Queue) -> CheckResult:
    """The queue answers, and its dead-letter queue is empty."""
    name = "queue / キュー"
    try:
        depth = queue.depth()
    except Exception as exc:  # any backend error: the queue cannot be used
        return problem(
            name,
            f"the queue {queue!r} cannot be used / キューを利用できません: {type(exc).__name__}",
            "check QUEUE_URL (and AWS credentials for sqs://) / QUEUE_URL を確認してください",
        )
    counts = (
        f"waiting {depth.visible}, in flight {depth.in_flight}, delayed {depth.delayed}, dead {depth.dead}"
    )
    if depth.dead:
        return problem(
            name,
            f"{depth.dead} message(s) in the dead-letter queue ({counts}) / デッドレターが {depth.dead} 件あります",
            "see them with `hubspot-freee dlq list`, fix the cause, then `hubspot-freee dlq redrive --all` / "
            "`hubspot-freee dlq list` で確認し、原因を解消後に `dlq redrive` してください",
        )
    return ok(name, f"{counts} / 正常")


def check_orphans(store: OrphanStore) -> CheckResult:
    """No invoice created by an attempt that had lost its claim (:mod:`sdk.usecases.orphans`) is left open."""
    from sdk.usecases.orphans import describe, open_orphans

    found = open_orphans(store)
    if not found:
        return ok(CHECK_NAMES[-1], "none / ありません")
    return problem(
        CHECK_NAMES[-1],
        f"{len(found)} second invoice(s) / 二重の請求書 {len(found)} 件:\n" + "\n".join(map(describe, found)),
        "cancel each in freee; the deal keeps its own invoice (`hubspot-freee invoice show --deal ID`) / "
        "各請求書をfreeeで取り消してください（取引の請求書はそのままです）",
    )


def _when(moment: datetime) -> str:
    return moment.isoformat(timespec="minutes")


def _left(delta: timedelta) -> str:
    minutes = int(delta.total_seconds() // 60)
    return f"{minutes // 60} h {minutes % 60} min left" if minutes >= 60 else f"{minutes} min left"


# --------------------------------------------------------------------------------------------------------------
# all of them
# --------------------------------------------------------------------------------------------------------------


def guarded(name: str, check: Callable[[], CheckResult]) -> CheckResult:
    """Run one check; an error it did not expect becomes its problem instead of stopping the others."""
    try:
        return check()
    except Exception as exc:
        return problem(
            name,
            f"the check failed unexpectedly: {type(exc).__name__}: {exc}",
            "report this with the output above",
        )


@dataclass
class Wiring:
    """How :func:`run_doctor` gets its ports (tests replace any of them)."""

    hubspot: Callable[[Settings], HubSpotReader] | None = None
    freee: Callable[[Settings, TokenStore, Any], FreeeReader] | None = None
    store: Callable[[Settings], Any] | None = None
    queue: Callable[[Settings], Queue] | None = None


def run_doctor(
    load: Callable[[], Settings], *, clock: Clock | None = None, wiring: Wiring | None = None
) -> list[CheckResult]:
    """Every check, in order, each independent of the others' failures."""
    from sdk.clock import SystemClock

    clock = clock or SystemClock()
    wiring = wiring or Wiring()
    try:
        settings: Settings | SettingsError = load()
    except SettingsError as exc:
        settings = exc
    results = [guarded("settings / 設定", lambda: check_settings(settings))]
    if isinstance(settings, SettingsError):
        return results + [skipped(n, "the settings do not load") for n in CHECK_NAMES[1:]]
    results += _hubspot_checks(settings, clock, wiring)
    results += _freee_checks(settings, clock, wiring)
    results.append(guarded("queue / キュー", lambda: _queue_check(settings, clock, wiring)))
    results.append(guarded(CHECK_NAMES[-1], lambda: check_orphans((wiring.store or _open_store)(settings))))
    return results


def _hubspot_checks(settings: Settings, clock: Clock, wiring: Wiring) -> list[CheckResult]:
    object_types = list(property_definitions(settings.properties))
    names = [
        "HubSpot portal / HubSpotポータル",
        "won stages / 受注ステージ",
        *(f"properties: {t} / プロパティ" for t in object_types),
    ]
    connection = "HubSpot connection / HubSpot接続"
    if not settings.hubspot_access_token or not settings.hubspot_access_token.get_secret_value().strip():
        return [
            skipped(connection, "HUBSPOT_ACCESS_TOKEN is not set"),
            *(skipped(n, "HUBSPOT_ACCESS_TOKEN is not set") for n in names),
        ]
    try:
        hubspot = (wiring.hubspot or _hubspot_client(clock))(settings)
    except Exception as exc:
        return [
            problem(connection, f"cannot build the HubSpot client: {exc}", "check HUBSPOT_API_BASE"),
            *(skipped(n, "no HubSpot client") for n in names),
        ]
    first = guarded(connection, lambda: check_hubspot_connection(hubspot, settings.hubspot_api_base))
    if not first.ok:
        return [first, *(skipped(n, "the HubSpot connection failed") for n in names)]
    results = [
        first,
        guarded(names[0], lambda: check_hubspot_portal(hubspot, settings.hubspot_portal_id)),
        guarded(names[1], lambda: check_won_stages(hubspot, settings.won_stages)),
    ]
    for object_type, label in zip(object_types, names[2:], strict=True):
        results.append(guarded(label, partial(check_properties, hubspot, settings.properties, object_type)))
    return results


def _freee_checks(settings: Settings, clock: Clock, wiring: Wiring) -> list[CheckResult]:
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
        store = (wiring.store or _open_store)(settings)
    except Exception as exc:
        return [
            problem(
                token_name,
                f"the store {settings.storage_url} cannot be opened: {type(exc).__name__}",
                "check STORAGE_URL",
            ),
            skipped(connection, "the token store cannot be opened"),
            skipped(codes, "the token store cannot be opened"),
        ]
    try:
        freee = (wiring.freee or _freee_client(clock))(settings, store.tokens, store.rate_limits)
    except HubspotFreeeError as exc:
        return [
            problem(token_name, f"cannot build the freee client: {exc}", "check the freee settings"),
            skipped(connection, "no freee client"),
            skipped(codes, "no freee client"),
        ]
    manager = getattr(freee, "tokens", None)
    tokens: AccessTokens = manager if manager is not None else _NoRefresh()
    token = guarded(
        token_name, lambda: check_freee_token(store.tokens, tokens, clock, settings.freee_auth_base)
    )
    if not token.ok:
        return [
            token,
            skipped(connection, "the freee token is not usable"),
            skipped(codes, "the freee token is not usable"),
        ]
    link = guarded(
        connection, lambda: check_freee_connection(freee, settings.freee_company_id, settings.freee_api_base)
    )
    if not link.ok:
        return [token, link, skipped(codes, "the freee connection or company is not usable")]
    return [token, link, guarded(codes, lambda: check_partner_codes(freee, settings.freee_use_partner_codes))]


def _queue_check(settings: Settings, clock: Clock, wiring: Wiring) -> CheckResult:
    if wiring.queue is not None:
        return check_queue(wiring.queue(settings))
    from sdk.queue import queue_from_settings

    try:
        queue = queue_from_settings(settings, clock=clock)
    except Exception as exc:
        return problem("queue / キュー", f"QUEUE_URL cannot be opened: {exc}", "check QUEUE_URL")
    return check_queue(queue)


class _NoRefresh:
    def access_token(self, *, rejected: str | None = None) -> str:
        raise FreeeAuthError(f"no token manager; run {SETUP_FREEE}")


def _hubspot_client(clock: Clock) -> Callable[[Settings], HubSpotReader]:
    def build(settings: Settings) -> HubSpotReader:
        from sdk.hubspot import HubSpotClient, build_retry

        # a doctor answers quickly: two tries, no long back-off
        return HubSpotClient(
            settings, clock=clock, retry=build_retry(clock, total=2, backoff_factor=0.2, backoff_max=1.0)
        )

    return build


def _open_store(settings: Settings) -> Any:
    from sdk.store import open_store

    return open_store(settings.storage_url)


def _freee_client(clock: Clock) -> Callable[[Settings, TokenStore, Any], FreeeReader]:
    def build(settings: Settings, tokens: TokenStore, rates: Any) -> FreeeReader:
        from sdk.freee.client import FreeeClient

        # listing companies needs no company id; one try per call so an outage is reported at once
        quick = settings.model_copy(
            update={"freee_company_id": settings.freee_company_id or 1, "freee_max_attempts": 1}
        )
        return FreeeClient.from_settings(quick, token_store=tokens, rate_store=rates, clock=clock)

    return build


def problems(results: Iterable[CheckResult]) -> list[CheckResult]:
    return [r for r in results if not r.ok]


__all__ = [
    "HUBSPOT_SCOPES",
    "CheckResult",
    "Status",
    "Wiring",
    "check_freee_connection",
    "check_freee_token",
    "check_hubspot_connection",
    "check_hubspot_portal",
    "check_orphans",
    "check_partner_codes",
    "check_properties",
    "check_queue",
    "check_settings",
    "check_won_stages",
    "problems",
    "run_doctor",
]
