"""The doctor's checks of the HubSpot app, read with the developer account's API key: its settings
(``HUBSPOT_APP_ID``, ``HUBSPOT_DEVELOPER_ACCESS_TOKEN`` or the legacy ``HUBSPOT_DEVELOPER_API_KEY``), the webhook target URL (``GET /webhooks/v3/{appId}/settings``:
this installation's webhook route, at ``PUBLIC_BASE_URL`` when that is set), the subscription to
``deal.propertyChange`` on ``dealstage`` (``GET /webhooks/v3/{appId}/subscriptions``: there and active) and the
custom workflow actions (``GET /automation/v4/actions/{appId}``: each definition of ``workflows/actions/``
there, published and as the file says, :func:`sdk.usecases.register_actions.plan_actions`).

The base URL the action definitions are compared at is ``PUBLIC_BASE_URL``, else the base of the webhook target
URL (both routes are served by one deployment); with neither, everything but ``actionUrl`` is compared.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final, Protocol
from urllib.parse import urlsplit

from sdk.admission import WEBHOOK
from sdk.errors import AuthError, DefinitionFileError, HubSpotFreeeError, Retryable
from sdk.hubspot.errors import HubSpotNotFound
from sdk.settings import env_name
from sdk.usecases.doctor.hubspot_checks import hubspot_unreachable
from sdk.usecases.doctor.results import (
    Bilingual,
    error,
    guarded,
    ok,
    skipped,
    then_skipped,
    transient_or_other,
    unexpected,
)

if TYPE_CHECKING:
    from sdk.clock import Clock
    from sdk.models.hubspot import WebhookSettings, WebhookSubscription
    from sdk.settings import Settings
    from sdk.usecases.doctor.results import CheckResult
    from sdk.usecases.doctor.routes_checks import AdmittedRoute

#: the checks after ``app.settings``, each needing the app id and the developer API key
LATER: Final = ("app.webhook_target", "app.webhook_subscription", "app.workflow_actions")
#: the subscription the webhook route needs
EVENT_TYPE: Final = "deal.propertyChange"
PROPERTY: Final = "dealstage"
#: a base URL to fill the definitions' ``{base_url}`` with when none is known (``actionUrl`` is then not compared)
_NO_BASE: Final = "https://public-url.invalid"
_WEBHOOKS_PAGE: Final = Bilingual(
    "in the HubSpot developer account: Apps → the app → Webhooks",
    "HubSpot 開発者アカウントの アプリ → 対象アプリ → Webhooks で",
)


DEVELOPER_TOKEN = "HUBSPOT_DEVELOPER_ACCESS_TOKEN"  # noqa: S105 - a setting's name, not a secret
DEVELOPER_KEY = "HUBSPOT_DEVELOPER_API_KEY"


class DeveloperReader(Protocol):
    """What these checks read with the developer API key (``sdk.hubspot.HubSpotClient.for_developer_account``)."""

    def read_webhook_settings(self, app_id: int) -> WebhookSettings | None: ...

    def list_webhook_subscriptions(self, app_id: int) -> list[WebhookSubscription]: ...

    def list_action_definitions(self, app_id: int) -> list[dict[str, Any]]: ...


def route_path(routes: Sequence[AdmittedRoute], scheme: Any, default: str) -> str:
    """The path of the route ``scheme`` admits (the webhook's, the workflow action's)."""
    return next((r.path for r in routes if r.admission is scheme), default)


def check_app_settings(settings: Settings) -> CheckResult:
    """The app id and a credential of the app's developer account are set (the OAuth access token HubSpot's
    current reference lists, or the legacy API key): ``actions register`` and the checks after this need both."""
    missing = [env_name("hubspot_app_id")] if settings.missing_error("hubspot_app_id").problems else []
    if settings.missing_developer_credentials():
        missing.append(f"{DEVELOPER_TOKEN} (or {DEVELOPER_KEY})")
    if missing:
        names = " and ".join(missing)
        return error(
            "app.settings",
            Bilingual(
                f"{names} not set: `hubspot-freee actions register` cannot run, and the app's webhook target "
                "URL, webhook subscription and workflow actions cannot be checked",
                f"{'、'.join(missing)} が未設定のため、`hubspot-freee actions register` を実行できず、アプリの"
                "Webhook送信先・購読・ワークフローアクションを確認できません",
            ),
            Bilingual(
                f"set HUBSPOT_APP_ID to the app's id (developer account → Apps) and {DEVELOPER_TOKEN} to an OAuth "
                "access token of the developer account with the scopes developers-read and developers-write (or, "
                f"where HubSpot still takes it, {DEVELOPER_KEY} to its API key)",
                f"HUBSPOT_APP_ID にアプリID（開発者アカウント → アプリ）を、{DEVELOPER_TOKEN} に開発者アカウントの "
                f"OAuth アクセストークン（スコープ developers-read・developers-write。HubSpot がまだ受け付ける場合は "
                f"{DEVELOPER_KEY} にAPIキー）を設定してください",
            ),
        )
    used = (
        "developer access token" if settings.hubspot_developer_access_token else "developer API key (legacy)"
    )
    used_ja = (
        "開発者アクセストークン" if settings.hubspot_developer_access_token else "開発者APIキー（旧方式）"
    )
    return ok(
        "app.settings",
        f"app {settings.hubspot_app_id}; {used} set",
        f"アプリ {settings.hubspot_app_id}、{used_ja}設定済み",
    )


def developer_failure(check_id: str, exc: BaseException, app_id: int, api_base: str) -> CheckResult:
    """A refused or failed call of the developer account, told as what to fix."""
    if isinstance(exc, AuthError):
        return error(
            check_id,
            Bilingual(
                f"HubSpot refused the developer account's credential ({getattr(exc, 'status', 401)}) for app"
                f" {app_id}: {exc}",
                f"HubSpot がアプリ {app_id} の開発者アカウントの認証情報を拒否しました: {exc}",
            ),
            Bilingual(
                f"set {DEVELOPER_TOKEN} to an access token (developers-read, developers-write) of the developer "
                f"account that owns app {app_id} (or {DEVELOPER_KEY} to its API key)",
                f"{DEVELOPER_TOKEN} にアプリ {app_id} を所有する開発者アカウントのアクセストークン（developers-read・"
                f"developers-write）を設定してください（または {DEVELOPER_KEY} にAPIキー）",
            ),
        )
    if isinstance(exc, HubSpotNotFound):
        return error(
            check_id,
            Bilingual(
                f"HubSpot knows no app {app_id} in this developer account (404)",
                f"この開発者アカウントにアプリ {app_id} がありません (404)",
            ),
            Bilingual(
                f"set HUBSPOT_APP_ID to the app's id (developer account → Apps), or {DEVELOPER_TOKEN} to a token "
                "of the account that owns it",
                f"HUBSPOT_APP_ID をアプリID（開発者アカウント → アプリ）に、または {DEVELOPER_TOKEN} を"
                "そのアプリを所有するアカウントのトークンにしてください",
            ),
        )
    if isinstance(exc, Retryable) and getattr(exc, "status", None) is None:
        return hubspot_unreachable(check_id, api_base)
    busy = (
        Bilingual(f"HubSpot is busy or failing: {exc}", f"HubSpot が一時的なエラーを返しました: {exc}"),
        Bilingual("try again in a few minutes", "数分後に再実行してください"),
    )
    return transient_or_other(check_id, exc, "HubSpot", busy)


def deployment_base(hook: WebhookSettings | None, webhook_path: str) -> str | None:
    """The base URL of the deployment the webhook target URL names (the URL without the webhook route), or None
    when it names no webhook route."""
    if hook is None:
        return None
    url = hook.target_url.split("?", 1)[0].rstrip("/")
    return url.removesuffix(webhook_path) if url.endswith(webhook_path) else None


def check_webhook_target(
    hook: WebhookSettings | None, app_id: int, public_base_url: str | None, webhook_path: str
) -> CheckResult:
    """HubSpot sends the app's webhooks to this installation's webhook route (at ``PUBLIC_BASE_URL`` when set)."""
    check_id = "app.webhook_target"
    expected = f"{public_base_url.rstrip('/')}{webhook_path}" if public_base_url else None
    wanted = expected or f"https://<this installation's public URL>{webhook_path}"
    set_it = Bilingual(
        f"set the target URL to {wanted} (on AWS: the stack's WebhookUrl output) {_WEBHOOKS_PAGE.en}",
        f"{_WEBHOOKS_PAGE.ja}ターゲットURLを {wanted} に設定してください（AWSではスタックの出力 WebhookUrl）",
    )
    if hook is None:
        return error(
            check_id,
            Bilingual(
                f"app {app_id} has no webhook target URL: HubSpot sends no webhook, so a deal moved to a won "
                "stage is not invoiced",
                f"アプリ {app_id} にWebhookのターゲットURLがないため、Webhookが送信されず、受注した取引の請求書が"
                "作成されません",
            ),
            set_it,
        )
    url = hook.target_url
    if expected is not None and url.rstrip("/") != expected:
        base = deployment_base(hook, webhook_path)
        fix = set_it
        if base:
            fix = Bilingual(
                f"{set_it.en}; or, if this installation is served at {base}, set PUBLIC_BASE_URL={base}",
                f"{set_it.ja}。このインストールが {base} で動いているなら PUBLIC_BASE_URL={base} にしてください",
            )
        return error(
            check_id,
            Bilingual(
                f"HubSpot sends webhooks to {url}, but this installation's webhook URL is {expected} "
                f"(PUBLIC_BASE_URL + {webhook_path}): the deliveries miss it or fail the signature check",
                f"HubSpot のWebhook送信先は {url} ですが、このインストールのWebhook URLは {expected} です"
                "（配信が届かないか、署名の検証に失敗します）",
            ),
            fix,
        )
    if not urlsplit(url).path.rstrip("/").endswith(webhook_path):
        return error(
            check_id,
            Bilingual(
                f"HubSpot sends webhooks to {url}, which is not this installation's webhook route "
                f"({webhook_path})",
                f"HubSpot のWebhook送信先 {url} は、このインストールのWebhookのルート（{webhook_path}）では"
                "ありません",
            ),
            set_it,
        )
    compared = (
        "" if expected else " (PUBLIC_BASE_URL is not set: only the path was compared)",
        "" if expected else "（PUBLIC_BASE_URL が未設定のため、パスのみ比較）",
    )
    return ok(
        check_id,
        f"HubSpot sends webhooks to {url}{compared[0]}",
        f"Webhook送信先: {url}{compared[1]}",
    )


def check_webhook_subscription(subscriptions: Sequence[WebhookSubscription], app_id: int) -> CheckResult:
    """The app is subscribed to ``deal.propertyChange`` on ``dealstage``, and the subscription is active."""
    check_id = "app.webhook_subscription"
    wanted = [s for s in subscriptions if s.event_type == EVENT_TYPE and s.property_name == PROPERTY]
    if not wanted:
        return error(
            check_id,
            Bilingual(
                f"app {app_id} is not subscribed to {EVENT_TYPE} on {PROPERTY}: HubSpot sends no stage change, "
                "so a deal moved to a won stage is not invoiced",
                f"アプリ {app_id} が {EVENT_TYPE}（{PROPERTY}）を購読していないため、ステージの変更が送信されず、"
                "受注した取引の請求書が作成されません",
            ),
            Bilingual(
                f"{_WEBHOOKS_PAGE.en} → Create subscription: object deal, event 'property change', property "
                f"{PROPERTY}; then activate it",
                f"{_WEBHOOKS_PAGE.ja}購読を作成してください（オブジェクト: 取引、イベント: プロパティの変更、"
                f"プロパティ: {PROPERTY}）。その後、有効にしてください",
            ),
        )
    active = [s for s in wanted if s.active]
    if not active:
        ids = ", ".join(s.id for s in wanted)
        return error(
            check_id,
            Bilingual(
                f"the subscription to {EVENT_TYPE} on {PROPERTY} ({ids}) is paused: HubSpot sends nothing",
                f"{EVENT_TYPE}（{PROPERTY}）の購読（{ids}）が一時停止中のため、何も送信されません",
            ),
            Bilingual(
                f"activate it {_WEBHOOKS_PAGE.en} → the subscription → Activate",
                f"{_WEBHOOKS_PAGE.ja}その購読を有効にしてください",
            ),
        )
    return ok(
        check_id,
        f"{EVENT_TYPE} on {PROPERTY} is active (subscription {active[0].id})",
        f"{EVENT_TYPE}（{PROPERTY}）の購読は有効です（{active[0].id}）",
    )


def check_workflow_actions(
    reader: DeveloperReader,
    app_id: int,
    definitions: Path,
    base: str | None,
    *,
    base_is_setting: bool,
    api_base: str,
) -> CheckResult:
    """Each definition file of ``definitions`` is defined in the app, published, and as the file says (at
    ``base``; without one, but for ``actionUrl``)."""
    from sdk.usecases.register_actions import load_action_files, plan_actions

    check_id = "app.workflow_actions"
    try:
        files = load_action_files(definitions, base or _NO_BASE)
    except DefinitionFileError as exc:
        return error(
            check_id,
            Bilingual(f"the action definitions cannot be read: {exc}", f"アクション定義を読めません: {exc}"),
            Bilingual("fix the file named", "示されたファイルを修正してください"),
        )
    try:
        existing = reader.list_action_definitions(app_id)
    except HubSpotFreeeError as exc:
        return developer_failure(check_id, exc, app_id, api_base)
    register = "hubspot-freee actions register"
    if not base_is_setting:
        register += f" --base-url {base or 'https://<public URL>'}"
    problems: list[Bilingual] = []
    for step in plan_actions(files, existing):
        name, source = step.action.action_name, f"workflows/actions/{step.action.path.name}"
        if step.match is None:
            problems.append(
                Bilingual(
                    f"'{name}' ({source}) is not defined in app {app_id}: workflows cannot use it",
                    f"'{name}'（{source}）がアプリ {app_id} に定義されていないため、ワークフローで使えません",
                )
            )
            continue
        definition = str(step.match.get("id", "?"))
        changed = [c for c in step.changed if base or c != "actionUrl"]
        if "published" in changed:
            changed.remove("published")
            problems.append(
                Bilingual(
                    f"'{name}' (definition {definition}) is not published: workflows cannot use it",
                    f"'{name}'（定義 {definition}）が公開されていないため、ワークフローで使えません",
                )
            )
        if "actionUrl" in changed:
            changed.remove("actionUrl")
            problems.append(
                Bilingual(
                    f"'{name}' calls {step.match.get('actionUrl')}, not {step.action.definition['actionUrl']}",
                    f"'{name}' の呼び出し先が {step.match.get('actionUrl')} で、"
                    f"{step.action.definition['actionUrl']} ではありません",
                )
            )
        if changed:
            fields = ", ".join(changed)
            problems.append(
                Bilingual(
                    f"'{name}' (definition {definition}) differs from {source} in: {fields}",
                    f"'{name}'（定義 {definition}）が {source} と異なります: {fields}",
                )
            )
    if problems:
        return error(
            check_id,
            Bilingual("; ".join(p.en for p in problems), "。".join(p.ja for p in problems)),
            Bilingual(
                f"run `{register}` (creates or updates the definitions in HubSpot)",
                f"`{register}` を実行してください（HubSpot の定義を作成・更新します）",
            ),
        )
    urls = ", ".join(str(step.action.definition["actionUrl"]) for step in plan_actions(files, existing))
    if base is None:
        return ok(
            check_id,
            f"{len(files)} action(s) published and as in workflows/actions (their URL was not compared: neither "
            "PUBLIC_BASE_URL nor the webhook target URL names this installation)",
            f"{len(files)} 件のアクションが公開済みで定義どおりです（URLは未比較）",
        )
    return ok(
        check_id,
        f"{len(files)} action(s) published and as in workflows/actions: {urls}",
        f"{len(files)} 件のアクションが公開済みで定義どおりです: {urls}",
    )


def app_checks(
    settings: Settings,
    build: Callable[[Settings], DeveloperReader],
    routes: Sequence[AdmittedRoute],
    definitions: Path | None,
) -> list[CheckResult]:
    """The HubSpot app's checks, in order; each skipped when what it needs is missing or an earlier one failed."""
    first = check_app_settings(settings)
    app_id = settings.hubspot_app_id
    if not first.ok or app_id is None:
        because = Bilingual(
            f"HUBSPOT_APP_ID / {DEVELOPER_TOKEN} are not set",
            f"HUBSPOT_APP_ID / {DEVELOPER_TOKEN} が未設定です",
        )
        return then_skipped(first, LATER, because)
    api_base = settings.hubspot_api_base
    webhook_path = route_path(routes, WEBHOOK, "/webhooks/hubspot")
    try:
        reader = build(settings)
        subscriptions = reader.list_webhook_subscriptions(app_id)
        hook = reader.read_webhook_settings(app_id)
    except Exception as exc:  # expected refusals are told as what to fix; anything else as it is
        failed = (
            developer_failure(LATER[0], exc, app_id, api_base)
            if isinstance(exc, HubSpotFreeeError)
            else unexpected(LATER[0], exc)
        )
        because = Bilingual("the developer account did not answer", "開発者アカウントから応答がありません")
        return [first, *then_skipped(failed, LATER[1:], because)]
    public = settings.public_base_url
    results = [
        first,
        guarded(LATER[0], lambda: check_webhook_target(hook, app_id, public, webhook_path)),
        guarded(LATER[1], lambda: check_webhook_subscription(subscriptions, app_id)),
    ]
    if definitions is None:
        because = Bilingual(
            "no folder of action definitions was given", "アクション定義のフォルダがありません"
        )
        return [*results, skipped(LATER[2], because)]
    base = public.rstrip("/") if public else deployment_base(hook, webhook_path)
    results.append(
        guarded(
            LATER[2],
            lambda: check_workflow_actions(
                reader, app_id, definitions, base, base_is_setting=bool(public), api_base=api_base
            ),
        )
    )
    return results


def developer_client(clock: Clock) -> Callable[[Settings], DeveloperReader]:
    def build(settings: Settings) -> DeveloperReader:
        from sdk.hubspot import HubSpotClient, build_retry

        return HubSpotClient.for_developer_account(
            settings, clock=clock, retry=build_retry(clock, total=2, backoff_factor=0.2, backoff_max=1.0)
        )

    return build


__all__ = [
    "DeveloperReader",
    "app_checks",
    "check_app_settings",
    "check_webhook_subscription",
    "check_webhook_target",
    "check_workflow_actions",
    "deployment_base",
    "developer_client",
]
