"""The project's HubSpot client (a wrapper over the official one) against the HubSpot sandbox on loopback.

Client and sandbox share one fake clock: the client's retry back-off advances the very time the sandbox's rate
limit window slides on, so nothing here sleeps for real.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from typing import Any

import pytest
from urllib3.response import HTTPResponse

from sandbox.faults import FaultInjector, FaultKind, FaultRule
from sandbox.hubspot import HubSpotApiError, HubSpotSandbox, create_hubspot_sandbox
from sandbox.transport import ServedApp, serve
from sdk.clock import FakeClock
from sdk.errors import AuthError, Retryable, SettingsError
from sdk.hubspot import (
    CallCounter,
    ClockRetry,
    HubSpotClient,
    HubSpotNotFound,
    HubSpotRequestError,
    HubSpotRetryable,
    build_retry,
    owned_properties,
    translate_error,
)
from sdk.hubspot.counting import RETRY_COUNTER_KEY
from sdk.settings import Settings, load_settings
from tests.world import Switch

TOKEN = "integration-token"
PORTAL = 24681357


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def faults() -> FaultInjector:
    return FaultInjector(seed=3)


@pytest.fixture
def sandbox(clock: FakeClock, faults: FaultInjector) -> Iterator[HubSpotSandbox]:
    box = create_hubspot_sandbox(clock=clock, faults=faults, access_token=TOKEN, portal_id=PORTAL, seed=11)
    yield box
    box.close()


@pytest.fixture(scope="module")
def server() -> Iterator[tuple[Switch, ServedApp]]:
    switch = Switch()
    with serve(switch) as app:
        yield switch, app


@pytest.fixture
def served(server: tuple[Switch, ServedApp], sandbox: HubSpotSandbox) -> ServedApp:
    switch, app = server
    switch.app = sandbox.app
    return app


@pytest.fixture
def hub_settings(served: ServedApp) -> Settings:
    return load_settings(hubspot_api_base=served.url, hubspot_access_token=TOKEN)


@pytest.fixture
def metrics() -> CallCounter:
    return CallCounter()


@pytest.fixture
def client(hub_settings: Settings, metrics: CallCounter, clock: FakeClock) -> HubSpotClient:
    return HubSpotClient.from_settings(hub_settings, metrics=metrics, clock=clock)


def definitions(settings: Settings, prefix: str) -> list[dict[str, Any]]:
    """The project's own properties for one object, as HubSpot property JSON (plain text fields here)."""
    return [
        {
            "name": name,
            "label": name,
            "type": "string",
            "fieldType": "text",
            "groupName": settings.properties.group,
            "description": "hubspot-freee",
        }
        for name in owned_properties(settings.properties, prefix)
    ]


def set_up_project_properties(client: HubSpotClient, settings: Settings) -> None:
    for object_type, prefix in (("deals", "deal_"), ("companies", "company_"), ("line_items", "line_item_")):
        client.ensure_property_group(object_type, settings.properties.group, "freee")
        client.ensure_properties(object_type, definitions(settings, prefix))


# -- reading a deal --------------------------------------------------------------------------------------------------


def test_deal_bundle_has_its_lines_primary_company_and_contact_in_four_calls(
    client: HubSpotClient, sandbox: HubSpotSandbox, metrics: CallCounter
) -> None:
    unlabeled = sandbox.create_company(name="株式会社ほかの会社")
    primary = sandbox.create_company(name="株式会社サンプル商事", zip="100-0005", state="東京都")
    first_contact = sandbox.create_contact(lastname="山田", firstname="太郎", email="taro@example.co.jp")
    second_contact = sandbox.create_contact(lastname="佐藤", firstname="花子", email="hanako@example.co.jp")
    deal_id = sandbox.create_deal(
        dealname="【受注】会計導入支援",
        amount="330000",
        closedate="2026-11-20T03:00:00.000Z",
        dealstage="closedwon",
        deal_currency_code="JPY",
        companies=[unlabeled],
        company=primary,
        contacts=[first_contact, second_contact],
        line_items=[
            {"name": "導入支援", "quantity": 1, "price": 200000, "hs_position_on_quote": 0},
            {"name": "ライセンス", "quantity": 10, "price": 10000, "hs_position_on_quote": 1},
            {"name": "研修", "quantity": 2, "price": 15000, "hs_position_on_quote": 2},
        ],
    )
    before = len(sandbox.api_calls)

    bundle = client.read_deal_bundle(PORTAL, deal_id)

    assert bundle.portal_id == PORTAL
    assert bundle.deal.id == deal_id
    assert bundle.deal.name == "【受注】会計導入支援"
    assert bundle.deal.amount == "330000"
    assert bundle.deal.stage == "closedwon"
    assert bundle.deal.pipeline == "default"
    assert bundle.deal.currency == "JPY"
    assert [i.name for i in bundle.line_items] == ["導入支援", "ライセンス", "研修"]
    assert [(i.quantity, i.price) for i in bundle.line_items] == [
        ("1", "200000"),
        ("10", "10000"),
        ("2", "15000"),
    ]
    assert bundle.company is not None
    assert bundle.company.id == primary  # the primary one, although the unlabeled one came first
    assert bundle.company.prop("state") == "東京都"
    assert bundle.contact is not None
    assert bundle.contact.id == first_contact
    assert bundle.contact.full_name == "山田 太郎"
    assert metrics.calls() == 4
    assert metrics.snapshot() == {
        "deals.get": 1,
        "line_items.batch_read": 1,
        "companies.get": 1,
        "contacts.get": 1,
    }
    assert len(sandbox.api_calls) - before == 4


def test_without_a_primary_company_the_first_one_is_taken_and_no_contact_is_read(
    client: HubSpotClient, sandbox: HubSpotSandbox, metrics: CallCounter
) -> None:
    first = sandbox.create_company(name="一社目")
    second = sandbox.create_company(name="二社目")
    deal_id = sandbox.create_deal(dealname="会社二つ", companies=[first, second], line_items=[{"name": "x"}])

    bundle = client.read_deal_bundle(PORTAL, deal_id)

    assert bundle.company is not None
    assert bundle.company.id == first
    assert bundle.contact is None
    assert metrics.calls() == 3


def test_a_deal_with_nothing_associated_costs_one_call(
    client: HubSpotClient, sandbox: HubSpotSandbox, metrics: CallCounter
) -> None:
    deal_id = sandbox.create_deal(dealname="単独")

    bundle = client.read_deal_bundle(PORTAL, deal_id)

    assert (bundle.line_items, bundle.company, bundle.contact) == ([], None, None)
    assert metrics.calls() == 1


def test_the_bundle_carries_the_projects_own_properties(
    client: HubSpotClient, sandbox: HubSpotSandbox, hub_settings: Settings
) -> None:
    set_up_project_properties(client, hub_settings)
    names = hub_settings.properties
    company = sandbox.create_company(
        name="登録番号あり",
        **{names.company_registration_number: "T7000012050002", names.company_payment_terms: "net_30"},
    )
    deal_id = sandbox.create_deal(
        dealname="税率",
        company=company,
        line_items=[{"name": "本", "price": 1000, names.line_item_tax_rate: "8_reduced"}],
    )
    sandbox.update("deals", deal_id, **{names.deal_invoice_id: "987"})

    bundle = client.read_deal_bundle(PORTAL, deal_id)

    assert bundle.deal.prop(names.deal_invoice_id) == "987"
    assert bundle.line_items[0].prop(names.line_item_tax_rate) == "8_reduced"
    assert bundle.company is not None
    assert bundle.company.prop(names.company_registration_number) == "T7000012050002"
    assert bundle.company.prop(names.company_payment_terms) == "net_30"


def test_the_bundle_reads_each_lines_recurring_billing_and_the_schedules_inputs(
    client: HubSpotClient, sandbox: HubSpotSandbox, hub_settings: Settings, metrics: CallCounter
) -> None:
    set_up_project_properties(client, hub_settings)
    names = hub_settings.properties
    company = sandbox.create_company(
        name="月締めの会社", **{names.company_billing_mode: "consolidated", names.company_closing_day: "20"}
    )
    deal_id = sandbox.create_deal(
        dealname="保守契約",
        company=company,
        line_items=[
            {
                "name": "保守（月額）",
                "price": 30000,
                "recurringbillingfrequency": "monthly",
                "hs_recurring_billing_period": "P12M",
                "hs_recurring_billing_start_date": "2026-12-01",
                "hs_position_on_quote": 0,
            },
            {
                "name": "サポート（四半期、解約まで）",
                "price": 90000,
                "recurringbillingfrequency": "quarterly",
                "hs_billing_start_delay_type": "hs_billing_start_delay_months",
                "hs_billing_start_delay_months": 2,
                "hs_position_on_quote": 1,
            },
            {"name": "導入作業", "price": 100000, "hs_position_on_quote": 2},
        ],
        **{names.deal_billing_plan: 3},
    )

    bundle = client.read_deal_bundle(PORTAL, deal_id)

    monthly, quarterly, one_off = bundle.line_items
    assert (monthly.billing_frequency, monthly.billing_period, monthly.billing_start_date) == (
        "monthly",
        "P12M",
        "2026-12-01",
    )
    assert monthly.billing_number_of_payments == "12"  # HubSpot's calculation, read back
    assert monthly.billing_start_delay_type is None and monthly.billing_end_date is None
    assert (quarterly.billing_frequency, quarterly.billing_period) == ("quarterly", None)  # until cancelled
    assert quarterly.billing_start_delay_type == "hs_billing_start_delay_months"
    assert (quarterly.billing_start_delay_months, quarterly.billing_start_delay_days) == ("2", None)
    assert quarterly.billing_number_of_payments is None
    assert (one_off.billing_frequency, one_off.billing_period, one_off.billing_number_of_payments) == (
        None,
        None,
        None,
    )
    assert bundle.deal.prop(names.deal_billing_plan) == "3"
    assert bundle.company is not None
    assert bundle.company.prop(names.company_billing_mode) == "consolidated"
    assert bundle.company.prop(names.company_closing_day) == "20"
    # read with the other line item properties: no extra call
    assert metrics.count("line_items.batch_read") == 1


def test_150_line_items_take_two_batch_reads_in_association_order(
    client: HubSpotClient, sandbox: HubSpotSandbox, metrics: CallCounter
) -> None:
    deal_id = sandbox.create_deal(dealname="多い", line_items=[{"name": f"line {n}"} for n in range(150)])

    bundle = client.read_deal_bundle(PORTAL, deal_id)

    assert [i.name for i in bundle.line_items] == [f"line {n}" for n in range(150)]
    assert metrics.count("line_items.batch_read") == 2


def test_paged_v3_associations_are_followed_through_v4(
    client: HubSpotClient, sandbox: HubSpotSandbox, metrics: CallCounter
) -> None:
    sandbox.state.v3_association_limit = 50
    deal_id = sandbox.create_deal(dealname="ページ", line_items=[{"name": f"line {n}"} for n in range(120)])

    bundle = client.read_deal_bundle(PORTAL, deal_id)

    assert len(bundle.line_items) == 120
    assert metrics.count("associations.get_page") == 1


def test_a_missing_deal_is_hubspot_not_found(client: HubSpotClient) -> None:
    with pytest.raises(HubSpotNotFound) as raised:
        client.read_deal_bundle(PORTAL, "404404404")

    assert raised.value.operation == "deals.get"
    assert "404" in str(raised.value)


# -- pipelines -------------------------------------------------------------------------------------------------------


def test_won_stages_come_from_metadata_including_numeric_custom_stages(
    client: HubSpotClient, metrics: CallCounter, clock: FakeClock
) -> None:
    won = client.won_stages()
    again = client.won_stages()  # cached
    clock.advance(301)
    client.won_stages()  # the cache expired

    assert won == {("default", "closedwon"), ("87654321", "87654324")}
    assert again == won
    assert metrics.count("pipelines.get_all") == 2


def test_won_stage_settings_limit_pipelines(served: ServedApp, clock: FakeClock) -> None:
    settings = load_settings(
        hubspot_api_base=served.url, hubspot_access_token=TOKEN, won_stages={"pipelines": ["87654321"]}
    )
    client = HubSpotClient.from_settings(settings, clock=clock)

    assert client.won_stages() == {("87654321", "87654324")}


# -- writing ---------------------------------------------------------------------------------------------------------


def test_updating_250_deals_takes_three_calls_and_lands(
    client: HubSpotClient, sandbox: HubSpotSandbox, metrics: CallCounter, hub_settings: Settings
) -> None:
    set_up_project_properties(client, hub_settings)
    names = hub_settings.properties
    deal_ids = [sandbox.create_deal(dealname=f"deal {n}") for n in range(250)]
    metrics.reset()

    result = client.update_deals(
        {
            deal_id: {
                names.deal_payment_status: "paid",
                names.deal_amount_paid: 1000 + n,
                names.deal_sync_error: None,
            }
            for n, deal_id in enumerate(deal_ids)
        }
    )

    assert metrics.snapshot() == {"deals.batch_update": 3}
    assert sorted(result.updated) == sorted(deal_ids)
    assert result.not_found == ()
    for n, deal_id in enumerate(deal_ids):
        stored = sandbox.properties_of("deals", deal_id)
        assert stored[names.deal_payment_status] == "paid"
        assert stored[names.deal_amount_paid] == str(1000 + n)
        assert stored[names.deal_sync_error] == ""


def test_company_update_reports_companies_that_are_gone(
    client: HubSpotClient, sandbox: HubSpotSandbox, hub_settings: Settings, metrics: CallCounter
) -> None:
    set_up_project_properties(client, hub_settings)
    names = hub_settings.properties
    company = sandbox.create_company(name="残高あり")
    metrics.reset()

    result = client.update_companies(
        {company: {names.company_outstanding_total: 55000}, "404404": {names.company_outstanding_total: 1}}
    )

    assert result.updated == (company,)
    assert result.not_found == ("404404",)
    assert sandbox.properties_of("companies", company)[names.company_outstanding_total] == "55000"
    assert metrics.snapshot() == {"companies.batch_update": 2}  # refused whole, then sent without 404404


def test_one_deleted_deal_never_blocks_the_other_99(
    client: HubSpotClient, sandbox: HubSpotSandbox, metrics: CallCounter, hub_settings: Settings
) -> None:
    set_up_project_properties(client, hub_settings)
    names = hub_settings.properties
    deal_ids = [sandbox.create_deal(dealname=f"deal {n}") for n in range(100)]
    deleted = deal_ids[37]
    sandbox.delete("deals", deleted)  # someone deletes it in HubSpot between two syncs
    metrics.reset()

    result = client.update_deals({deal_id: {names.deal_payment_status: "paid"} for deal_id in deal_ids})

    assert result.not_found == (deleted,)
    assert sorted(result.updated) == sorted(d for d in deal_ids if d != deleted)
    assert metrics.snapshot() == {"deals.batch_update": 2}
    refused, retried = [c for c in sandbox.api_calls if c.path.endswith("/batch/update")]
    assert (refused.status, retried.status) == (404, 200)
    for deal_id in deal_ids:
        if deal_id != deleted:
            assert sandbox.properties_of("deals", deal_id)[names.deal_payment_status] == "paid"


def test_a_batch_of_deals_all_gone_writes_nothing_and_says_which(
    client: HubSpotClient, sandbox: HubSpotSandbox, metrics: CallCounter, hub_settings: Settings
) -> None:
    set_up_project_properties(client, hub_settings)
    names = hub_settings.properties
    gone = [sandbox.create_deal(dealname=f"gone {n}") for n in range(3)]
    for deal_id in gone:
        sandbox.delete("deals", deal_id)
    metrics.reset()

    result = client.update_deals({d: {names.deal_payment_status: "paid"} for d in gone})

    assert (result.updated, result.not_found) == ((), tuple(gone))
    assert metrics.snapshot() == {"deals.batch_update": 1}  # nothing left to send again


class _MergedAway:
    """HubSpot's batch API answering a merged record under the id of the record it was merged into."""

    def __init__(self, inner: Any, merged: str, into: str) -> None:
        self.inner, self.merged, self.into = inner, merged, into

    def update(self, body: Any, **options: Any) -> Any:
        body.inputs = [i for i in body.inputs if i.id != self.merged]
        answer = self.inner.update(body, **options)
        answer.results.append(type(answer.results[0])(**{**answer.results[0].to_dict(), "id": self.into}))
        return answer


def test_a_207_answer_names_the_deleted_deal_and_one_answered_under_another_id_is_not_counted(
    client: HubSpotClient, sandbox: HubSpotSandbox, metrics: CallCounter, hub_settings: Settings
) -> None:
    set_up_project_properties(client, hub_settings)
    names = hub_settings.properties
    sandbox.batch_update_missing = "partial"  # 207: the others written, the gone one among the errors
    kept, deleted, merged, survivor = (
        sandbox.create_deal(dealname=n) for n in ("kept", "deleted", "merged", "survivor")
    )
    sandbox.delete("deals", deleted)
    client._apis["crm.deals.batch_api"] = _MergedAway(client._api("crm.deals.batch_api"), merged, survivor)
    metrics.reset()

    result = client.update_deals({d: {names.deal_payment_status: "paid"} for d in (kept, deleted, merged)})

    assert result.not_found == (deleted, merged)  # the merged one's write is not confirmed under its id
    assert set(result.updated) == {kept, survivor}
    assert metrics.snapshot() == {"deals.batch_update": 1}  # nothing refused: nothing sent again
    assert sandbox.properties_of("deals", kept)[names.deal_payment_status] == "paid"


def test_writing_a_property_that_was_never_created_is_a_request_error(
    client: HubSpotClient, sandbox: HubSpotSandbox, hub_settings: Settings
) -> None:
    deal_id = sandbox.create_deal(dealname="未作成")

    with pytest.raises(HubSpotRequestError) as raised:
        client.update_deals({deal_id: {hub_settings.properties.deal_invoice_id: "1"}})

    assert raised.value.status == 400
    assert "PROPERTY_DOESNT_EXIST" in str(raised.value)
    assert raised.value.category == "VALIDATION_ERROR"


def test_ensure_properties_is_idempotent(
    client: HubSpotClient, sandbox: HubSpotSandbox, hub_settings: Settings
) -> None:
    group = hub_settings.properties.group
    wanted = definitions(hub_settings, "deal_")

    first_group = client.ensure_property_group("deals", group, "freee 連携")
    created = client.ensure_properties("deals", wanted)
    second_group = client.ensure_property_group("deals", group, "freee 連携")
    created_again = client.ensure_properties("deals", wanted)

    assert (first_group, second_group) == (True, False)
    assert created == [d["name"] for d in wanted]
    assert hub_settings.properties.deal_invoice_id in created
    assert created_again == []
    stored = sandbox.state.properties["deals"][hub_settings.properties.deal_payment_status]
    assert stored["groupName"] == group


def test_enumeration_definitions_keep_their_options(client: HubSpotClient, sandbox: HubSpotSandbox) -> None:
    client.ensure_property_group("line_items", "freee", "freee")
    created = client.ensure_properties(
        "line_items",
        [
            {
                "name": "freee_tax_rate",
                "label": "税率 / Tax rate",
                "type": "enumeration",
                "field_type": "select",
                "group_name": "freee",
                "options": [{"label": "10%", "value": "10"}, {"label": "8%（軽減）", "value": "8_reduced"}],
            }
        ],
    )

    assert created == ["freee_tax_rate"]
    options = sandbox.state.properties["line_items"]["freee_tax_rate"]["options"]
    assert [o["value"] for o in options] == ["10", "8_reduced"]


def test_callback_completion_sends_the_outputs_as_text_and_typed(
    client: HubSpotClient, sandbox: HubSpotSandbox, metrics: CallCounter
) -> None:
    client.complete_callback(
        "cb-42",
        {"hs_execution_state": "SUCCESS", "freee_invoice_number": "1024", "result": "created"},
        {"freee_invoice_number": "1024", "result": "created"},
    )

    [done] = sandbox.callbacks
    assert done.callback_id == "cb-42"
    assert done.output_fields == {
        "hs_execution_state": "SUCCESS",
        "freee_invoice_number": "1024",
        "result": "created",
    }
    assert done.typed_outputs == {"freee_invoice_number": "1024", "result": "created"}
    assert metrics.snapshot() == {"callbacks.complete": 1}


def test_a_completion_the_reference_would_refuse_is_not_sent(
    client: HubSpotClient, sandbox: HubSpotSandbox
) -> None:
    with pytest.raises(ValueError, match=r"outputFields\.result: Input should be a valid string"):
        client.complete_callback("cb-43", {"result": 1}, {"result": 1})  # type: ignore[dict-item]

    assert sandbox.callbacks == []
    assert [c.path for c in sandbox.api_calls] == []


# -- errors and retries ----------------------------------------------------------------------------------------------


def test_the_sandbox_rate_limit_is_waited_out_on_the_shared_clock(
    server: tuple[Switch, ServedApp], clock: FakeClock
) -> None:
    limited = create_hubspot_sandbox(clock=clock, access_token=TOKEN, rate_limit_per_10s=3)
    deal_id = limited.create_deal(dealname="混雑")
    switch, app = server
    switch.app = limited.app
    metrics = CallCounter()
    client = HubSpotClient.from_settings(
        load_settings(hubspot_api_base=app.url, hubspot_access_token=TOKEN), metrics=metrics, clock=clock
    )

    bundles = [client.read_deal_bundle(PORTAL, deal_id) for _ in range(5)]

    limited.close()

    assert all(b.deal.id == deal_id for b in bundles)
    statuses = [c.status for c in limited.api_calls]
    assert statuses.count(429) >= 1
    assert metrics.count(RETRY_COUNTER_KEY) == statuses.count(429)
    assert clock.slept  # the back-off waited on the fake clock, not for real
    assert clock.monotonic() >= 10


def test_injected_429_and_503_are_retried(
    client: HubSpotClient, sandbox: HubSpotSandbox, faults: FaultInjector, metrics: CallCounter
) -> None:
    deal_id = sandbox.create_deal(dealname="不安定")
    faults.script(FaultKind.RATE_LIMIT, FaultKind.SERVER_ERROR, path_prefix="/crm/v3/objects/deals")

    bundle = client.read_deal_bundle(PORTAL, deal_id)

    assert bundle.deal.id == deal_id
    assert [kind for _, _, kind in faults.history] == ["429", "5xx"]
    assert metrics.count(RETRY_COUNTER_KEY) == 2


def test_a_batch_update_is_retried_after_a_503(
    client: HubSpotClient, sandbox: HubSpotSandbox, faults: FaultInjector, hub_settings: Settings
) -> None:
    set_up_project_properties(client, hub_settings)
    deal_id = sandbox.create_deal(dealname="再送")
    faults.script(FaultKind.SERVER_ERROR, path_prefix="/crm/v3/objects/deals/batch/update")

    result = client.update_deals({deal_id: {hub_settings.properties.deal_sync_status: "created"}})

    assert result.updated == (deal_id,)
    assert sandbox.properties_of("deals", deal_id)[hub_settings.properties.deal_sync_status] == "created"


def test_a_persistent_503_becomes_retryable(
    client: HubSpotClient, faults: FaultInjector, metrics: CallCounter
) -> None:
    faults.add(FaultRule(FaultKind.SERVER_ERROR, status=503, path_prefix="/crm/v3/pipelines"))

    with pytest.raises(HubSpotRetryable) as raised:
        client.read_pipelines()

    assert isinstance(raised.value, Retryable)
    assert raised.value.status == 503
    assert metrics.count(RETRY_COUNTER_KEY) == 6


def test_a_rate_limit_that_outlasts_the_retries_says_when_to_come_back(
    client: HubSpotClient, faults: FaultInjector
) -> None:
    faults.add(FaultRule(FaultKind.RATE_LIMIT, path_prefix="/crm/v3/pipelines"))

    with pytest.raises(Retryable) as raised:
        client.read_pipelines()

    assert raised.value.retry_after == 10.0  # from X-HubSpot-RateLimit-Interval-Milliseconds


def test_a_wrong_token_is_an_auth_error_without_the_token(served: ServedApp, clock: FakeClock) -> None:
    secret = "wrong-token-do-not-print"
    client = HubSpotClient.from_settings(
        load_settings(hubspot_api_base=served.url, hubspot_access_token=secret), clock=clock
    )

    with pytest.raises(AuthError) as raised:
        client.read_pipelines()

    assert "401" in str(raised.value)
    assert secret not in str(raised.value)
    assert secret not in repr(client)


def test_a_missing_token_is_a_settings_error(served: ServedApp) -> None:
    with pytest.raises(SettingsError, match="hubspot_access_token"):
        HubSpotClient.from_settings(load_settings(hubspot_api_base=served.url))


def test_an_unreachable_hubspot_is_retryable(clock: FakeClock) -> None:
    with socket.socket() as probe:  # a free port that nothing listens on
        probe.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{probe.getsockname()[1]}"
    client = HubSpotClient.from_settings(
        load_settings(hubspot_api_base=url, hubspot_access_token=TOKEN), clock=clock, timeout=(0.5, 0.5)
    )

    with pytest.raises(Retryable, match="could not be reached"):
        client.read_pipelines()


def test_a_company_gone_since_the_association_was_read_is_left_out(
    client: HubSpotClient, sandbox: HubSpotSandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    company = sandbox.create_company(name="削除済み")
    deal_id = sandbox.create_deal(dealname="古い関連", company=company)
    stale = sandbox.state.associated
    monkeypatch.setattr(
        sandbox.state,
        "associated",
        lambda from_type, from_id, to_type: (
            [(company, [5, 341])] if to_type == "companies" else stale(from_type, from_id, to_type)
        ),
    )
    del sandbox.state.objects["companies"][company]

    bundle = client.read_deal_bundle(PORTAL, deal_id)

    assert bundle.company is None


def test_v4_association_paging_is_followed_to_the_end(
    client: HubSpotClient, sandbox: HubSpotSandbox, metrics: CallCounter
) -> None:
    sandbox.state.v3_association_limit = 10
    deal_id = sandbox.create_deal(dealname="大量", line_items=[{"name": f"{n}"} for n in range(501)])

    bundle = client.read_deal_bundle(PORTAL, deal_id)

    assert len(bundle.line_items) == 501
    assert metrics.count("associations.get_page") == 2
    assert metrics.count("line_items.batch_read") == 6


def test_setup_races_and_refusals(
    client: HubSpotClient, sandbox: HubSpotSandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    def conflict(*args: Any) -> Any:
        raise HubSpotApiError(409, "already exists", "OBJECT_ALREADY_EXISTS")

    with pytest.raises(HubSpotRequestError) as bad_group:
        client.ensure_property_group("deals", "Bad-Name", "x")
    with pytest.raises(HubSpotRequestError) as bad_property:
        client.ensure_properties(
            "deals",
            [
                {
                    "name": "Bad-Name",
                    "label": "x",
                    "type": "string",
                    "fieldType": "text",
                    "groupName": "dealinformation",
                }
            ],
        )
    with pytest.raises(ValueError, match="unknown property field 'colour'"):
        client.ensure_properties("deals", [{"name": "freee_x", "colour": "red"}])
    monkeypatch.setattr(sandbox.state, "define_group", conflict)
    monkeypatch.setattr(sandbox.state, "define_property", conflict)
    created_meanwhile = client.ensure_property_group("deals", "freee", "freee")
    created = client.ensure_properties(
        "deals",
        [{"name": "freee_x", "label": "x", "type": "string", "fieldType": "text", "groupName": "freee"}],
    )

    assert (bad_group.value.status, bad_property.value.status) == (400, 400)
    assert created_meanwhile is False
    assert created == []


# -- the pieces ------------------------------------------------------------------------------------------------------


class ApiException(Exception):
    def __init__(self, status: int, body: Any, headers: Any = None, reason: str = "Reason") -> None:
        super().__init__(status)
        self.status, self.body, self.headers, self.reason = status, body, headers, reason


def test_error_translation_covers_hubspots_answers() -> None:
    forbidden = translate_error(
        ApiException(403, b'{"message": "missing scope", "category": "MISSING_SCOPES"}'), "op"
    )
    html = translate_error(ApiException(502, "<html>bad gateway</html>", reason="Bad Gateway"), "op")
    limited = translate_error(ApiException(429, "", {"Retry-After": "7"}), "op")
    vague = translate_error(ApiException(429, "", {"Retry-After": "soon"}), "op")
    odd_headers = translate_error(ApiException(503, None, headers=object()), "op")
    conflict = translate_error(ApiException(409, '{"message": "exists", "correlationId": "c-1"}'), "op")

    assert isinstance(forbidden, AuthError)
    assert "MISSING_SCOPES: missing scope" in str(forbidden)
    assert isinstance(html, HubSpotRetryable)
    assert "Bad Gateway" in str(html)
    assert isinstance(limited, Retryable)
    assert limited.retry_after == 7.0
    assert isinstance(vague, Retryable)
    assert vague.retry_after is None
    assert isinstance(odd_headers, Retryable)
    assert isinstance(conflict, HubSpotRequestError)
    assert (conflict.status, conflict.correlation_id) == (409, "c-1")
    assert translate_error(KeyError("not HubSpot's"), "op") is None


def test_retry_waits_on_the_clock_and_honours_retry_after(clock: FakeClock) -> None:
    retries: list[int] = []
    retry = build_retry(clock, backoff_factor=1.0, on_retry=lambda: retries.append(1))
    throttled = HTTPResponse(body=b"", status=429, headers={"Retry-After": "7"})
    plain = HTTPResponse(body=b"", status=503)

    first = retry.increment("POST", "/x", response=throttled)
    first.sleep(throttled)
    second = first.increment("POST", "/x", response=plain)
    second.sleep(plain)

    assert isinstance(second, ClockRetry)
    assert second.clock is clock
    assert clock.slept == [7.0, 2.0]
    assert len(retries) == 2


def test_call_counter_counts_by_operation() -> None:
    counter = CallCounter()
    counter.increment("deals.get")
    counter.increment("deals.get")
    counter.increment(RETRY_COUNTER_KEY)

    assert (counter.total, counter.calls(), counter.count("deals.get")) == (3, 2, 2)
    counter.reset()
    assert counter.snapshot() == {}
