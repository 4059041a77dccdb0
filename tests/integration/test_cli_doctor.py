"""``hubspot-freee doctor`` as an operator runs it, against the sandboxes served on loopback.

The fixture is a healthy installation: every setting each route needs, the app's webhook target URL and its
``dealstage`` subscription, the workflow action registered (by ``actions register``), the store and the queue.
It passes (exit 0, "すべて正常です"). Then one thing at a time is missing or wrong: each is an error naming the
exact setting or command that fixes it (exit 1), or a warning alone (exit 0). The human output reads at 80
columns and in a pipe: no line wider, no colour codes, no markup eaten.
"""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from rich.cells import cell_len
from typer.testing import CliRunner

from cli.app import app
from functions.app import ROUTES
from local.world import HUBSPOT_TOKEN, World, build_world, cli_env
from sandbox.transport import ServedApp, serve
from sdk.clock import SystemClock
from sdk.freee.tokens import TokenSet
from sdk.queue.sqlite import SQLiteQueue
from sdk.store.sqlite import SQLiteStore
from sdk.usecases.doctor import check_ids

runner = CliRunner()
PUBLIC = "https://invoices.example.jp"
WEBHOOK_URL = f"{PUBLIC}/webhooks/hubspot"
CUSTOM_SECRET = "doctor-custom-code-secret"


@dataclass
class Installation:
    world: World
    freee: ServedApp
    env: dict[str, str]
    tmp: Path

    def run(self, *args: str, **env: str | None) -> Any:  # None: unset that variable
        return runner.invoke(app, list(args), env=self.env | env)

    def doctor(self, **env: str | None) -> tuple[int, dict[str, dict[str, Any]], str]:
        """Exit code, the checks of ``--json`` by id (with ``detail`` and ``fix_text``: both languages), output."""
        result = self.run("doctor", "--json", **env)
        data = json.loads(result.stdout)
        assert data["ok"] is (result.exit_code == 0), result.output
        checks = {
            c["id"]: c
            | {
                "detail": f"{c['message']['en']} / {c['message']['ja']}",
                "fix_text": f"{c['fix']['en']} / {c['fix']['ja']}" if c["fix"] else "",
            }
            for c in data["checks"]
        }
        return result.exit_code, checks, result.output

    @property
    def box(self) -> Any:
        return self.world.hubspot_box

    def secrets(self) -> list[str]:
        row = self.world.store.tokens.load_token()
        stored = [row.tokens.access_token, row.tokens.refresh_token] if row else []
        return [
            HUBSPOT_TOKEN,
            self.box.client_secret,
            self.box.developer_access_token,
            CUSTOM_SECRET,
            *stored,
        ]


@pytest.fixture
def installation(tmp_path: Path) -> Iterator[Installation]:
    store, queue = tmp_path / "store.sqlite", tmp_path / "queue.sqlite"
    world = build_world(SQLiteStore(store), clock=SystemClock())
    freee = serve(world.freee_box.app)
    box = world.hubspot_box
    env = cli_env(world, freee.url, store, QUEUE_URL=f"sqlite:///{queue}") | {
        "HUBSPOT_CLIENT_SECRET": box.client_secret,
        "CUSTOM_CODE_SECRET": CUSTOM_SECRET,
        "HUBSPOT_APP_ID": str(box.app_id),
        "HUBSPOT_DEVELOPER_ACCESS_TOKEN": box.developer_access_token,
        "PUBLIC_BASE_URL": PUBLIC,
        "COLUMNS": "80",
    }
    box.set_webhook_target(
        lambda request: 204, uri=WEBHOOK_URL
    )  # the app's target URL, as the operator set it
    SQLiteQueue(queue)  # made by the server when it started
    done = Installation(world, freee, env, tmp_path)
    registered = done.run("actions", "register")
    assert registered.exit_code == 0, registered.output
    yield done
    freee.stop()
    world.close()


def levels(checks: dict[str, dict[str, Any]]) -> dict[str, str]:
    return {check_id: c["level"] for check_id, c in checks.items()}


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def assert_no_secret(output: str, secrets: list[str]) -> None:
    for secret in secrets:
        assert secret not in output


def expire_access_token(installation: Installation) -> None:
    store = installation.world.store.tokens
    row = store.load_token()
    assert row is not None
    expired = TokenSet(
        row.tokens.access_token, row.tokens.refresh_token, SystemClock().now() - timedelta(minutes=5)
    )
    store.save_token(expired, row.version)


def age_refresh_token(installation: Installation, days: int) -> None:
    """A valid access token whose refresh token freee issued ``days`` ago (nothing renewed it since)."""
    store = installation.world.store.tokens
    row = store.load_token()
    assert row is not None
    now = SystemClock().now()
    aged = TokenSet(
        row.tokens.access_token,
        row.tokens.refresh_token,
        now + timedelta(hours=2),
        refresh_issued_at=now - timedelta(days=days),
    )
    store.save_token(aged, row.version)


# --- a healthy installation ------------------------------------------------------------------------------------


def test_a_healthy_installation_passes_in_both_outputs(installation):
    human = installation.run("doctor")
    assert human.exit_code == 0, human.output
    assert "すべて正常です" in human.output and "everything is ready" in human.output
    code, checks, output = installation.doctor()
    assert code == 0
    assert set(levels(checks).values()) == {"ok"}, {
        k: c["detail"] for k, c in checks.items() if c["level"] != "ok"
    }
    assert list(checks) == check_ids(ROUTES)
    assert "Closed Won" in checks["hubspot.won_stages"]["detail"]
    assert WEBHOOK_URL in checks["app.webhook_target"]["detail"]
    assert f"{PUBLIC}/actions/create-invoice" in checks["app.workflow_actions"]["detail"]
    assert_no_secret(human.output + output, installation.secrets())


def test_json_gives_each_check_its_id_level_message_and_fix_in_both_languages(installation):
    result = installation.run("doctor", "--json", HUBSPOT_CLIENT_SECRET=None)
    data = json.loads(result.stdout)
    assert (data["ok"], data["errors"], data["warnings"]) == (False, 1, 0)
    for check in data["checks"]:
        assert set(check) == {"id", "check", "level", "message", "fix"}
        assert check["level"] in ("ok", "warning", "error", "skipped")
        assert check["message"]["en"] and check["message"]["ja"]
        assert check["fix"] is None or (check["fix"]["en"] and check["fix"]["ja"])
    [failed] = [c for c in data["checks"] if c["level"] == "error"]
    assert failed["id"] == "routes.hubspot_client_secret" and "HUBSPOT_CLIENT_SECRET" in failed["fix"]["ja"]


# --- what each route needs ---------------------------------------------------------------------------------------


def test_an_unset_client_secret_is_an_error_naming_the_routes_that_answer_503_and_the_setting(installation):
    human = installation.run("doctor", HUBSPOT_CLIENT_SECRET=None)
    assert human.exit_code == 1
    assert "すべて正常です" not in human.output
    code, checks, _ = installation.doctor(HUBSPOT_CLIENT_SECRET=None)
    assert code == 1
    secret = checks["routes.hubspot_client_secret"]
    assert secret["level"] == "error"
    for route in ("POST /webhooks/hubspot", "POST /actions/create-invoice", "GET /cards/balance"):
        assert route in secret["message"]["en"] and route in secret["message"]["ja"]
    assert "503 not_configured" in secret["message"]["en"] and "/custom-code/" not in secret["detail"]
    assert (
        "set HUBSPOT_CLIENT_SECRET" in secret["fix"]["en"]
        and "HUBSPOT_CLIENT_SECRET に" in secret["fix"]["ja"]
    )
    assert checks["routes.custom_code_secret"]["level"] == "ok"


def test_an_unset_portal_id_is_an_error_naming_every_route_and_the_portal_of_the_token(installation):
    code, checks, _ = installation.doctor(HUBSPOT_PORTAL_ID=None)
    assert code == 1
    portal = checks["routes.hubspot_portal_id"]
    assert portal["level"] == "error" and "503 not_configured" in portal["detail"]
    for route in ROUTES:
        assert (f"{route.method} {route.path}" in portal["detail"]) is (route.admission is not None)
    assert "HUBSPOT_PORTAL_ID" in portal["fix_text"]
    token = checks["hubspot.portal"]
    assert token["level"] == "error" and "24681357" in token["detail"]
    assert "HUBSPOT_PORTAL_ID=24681357" in token["fix_text"]


def test_an_unset_custom_code_secret_names_the_custom_code_routes(installation):
    code, checks, _ = installation.doctor(CUSTOM_CODE_SECRET=None)
    assert code == 1
    custom = checks["routes.custom_code_secret"]
    assert (
        "POST /custom-code/create-invoice" in custom["detail"]
        and "HUBSPOT_FREEE_SECRET" in custom["fix_text"]
    )


def test_without_the_app_id_and_developer_key_the_app_checks_say_what_to_set(installation):
    code, checks, _ = installation.doctor(HUBSPOT_APP_ID=None, HUBSPOT_DEVELOPER_ACCESS_TOKEN=None)
    assert code == 1
    app_settings = checks["app.settings"]
    assert (
        "HUBSPOT_APP_ID" in app_settings["fix_text"]
        and "HUBSPOT_DEVELOPER_ACCESS_TOKEN" in app_settings["fix_text"]
    )
    assert "actions register" in app_settings["detail"]
    assert {
        levels(checks)[i] for i in ("app.webhook_target", "app.webhook_subscription", "app.workflow_actions")
    } == {"skipped"}


def test_a_wrong_developer_key_is_named(installation):
    code, checks, output = installation.doctor(HUBSPOT_DEVELOPER_ACCESS_TOKEN="not-the-key")
    assert code == 1
    assert "HUBSPOT_DEVELOPER_ACCESS_TOKEN" in checks["app.webhook_target"]["fix_text"]
    assert checks["app.workflow_actions"]["level"] == "skipped"
    assert "not-the-key" not in output


# --- the HubSpot app: webhooks and workflow actions ----------------------------------------------------------------


def test_a_missing_webhook_target_url_is_an_error_with_the_url_to_set(installation):
    installation.box.set_webhook_target(None)
    code, checks, _ = installation.doctor()
    assert code == 1
    target = checks["app.webhook_target"]
    assert target["level"] == "error" and "no webhook target URL" in target["detail"]
    assert WEBHOOK_URL in target["fix"]["en"] and WEBHOOK_URL in target["fix"]["ja"]


def test_a_webhook_target_url_of_another_host_is_an_error_naming_both(installation):
    installation.box.set_webhook_target(
        lambda request: 204, uri="https://old.example.jp/prod/webhooks/hubspot"
    )
    code, checks, _ = installation.doctor()
    assert code == 1
    target = checks["app.webhook_target"]
    assert (
        "https://old.example.jp/prod/webhooks/hubspot" in target["detail"] and WEBHOOK_URL in target["detail"]
    )
    assert (
        WEBHOOK_URL in target["fix_text"]
        and "PUBLIC_BASE_URL=https://old.example.jp/prod" in target["fix_text"]
    )


def test_a_webhook_target_url_off_the_webhook_route_is_an_error_without_public_base_url(installation):
    installation.box.set_webhook_target(lambda request: 204, uri="https://invoices.example.jp/hooks")
    code, checks, _ = installation.doctor(PUBLIC_BASE_URL=None)
    assert code == 1
    assert (
        "not this installation's webhook route (/webhooks/hubspot)" in checks["app.webhook_target"]["detail"]
    )


def test_without_public_base_url_the_target_path_is_checked_and_the_actions_compared_at_its_base(
    installation,
):
    code, checks, _ = installation.doctor(PUBLIC_BASE_URL=None)
    assert code == 0, {k: c["detail"] for k, c in checks.items() if c["level"] != "ok"}
    assert "only the path was compared" in checks["app.webhook_target"]["detail"]
    assert f"{PUBLIC}/actions/create-invoice" in checks["app.workflow_actions"]["detail"]


def test_a_paused_dealstage_subscription_is_an_error(installation):
    with installation.box.state.lock:
        for subscription in installation.box.state.webhooks.subscriptions.values():
            subscription["active"] = False
    code, checks, _ = installation.doctor()
    assert code == 1
    subscription = checks["app.webhook_subscription"]
    assert subscription["level"] == "error" and "paused" in subscription["detail"]
    assert "Activate" in subscription["fix_text"]


def test_a_missing_dealstage_subscription_is_an_error_saying_what_to_create(installation):
    with installation.box.state.lock:
        installation.box.state.webhooks.subscriptions.clear()
    code, checks, _ = installation.doctor()
    assert code == 1
    subscription = checks["app.webhook_subscription"]
    assert "not subscribed to deal.propertyChange on dealstage" in subscription["detail"]
    assert "dealstage" in subscription["fix"]["en"] and "dealstage" in subscription["fix"]["ja"]


def test_a_missing_workflow_action_is_an_error_fixed_by_actions_register(installation):
    with installation.box.state.lock:
        installation.box.state.action_definitions.clear()
    code, checks, _ = installation.doctor()
    assert code == 1
    actions = checks["app.workflow_actions"]
    assert (
        "'Create freee invoice' (workflows/actions/create_invoice.json) is not defined" in actions["detail"]
    )
    assert "`hubspot-freee actions register`" in actions["fix"]["en"]
    assert installation.run("actions", "register").exit_code == 0  # the fix it names
    assert installation.doctor()[0] == 0


def test_an_unpublished_or_changed_workflow_action_is_an_error(installation):
    with installation.box.state.lock:
        [definition] = installation.box.state.action_definitions[installation.box.app_id].values()
        definition["published"] = False
        definition["labels"]["en"]["actionName"] = "Old name"
    code, checks, _ = installation.doctor()
    assert code == 1
    detail = checks["app.workflow_actions"]["detail"]
    assert (
        "is not published" in detail
        and "differs from workflows/actions/create_invoice.json in: labels" in detail
    )


def test_a_workflow_action_calling_an_old_url_is_an_error(installation):
    moved = "https://new.example.jp"
    installation.box.set_webhook_target(lambda request: 204, uri=f"{moved}/webhooks/hubspot")
    code, checks, _ = installation.doctor(PUBLIC_BASE_URL=moved)
    assert code == 1
    actions = checks["app.workflow_actions"]
    assert f"calls {PUBLIC}/actions/create-invoice, not {moved}/actions/create-invoice" in actions["detail"]
    assert checks["app.webhook_target"]["level"] == "ok"


# --- HubSpot -------------------------------------------------------------------------------------------------------


def test_a_wrong_hubspot_token_is_explained_and_freee_still_checked(installation):
    code, checks, output = installation.doctor(HUBSPOT_ACCESS_TOKEN="pat-na1-wrong")
    assert code == 1
    assert (
        checks["hubspot.connection"]["level"] == "error" and "401" in checks["hubspot.connection"]["detail"]
    )
    assert "HUBSPOT_ACCESS_TOKEN" in checks["hubspot.connection"]["fix_text"]
    assert checks["hubspot.won_stages"]["level"] == "skipped"
    assert "HubSpot connection failed" in checks["hubspot.properties.deals"]["detail"]
    assert checks["freee.connection"]["level"] == "ok" and checks["queue"]["level"] == "ok"
    assert "pat-na1-wrong" not in output


def test_a_token_of_another_portal_is_found(installation):
    code, checks, _ = installation.doctor(HUBSPOT_PORTAL_ID="13572468")
    assert code == 1
    portal = checks["hubspot.portal"]
    assert "24681357" in portal["detail"] and "13572468" in portal["detail"]
    assert "HUBSPOT_PORTAL_ID=24681357" in portal["fix_text"] and "HUBSPOT_ACCESS_TOKEN" in portal["fix_text"]
    assert checks["settings"]["level"] == "ok" and checks["hubspot.won_stages"]["level"] == "ok"


def test_a_missing_property_and_a_property_of_the_wrong_type_are_found(installation):
    with installation.box.state.lock:
        del installation.box.state.properties["deals"]["freee_invoice_url"]
        installation.box.state.properties["deals"]["freee_amount_paid"]["type"] = "string"
    code, checks, _ = installation.doctor()
    assert code == 1
    deals = checks["hubspot.properties.deals"]
    assert (
        "freee_invoice_url" in deals["detail"]
        and "freee_amount_paid is string, expected number" in deals["detail"]
    )
    assert (
        "hubspot-freee setup hubspot" in deals["fix_text"]
        and "PROPERTIES__DEAL_AMOUNT_PAID" in deals["fix_text"]
    )
    assert checks["hubspot.properties.companies"]["level"] == "ok"


def test_a_pipeline_without_a_won_stage_is_found(installation):
    state = installation.box.state
    with state.lock:
        custom = next(p for p in state.pipelines["deals"] if p["id"] == "87654321")
        next(s for s in custom["stages"] if s["id"] == "87654324")["metadata"]["probability"] = "0.9"
    code, checks, _ = installation.doctor()
    assert code == 1
    won = checks["hubspot.won_stages"]
    assert "法人営業 / Enterprise" in won["detail"] and "WON_STAGES__EXTRA_STAGE_IDS" in won["fix_text"]
    assert (
        installation.doctor(WON_STAGES__EXTRA_STAGE_IDS='["87654324"]')[1]["hubspot.won_stages"]["level"]
        == "ok"
    )


# --- freee -------------------------------------------------------------------------------------------------------


def test_an_expired_access_token_is_refreshed(installation):
    expire_access_token(installation)
    code, checks, _ = installation.doctor()
    assert code == 0, checks
    assert "refreshed now" in checks["freee.token"]["detail"]
    assert installation.world.freee_box.token_calls.get("refresh_token") == 1


def test_a_refused_refresh_token_says_to_authorise_again(installation):
    expire_access_token(installation)
    installation.world.freee_box.expire_access_tokens(refresh_tokens=True)
    code, checks, output = installation.doctor()
    assert code == 1
    token = checks["freee.token"]
    assert token["level"] == "error" and "refused the refresh token" in token["detail"]
    assert "hubspot-freee setup freee" in token["fix_text"]
    assert checks["freee.connection"]["level"] == "skipped" and checks["hubspot.connection"]["level"] == "ok"
    assert_no_secret(output, installation.secrets())


def test_a_refresh_token_near_freees_90_days_is_a_warning_that_exits_0(installation):
    age_refresh_token(installation, 50)
    human = installation.run("doctor")
    assert human.exit_code == 0, human.output
    assert "WARN" in human.output and "hubspot-freee sync payments" in human.output
    assert "警告が 1 件" in human.output and "すべて正常です" not in human.output
    code, checks, _ = installation.doctor()
    token = checks["freee.token"]
    assert (code, token["level"]) == (0, "warning")
    assert (
        "50 days old" in token["detail"] and "in 39 days" in token["detail"]
    )  # 40 days less the moments since
    assert "sync payments" in token["fix"]["en"] and "sync payments" in token["fix"]["ja"]


def test_unreachable_services_are_named_with_their_url(installation):
    hubspot = f"http://127.0.0.1:{closed_port()}"
    freee = f"http://127.0.0.1:{closed_port()}"
    expire_access_token(installation)
    code, checks, _ = installation.doctor(
        HUBSPOT_API_BASE=hubspot, FREEE_API_BASE=freee, FREEE_AUTH_BASE=freee
    )
    assert code == 1
    assert f"HubSpot unreachable at {hubspot}" in checks["hubspot.connection"]["detail"]
    assert f"HubSpot unreachable at {hubspot}" in checks["app.webhook_target"]["detail"]
    assert f"freee unreachable at {freee}" in checks["freee.token"]["detail"]
    assert checks["queue"]["level"] == "ok"


def test_an_unreachable_freee_api_with_a_valid_token(installation):
    freee = f"http://127.0.0.1:{closed_port()}"
    code, checks, _ = installation.doctor(FREEE_API_BASE=freee)
    assert code == 1
    assert checks["freee.token"]["level"] == "ok"
    assert f"freee unreachable at {freee}" in checks["freee.connection"]["detail"]
    assert checks["freee.partner_codes"]["level"] == "skipped"


def test_partner_codes_disabled_in_freee_and_a_company_the_token_cannot_access(installation):
    installation.world.freee_box.state.use_partner_codes = False
    code, checks, _ = installation.doctor()
    assert code == 1 and "FREEE_USE_PARTNER_CODES=false" in checks["freee.partner_codes"]["fix_text"]
    assert installation.doctor(FREEE_USE_PARTNER_CODES="false")[0] == 0
    _, checks, _ = installation.doctor(FREEE_COMPANY_ID="42", FREEE_USE_PARTNER_CODES="false")
    assert (
        "FREEE_COMPANY_ID=42" in checks["freee.connection"]["detail"]
        and "1 (" in checks["freee.connection"]["detail"]
    )


# --- the store and the queue ---------------------------------------------------------------------------------------


def test_a_store_file_that_is_not_there_is_an_error_and_is_not_created(installation):
    missing = installation.tmp / "elsewhere" / "hubspot-freee.sqlite"
    code, checks, _ = installation.doctor(STORAGE_URL=f"sqlite:///{missing}")
    assert code == 1
    store = checks["store"]
    assert store["level"] == "error" and str(missing) in store["detail"]
    assert "STORAGE_URL" in store["fix"]["en"] and "setup freee" in store["fix"]["en"]
    assert {levels(checks)[i] for i in ("freee.token", "freee.connection", "orphans")} == {"skipped"}
    assert not missing.exists()


def test_a_store_that_is_not_a_database_is_an_error(installation):
    junk = installation.tmp / "junk.sqlite"
    junk.write_text("not a database " * 100, encoding="utf-8")
    code, checks, _ = installation.doctor(STORAGE_URL=f"sqlite:///{junk}")
    assert code == 1 and "not a usable SQLite database" in checks["store"]["detail"]


def test_a_queue_that_is_not_a_database_or_in_no_folder_is_an_error(installation):
    junk = installation.tmp / "junk-queue.sqlite"
    junk.write_text("not a database " * 100, encoding="utf-8")
    code, checks, _ = installation.doctor(QUEUE_URL=f"sqlite:///{junk}")
    assert code == 1 and checks["queue"]["level"] == "error"
    assert (
        "not a usable SQLite database" in checks["queue"]["detail"]
        and "QUEUE_URL" in checks["queue"]["fix_text"]
    )
    nowhere = installation.tmp / "no-such-folder" / "queue.sqlite"
    code, checks, _ = installation.doctor(QUEUE_URL=f"sqlite:///{nowhere}")
    assert code == 1 and "cannot be made" in checks["queue"]["detail"]
    assert not nowhere.parent.exists()


def test_a_queue_file_not_made_yet_is_a_warning(installation):
    later = installation.tmp / "later.sqlite"
    code, checks, _ = installation.doctor(QUEUE_URL=f"sqlite:///{later}")
    assert (code, checks["queue"]["level"]) == (0, "warning")
    assert "hubspot-freee serve" in checks["queue"]["detail"] and not later.exists()


def test_dead_letters_point_at_the_dlq_commands(installation):
    queue = SQLiteQueue(installation.env["QUEUE_URL"].removeprefix("sqlite:///"), max_receives=1)
    queue.send({"type": "create_invoice", "portal_id": 1, "deal_id": "1"})
    queue.dead_letter(queue.receive(1)[0], "test")
    code, checks, _ = installation.doctor()
    assert code == 1
    assert "1 message(s) in the dead-letter queue" in checks["queue"]["detail"]
    assert (
        "hubspot-freee dlq list" in checks["queue"]["fix_text"]
        and "dlq redrive" in checks["queue"]["fix_text"]
    )


# --- settings ------------------------------------------------------------------------------------------------------


def test_a_bad_setting_is_named_and_the_rest_skipped(installation):
    code, checks, _ = installation.doctor(TAX__ROUNDING="sometimes")
    assert code == 1
    assert "TAX__ROUNDING" in checks["settings"]["detail"]
    assert {c["level"] for check_id, c in checks.items() if check_id != "settings"} == {"skipped"}


def test_missing_settings_are_named(installation):
    code, checks, _ = installation.doctor(FREEE_CLIENT_SECRET="")
    assert code == 1
    assert "FREEE_CLIENT_SECRET" in checks["settings"]["detail"]
    assert checks["freee.token"]["level"] == "skipped" and checks["hubspot.connection"]["level"] == "ok"


# --- how it reads ------------------------------------------------------------------------------------------------


def test_the_output_fits_80_columns_has_no_colour_codes_in_a_pipe_and_prints_markup_as_text(installation):
    odd = "https://invoices.example.jp/[bold]stage[/bold]"
    installation.box.set_webhook_target(
        lambda request: 204, uri="https://old.example.jp/[red]x[/red]/webhooks/hubspot"
    )
    result = installation.run(
        "doctor", HUBSPOT_CLIENT_SECRET=None, HUBSPOT_PORTAL_ID=None, PUBLIC_BASE_URL=odd, FORCE_COLOR=None
    )
    assert result.exit_code == 1
    lines = result.output.splitlines()
    assert len(lines) > 40
    assert max(cell_len(line) for line in lines) <= 80, max(lines, key=cell_len)
    assert "\x1b" not in result.output
    assert f"{odd}/webhooks/hubspot" in result.output.replace(
        "\n      ", ""
    )  # markup-like text printed as is
    assert "[red]x[/red]" in result.output.replace("\n      ", "")
    assert "エラー" in result.output and "error(s)" in result.output


def test_wrap_breaks_japanese_between_characters_but_not_before_closing_punctuation():
    from cli.doctor import wrap

    lines = wrap("アクセストークンが拒否されました。再度 `hubspot-freee setup freee` を実行してください", 20)
    assert all(cell_len(line) <= 20 for line in lines)
    assert not any(line.startswith(("。", "、", "）", "ッ")) for line in lines)
    assert (
        "".join(lines).replace(" ", "")
        == "アクセストークンが拒否されました。再度`hubspot-freeesetupfreee`を実行してください"
    )
    url = "https://invoices.example.jp/" + "x" * 100
    assert "".join(wrap(url, 30)) == url and max(cell_len(line) for line in wrap(url, 30)) == 30
    assert wrap("one\ntwo", 80) == ["one", "two"]
