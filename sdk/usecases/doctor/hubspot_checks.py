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
from sdk.usecases.doctor.results import guarded, ok, problem, skipped, then_skipped, transient_or_other

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
    fix = getattr(exc, "fix", None)  # a public app's token: refused, or the installation disconnected
    if isinstance(exc, AuthError) and isinstance(fix, str):
        return problem(name, f"{exc} ({api_base})", fix)
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
    busy = (
        f"HubSpot answered {status} at {api_base} (rate limit or outage) / HubSpot が一時的なエラーを返しました",
        "try again in a few minutes; https://status.hubspot.com / 数分後に再実行してください",
    )
    return transient_or_other(name, exc, "HubSpot", busy)


def check_hubspot_connection(hubspot: HubSpotReader, api_base: str) -> CheckResult:
    """The access token works (one read of the deal pipelines)."""
    name = "HubSpot connection / HubSpot接続"
    try:
        pipelines = hubspot.read_pipelines()
    except HubSpotFreeeError as exc:
        return hubspot_failure(name, exc, api_base)
    return ok(name, f"{api_base}: token accepted, {len(pipelines)} deal pipeline(s) / 接続できました")


def check_hubspot_portal(hubspot: HubSpotReader, configured: int | None) -> CheckResult:
    """The access token belongs to ``HUBSPOT_PORTAL_ID`` (``GET /account-info/v3/details``): the installation
    serves that one portal and reads it with this token."""
    name = "HubSpot portal / HubSpotポータル"
    try:
        account = hubspot.read_account_details()
    except HubSpotFreeeError as exc:
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
    except HubSpotFreeeError as exc:
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
    except HubSpotFreeeError as exc:
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
                f"(change its field type in HubSpot, or delete it there and run setup again, or point {env} at "
                "another name)"
            )
            continue
        lacking = [
            o["value"] for o in definition.get("options", []) if o["value"] not in found.get("options", [])
        ]
        if lacking:
            wrong.append(
                f"{definition['name']} lacks the option(s) {', '.join(lacking)} "
                "(run `hubspot-freee setup hubspot`: it adds them)"
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


def hubspot_checks(settings: Settings, build: Callable[[Settings], HubSpotReader]) -> list[CheckResult]:
    """The HubSpot checks, each skipped when the access token is not set or the connection fails."""
    object_types = list(property_definitions(settings.properties))
    names = [
        "HubSpot portal / HubSpotポータル",
        "won stages / 受注ステージ",
        *(f"properties: {t} / プロパティ" for t in object_types),
    ]
    connection = "HubSpot connection / HubSpot接続"
    missing = settings.hubspot_auth_error().problems
    if missing:
        because = "; ".join(missing)
        return then_skipped(skipped(connection, because), names, because)
    try:
        hubspot = build(settings)
    except Exception as exc:
        failed = problem(connection, f"cannot build the HubSpot client: {exc}", "check HUBSPOT_API_BASE")
        return then_skipped(failed, names, "no HubSpot client")
    first = guarded(connection, lambda: check_hubspot_connection(hubspot, settings.hubspot_api_base))
    if not first.ok:
        return then_skipped(first, names, "the HubSpot connection failed")
    results = [
        first,
        guarded(names[0], lambda: check_hubspot_portal(hubspot, settings.hubspot_portal_id)),
        guarded(names[1], lambda: check_won_stages(hubspot, settings.won_stages)),
    ]
    for object_type, label in zip(object_types, names[2:], strict=True):
        results.append(guarded(label, partial(check_properties, hubspot, settings.properties, object_type)))
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
