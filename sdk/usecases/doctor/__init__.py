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

The HubSpot checks are in :mod:`sdk.usecases.doctor.hubspot_checks`, the freee ones in
:mod:`sdk.usecases.doctor.freee_checks`, what a check answers in :mod:`sdk.usecases.doctor.results`; the
settings, queue and orphan checks and :func:`run_doctor` here.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

from sdk.errors import SettingsError
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
from sdk.usecases.doctor.results import (
    CHECK_NAMES,
    CheckResult,
    Status,
    guarded,
    ok,
    open_store,
    problem,
    skipped,
)

if TYPE_CHECKING:
    from sdk.clock import Clock
    from sdk.freee.tokens import TokenStore
    from sdk.queue import Queue
    from sdk.settings import Settings
    from sdk.usecases.orphans import OrphanStore

#: besides HubSpot's credentials (a private app's token, or a public app's refresh token, id and secret)
REQUIRED_SETTINGS: Final = (
    "hubspot_portal_id",
    "freee_client_id",
    "freee_client_secret",
    "freee_company_id",
)


def check_settings(loaded: Settings | SettingsError) -> CheckResult:
    """Every setting loads, and the ones invoicing needs are set (each named with its variable)."""
    name = "settings / 設定"
    if isinstance(loaded, SettingsError):
        return problem(
            name,
            "; ".join(loaded.problems),
            "fix each setting named (environment variable or hubspot-freee.toml) / 各設定を修正してください",
        )
    missing = loaded.hubspot_auth_error().problems + loaded.missing_error(*REQUIRED_SETTINGS).problems
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
    results += hubspot_checks(settings, wiring.hubspot or hubspot_client(clock))
    results += freee_checks(settings, clock, wiring.store or open_store, wiring.freee or freee_client(clock))
    results.append(guarded("queue / キュー", lambda: _queue_check(settings, clock, wiring)))
    results.append(guarded(CHECK_NAMES[-1], lambda: check_orphans((wiring.store or open_store)(settings))))
    return results


def _queue_check(settings: Settings, clock: Clock, wiring: Wiring) -> CheckResult:
    if wiring.queue is not None:
        return check_queue(wiring.queue(settings))
    from sdk.queue import queue_from_settings

    try:
        queue = queue_from_settings(settings, clock=clock)
    except Exception as exc:
        return problem("queue / キュー", f"QUEUE_URL cannot be opened: {exc}", "check QUEUE_URL")
    return check_queue(queue)


def problems(results: Iterable[CheckResult]) -> list[CheckResult]:
    return [r for r in results if not r.ok]


__all__ = [
    "CHECK_NAMES",
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
