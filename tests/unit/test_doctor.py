"""The doctor's checks one by one, with small fakes (and SQLite files): each answers a question and never raises."""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from sdk.admission import CARD, CUSTOM_CODE, WEBHOOK, WORKFLOW_ACTION, Scheme
from sdk.clock import FakeClock
from sdk.errors import SettingsError
from sdk.freee.client import Company
from sdk.freee.errors import FreeeAuthError, FreeeUnavailable
from sdk.freee.tokens import MemoryTokenStore, TokenSet
from sdk.hubspot import HubSpotAuthError, HubSpotDisconnected, HubSpotRetryable
from sdk.models.hubspot import AccountDetails, Pipeline, WebhookSettings, WebhookSubscription
from sdk.properties import property_definitions
from sdk.queue import QueueDepth, queue_from_settings
from sdk.queue.sqlite import SQLiteQueue
from sdk.settings import PropertyNames, WonStageRules, load_settings
from sdk.store import OrphanInvoice
from sdk.store.sqlite.store import schema_gaps
from sdk.usecases.doctor import (
    Bilingual,
    CheckResult,
    Level,
    Wiring,
    check_freee_connection,
    check_freee_token,
    check_hubspot_connection,
    check_hubspot_portal,
    check_ids,
    check_orphans,
    check_partner_codes,
    check_properties,
    check_queue,
    check_queue_url,
    check_settings,
    check_store,
    check_webhook_subscription,
    check_webhook_target,
    check_won_stages,
    check_workflow_actions,
    errors,
    run_doctor,
    warnings,
)
from sdk.usecases.doctor.app_checks import app_checks
from sdk.usecases.doctor.results import open_store
from sdk.usecases.doctor.routes_checks import route_checks
from sdk.usecases.register_actions import load_action_files

NAMES = PropertyNames()


def pipeline(pid: str, label: str, *stages: tuple[str, str, str]) -> Pipeline:
    return Pipeline.model_validate(
        {
            "id": pid,
            "label": label,
            "stages": [
                {"id": sid, "label": sid, "metadata": {"isClosed": closed, "probability": probability}}
                for sid, closed, probability in stages
            ],
        }
    )


SALES = pipeline("default", "Sales", ("open", "false", "0.5"), ("closedwon", "true", "1.0"))
NO_WON = pipeline("777", "Renewals", ("open", "false", "0.5"), ("lost", "true", "0.0"))


class FakeHubSpot:
    def __init__(
        self,
        pipelines: list[Pipeline] | None = None,
        properties: dict[str, dict[str, Any]] | None = None,
        error: Exception | None = None,
        portal: int = 24681357,
    ) -> None:
        self.pipelines = pipelines if pipelines is not None else [SALES]
        self.properties = properties if properties is not None else healthy_properties()
        self.error = error
        self.portal = portal

    def read_account_details(self) -> AccountDetails:
        if self.error:
            raise self.error
        return AccountDetails.model_validate({"portalId": self.portal, "timeZone": "Asia/Tokyo"})

    def read_pipelines(self, *, refresh: bool = False) -> list[Pipeline]:
        if self.error:
            raise self.error
        return self.pipelines

    def read_properties(self, object_type: str) -> dict[str, Any]:
        if self.error:
            raise self.error
        return self.properties[object_type]


def healthy_properties() -> dict[str, dict[str, Any]]:
    return {
        object_type: {
            d["name"]: {"type": d["type"], "options": [o["value"] for o in d.get("options", [])]}
            for d in definitions
        }
        for object_type, definitions in property_definitions(NAMES).items()
    }


class FakeFreee:
    def __init__(self, companies: list[Company] | None = None, error: Exception | None = None) -> None:
        self.companies = companies if companies is not None else [Company(1, "サンプル株式会社", "admin")]
        self.error = error
        self.codes: bool | Exception = True

    def list_companies(self) -> list[Company]:
        if self.error:
            raise self.error
        return self.companies

    def uses_partner_codes(self) -> bool:
        if isinstance(self.codes, Exception):
            raise self.codes
        return self.codes


class FakeTokens:
    def __init__(self, store: MemoryTokenStore, clock: FakeClock, error: Exception | None = None) -> None:
        self.store, self.clock, self.error = store, clock, error

    def access_token(self, *, rejected: str | None = None) -> str:
        if self.error:
            raise self.error
        row = self.store.load_token()
        assert row is not None
        fresh = TokenSet("new-access", "new-refresh", self.clock.now() + timedelta(hours=6))
        self.store.save_token(fresh, row.version)
        return fresh.access_token


# --- settings --------------------------------------------------------------------------------------------------


def test_settings_that_do_not_load_are_named():
    result = check_settings(SettingsError(["tax.rounding (TAX__ROUNDING): bad"]))
    assert result.level is Level.ERROR and "TAX__ROUNDING" in result.detail


def test_missing_required_settings_are_named_with_their_variables():
    result = check_settings(load_settings(hubspot_access_token="x", freee_client_id="id"))
    assert result.level is Level.ERROR
    assert "FREEE_CLIENT_SECRET" in result.detail and "FREEE_COMPANY_ID" in result.detail
    assert "setup freee" in result.fix


def test_complete_settings_pass():
    settings = load_settings(
        hubspot_access_token="x",
        hubspot_portal_id=24681357,
        freee_client_id="id",
        freee_client_secret="s",
        freee_company_id=1,
    )
    assert check_settings(settings).ok


def test_a_public_app_needs_its_id_and_secret_instead_of_an_access_token():
    public = {"hubspot_portal_id": 24681357, "freee_client_id": "id", "freee_client_secret": "s"}
    public |= {"freee_company_id": 1, "hubspot_refresh_token": "r"}
    result = check_settings(load_settings(**public))
    assert result.level is Level.ERROR
    assert "HUBSPOT_CLIENT_ID" in result.detail and "HUBSPOT_CLIENT_SECRET" in result.detail
    assert "HUBSPOT_ACCESS_TOKEN" not in result.detail
    assert check_settings(load_settings(**public, hubspot_client_id="c", hubspot_client_secret="s")).ok
    neither = check_settings(load_settings(**(public | {"hubspot_refresh_token": None})))
    assert "HUBSPOT_ACCESS_TOKEN" in neither.detail and "HUBSPOT_REFRESH_TOKEN" in neither.detail


# --- HubSpot ---------------------------------------------------------------------------------------------------


def test_the_token_of_the_configured_portal_passes():
    result = check_hubspot_portal(FakeHubSpot(portal=24681357), 24681357)
    assert result.ok and "24681357" in result.detail


def test_a_token_of_another_portal_names_both_numbers_and_what_to_fix():
    result = check_hubspot_portal(FakeHubSpot(portal=99887766), 24681357)
    assert result.level is Level.ERROR
    assert "99887766" in result.detail and "24681357" in result.detail
    assert "HUBSPOT_PORTAL_ID=99887766" in result.fix and "HUBSPOT_ACCESS_TOKEN" in result.fix


def test_an_unset_portal_id_says_which_portal_the_token_belongs_to():
    result = check_hubspot_portal(FakeHubSpot(portal=99887766), None)
    assert result.level is Level.ERROR
    assert "not set" in result.detail and "99887766" in result.detail
    assert "HUBSPOT_PORTAL_ID=99887766" in result.fix


def test_the_portal_check_explains_a_refused_token():
    refused = HubSpotAuthError("no", status=401, operation="account.details")
    result = check_hubspot_portal(FakeHubSpot(error=refused), 24681357)
    assert result.level is Level.ERROR and "HUBSPOT_ACCESS_TOKEN" in result.fix


def test_hubspot_401_says_which_token():
    result = check_hubspot_connection(
        FakeHubSpot(error=HubSpotAuthError("no", status=401, operation="pipelines.get_all")), "https://h"
    )
    assert result.level is Level.ERROR and "401" in result.detail
    assert "HUBSPOT_ACCESS_TOKEN" in result.fix


def test_a_disconnected_public_app_says_why_and_how_to_reconnect():
    lost = HubSpotDisconnected(
        "HubSpot refused the refresh token (BAD_REFRESH_TOKEN)", datetime(2026, 11, 25, tzinfo=UTC)
    )
    result = check_hubspot_connection(FakeHubSpot(error=lost), "https://h")
    assert result.level is Level.ERROR and "BAD_REFRESH_TOKEN" in result.detail
    assert "HUBSPOT_REFRESH_TOKEN" in result.fix and "HUBSPOT_ACCESS_TOKEN=" not in result.fix


def test_hubspot_403_names_the_scopes():
    result = check_hubspot_connection(
        FakeHubSpot(error=HubSpotAuthError("no", status=403, operation="pipelines.get_all")), "https://h"
    )
    assert "403" in result.detail and "crm.objects.deals.read" in result.fix


def test_hubspot_unreachable_names_the_url():
    result = check_hubspot_connection(
        FakeHubSpot(error=HubSpotRetryable("x", status=None, operation="o")), "http://127.0.0.1:9"
    )
    assert "unreachable at http://127.0.0.1:9" in result.detail


def test_a_pipeline_without_a_won_stage_is_a_problem():
    result = check_won_stages(FakeHubSpot([SALES, NO_WON]), WonStageRules())
    assert result.level is Level.ERROR
    assert "'Renewals' (777)" in result.detail and "Sales" not in result.detail


def test_pipelines_left_out_of_invoicing_need_no_won_stage():
    assert check_won_stages(FakeHubSpot([SALES, NO_WON]), WonStageRules(pipelines=("default",))).ok


def test_an_extra_stage_id_makes_a_pipeline_won():
    assert check_won_stages(FakeHubSpot([SALES, NO_WON]), WonStageRules(extra_stage_ids=("open",))).ok


def test_unknown_pipeline_and_stage_ids_in_the_settings_are_problems():
    result = check_won_stages(
        FakeHubSpot([SALES]), WonStageRules(pipelines=("default", "gone"), extra_stage_ids=("nope",))
    )
    assert "WON_STAGES__PIPELINES names gone" in result.detail
    assert "WON_STAGES__EXTRA_STAGE_IDS names nope" in result.detail


def test_properties_all_present():
    for object_type in ("deals", "companies", "line_items"):
        assert check_properties(FakeHubSpot(), NAMES, object_type).ok


def test_missing_property_and_wrong_type_and_missing_option():
    properties = healthy_properties()
    del properties["deals"]["freee_due_date"]
    properties["deals"]["freee_amount_paid"]["type"] = "string"
    properties["deals"]["freee_payment_status"]["options"] = ["unpaid", "paid"]
    result = check_properties(FakeHubSpot(properties=properties), NAMES, "deals")
    assert result.level is Level.ERROR
    assert "freee_due_date" in result.detail
    assert "freee_amount_paid is string, expected number" in result.detail
    assert "partially_paid, overdue" in result.detail
    assert "setup hubspot" in result.fix and "PROPERTIES__DEAL_AMOUNT_PAID" in result.fix


def test_renamed_properties_are_checked_under_their_configured_name():
    names = PropertyNames(line_item_tax_rate="my_tax_rate")
    properties = {"line_items": {"my_tax_rate": healthy_properties()["line_items"]["freee_tax_rate"]}}
    assert check_properties(FakeHubSpot(properties=properties), names, "line_items").ok


# --- freee -----------------------------------------------------------------------------------------------------


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


def test_no_token_stored_says_run_setup(clock):
    store = MemoryTokenStore()
    result = check_freee_token(store, FakeTokens(store, clock), clock, "https://a")
    assert result.level is Level.ERROR and "hubspot-freee setup freee" in result.fix


def test_a_valid_access_token_reports_its_expiry(clock):
    store = MemoryTokenStore(TokenSet("a", "r", clock.now() + timedelta(hours=2)))
    result = check_freee_token(
        store, FakeTokens(store, clock, error=AssertionError("no refresh")), clock, "x"
    )
    assert result.ok and "2 h 0 min left" in result.detail


def test_a_valid_access_token_also_says_until_when_the_refresh_token_works(clock):
    issued = clock.now() - timedelta(days=10)
    store = MemoryTokenStore(TokenSet("a", "r", clock.now() + timedelta(hours=2), refresh_issued_at=issued))
    result = check_freee_token(store, FakeTokens(store, clock), clock, "x")
    ends = (issued + timedelta(days=90)).isoformat(timespec="minutes")
    assert result.ok and f"refresh token usable until {ends}" in result.detail


def test_a_refresh_token_past_freees_90_days_is_named_as_the_cause(clock):
    issued = clock.now() - timedelta(days=91)
    store = MemoryTokenStore(TokenSet("a", "r", issued + timedelta(hours=6), refresh_issued_at=issued))
    result = check_freee_token(store, FakeTokens(store, clock, FreeeAuthError("invalid_grant")), clock, "x")
    ended = (issued + timedelta(days=90)).isoformat(timespec="minutes")
    assert result.level is Level.ERROR
    assert f"it expired at {ended}: freee keeps a refresh token 90 days" in result.detail
    assert "setup freee` again" in result.fix


def test_an_expired_access_token_is_refreshed(clock):
    store = MemoryTokenStore(TokenSet("a", "r", clock.now() - timedelta(minutes=1)))
    result = check_freee_token(store, FakeTokens(store, clock), clock, "x")
    assert result.ok and "refreshed now" in result.detail
    assert store.load_token().tokens.access_token == "new-access"  # type: ignore[union-attr]


def test_a_refused_refresh_token_says_authorise_again(clock):
    store = MemoryTokenStore(TokenSet("a", "r", clock.now() - timedelta(minutes=1)))
    result = check_freee_token(store, FakeTokens(store, clock, FreeeAuthError("invalid_grant")), clock, "x")
    assert result.level is Level.ERROR
    assert "refused the refresh token" in result.detail and "setup freee` again" in result.fix


def test_a_disconnected_installation_says_since_when_why_and_what_to_run_without_asking_freee(clock):
    store = MemoryTokenStore(TokenSet("a", "r", clock.now() + timedelta(hours=2)))
    since = clock.now() - timedelta(hours=3)
    assert store.mark_disconnected(1, "freee refused the refresh token (invalid_grant)", since)
    result = check_freee_token(store, FakeTokens(store, clock, AssertionError("no refresh")), clock, "x")
    assert result.level is Level.ERROR
    assert f"disconnected since {since.isoformat(timespec='minutes')}" in result.detail
    assert "invalid_grant" in result.detail and "freee接続が切れています" in result.detail
    assert "hubspot-freee setup freee" in result.fix and "automatically" in result.fix


def test_an_unreachable_token_endpoint_names_the_url(clock):
    store = MemoryTokenStore(TokenSet("a", "r", clock.now() - timedelta(minutes=1)))
    result = check_freee_token(
        store, FakeTokens(store, clock, FreeeUnavailable("down")), clock, "http://auth"
    )
    assert "freee unreachable at http://auth" in result.detail


def test_the_company_must_be_one_the_token_can_access():
    result = check_freee_connection(FakeFreee(), 2, "https://api")
    assert result.level is Level.ERROR and "FREEE_COMPANY_ID=2" in result.detail and "1 (" in result.detail
    assert check_freee_connection(FakeFreee(), 1, "https://api").ok
    assert "not set" in check_freee_connection(FakeFreee(), None, "https://api").detail


def test_freee_unreachable_names_the_url():
    result = check_freee_connection(FakeFreee(error=FreeeUnavailable("x")), 1, "http://127.0.0.1:9")
    assert "unreachable at http://127.0.0.1:9" in result.detail


def test_partner_codes_disabled_in_freee_but_used_is_a_problem():
    freee = FakeFreee()
    freee.codes = False
    result = check_partner_codes(freee, use_codes=True)
    assert result.level is Level.ERROR and "FREEE_USE_PARTNER_CODES=false" in result.fix
    assert check_partner_codes(freee, use_codes=False).ok


def test_partner_codes_unknown_when_freee_cannot_say_is_a_problem():
    freee = FakeFreee()
    freee.codes = FreeeUnavailable("x")
    assert check_partner_codes(freee, use_codes=True).level is Level.ERROR


def test_partner_codes_enabled_pass_either_way():
    assert check_partner_codes(FakeFreee(), use_codes=True).ok
    assert "not used" in check_partner_codes(FakeFreee(), use_codes=False).detail


# --- queue -----------------------------------------------------------------------------------------------------


class FakeQueue:
    max_receives = 5

    def __init__(self, depth: QueueDepth | None = None, error: Exception | None = None) -> None:
        self._depth, self.error = depth, error

    def depth(self) -> QueueDepth:
        if self.error:
            raise self.error
        assert self._depth is not None
        return self._depth


def test_queue_with_dead_letters_points_at_the_dlq_commands():
    result = check_queue(FakeQueue(QueueDepth(visible=2, in_flight=0, dead=3)))  # type: ignore[arg-type]
    assert result.level is Level.ERROR and "3 message(s)" in result.detail
    assert "dlq list" in result.fix and "dlq redrive" in result.fix


def test_empty_dlq_passes_and_an_unusable_queue_is_a_problem():
    assert check_queue(FakeQueue(QueueDepth(1, 1, 0))).ok  # type: ignore[arg-type]
    broken = check_queue(FakeQueue(error=OSError("disk")))  # type: ignore[arg-type]
    assert broken.level is Level.ERROR and "QUEUE_URL" in broken.fix


# --- all together ----------------------------------------------------------------------------------------------


class FakeStore:
    def __init__(self, tokens: MemoryTokenStore, orphans: list[OrphanInvoice] | None = None) -> None:
        self.tokens = tokens
        self.rate_limits = None
        self._orphans = orphans or []

    def orphans(self, portal_id: int | None = None, deal_id: str | None = None) -> list[OrphanInvoice]:
        return list(self._orphans)

    def get_ledger(self, portal_id: int, deal_id: str) -> None:
        return None


def test_one_crashing_check_does_not_stop_the_others(clock):
    settings = load_settings(
        hubspot_access_token="x", freee_client_id="id", freee_client_secret="s", freee_company_id=1
    )
    store = MemoryTokenStore(TokenSet("a", "r", clock.now() + timedelta(hours=1)))
    hubspot = FakeHubSpot()
    hubspot.read_properties = lambda object_type: 1 / 0  # type: ignore[method-assign,assignment]
    freee = FakeFreee()
    wiring = Wiring(
        hubspot=lambda s: hubspot,
        freee=lambda s, t, r: freee,
        store=lambda s: FakeStore(store),
        queue=lambda s: FakeQueue(QueueDepth(0, 0, 0)),  # type: ignore[arg-type,return-value]
    )
    results = run_doctor(lambda: settings, clock=clock, wiring=wiring)
    assert [r.id for r in results] == check_ids()
    by_name = {r.name.split(" /")[0]: r for r in results}
    assert "ZeroDivisionError" in by_name["properties: deals"].detail
    assert by_name["won stages"].ok and by_name["freee connection"].ok and by_name["queue"].ok
    assert by_name["orphan invoices"].ok


def test_settings_that_do_not_load_skip_everything_else():
    def load() -> Any:
        raise SettingsError(["x (X): bad"])

    results = run_doctor(load)
    assert [r.level for r in results] == [Level.ERROR] + [Level.SKIPPED] * (len(check_ids()) - 1)
    assert all("settings do not load" in r.detail for r in results[1:])


# --- orphan invoices -------------------------------------------------------------------------------------------


def orphan(invoice_id: int, resolved: bool = False) -> OrphanInvoice:
    found = datetime(2026, 11, 25, tzinfo=UTC)
    return OrphanInvoice(
        24681357,
        "9001",
        invoice_id,
        f"INV-{invoice_id}",
        77,
        date(2026, 11, 20),
        110000,
        found,
        resolved_at=found if resolved else None,
    )


def test_an_orphan_invoice_is_a_problem_that_names_it_and_says_cancel_it_in_freee(clock):
    result = check_orphans(FakeStore(MemoryTokenStore(), [orphan(601), orphan(602, resolved=True)]))  # type: ignore[arg-type]
    assert result.level is Level.ERROR
    assert "INV-601" in result.detail and "9001" in result.detail and "110,000" in result.detail
    assert "INV-602" not in result.detail  # resolved
    assert "cancel each in freee" in result.fix and "取り消" in result.fix


def test_no_open_orphan_passes():
    assert check_orphans(FakeStore(MemoryTokenStore(), [orphan(602, resolved=True)])).ok  # type: ignore[arg-type]


# --- what each route needs ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Route:
    method: str
    path: str
    admission: Scheme | None = None


ROUTES = (
    Route("POST", "/webhooks/hubspot", WEBHOOK),
    Route("POST", "/actions/create-invoice", WORKFLOW_ACTION),
    Route("POST", "/custom-code/create-invoice", CUSTOM_CODE),
    Route("GET", "/cards/balance", CARD),
    Route("GET", "/healthz"),
)
EVERYTHING = {
    "hubspot_access_token": "x",
    "hubspot_portal_id": 24681357,
    "hubspot_client_secret": "s",
    "custom_code_secret": "c",
    "freee_client_id": "id",
    "freee_client_secret": "s",
    "freee_company_id": 1,
}


def routes_checked(**unset: None) -> dict[str, CheckResult]:
    return {r.id: r for r in route_checks(load_settings(**(EVERYTHING | unset)), ROUTES)}


def test_every_route_setting_set_passes_one_check_per_secret_then_the_portal():
    checked = routes_checked()
    assert list(checked) == [
        "routes.hubspot_client_secret",
        "routes.custom_code_secret",
        "routes.hubspot_portal_id",
    ]
    assert all(r.level is Level.OK for r in checked.values())


def test_an_unset_client_secret_names_its_routes_the_503_and_the_setting():
    found = routes_checked(hubspot_client_secret=None)["routes.hubspot_client_secret"]
    assert found.level is Level.ERROR
    assert (
        "POST /webhooks/hubspot, POST /actions/create-invoice, GET /cards/balance answer" in found.message.en
    )
    assert "503 not_configured" in found.message.en and "503 not_configured" in found.message.ja
    assert "custom-code" not in found.message.en and "healthz" not in found.message.en
    assert found.fix.en.startswith("set HUBSPOT_CLIENT_SECRET to the HubSpot app's client secret")
    assert "HUBSPOT_CLIENT_SECRET に" in found.fix.ja


def test_an_unset_portal_id_names_every_admitted_route():
    found = routes_checked(hubspot_portal_id=None)["routes.hubspot_portal_id"]
    assert found.level is Level.ERROR and "/healthz" not in found.message.en
    assert all(f"{r.method} {r.path}" in found.message.en for r in ROUTES if r.admission)
    assert "set HUBSPOT_PORTAL_ID" in found.fix.en


def test_a_blank_custom_code_secret_is_unset_as_admission_sees_it():
    found = routes_checked(custom_code_secret="")["routes.custom_code_secret"]  # type: ignore[arg-type]
    assert found.level is Level.ERROR and "HUBSPOT_FREEE_SECRET" in found.fix.en


def test_check_ids_put_the_route_checks_after_the_settings():
    ids = check_ids(ROUTES)
    assert ids[:4] == [
        "settings",
        "routes.hubspot_client_secret",
        "routes.custom_code_secret",
        "routes.hubspot_portal_id",
    ]
    assert check_ids() == ["settings", *ids[4:]]


# --- the HubSpot app: webhooks and workflow actions ----------------------------------------------------------------

ACTIONS = Path(__file__).resolve().parents[2] / "workflows" / "actions"
BASE = "https://invoices.example.jp"
HOOKS = "/webhooks/hubspot"


def hook(url: str) -> WebhookSettings:
    return WebhookSettings.model_validate({"targetUrl": url})


def subscription(
    active: bool = True, event: str = "deal.propertyChange", name: str | None = "dealstage"
) -> Any:
    return WebhookSubscription.model_validate(
        {"id": "1740001", "eventType": event, "propertyName": name, "active": active}
    )


class FakeDeveloper:
    def __init__(
        self, definitions: list[dict[str, Any]] | None = None, error: Exception | None = None
    ) -> None:
        self.definitions = definitions if definitions is not None else registered()
        self.error = error

    def read_webhook_settings(self, app_id: int) -> WebhookSettings | None:
        return hook(BASE + HOOKS)

    def list_webhook_subscriptions(self, app_id: int) -> list[WebhookSubscription]:
        return [subscription()]

    def list_action_definitions(self, app_id: int) -> list[dict[str, Any]]:
        if self.error:
            raise self.error
        return self.definitions


def registered(base: str = BASE) -> list[dict[str, Any]]:
    """The definitions as ``actions register`` leaves them (HubSpot adds an id)."""
    return [{**f.definition, "id": str(n)} for n, f in enumerate(load_action_files(ACTIONS, base), 1)]


def test_no_webhook_target_url_is_an_error_with_the_url_to_set():
    found = check_webhook_target(None, 4242, BASE, HOOKS)
    assert found.level is Level.ERROR and "app 4242 has no webhook target URL" in found.message.en
    assert f"{BASE}{HOOKS}" in found.fix.en and f"{BASE}{HOOKS}" in found.fix.ja


def test_a_target_url_other_than_public_base_url_is_an_error_offering_both_fixes():
    found = check_webhook_target(hook("https://old.example.jp/prod/webhooks/hubspot"), 4242, BASE, HOOKS)
    assert found.level is Level.ERROR
    assert (
        "https://old.example.jp/prod/webhooks/hubspot" in found.message.en
        and f"{BASE}{HOOKS}" in found.message.en
    )
    assert "PUBLIC_BASE_URL=https://old.example.jp/prod" in found.fix.en


def test_a_target_url_off_the_webhook_route_is_an_error_and_the_right_one_passes():
    assert check_webhook_target(hook(f"{BASE}/hooks"), 4242, None, HOOKS).level is Level.ERROR
    assert check_webhook_target(hook(f"{BASE}{HOOKS}/"), 4242, BASE + "/", HOOKS).ok
    found = check_webhook_target(hook(f"{BASE}{HOOKS}"), 4242, None, HOOKS)
    assert found.level is Level.OK and "only the path was compared" in found.message.en


def test_the_dealstage_subscription_must_be_there_and_active():
    missing = check_webhook_subscription([subscription(name="amount")], 4242)
    assert (
        missing.level is Level.ERROR
        and "not subscribed to deal.propertyChange on dealstage" in missing.message.en
    )
    paused = check_webhook_subscription([subscription(active=False)], 4242)
    assert paused.level is Level.ERROR and "paused" in paused.message.en and "Activate" in paused.fix.en
    assert check_webhook_subscription([subscription(active=False), subscription()], 4242).ok


def actions_checked(
    developer: FakeDeveloper, base: str | None = BASE, *, setting: bool = True
) -> CheckResult:
    return check_workflow_actions(
        developer, 4242, ACTIONS, base, base_is_setting=setting, api_base="https://h"
    )


def test_registered_actions_pass():
    found = actions_checked(FakeDeveloper())
    assert found.level is Level.OK and f"{BASE}/actions/create-invoice" in found.message.en


def test_an_action_not_defined_is_an_error_fixed_by_actions_register():
    found = actions_checked(FakeDeveloper([]))
    assert found.level is Level.ERROR and "is not defined in app 4242" in found.message.en
    assert (
        found.fix.en == "run `hubspot-freee actions register` (creates or updates the definitions in HubSpot)"
    )
    with_base = actions_checked(FakeDeveloper([]), setting=False)
    assert f"hubspot-freee actions register --base-url {BASE}" in with_base.fix.en


def test_an_unpublished_or_changed_action_is_an_error_naming_what_differs():
    [definition] = registered()
    definition["published"] = False
    definition["objectRequestOptions"] = {"properties": ["dealname"]}
    found = actions_checked(FakeDeveloper([definition]))
    assert found.level is Level.ERROR
    assert "is not published" in found.message.en
    assert "differs from workflows/actions/create_invoice.json in: objectRequestOptions" in found.message.en


def test_an_action_at_another_base_url_is_an_error_unless_no_base_is_known():
    moved = registered("https://old.example.jp")
    found = actions_checked(FakeDeveloper(moved))
    assert "calls https://old.example.jp/actions/create-invoice, not " in found.message.en
    unknown = actions_checked(FakeDeveloper(moved), None, setting=False)
    assert unknown.level is Level.OK and "their URL was not compared" in unknown.message.en


def test_a_refused_developer_key_is_named():
    refused = HubSpotAuthError("no", status=401, operation="action_definitions.get_page")
    found = actions_checked(FakeDeveloper(error=refused))
    assert found.level is Level.ERROR and "HUBSPOT_DEVELOPER_API_KEY" in found.fix.en


def test_the_app_checks_are_skipped_without_the_app_id_and_key():
    settings = load_settings(**EVERYTHING)
    results = app_checks(settings, lambda s: FakeDeveloper(), ROUTES, ACTIONS)
    assert [r.level for r in results] == [Level.ERROR, Level.SKIPPED, Level.SKIPPED, Level.SKIPPED]
    assert (
        "HUBSPOT_APP_ID and HUBSPOT_DEVELOPER_ACCESS_TOKEN (or HUBSPOT_DEVELOPER_API_KEY)"
        in results[0].message.en
    )
    for credential in ({"hubspot_developer_access_token": "t"}, {"hubspot_developer_api_key": "k"}):
        configured = load_settings(**EVERYTHING, hubspot_app_id=4242, public_base_url=BASE, **credential)
        assert all(r.ok for r in app_checks(configured, lambda s: FakeDeveloper(), ROUTES, ACTIONS))


# --- freee's refresh token -----------------------------------------------------------------------------------------


def test_a_refresh_token_with_less_than_45_days_left_is_a_warning(clock):
    issued = clock.now() - timedelta(days=50)
    store = MemoryTokenStore(TokenSet("a", "r", clock.now() + timedelta(hours=2), refresh_issued_at=issued))
    result = check_freee_token(store, FakeTokens(store, clock), clock, "x")
    assert result.level is Level.WARNING and result.ok  # a warning does not fail the run
    assert "50 days old" in result.message.en and "in 40 days" in result.message.en
    assert "hubspot-freee sync payments" in result.fix.en and "sync payments" in result.fix.ja
    fresh = MemoryTokenStore(
        TokenSet(
            "a", "r", clock.now() + timedelta(hours=2), refresh_issued_at=clock.now() - timedelta(days=44)
        )
    )
    assert check_freee_token(fresh, FakeTokens(fresh, clock), clock, "x").level is Level.OK


# --- the store and the queue (SQLite) ------------------------------------------------------------------------------


def test_a_missing_store_file_is_an_error_and_is_not_made(tmp_path):
    path = tmp_path / "nowhere.sqlite"
    result, store = check_store(load_settings(storage_url=f"sqlite:///{path}"), open_store)
    assert result.level is Level.ERROR and store is None and str(path) in result.message.en
    assert "STORAGE_URL" in result.fix.en and not path.exists()


def test_a_store_file_of_an_older_version_is_brought_up_to_date(tmp_path):
    path = tmp_path / "old.sqlite"
    with sqlite3.connect(path) as db:  # the token table before freee's disconnection was kept, nothing else
        db.execute(
            "CREATE TABLE freee_token (id INTEGER PRIMARY KEY CHECK (id = 1), data TEXT NOT NULL,"
            " version INTEGER NOT NULL, claim_holder TEXT, claim_until TEXT)"
        )
    result, store = check_store(load_settings(storage_url=f"sqlite:///{path}"), open_store)
    assert result.level is Level.OK and store is not None
    assert "brought up to date" in result.message.en
    assert "column freee_token.disconnected_at" in result.message.en and "table ledger" in result.message.en
    assert schema_gaps(path) == []


def test_a_store_lacking_what_no_version_adds_is_an_error(tmp_path):
    path = tmp_path / "other.sqlite"
    with sqlite3.connect(path) as db:
        db.execute(
            "CREATE TABLE freee_token (id INTEGER PRIMARY KEY, data TEXT NOT NULL, version INTEGER NOT NULL)"
        )
    result, _ = check_store(load_settings(storage_url=f"sqlite:///{path}"), open_store)
    assert result.level is Level.ERROR and "column freee_token.claim_holder" in result.message.en
    assert "restore it from a backup" in result.fix.en


def test_a_store_file_that_is_not_a_database_is_an_error(tmp_path):
    path = tmp_path / "junk.sqlite"
    path.write_bytes(b"\x00junk" * 200)
    result, store = check_store(load_settings(storage_url=f"sqlite:///{path}"), open_store)
    assert (
        result.level is Level.ERROR and store is None and "not a usable SQLite database" in result.message.en
    )


def test_a_sqlite_queue_missing_or_unusable(tmp_path):
    def checked(path: Path) -> CheckResult:
        return check_queue_url(load_settings(queue_url=f"sqlite:///{path}"), queue_from_settings)

    later = checked(tmp_path / "later.sqlite")
    assert later.level is Level.WARNING and not (tmp_path / "later.sqlite").exists()
    assert checked(tmp_path / "no" / "folder.sqlite").level is Level.ERROR
    junk = tmp_path / "junk.sqlite"
    junk.write_bytes(b"\x00junk" * 200)
    assert "not a usable SQLite database" in checked(junk).message.en
    SQLiteQueue(tmp_path / "made.sqlite")
    assert checked(tmp_path / "made.sqlite").level is Level.OK


def test_warnings_alone_are_not_errors():
    results = [
        CheckResult("queue", Level.WARNING, Bilingual("w", "w")),
        CheckResult("store", Level.OK, Bilingual("o", "o")),
    ]
    assert errors(results) == [] and len(warnings(results)) == 1


def test_an_unexpected_failure_of_the_developer_account_is_that_checks_error_not_a_crash():
    class Broken(FakeDeveloper):
        def list_webhook_subscriptions(self, app_id: int) -> list[WebhookSubscription]:
            raise ValueError("Invalid value for `event_type`")

    configured = load_settings(**EVERYTHING, hubspot_app_id=4242, hubspot_developer_api_key="k")
    results = app_checks(configured, lambda s: Broken(), ROUTES, ACTIONS)
    assert [r.level for r in results] == [Level.OK, Level.ERROR, Level.SKIPPED, Level.SKIPPED]
    assert "ValueError: Invalid value for `event_type`" in results[1].message.en
