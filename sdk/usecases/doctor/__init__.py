"""``hubspot-freee doctor``: is this installation ready to invoice, and will every route answer? One small check
per question.

Each check is a function that returns a :class:`CheckResult` (a stable id, a level, what was found and the exact
command or setting that fixes it, in English and Japanese) and never raises: a failure it expects (a refused token,
an unreachable service) is its answer, and anything else is caught by :func:`guarded` and reported as that check's
error, so one broken connection never hides the others. A check that cannot run because another failed says so
(``skipped``, with the reason). An error makes the command exit 1; a warning (works today, not for long) does not.

The checks, in order (:func:`check_ids`):

* ``settings``: every setting loads, and the ones invoicing needs are set;
* ``routes.<secret>`` and ``routes.hubspot_portal_id``: what each HTTP route of the route table needs, or it
  answers 503 ``not_configured`` (:mod:`~sdk.usecases.doctor.routes_checks`);
* ``hubspot.connection``, ``hubspot.portal`` (the access token's portal is ``HUBSPOT_PORTAL_ID``, the tenant
  boundary of :mod:`sdk.tenant`), ``hubspot.won_stages`` per pipeline, ``hubspot.properties.<type>``
  (:mod:`~sdk.usecases.doctor.hubspot_checks`);
* ``app.settings``, ``app.webhook_target``, ``app.webhook_subscription``, ``app.workflow_actions``: the HubSpot
  app, read with the developer API key (:mod:`~sdk.usecases.doctor.app_checks`);
* ``store``: the store of ``STORAGE_URL`` exists with this version's schema
  (:mod:`~sdk.usecases.doctor.infra_checks`);
* ``freee.token`` (refreshed when expired; a warning when its refresh token nears freee's 90 days),
  ``freee.connection``, ``freee.partner_codes`` (:mod:`~sdk.usecases.doctor.freee_checks`);
* ``queue``: the queue of ``QUEUE_URL`` and its dead-letter queue exist, and no message is dead;
* ``orphans``: no second invoice for a deal is left open (:mod:`sdk.usecases.orphans`).

No check prints or returns a secret. The route table (``functions.app.ROUTES``) and the folder of workflow action
definitions (``workflows/actions``) are given by the caller: ``sdk`` imports neither.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

from sdk.errors import SettingsError
from sdk.properties import property_definitions
from sdk.settings import PropertyNames
from sdk.usecases.doctor.app_checks import (
    DeveloperReader,
    app_checks,
    check_app_settings,
    check_webhook_subscription,
    check_webhook_target,
    check_workflow_actions,
    developer_client,
)
from sdk.usecases.doctor.freee_checks import (
    SETUP_FREEE,
    FreeeReader,
    check_freee_connection,
    check_freee_token,
    check_partner_codes,
    freee_checks,
    freee_client,
)
from sdk.usecases.doctor.hubspot_checks import (
    HUBSPOT_SCOPES,
    HubSpotReader,
    check_hubspot_connection,
    check_hubspot_portal,
    check_properties,
    check_won_stages,
    hubspot_checks,
    hubspot_client,
)
from sdk.usecases.doctor.infra_checks import check_queue, check_queue_url, check_store
from sdk.usecases.doctor.results import (
    TITLES,
    Bilingual,
    CheckResult,
    Level,
    error,
    guarded,
    ok,
    open_store,
    skipped,
    unexpected,
)
from sdk.usecases.doctor.routes_checks import AdmittedRoute, route_check_ids, route_checks

if TYPE_CHECKING:
    from sdk.clock import Clock
    from sdk.freee.tokens import TokenStore
    from sdk.queue import Queue
    from sdk.settings import Settings
    from sdk.usecases.orphans import OrphanStore

#: what invoicing needs besides HubSpot's credentials (a private app's token, or a public app's refresh token, id
#: and secret); the portal id and the routes' own settings are the ``routes.*`` checks
REQUIRED_SETTINGS: Final = (
    "freee_client_id",
    "freee_client_secret",
    "freee_company_id",
)


def check_ids(routes: Sequence[AdmittedRoute] = (), properties: PropertyNames | None = None) -> list[str]:
    """Every check's id, in the order :func:`run_doctor` reports them."""
    fixed = list(TITLES)
    at = fixed.index("hubspot.won_stages") + 1
    object_types = property_definitions(properties or PropertyNames())
    return [
        fixed[0],
        *route_check_ids(routes),
        *fixed[1:at],
        *(f"hubspot.properties.{t}" for t in object_types),
        *fixed[at:],
    ]


def check_settings(loaded: Settings | SettingsError) -> CheckResult:
    """Every setting loads, and the ones invoicing needs are set (each named with its variable)."""
    if isinstance(loaded, SettingsError):
        found = "; ".join(loaded.problems)
        return error(
            "settings",
            Bilingual(f"the settings do not load: {found}", f"設定を読み込めません: {found}"),
            Bilingual(
                "fix each setting named (environment variable or hubspot-freee.toml)",
                "示された各設定を修正してください（環境変数または hubspot-freee.toml）",
            ),
        )
    missing = loaded.hubspot_auth_error().problems + loaded.missing_error(*REQUIRED_SETTINGS).problems
    if missing:
        found = "; ".join(missing)
        extra = Bilingual("", "")
        if any("freee_company_id" in m for m in missing):
            extra = Bilingual(
                f"; {SETUP_FREEE} finds FREEE_COMPANY_ID",
                f"。FREEE_COMPANY_ID は {SETUP_FREEE} で設定できます",
            )
        return error(
            "settings",
            Bilingual(
                f"what invoicing needs is not set: {found}", f"請求書の作成に必要な設定がありません: {found}"
            ),
            Bilingual(
                f"set each missing variable (environment or hubspot-freee.toml){extra.en}",
                f"未設定の項目を設定してください（環境変数または hubspot-freee.toml）{extra.ja}",
            ),
        )
    return ok(
        "settings",
        "every setting loads and the ones invoicing needs are set",
        "設定を読み込めました。請求書の作成に必要な設定はすべてあります",
    )


def check_orphans(store: OrphanStore) -> CheckResult:
    """No invoice created by an attempt that had lost its claim (:mod:`sdk.usecases.orphans`) is left open."""
    from sdk.usecases.orphans import describe, open_orphans

    found = open_orphans(store)
    if not found:
        return ok("orphans", "none", "ありません")
    listed = "\n".join(map(describe, found))
    return error(
        "orphans",
        Bilingual(
            f"{len(found)} second invoice(s) for a deal:\n{listed}",
            f"二重の請求書が {len(found)} 件あります（上記）",
        ),
        Bilingual(
            "cancel each in freee; the deal keeps its own invoice (`hubspot-freee invoice show --deal ID`)",
            "各請求書を freee で取り消してください（取引の請求書はそのままです）",
        ),
    )


@dataclass
class Wiring:
    """How :func:`run_doctor` gets its ports (tests replace any of them). A given ``store`` or ``queue`` is used
    as it is, without the look at ``STORAGE_URL`` / ``QUEUE_URL`` that comes first otherwise."""

    hubspot: Callable[[Settings], HubSpotReader] | None = None
    developer: Callable[[Settings], DeveloperReader] | None = None
    freee: Callable[[Settings, TokenStore, Any], FreeeReader] | None = None
    store: Callable[[Settings], Any] | None = None
    queue: Callable[[Settings], Queue] | None = None


def run_doctor(
    load: Callable[[], Settings],
    *,
    routes: Sequence[AdmittedRoute] = (),
    actions_dir: Path | None = None,
    clock: Clock | None = None,
    wiring: Wiring | None = None,
) -> list[CheckResult]:
    """Every check, in order (:func:`check_ids`), each independent of the others' failures. ``routes`` is the
    route table (``functions.app.ROUTES``), ``actions_dir`` the folder of workflow action definitions."""
    from sdk.clock import SystemClock

    clock = clock or SystemClock()
    wiring = wiring or Wiring()
    try:
        settings: Settings | SettingsError = load()
    except SettingsError as exc:
        settings = exc
    results = [guarded("settings", lambda: check_settings(settings))]
    if isinstance(settings, SettingsError):
        because = Bilingual("the settings do not load", "設定を読み込めません")
        return results + [skipped(check_id, because) for check_id in check_ids(routes)[1:]]
    results += route_checks(settings, routes)
    results += hubspot_checks(settings, wiring.hubspot or hubspot_client(clock))
    results += app_checks(settings, wiring.developer or developer_client(clock), routes, actions_dir)
    store_result, store = _store(settings, wiring)
    results.append(store_result)
    results += freee_checks(settings, clock, store, wiring.freee or freee_client(clock))
    results.append(guarded("queue", lambda: _queue(settings, clock, wiring)))
    if store is None:
        results.append(skipped("orphans", Bilingual("the store cannot be opened", "ストアを開けません")))
    else:
        results.append(guarded("orphans", lambda: check_orphans(store)))
    return results


def _store(settings: Settings, wiring: Wiring) -> tuple[CheckResult, Any | None]:
    given = wiring.store
    try:
        if given is None:
            return check_store(settings, open_store)
        store = given(settings)
    except Exception as exc:
        return unexpected("store", exc), None
    return ok("store", f"{settings.storage_url}: opened", f"{settings.storage_url}: 開けました"), store


def _queue(settings: Settings, clock: Clock, wiring: Wiring) -> CheckResult:
    if wiring.queue is not None:
        return check_queue(wiring.queue(settings))
    from sdk.queue import queue_from_settings

    return check_queue_url(settings, lambda s: queue_from_settings(s, clock=clock))


def errors(results: Iterable[CheckResult]) -> list[CheckResult]:
    return [r for r in results if r.level is Level.ERROR]


def warnings(results: Iterable[CheckResult]) -> list[CheckResult]:
    return [r for r in results if r.level is Level.WARNING]


__all__ = [
    "HUBSPOT_SCOPES",
    "AdmittedRoute",
    "Bilingual",
    "CheckResult",
    "Level",
    "Wiring",
    "check_app_settings",
    "check_freee_connection",
    "check_freee_token",
    "check_hubspot_connection",
    "check_hubspot_portal",
    "check_ids",
    "check_orphans",
    "check_partner_codes",
    "check_properties",
    "check_queue",
    "check_queue_url",
    "check_settings",
    "check_store",
    "check_webhook_subscription",
    "check_webhook_target",
    "check_won_stages",
    "check_workflow_actions",
    "errors",
    "run_doctor",
    "warnings",
]
