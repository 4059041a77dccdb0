"""Registering the custom workflow actions (``workflows/actions``) with the HubSpot sandbox on loopback.

Registration is idempotent: the first run creates, the next finds the same definition (by its ``actionUrl`` path)
and writes nothing when nothing changed; a changed label or base URL updates that definition in place. Every body
is checked against HubSpot's current v4 reference before it is sent (``sdk.models.hubspot_actions``), the sandbox
refuses what that reference marks required and missing, and the calls authenticate as the reference lists: an OAuth
token of the developer account with ``developers-read`` / ``developers-write`` (the developer API key only where a
sandbox models the legacy way).
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from hubspot import HubSpot
from hubspot.automation.actions import (
    CollectionResponsePublicActionDefinitionForwardPaging,
    PublicActionDefinition,
)
from typer.testing import CliRunner

from cli.app import app
from sandbox.hubspot import HubSpotSandbox, create_hubspot_sandbox
from sandbox.transport import ServedApp, serve
from sdk.clock import FakeClock
from sdk.errors import DefinitionFileError, SettingsError
from sdk.hubspot import CallCounter, HubSpotAuthError, HubSpotClient, HubSpotNotFound, HubSpotRequestError
from sdk.models.hubspot_actions import PublicActionDefinitionEgg, reference_body
from sdk.settings import load_settings
from sdk.usecases.action_outputs import OUTPUT_FIELD_TYPES, ActionResult
from sdk.usecases.register_actions import (
    Registration,
    load_action_files,
    register_actions,
)
from tests.world import Switch

ACTIONS = Path(__file__).resolve().parents[2] / "workflows" / "actions"
TOKEN = "integration-developer-token"
KEY = "integration-developer-key"
APP_ID = 4242
BASE = "https://invoices.example.jp/prod"


@pytest.fixture(scope="module")
def server() -> Iterator[tuple[Switch, ServedApp]]:
    switch = Switch()
    with serve(switch) as served:
        yield switch, served


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def sandbox(server: tuple[Switch, ServedApp], clock: FakeClock) -> Iterator[HubSpotSandbox]:
    box = create_hubspot_sandbox(clock=clock, app_id=APP_ID, developer_access_token=TOKEN, seed=5)
    server[0].app = box.app
    yield box
    box.close()


@pytest.fixture
def url(server: tuple[Switch, ServedApp], sandbox: HubSpotSandbox) -> str:
    return server[1].url


@pytest.fixture
def metrics() -> CallCounter:
    return CallCounter()


@pytest.fixture
def client(url: str, metrics: CallCounter, clock: FakeClock) -> HubSpotClient:
    settings = load_settings(hubspot_api_base=url, hubspot_developer_access_token=TOKEN)
    return HubSpotClient.for_developer_account(settings, metrics=metrics, clock=clock)


def bearer(token: str = TOKEN) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def definitions(tmp_path: Path) -> Path:
    """A copy of the project's definitions a test may edit."""
    target = tmp_path / "actions"
    shutil.copytree(ACTIONS, target)
    return target


def edit(folder: Path, name: str, change: Any) -> None:
    path = folder / f"{name}.json"
    data = json.loads(path.read_text(encoding="utf-8"))
    change(data)
    path.write_text(json.dumps(data, ensure_ascii=False, indent=2), encoding="utf-8")


def writes(sandbox: HubSpotSandbox) -> list[str]:
    return [
        f"{c.method} {c.path}"
        for c in sandbox.api_calls
        if c.path.startswith("/automation/v4/actions/") and c.method != "GET"
    ]


# -- idempotent registration -----------------------------------------------------------------------------------------


def test_first_run_creates_the_actions_and_a_second_run_changes_nothing(
    client: HubSpotClient, sandbox: HubSpotSandbox, metrics: CallCounter
) -> None:
    first = register_actions(client, APP_ID, BASE, ACTIONS)
    after_first = writes(sandbox)
    metrics.reset()

    second = register_actions(client, APP_ID, BASE, ACTIONS)

    assert [(r.name, r.status) for r in first] == [("create_invoice", Registration.CREATED)]
    assert [(r.name, r.status) for r in second] == [("create_invoice", Registration.UNCHANGED)]
    [stored] = sandbox.action_definitions()
    assert first[0].definition_id == second[0].definition_id == stored["id"]
    assert stored["revisionId"] == second[0].revision_id == "1"
    assert stored["actionUrl"] == f"{BASE}/actions/create-invoice"
    assert first[0].action_url == f"{BASE}/actions/create-invoice"
    assert after_first == [f"POST /automation/v4/actions/{APP_ID}"]
    assert writes(sandbox) == after_first  # the second run wrote nothing
    assert metrics.snapshot() == {"action_definitions.get_page": 1}


def test_a_changed_label_updates_the_same_definition(
    client: HubSpotClient, sandbox: HubSpotSandbox, definitions: Path
) -> None:
    [created] = register_actions(client, APP_ID, BASE, definitions)
    edit(definitions, "create_invoice", lambda d: d["labels"]["ja"].update(actionName="freee請求書を発行"))

    [updated] = register_actions(client, APP_ID, BASE, definitions)

    assert updated.status is Registration.UPDATED
    assert updated.changed == ("labels",)
    assert updated.definition_id == created.definition_id
    assert updated.revision_id == "2"
    [stored] = sandbox.action_definitions()
    assert stored["labels"]["ja"]["actionName"] == "freee請求書を発行"
    assert writes(sandbox)[-1] == f"PATCH /automation/v4/actions/{APP_ID}/{created.definition_id}"
    [again] = register_actions(client, APP_ID, BASE, definitions)
    assert again.status is Registration.UNCHANGED


def test_a_new_deployment_url_moves_the_action_instead_of_adding_a_second_one(
    client: HubSpotClient, sandbox: HubSpotSandbox
) -> None:
    register_actions(client, APP_ID, BASE, ACTIONS)

    [moved] = register_actions(client, APP_ID, "https://billing.example.jp/", ACTIONS)

    assert moved.status is Registration.UPDATED
    assert moved.changed == ("actionUrl",)
    [stored] = sandbox.action_definitions()
    assert stored["actionUrl"] == "https://billing.example.jp/actions/create-invoice"


def test_a_definition_made_by_hand_is_adopted_by_its_url_path(
    client: HubSpotClient, sandbox: HubSpotSandbox
) -> None:
    [ours] = load_action_files(ACTIONS, BASE)
    by_hand = json.loads(json.dumps(ours.definition))
    by_hand["labels"] = {"en": {"actionName": "Invoice (old)"}}
    by_hand["executionRules"] = []
    by_hand["actionUrl"] = "https://old-host.example.jp/actions/create-invoice"
    existing = sandbox.state.define_action(APP_ID, by_hand)

    [adopted] = register_actions(client, APP_ID, BASE, ACTIONS)

    assert adopted.status is Registration.UPDATED
    assert adopted.definition_id == existing["id"]
    assert set(adopted.changed) == {"actionUrl", "labels", "executionRules"}
    assert len(sandbox.action_definitions()) == 1


def test_listing_follows_pages(client: HubSpotClient, sandbox: HubSpotSandbox, metrics: CallCounter) -> None:
    [ours] = load_action_files(ACTIONS, BASE)
    for index in range(12):
        other = json.loads(json.dumps(ours.definition))
        other["actionUrl"] = f"https://other.example.jp/actions/other-{index}"
        other["labels"]["en"]["actionName"] = f"Other {index}"
        other["labels"]["ja"]["actionName"] = f"その他 {index}"
        sandbox.state.define_action(APP_ID, other)

    found = client.list_action_definitions(APP_ID)

    assert len(found) == 12
    assert metrics.count("action_definitions.get_page") == 2
    [created] = register_actions(client, APP_ID, BASE, ACTIONS)
    assert created.status is Registration.CREATED  # none of the twelve does what ours does


# -- the contract: the official client reads what the sandbox answers -----------------------------------------------


def test_definitions_deserialize_through_the_official_client(
    client: HubSpotClient, sandbox: HubSpotSandbox, url: str
) -> None:
    [registered] = register_actions(client, APP_ID, BASE, ACTIONS)
    official = HubSpot(host=url).automation.actions.definitions_api
    as_developer = {"in": "header", "key": "Authorization", "value": f"Bearer {TOKEN}", "type": "oauth2"}

    page = official.get_page(APP_ID, _request_auth=as_developer)
    one = official.get_by_id(registered.definition_id, APP_ID, _request_auth=as_developer)

    assert isinstance(page, CollectionResponsePublicActionDefinitionForwardPaging)
    assert isinstance(one, PublicActionDefinition)
    assert page.results[0].id == one.id == registered.definition_id
    assert one.action_url == f"{BASE}/actions/create-invoice"
    assert one.object_types == ["DEAL"]
    assert one.published is True
    assert one.object_request_options.properties == ["dealname", "dealstage", "pipeline", "amount"]
    assert [f.type_definition.name for f in one.output_fields] == [
        "freee_invoice_id",
        "freee_invoice_number",
        "freee_invoice_url",
        "result",
        "error_message",
        "warning_message",
    ]
    result = next(f for f in one.output_fields if f.type_definition.name == "result")
    assert [o.value for o in result.type_definition.options] == [
        "created",
        "already_invoiced",
        "invalid",
        "failed",
        "pending",
        "scheduled",
    ]
    assert [r.label_name for r in one.execution_rules] == [
        "invalid",
        "failed",
        "pending",
        "already_invoiced",
        "created",
        "scheduled",
    ]
    assert {r.label_name: r.conditions for r in one.execution_rules}["invalid"] == {"result": "invalid"}
    assert set(one.labels) == {"en", "ja"}
    assert one.labels["en"].action_name == "Create freee invoice"
    assert one.labels["ja"].action_name == "freee請求書を作成"
    for language in ("en", "ja"):
        labels = one.labels[language]
        assert labels.app_display_name == "hubspot-freee"
        assert labels.action_description
        assert set(labels.output_field_labels) == {f.type_definition.name for f in one.output_fields}
        assert set(labels.execution_rules) == {r.label_name for r in one.execution_rules}
    assert "{{ error_message }}" in one.labels["en"].execution_rules["failed"]


def test_every_project_definition_matches_hubspots_current_reference() -> None:
    for action in load_action_files(ACTIONS, BASE):
        assert reference_body(PublicActionDefinitionEgg, action.definition) == action.definition
        for output in action.definition["outputFields"]:
            spec = output["typeDefinition"]
            assert {"options", "externalOptions", "schema", "useChirp"} <= set(spec), spec["name"]


def test_the_typed_outputs_follow_the_definitions_output_fields() -> None:
    [action] = load_action_files(ACTIONS, BASE)
    fields = {f["typeDefinition"]["name"]: f["typeDefinition"] for f in action.definition["outputFields"]}

    assert {name: spec["type"] for name, spec in fields.items()} == OUTPUT_FIELD_TYPES
    assert [o["value"] for o in fields["result"]["options"]] == [r.value for r in ActionResult]


# -- refusals ----------------------------------------------------------------------------------------------------------


def test_the_sandbox_refuses_a_definition_without_its_required_fields(
    url: str, sandbox: HubSpotSandbox
) -> None:
    response = requests.post(
        f"{url}/automation/v4/actions/{APP_ID}",
        headers=bearer(),
        json={
            "inputFields": [{"typeDefinition": {"name": "x", "type": "string"}}],
            "outputFields": [
                {"typeDefinition": {"name": "result", "type": "enumeration", "options": [{"value": "a"}]}}
            ],
            "labels": {"ja": {}},
        },
        timeout=5,
    )

    assert response.status_code == 400
    body = response.json()
    assert body["category"] == "VALIDATION_ERROR"
    for missing in (
        "actionUrl is required",
        "published is required",
        "objectTypes is required",
        "labels.en is required",
        "isRequired is required",
        "inputFields[0].typeDefinition.options is required",
        "outputFields[0].typeDefinition.options[0] lacks description, displayOrder, doubleData, hidden, label, "
        "readOnly",
        "outputFields[0].typeDefinition.externalOptions is required",
        "outputFields[0].typeDefinition.useChirp is required",
        "outputFields[0].typeDefinition.schema is required",
        "labels.ja.actionName is required",
    ):
        assert missing in body["message"], missing
    assert sandbox.action_definitions() == []


@pytest.mark.parametrize("required", ["options", "externalOptions", "schema", "useChirp"])
def test_the_sandbox_refuses_an_output_field_the_reference_would_refuse(
    url: str, sandbox: HubSpotSandbox, required: str
) -> None:
    [ours] = load_action_files(ACTIONS, BASE)
    old_shape = json.loads(json.dumps(ours.definition))
    del old_shape["outputFields"][0]["typeDefinition"][required]

    response = requests.post(
        f"{url}/automation/v4/actions/{APP_ID}", headers=bearer(), json=old_shape, timeout=5
    )

    assert response.status_code == 400
    assert f"outputFields[0].typeDefinition.{required} is required" in response.json()["message"]
    assert sandbox.action_definitions() == []


@pytest.mark.parametrize("required", ["options", "externalOptions", "schema", "useChirp"])
def test_an_output_field_without_what_the_reference_requires_is_refused_before_sending(
    client: HubSpotClient, sandbox: HubSpotSandbox, definitions: Path, required: str
) -> None:
    edit(definitions, "create_invoice", lambda d: d["outputFields"][3]["typeDefinition"].pop(required))

    with pytest.raises(ValueError, match=rf"outputFields\.3\.typeDefinition\.{required}: Field required"):
        register_actions(client, APP_ID, BASE, definitions)
    assert writes(sandbox) == []


def test_an_execution_rule_without_an_english_message_is_refused(
    client: HubSpotClient, definitions: Path
) -> None:
    edit(definitions, "create_invoice", lambda d: d["labels"]["en"]["executionRules"].pop("failed"))

    with pytest.raises(
        HubSpotRequestError, match=r"labels.en.executionRules has no message for \['failed'\]"
    ):
        register_actions(client, APP_ID, BASE, definitions)


def test_a_field_the_reference_does_not_know_is_refused_before_sending(
    client: HubSpotClient, sandbox: HubSpotSandbox, definitions: Path
) -> None:
    edit(definitions, "create_invoice", lambda d: d.update(actionURL="typo"))

    with pytest.raises(ValueError, match="actionURL: Extra inputs are not permitted"):
        register_actions(client, APP_ID, BASE, definitions)
    assert writes(sandbox) == []


# -- how the definitions authenticate --------------------------------------------------------------------------------


def test_definitions_want_the_developer_accounts_token_not_the_portals(
    url: str, sandbox: HubSpotSandbox
) -> None:
    listing = f"{url}/automation/v4/actions/{APP_ID}"

    with_developer_token = requests.get(listing, headers=bearer(), timeout=5)
    with_portal_token = requests.get(listing, headers=bearer(sandbox.access_token), timeout=5)
    with_key = requests.get(listing, params={"hapikey": KEY}, timeout=5)
    with_nothing = requests.get(listing, timeout=5)

    assert with_developer_token.status_code == 200
    assert with_portal_token.status_code == 403
    assert with_portal_token.json()["category"] == "MISSING_SCOPES"
    assert with_portal_token.json()["errors"][0]["context"] == {"requiredGranularScopes": ["developers-read"]}
    assert (with_key.status_code, with_nothing.status_code) == (401, 401)  # the reference lists no API key
    assert with_key.json()["category"] == "INVALID_AUTHENTICATION"


def test_a_token_without_developers_write_reads_but_cannot_create(
    client: HubSpotClient, sandbox: HubSpotSandbox
) -> None:
    sandbox.developer_scopes = frozenset({"developers-read"})

    with pytest.raises(HubSpotAuthError) as refused:
        register_actions(client, APP_ID, BASE, ACTIONS)

    assert refused.value.status == 403
    assert "HUBSPOT_DEVELOPER_ACCESS_TOKEN" in str(refused.value)
    assert "developers-write" in str(refused.value)
    assert writes(sandbox) == [f"POST /automation/v4/actions/{APP_ID}"]  # refused: nothing stored
    assert sandbox.action_definitions() == []


def test_a_wrong_developer_token_is_an_auth_error_naming_the_setting(
    url: str, sandbox: HubSpotSandbox
) -> None:
    settings = load_settings(hubspot_api_base=url, hubspot_developer_access_token="wrong-token")
    client = HubSpotClient.for_developer_account(settings)

    with pytest.raises(HubSpotAuthError) as refused:
        client.list_action_definitions(APP_ID)

    assert refused.value.status == 401
    assert "HUBSPOT_DEVELOPER_ACCESS_TOKEN" in str(refused.value)
    assert "wrong-token" not in str(refused.value)


def test_the_token_is_sent_rather_than_the_legacy_key_when_both_are_set(
    url: str, sandbox: HubSpotSandbox
) -> None:
    settings = load_settings(
        hubspot_api_base=url, hubspot_developer_access_token=TOKEN, hubspot_developer_api_key="stale-key"
    )

    [created] = register_actions(HubSpotClient.for_developer_account(settings), APP_ID, BASE, ACTIONS)

    assert created.status is Registration.CREATED


def test_the_legacy_developer_api_key_works_only_where_hubspot_takes_it(
    server: tuple[Switch, ServedApp], clock: FakeClock
) -> None:
    settings = load_settings(hubspot_api_base=server[1].url, hubspot_developer_api_key=KEY)
    legacy = create_hubspot_sandbox(clock=clock, app_id=APP_ID, developer_api_key=KEY, seed=6)
    current = create_hubspot_sandbox(clock=clock, app_id=APP_ID, seed=7)
    try:
        server[0].app = legacy.app
        [created] = register_actions(HubSpotClient.for_developer_account(settings), APP_ID, BASE, ACTIONS)
        server[0].app = current.app
        with pytest.raises(HubSpotAuthError) as refused:
            register_actions(HubSpotClient.for_developer_account(settings), APP_ID, BASE, ACTIONS)
    finally:
        legacy.close()
        current.close()

    assert created.status is Registration.CREATED
    assert "HUBSPOT_DEVELOPER_API_KEY" in str(refused.value)
    assert KEY not in str(refused.value)


def test_an_app_of_another_developer_account_is_not_found(
    client: HubSpotClient, sandbox: HubSpotSandbox
) -> None:
    with pytest.raises(HubSpotNotFound, match="App 999 was not found"):
        register_actions(client, 999, BASE, ACTIONS)


def test_a_client_without_a_developer_credential_says_which_setting_is_missing(url: str) -> None:
    with pytest.raises(SettingsError, match="HUBSPOT_DEVELOPER_ACCESS_TOKEN"):
        HubSpotClient.for_developer_account(load_settings(hubspot_api_base=url))


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ("{not json", "not valid JSON at line 1"),
        ("[]", "not a definition"),
        ('{"labels": {"en": {"actionName": "x"}}}', "actionUrl is missing"),
        (
            '{"actionUrl": "{base_url}/a", "labels": {"ja": {"actionName": "x"}}}',
            "labels.en.actionName is missing",
        ),
    ],
)
def test_a_bad_definition_file_is_named_with_its_problem(tmp_path: Path, content: str, expected: str) -> None:
    (tmp_path / "broken.json").write_text(content, encoding="utf-8")

    with pytest.raises(DefinitionFileError, match=expected) as refused:
        load_action_files(tmp_path, BASE)

    assert "broken.json" in str(refused.value)


@pytest.mark.parametrize("base", ["invoices.example.jp", "ftp://invoices.example.jp", ""])
def test_the_base_url_must_be_absolute(base: str) -> None:
    with pytest.raises(DefinitionFileError, match="not an absolute http"):
        load_action_files(ACTIONS, base)


# -- the command -------------------------------------------------------------------------------------------------------

runner = CliRunner()


def cli(env: dict[str, str], *args: str) -> Any:
    isolated: dict[str, str | None] = {"COLUMNS": "200", "PUBLIC_BASE_URL": None, **env}
    return runner.invoke(app, ["actions", "register", *args], env=isolated)


def test_command_registers_then_reports_unchanged(url: str, sandbox: HubSpotSandbox) -> None:
    env = {"HUBSPOT_API_BASE": url, "HUBSPOT_DEVELOPER_ACCESS_TOKEN": TOKEN, "HUBSPOT_APP_ID": str(APP_ID)}

    first = cli(env, "--base-url", BASE, "--json")
    second = cli(env, "--base-url", BASE)

    assert first.exit_code == 0, first.output
    [created] = json.loads(first.stdout)
    assert created["status"] == "created"
    assert created["action_url"] == f"{BASE}/actions/create-invoice"
    assert second.exit_code == 0, second.output
    assert "unchanged" in second.stdout
    assert created["definition_id"] in second.stdout
    assert len(sandbox.action_definitions()) == 1


def test_command_takes_the_app_id_option_over_the_setting(url: str, sandbox: HubSpotSandbox) -> None:
    env = {"HUBSPOT_API_BASE": url, "HUBSPOT_DEVELOPER_ACCESS_TOKEN": TOKEN, "HUBSPOT_APP_ID": "999"}

    result = cli(env, "--app-id", str(APP_ID), "--base-url", BASE, "--json")

    assert result.exit_code == 0, result.output
    assert len(sandbox.action_definitions()) == 1


@pytest.mark.parametrize(
    ("env", "args", "named"),
    [
        ({"HUBSPOT_APP_ID": "4242"}, ["--base-url", BASE], "HUBSPOT_DEVELOPER_ACCESS_TOKEN"),
        ({"HUBSPOT_DEVELOPER_ACCESS_TOKEN": TOKEN}, ["--base-url", BASE], "HUBSPOT_APP_ID"),
        ({"HUBSPOT_DEVELOPER_ACCESS_TOKEN": TOKEN, "HUBSPOT_APP_ID": "4242"}, [], "--base-url"),
        (
            {"HUBSPOT_DEVELOPER_ACCESS_TOKEN": TOKEN, "HUBSPOT_APP_ID": "4242"},
            ["--base-url", "example.jp"],
            "absolute",
        ),
    ],
    ids=["no-credential", "no-app", "no-base-url", "relative-base-url"],
)
def test_command_exits_2_naming_what_is_missing(
    url: str, sandbox: HubSpotSandbox, env: dict[str, str], args: list[str], named: str
) -> None:
    result = cli({"HUBSPOT_API_BASE": url, **env}, *args)

    assert result.exit_code == 2, result.output
    assert named in result.output
    assert "Traceback" not in result.output
    assert sandbox.action_definitions() == []


def test_command_with_a_refused_token_exits_2_without_echoing_it(url: str, sandbox: HubSpotSandbox) -> None:
    env = {
        "HUBSPOT_API_BASE": url,
        "HUBSPOT_DEVELOPER_ACCESS_TOKEN": "nope-not-it",
        "HUBSPOT_APP_ID": str(APP_ID),
    }

    result = cli(env, "--base-url", BASE)

    assert result.exit_code == 2
    assert "HUBSPOT_DEVELOPER_ACCESS_TOKEN" in result.output
    assert "nope-not-it" not in result.output
