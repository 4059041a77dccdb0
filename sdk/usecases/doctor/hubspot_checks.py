"""The doctor's HubSpot checks: the connection (the access token works), the portal (the token's portal is
``HUBSPOT_PORTAL_ID``, the tenant boundary of :mod:`sdk.tenant`), the won stages per pipeline and the DESIGN §5
properties per object type."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from functools import partial
from typing import TYPE_CHECKING, Any, Final, Protocol

from sdk.errors import AuthError, HubSpotFreeeError, Retryable
from sdk.pipelines import won_stages
from sdk.properties import property_definitions
from sdk.settings import PropertyNames, env_name
from sdk.tenant import token_portal_problem
from sdk.usecases.doctor.results import (
    Bilingual,
    error,
    guarded,
    ok,
    skipped,
    then_skipped,
    transient_or_other,
)

if TYPE_CHECKING:
    from sdk.clock import Clock
    from sdk.models.hubspot import AccountDetails, Pipeline
    from sdk.settings import Settings, WonStageRules
    from sdk.usecases.doctor.results import CheckResult

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


class HubSpotReader(Protocol):
    def read_pipelines(self, *, refresh: bool = False) -> list[Pipeline]: ...

    def read_properties(self, object_type: str) -> Mapping[str, Mapping[str, Any]]: ...

    def read_account_details(self) -> AccountDetails: ...


def hubspot_unreachable(check_id: str, api_base: str) -> CheckResult:
    """No answer from HubSpot at all (connection refused, DNS, time-out): what to check."""
    return error(
        check_id,
        Bilingual(f"HubSpot unreachable at {api_base}", f"HubSpot に接続できません ({api_base})"),
        Bilingual(
            "check HUBSPOT_API_BASE, the network and any proxy",
            "HUBSPOT_API_BASE、ネットワーク、プロキシを確認してください",
        ),
    )


def hubspot_failure(
    check_id: str, exc: BaseException, api_base: str, scopes: Sequence[str] = HUBSPOT_SCOPES
) -> CheckResult:
    status = getattr(exc, "status", None)
    if isinstance(exc, AuthError) and status == 403:
        return error(
            check_id,
            Bilingual(
                f"HubSpot refused the call for missing scopes (403): {exc}",
                f"スコープが不足しているため HubSpot が拒否しました (403): {exc}",
            ),
            Bilingual(
                "grant the private app these scopes, then update HUBSPOT_ACCESS_TOKEN if it changed: "
                + ", ".join(scopes),
                "非公開アプリに次のスコープを追加し、トークンが変わったら HUBSPOT_ACCESS_TOKEN を更新してください: "
                + ", ".join(scopes),
            ),
        )
    fix = getattr(exc, "fix", None)  # a public app's token: refused, or the installation disconnected
    if isinstance(exc, AuthError) and isinstance(fix, str):
        return error(check_id, Bilingual(f"{exc} ({api_base})", f"{exc}（{api_base}）"), Bilingual(fix, fix))
    if isinstance(exc, AuthError):
        return error(
            check_id,
            Bilingual(
                f"HubSpot refused the access token (401) at {api_base}",
                f"HubSpot がアクセストークンを拒否しました (401, {api_base})",
            ),
            Bilingual(
                "set HUBSPOT_ACCESS_TOKEN to the private app's access token (Settings → Integrations → "
                "Private apps → Auth)",
                "HUBSPOT_ACCESS_TOKEN に非公開アプリのアクセストークンを設定してください（設定 → 連携 → "
                "非公開アプリ → 認証）",
            ),
        )
    if isinstance(exc, Retryable) and status is None:
        return hubspot_unreachable(check_id, api_base)
    busy = (
        Bilingual(
            f"HubSpot answered {status} at {api_base} (rate limit or outage)",
            f"HubSpot が一時的なエラー {status} を返しました ({api_base})",
        ),
        Bilingual(
            "try again in a few minutes; https://status.hubspot.com",
            "数分後に再実行してください（https://status.hubspot.com）",
        ),
    )
    return transient_or_other(check_id, exc, "HubSpot", busy)


def check_hubspot_connection(hubspot: HubSpotReader, api_base: str) -> CheckResult:
    """The access token works (one read of the deal pipelines)."""
    check_id = "hubspot.connection"
    try:
        pipelines = hubspot.read_pipelines()
    except HubSpotFreeeError as exc:
        return hubspot_failure(check_id, exc, api_base)
    return ok(
        check_id,
        f"{api_base}: token accepted, {len(pipelines)} deal pipeline(s)",
        f"{api_base}: 接続できました（取引パイプライン {len(pipelines)} 件）",
    )


def check_hubspot_portal(hubspot: HubSpotReader, configured: int | None) -> CheckResult:
    """The access token belongs to ``HUBSPOT_PORTAL_ID`` (``GET /account-info/v3/details``): the installation
    serves that one portal and reads it with this token."""
    check_id = "hubspot.portal"
    try:
        account = hubspot.read_account_details()
    except HubSpotFreeeError as exc:
        return hubspot_failure(check_id, exc, "HubSpot")
    mismatch = token_portal_problem(account.portal_id, configured)
    if mismatch is not None:
        return error(
            check_id,
            Bilingual(mismatch.detail_en, mismatch.detail_ja),
            Bilingual(mismatch.fix_en, mismatch.fix_ja),
        )
    return ok(
        check_id,
        f"the access token belongs to portal {account.portal_id} = HUBSPOT_PORTAL_ID",
        f"アクセストークンのポータル {account.portal_id} は HUBSPOT_PORTAL_ID と一致しています",
    )


def check_won_stages(hubspot: HubSpotReader, rules: WonStageRules) -> CheckResult:
    """Every pipeline whose deals are invoiced has at least one won stage (sdk/pipelines.py rules)."""
    check_id = "hubspot.won_stages"
    try:
        pipelines = [p for p in hubspot.read_pipelines() if not p.archived]
    except HubSpotFreeeError as exc:
        return hubspot_failure(check_id, exc, "HubSpot")
    won = won_stages(pipelines, rules)
    known = {p.id for p in pipelines}
    stage_ids = {s.id for p in pipelines for s in p.stages}
    considered = [p for p in pipelines if not rules.pipelines or p.id in rules.pipelines]
    issues: list[Bilingual] = []
    fixes: list[Bilingual] = []
    for pipeline in considered:
        if not any(pid == pipeline.id for pid, _ in won):
            issues.append(
                Bilingual(
                    f"pipeline {pipeline.label!r} ({pipeline.id}) has no won stage: its deals are never invoiced",
                    f"パイプライン {pipeline.label!r} ({pipeline.id}) に受注ステージがないため、請求書が作成されません",
                )
            )
            fixes.append(
                Bilingual(
                    f"mark a stage of {pipeline.label!r} closed won (probability 100%) in HubSpot, or add its "
                    "stage id to WON_STAGES__EXTRA_STAGE_IDS, or list only invoiced pipelines in "
                    "WON_STAGES__PIPELINES",
                    f"HubSpot で {pipeline.label!r} のステージを受注（確度100%）にするか、そのステージIDを "
                    "WON_STAGES__EXTRA_STAGE_IDS に追加するか、請求するパイプラインだけを WON_STAGES__PIPELINES "
                    "に設定してください",
                )
            )
    for missing in sorted(set(rules.pipelines) - known):
        issues.append(
            Bilingual(
                f"WON_STAGES__PIPELINES names {missing}, which is not a deal pipeline",
                f"WON_STAGES__PIPELINES の {missing} は存在しないパイプラインです",
            )
        )
        fixes.append(
            Bilingual(
                f"remove {missing} from WON_STAGES__PIPELINES",
                f"WON_STAGES__PIPELINES から {missing} を削除してください",
            )
        )
    for missing in sorted(set(rules.extra_stage_ids) - stage_ids):
        issues.append(
            Bilingual(
                f"WON_STAGES__EXTRA_STAGE_IDS names {missing}, which is no stage",
                f"WON_STAGES__EXTRA_STAGE_IDS の {missing} は存在しないステージです",
            )
        )
        fixes.append(
            Bilingual(
                f"remove {missing} from WON_STAGES__EXTRA_STAGE_IDS",
                f"WON_STAGES__EXTRA_STAGE_IDS から {missing} を削除してください",
            )
        )
    if issues:
        return error(check_id, joined(issues), joined(fixes))
    labels = {(p.id, s.id): f"{p.label}: {s.label}" for p in pipelines for s in p.stages}
    found = ", ".join(sorted(labels[key] for key in won))
    return ok(
        check_id,
        f"{len(considered)} pipeline(s), won: {found}",
        f"パイプライン {len(considered)} 件の受注ステージ: {found}",
    )


def joined(parts: Sequence[Bilingual]) -> Bilingual:
    """Several findings (or fixes) as one, each language joined with ``; ``."""
    return Bilingual("; ".join(p.en for p in parts), "。".join(p.ja for p in parts))


def check_properties(hubspot: HubSpotReader, names: PropertyNames, object_type: str) -> CheckResult:
    """Every DESIGN §5 property of ``object_type`` exists with the type (and options) expected."""
    check_id = f"hubspot.properties.{object_type}"
    definitions = property_definitions(names)[object_type]
    try:
        present = hubspot.read_properties(object_type)
    except HubSpotFreeeError as exc:
        scopes = {"deals": "crm.schemas.deals.read", "companies": "crm.schemas.companies.read"}
        return hubspot_failure(check_id, exc, "HubSpot", (scopes.get(object_type, "e-commerce"),))
    fields = {str(getattr(names, f)): f for f in type(names).model_fields if f != "group"}
    missing = [str(d["name"]) for d in definitions if d["name"] not in present]
    wrong: list[Bilingual] = []
    fixes = [
        Bilingual(
            "run `hubspot-freee setup hubspot` (creates what is missing)",
            "`hubspot-freee setup hubspot` を実行してください（ないものを作成します）",
        )
    ]
    for definition in definitions:
        found = present.get(definition["name"])
        if found is None:
            continue
        if found.get("type") != definition["type"]:
            env = env_name(f"properties.{fields.get(definition['name'], '?')}")
            wrong.append(
                Bilingual(
                    f"{definition['name']} is {found.get('type')}, expected {definition['type']}",
                    f"{definition['name']} の型が {found.get('type')} です（{definition['type']} が必要）",
                )
            )
            fixes.append(
                Bilingual(
                    f"change {definition['name']}'s field type in HubSpot, or delete it there and run setup again,"
                    f" or point {env} at another name",
                    f"HubSpot で {definition['name']} のフィールドタイプを変更するか、削除して setup を再実行するか、"
                    f"{env} で別の名前を指定してください",
                )
            )
            continue
        lacking = [
            o["value"] for o in definition.get("options", []) if o["value"] not in found.get("options", [])
        ]
        if lacking:
            options = ", ".join(lacking)
            wrong.append(
                Bilingual(
                    f"{definition['name']} lacks the option(s) {options}",
                    f"{definition['name']} に選択肢 {options} がありません",
                )
            )
            fixes.append(
                Bilingual(
                    "run `hubspot-freee setup hubspot` (it adds the missing options)",
                    "`hubspot-freee setup hubspot` を実行してください（足りない選択肢を追加します）",
                )
            )
    if missing or wrong:
        found_wrong = joined(wrong)
        parts = (
            [Bilingual(f"missing: {', '.join(missing)}", f"ありません: {', '.join(missing)}")]
            if missing
            else []
        )
        if wrong:
            parts.append(Bilingual(f"wrong: {found_wrong.en}", f"不一致: {found_wrong.ja}"))
        return error(check_id, joined(parts), joined(fixes if wrong else fixes[:1]))
    count = len(definitions)
    return ok(
        check_id,
        f"{count} propert{'y' if count == 1 else 'ies'} with the expected types",
        f"{count} 件のプロパティを確認しました",
    )


def hubspot_checks(settings: Settings, build: Callable[[Settings], HubSpotReader]) -> list[CheckResult]:
    """The HubSpot checks, each skipped when the access token is not set or the connection fails."""
    object_types = list(property_definitions(settings.properties))
    later = [
        "hubspot.portal",
        "hubspot.won_stages",
        *(f"hubspot.properties.{t}" for t in object_types),
    ]
    connection = "hubspot.connection"
    missing = settings.hubspot_auth_error().problems
    if missing:
        text = "; ".join(missing)
        because = Bilingual(text, f"HubSpot の認証情報が未設定です: {text}")
        return then_skipped(skipped(connection, because), later, because)
    try:
        hubspot = build(settings)
    except Exception as exc:
        failed = error(
            connection,
            Bilingual(
                f"cannot build the HubSpot client: {exc}", f"HubSpot クライアントを作成できません: {exc}"
            ),
            Bilingual("check HUBSPOT_API_BASE", "HUBSPOT_API_BASE を確認してください"),
        )
        return then_skipped(failed, later, Bilingual("no HubSpot client", "HubSpot クライアントがありません"))
    first = guarded(connection, lambda: check_hubspot_connection(hubspot, settings.hubspot_api_base))
    if not first.ok:
        because = Bilingual("the HubSpot connection failed", "HubSpot に接続できません")
        return then_skipped(first, later, because)
    results = [
        first,
        guarded("hubspot.portal", lambda: check_hubspot_portal(hubspot, settings.hubspot_portal_id)),
        guarded("hubspot.won_stages", lambda: check_won_stages(hubspot, settings.won_stages)),
    ]
    for object_type in object_types:
        check_id = f"hubspot.properties.{object_type}"
        results.append(
            guarded(check_id, partial(check_properties, hubspot, settings.properties, object_type))
        )
    return results


def hubspot_client(clock: Clock) -> Callable[[Settings], HubSpotReader]:
    def build(settings: Settings) -> HubSpotReader:
        from sdk.hubspot import HubSpotClient, build_retry
        from sdk.store import open_store

        # a public app's token row is in the store (opened only then: a private app's token needs none)
        tokens = open_store(settings.storage_url).hubspot_tokens if settings.hubspot_oauth else None
        # a doctor answers quickly: two tries, no long back-off
        return HubSpotClient(
            settings,
            clock=clock,
            retry=build_retry(clock, total=2, backoff_factor=0.2, backoff_max=1.0),
            token_store=tokens,
        )

    return build
