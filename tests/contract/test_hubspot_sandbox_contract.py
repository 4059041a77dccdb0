"""The HubSpot sandbox against HubSpot's contract: the official ``hubspot-api-client``.

HubSpot's OpenAPI collection is not licensed for reuse, but the official client's models are generated from it:
every answer of the sandbox must deserialize through them, with the fields this project reads present. The
last tests prove the check bites: a sandbox that drifts (a field dropped or renamed) fails here.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
import requests
from hubspot import HubSpot
from hubspot.automation.actions import ApiException as ActionsApiException
from hubspot.automation.actions import CallbackCompletionRequest
from hubspot.crm.associations.v4 import (
    BatchInputPublicFetchAssociationsBatchRequest,
    BatchResponsePublicAssociationMultiWithLabel,
    BatchResponsePublicDefaultAssociation,
    CollectionResponseMultiAssociatedObjectWithLabelForwardPaging,
    PublicFetchAssociationsBatchRequest,
)
from hubspot.crm.deals import (
    ApiException,
    BatchInputSimplePublicObjectBatchInput,
    BatchReadInputSimplePublicObjectId,
    BatchResponseSimplePublicObject,
    BatchResponseSimplePublicObjectWithErrors,
    CollectionResponseSimplePublicObjectWithAssociationsForwardPaging,
    CollectionResponseWithTotalSimplePublicObjectForwardPaging,
    Filter,
    FilterGroup,
    PublicObjectSearchRequest,
    SimplePublicObject,
    SimplePublicObjectBatchInput,
    SimplePublicObjectId,
    SimplePublicObjectInput,
    SimplePublicObjectWithAssociations,
)
from hubspot.crm.line_items import BatchReadInputSimplePublicObjectId as LineItemBatchRead
from hubspot.crm.line_items import SimplePublicObjectId as LineItemId
from hubspot.crm.pipelines import CollectionResponsePipelineNoPaging
from hubspot.crm.pipelines import Pipeline as ClientPipeline
from hubspot.crm.properties import ApiException as PropertiesApiException
from hubspot.crm.properties import (
    CollectionResponsePropertyGroupNoPaging,
    CollectionResponsePropertyNoPaging,
    ModelProperty,
    OptionInput,
    PropertyCreate,
    PropertyGroup,
    PropertyGroupCreate,
    PropertyUpdate,
)

from sandbox.hubspot import HubSpotApiError, HubSpotSandbox, create_hubspot_sandbox
from sandbox.transport import ServedApp, serve
from sdk.clock import FakeClock
from sdk.hubspot import COMPANY_PROPERTIES, CONTACT_PROPERTIES, LINE_ITEM_PROPERTIES

TOKEN = "contract-token"


@pytest.fixture(scope="module")
def sandbox() -> Iterator[HubSpotSandbox]:
    box = create_hubspot_sandbox(clock=FakeClock(), access_token=TOKEN, seed=7, rate_limit_per_10s=10_000)
    yield box
    box.close()


@pytest.fixture(scope="module")
def served(sandbox: HubSpotSandbox) -> Iterator[ServedApp]:
    with serve(sandbox.app) as app:
        yield app


@pytest.fixture(scope="module")
def ids(sandbox: HubSpotSandbox) -> dict[str, str]:
    sandbox.define_property("deals", "freee_invoice_id", group="freee")
    sandbox.define_property("line_items", "freee_tax_rate", group="freee", field_type="select", type="enumeration",
                            options=["10", "8_reduced", "0", "exempt"])  # fmt: skip
    world = sandbox.seed()
    # an unlabeled second company on the main deal, so primary and unlabeled types both show
    other = sandbox.create_company(name="株式会社もう一社")
    sandbox.associate("deals", world["deal-accounting"], "companies", other)
    return {**world, "other-company": other}


def strict_client(url: str, token: str = TOKEN) -> HubSpot:
    """The official client with its generated models' own checks on (HubSpot ships them off): a required field
    missing or a value outside an enum in an answer raises ``ValueError`` while deserializing."""
    return HubSpot(access_token=token, host=url, client_side_validation=True)


@pytest.fixture(scope="module")
def hs(served: ServedApp) -> HubSpot:
    return strict_client(served.url)


def present(obj: Any, *paths: str) -> None:
    """Every field the project reads is there (not None) after deserialization, e.g. ``stages.0.metadata``."""
    for path in paths:
        value = obj
        for part in path.split("."):
            value = value[int(part)] if part.isdigit() else getattr(value, part)
        assert value is not None, f"{type(obj).__name__}.{path} is missing"


def error_body(exc: Any) -> dict[str, Any]:
    body = exc.body.decode() if isinstance(exc.body, bytes) else exc.body
    data = json.loads(body)
    assert data["status"] == "error"
    assert data["correlationId"]
    return data


# -- CRM objects -------------------------------------------------------------------------------------------------


def test_deal_with_associations_deserializes_with_every_field_read(hs: HubSpot, ids: dict[str, str]) -> None:
    deal = hs.crm.deals.basic_api.get_by_id(
        ids["deal-accounting"],
        properties=["dealname", "amount", "closedate", "dealstage", "pipeline", "deal_currency_code"],
        associations=["companies", "contacts", "line_items"],
    )

    assert isinstance(deal, SimplePublicObjectWithAssociations)
    present(deal, "id", "properties", "created_at", "updated_at", "archived", "associations")
    assert deal.id == ids["deal-accounting"]
    assert deal.properties["dealname"] == "【受注】会計導入支援"
    assert deal.properties["amount"] == "330000"
    assert deal.properties["pipeline"] == "default"
    companies = {(a.id, a.type) for a in deal.associations["companies"].results}
    assert (ids["sample"], "deal_to_company") in companies  # the primary one
    assert (ids["sample"], "deal_to_company_unlabeled") in companies
    assert (ids["other-company"], "deal_to_company_unlabeled") in companies
    assert [a.type for a in deal.associations["contacts"].results] == ["deal_to_contact"]
    assert len(deal.associations["line items"].results) == 2  # HubSpot's key has a space


def test_company_contact_and_line_item_reads_carry_what_the_project_reads(
    hs: HubSpot, ids: dict[str, str]
) -> None:
    company = hs.crm.companies.basic_api.get_by_id(ids["sample"], properties=list(COMPANY_PROPERTIES))
    contact = hs.crm.contacts.basic_api.get_by_id(ids["yamada"], properties=list(CONTACT_PROPERTIES))
    deal = hs.crm.deals.basic_api.get_by_id(ids["deal-accounting"], associations=["line_items"])
    item = hs.crm.line_items.basic_api.get_by_id(
        deal.associations["line items"].results[0].id, properties=list(LINE_ITEM_PROPERTIES)
    )

    for obj in (company, contact, item):
        present(obj, "id", "properties", "created_at", "updated_at", "archived")
    assert set(COMPANY_PROPERTIES) <= set(company.properties)
    assert company.properties["name"] == "株式会社サンプル商事"
    assert company.properties["state"] == "東京都"
    assert contact.properties["lastname"] == "山田"
    assert contact.properties["email"] == "taro@example.co.jp"
    assert set(LINE_ITEM_PROPERTIES) <= set(item.properties)
    assert item.properties["amount"] == "200000"  # HubSpot's calculated net price


def test_only_the_properties_asked_for_come_back(hs: HubSpot, ids: dict[str, str]) -> None:
    deal = hs.crm.deals.basic_api.get_by_id(
        ids["deal-accounting"], properties=["dealname", "freee_invoice_id"]
    )

    assert set(deal.properties) == {
        "dealname",
        "freee_invoice_id",
        "createdate",
        "hs_lastmodifieddate",
        "hs_object_id",
    }
    assert deal.properties["freee_invoice_id"] is None  # asked for, defined, not set: null like HubSpot
    assert deal.properties["hs_object_id"] == ids["deal-accounting"]


def test_batch_read_of_line_items_honours_properties(hs: HubSpot, ids: dict[str, str]) -> None:
    deal = hs.crm.deals.basic_api.get_by_id(ids["deal-accounting"], associations=["line_items"])
    item_ids = [a.id for a in deal.associations["line items"].results]

    answer = hs.crm.line_items.batch_api.read(
        LineItemBatchRead(
            inputs=[LineItemId(id=i) for i in item_ids],
            properties=["name", "quantity", "price", "hs_position_on_quote", "freee_tax_rate"],
            properties_with_history=[],
        )
    )

    assert type(answer).__name__ == "BatchResponseSimplePublicObject"
    present(answer, "status", "results", "started_at", "completed_at")
    assert {r.id for r in answer.results} == set(item_ids)
    for result in answer.results:
        present(result, "id", "properties", "created_at")
        assert {"name", "quantity", "price", "freee_tax_rate"} <= set(result.properties)
        assert "amount" not in result.properties  # not asked for


def test_batch_read_reports_missing_ids_as_errors(hs: HubSpot, ids: dict[str, str]) -> None:
    answer = hs.crm.deals.batch_api.read(
        BatchReadInputSimplePublicObjectId(
            inputs=[SimplePublicObjectId(id=ids["deal-accounting"]), SimplePublicObjectId(id="404404")],
            properties=[],
            properties_with_history=[],
        )
    )

    assert isinstance(answer, BatchResponseSimplePublicObjectWithErrors)
    assert [r.id for r in answer.results] == [ids["deal-accounting"]]
    assert answer.results[0].properties["dealname"]  # no properties asked: HubSpot's defaults
    assert answer.num_errors == 1
    assert answer.errors[0].category == "OBJECT_NOT_FOUND"
    assert answer.errors[0].context == {"ids": ["404404"]}


def test_more_than_100_batch_inputs_are_refused_like_hubspot(hs: HubSpot) -> None:
    request = BatchReadInputSimplePublicObjectId(
        inputs=[SimplePublicObjectId(id=str(i)) for i in range(101)],
        properties=[],
        properties_with_history=[],
    )

    with pytest.raises(ApiException) as raised:
        hs.crm.deals.batch_api.read(request)

    assert raised.value.status == 400
    assert error_body(raised.value)["category"] == "VALIDATION_ERROR"


def test_batch_update_answers_the_written_objects(hs: HubSpot, sandbox: HubSpotSandbox) -> None:
    deal_id = sandbox.create_deal(dealname="batch", amount="1")

    answer = hs.crm.deals.batch_api.update(
        BatchInputSimplePublicObjectBatchInput(
            inputs=[SimplePublicObjectBatchInput(id=deal_id, properties={"freee_invoice_id": "123"})]
        )
    )

    assert isinstance(answer, BatchResponseSimplePublicObject)
    assert answer.results[0].id == deal_id
    assert answer.results[0].properties["freee_invoice_id"] == "123"
    assert sandbox.properties_of("deals", deal_id)["freee_invoice_id"] == "123"


def test_writing_an_unknown_property_is_refused_with_property_doesnt_exist(
    hs: HubSpot, ids: dict[str, str]
) -> None:
    with pytest.raises(ApiException) as raised:
        hs.crm.deals.basic_api.update(
            ids["deal-accounting"], SimplePublicObjectInput(properties={"freee_not_created_yet": "x"})
        )

    body = error_body(raised.value)
    assert raised.value.status == 400
    assert body["category"] == "VALIDATION_ERROR"
    assert "PROPERTY_DOESNT_EXIST" in body["message"]
    assert body["errors"][0]["context"] == {"propertyName": ["freee_not_created_yet"]}


def test_update_returns_the_object_and_numbers_become_strings(hs: HubSpot, sandbox: HubSpotSandbox) -> None:
    deal_id = sandbox.create_deal(dealname="update me")

    answer = hs.crm.deals.basic_api.update(deal_id, SimplePublicObjectInput(properties={"amount": 1200}))

    assert isinstance(answer, SimplePublicObject)
    assert answer.properties["amount"] == "1200"


def test_list_pages_with_after(hs: HubSpot, ids: dict[str, str]) -> None:
    first = hs.crm.companies.basic_api.get_page(limit=1, properties=["name"])
    second = hs.crm.companies.basic_api.get_page(limit=1, after=first.paging.next.after, properties=["name"])

    assert type(first).__name__ == "CollectionResponseSimplePublicObjectWithAssociationsForwardPaging"
    present(first, "results.0.id", "results.0.properties", "paging.next.after")
    assert first.results[0].id != second.results[0].id


def test_list_deals_collection_type(hs: HubSpot, ids: dict[str, str]) -> None:
    page = hs.crm.deals.basic_api.get_page(limit=100, associations=["companies"])

    assert isinstance(page, CollectionResponseSimplePublicObjectWithAssociationsForwardPaging)
    assert ids["deal-accounting"] in {d.id for d in page.results}


def test_search_filters_sorts_and_pages(hs: HubSpot, ids: dict[str, str]) -> None:
    def search(
        *filters: Filter, sorts: list[Any] | None = None, limit: int = 10, after: str | None = None
    ) -> Any:
        return hs.crm.deals.search_api.do_search(
            PublicObjectSearchRequest(
                filter_groups=[FilterGroup(filters=list(filters))] if filters else [],
                sorts=sorts or [],
                properties=["dealname", "amount", "dealstage"],
                limit=limit,
                after=after,
            )
        )

    answer = search(Filter(property_name="amount", operator="GT", value="20000"), sorts=["-amount"], limit=1)
    assert isinstance(answer, CollectionResponseWithTotalSimplePublicObjectForwardPaging)
    assert answer.total == 2
    assert answer.results[0].properties["amount"] == "330000"
    following = search(
        Filter(property_name="amount", operator="GT", value="20000"),
        sorts=["-amount"],
        limit=1,
        after=answer.paging.next.after,
    )
    assert following.results[0].properties["amount"] == "55000"
    assert following.paging is None

    assert search(Filter(property_name="dealstage", operator="EQ", value="contractsent")).total == 1
    assert search(Filter(property_name="dealstage", operator="NEQ", value="contractsent")).total >= 2
    assert search(Filter(property_name="amount", operator="LT", value="20000")).total >= 1
    in_ids = search(
        Filter(
            property_name="hs_object_id", operator="IN", values=[ids["deal-accounting"], ids["deal-training"]]
        )
    )
    assert {r.id for r in in_ids.results} == {ids["deal-accounting"], ids["deal-training"]}
    assert search(Filter(property_name="freee_invoice_id", operator="HAS_PROPERTY")).total >= 0
    without = search(Filter(property_name="closedate", operator="NOT_HAS_PROPERTY"))
    assert ids["deal-no-company"] in {r.id for r in without.results}


def test_search_limit_over_200_is_refused(hs: HubSpot) -> None:
    with pytest.raises(ApiException) as raised:
        hs.crm.deals.search_api.do_search(PublicObjectSearchRequest(limit=201))

    assert raised.value.status == 400


# -- associations v4 ---------------------------------------------------------------------------------------------


def test_v4_associations_show_primary_and_unlabeled_types(hs: HubSpot, ids: dict[str, str]) -> None:
    page = hs.crm.associations.v4.basic_api.get_page("deals", ids["deal-accounting"], "companies")

    assert isinstance(page, CollectionResponseMultiAssociatedObjectWithLabelForwardPaging)
    by_company = {
        r.to_object_id: {(t.category, t.type_id, t.label) for t in r.association_types} for r in page.results
    }
    assert by_company[ids["sample"]] == {("HUBSPOT_DEFINED", 5, "Primary"), ("HUBSPOT_DEFINED", 341, None)}
    assert by_company[ids["other-company"]] == {("HUBSPOT_DEFINED", 341, None)}

    contacts = hs.crm.associations.v4.basic_api.get_page("deals", ids["deal-accounting"], "contacts")
    items = hs.crm.associations.v4.basic_api.get_page("deals", ids["deal-accounting"], "line_items")
    assert [t.type_id for t in contacts.results[0].association_types] == [3]
    assert {t.type_id for r in items.results for t in r.association_types} == {19}


def test_v4_batch_read(hs: HubSpot, ids: dict[str, str]) -> None:
    answer = hs.crm.associations.v4.batch_api.get_page(
        "deals",
        "line_items",
        BatchInputPublicFetchAssociationsBatchRequest(
            inputs=[
                PublicFetchAssociationsBatchRequest(id=ids["deal-accounting"]),
                PublicFetchAssociationsBatchRequest(id=ids["deal-training"]),
            ]
        ),
    )

    assert isinstance(answer, BatchResponsePublicAssociationMultiWithLabel)
    by_deal = {r._from.id: [t.to_object_id for t in r.to] for r in answer.results}
    assert len(by_deal[ids["deal-accounting"]]) == 2
    assert len(by_deal[ids["deal-training"]]) == 1

    partly = hs.crm.associations.v4.batch_api.get_page(
        "deals",
        "companies",
        BatchInputPublicFetchAssociationsBatchRequest(
            inputs=[
                PublicFetchAssociationsBatchRequest(id=ids["deal-training"]),
                PublicFetchAssociationsBatchRequest(id=ids["deal-no-company"]),
            ]
        ),
    )
    assert type(partly).__name__ == "BatchResponsePublicAssociationMultiWithLabelWithErrors"
    assert [r._from.id for r in partly.results] == [ids["deal-training"]]
    assert partly.errors[0].context == {"fromObjectId": [ids["deal-no-company"]]}


def test_v4_default_association(hs: HubSpot, sandbox: HubSpotSandbox, ids: dict[str, str]) -> None:
    deal_id = sandbox.create_deal(dealname="to associate")

    answer = hs.crm.associations.v4.basic_api.create_default("deals", deal_id, "companies", ids["kaisha"])

    assert isinstance(answer, BatchResponsePublicDefaultAssociation)
    specs = {(r._from.id, r.to.id, r.association_spec.association_type_id) for r in answer.results}
    assert (deal_id, ids["kaisha"], 341) in specs
    assert (ids["kaisha"], deal_id, 342) in specs


# -- pipelines, properties, callbacks ------------------------------------------------------------------------------


def test_pipelines_carry_won_metadata_as_strings(hs: HubSpot) -> None:
    answer = hs.crm.pipelines.pipelines_api.get_all("deals")

    assert isinstance(answer, CollectionResponsePipelineNoPaging)
    pipelines = {p.id: p for p in answer.results}
    assert set(pipelines) == {"default", "87654321"}
    for pipeline in answer.results:
        present(pipeline, "id", "label", "display_order", "stages", "archived")
        for stage in pipeline.stages:
            present(stage, "id", "label", "metadata", "display_order", "archived")
    won = {s.id: s.metadata for s in pipelines["default"].stages}["closedwon"]
    assert won == {"isClosed": "true", "probability": "1.0"}
    custom_won = [s for s in pipelines["87654321"].stages if s.metadata["probability"] == "1.0"]
    assert [s.id for s in custom_won] == ["87654324"]  # numeric stage ids in custom pipelines

    one = hs.crm.pipelines.pipelines_api.get_by_id("deals", "87654321")
    assert isinstance(one, ClientPipeline)
    assert one.stages[2].metadata["isClosed"] == "true"


def test_properties_and_groups(hs: HubSpot) -> None:
    core, groups = hs.crm.properties.core_api, hs.crm.properties.groups_api

    listed = core.get_all("deals")
    assert isinstance(listed, CollectionResponsePropertyNoPaging)
    names = {p.name for p in listed.results}
    assert {"dealname", "amount", "dealstage", "pipeline", "closedate", "deal_currency_code"} <= names
    present(listed.results[0], "name", "label", "type", "field_type", "group_name", "options")

    group_list = groups.get_all("companies")
    assert isinstance(group_list, CollectionResponsePropertyGroupNoPaging)
    created_group = groups.create("companies", PropertyGroupCreate(name="freee", label="freee 連携"))
    assert isinstance(created_group, PropertyGroup)
    with pytest.raises(PropertiesApiException) as duplicate_group:
        groups.create("companies", PropertyGroupCreate(name="freee", label="freee 連携"))
    assert duplicate_group.value.status == 409

    definition = PropertyCreate(
        name="freee_partner_id",
        label="freee 取引先ID",
        type="string",
        field_type="text",
        group_name="freee",
        description="freee partner id",
    )
    created = core.create("companies", definition)
    assert isinstance(created, ModelProperty)
    assert created.name == "freee_partner_id"
    assert core.get_by_name("companies", "freee_partner_id").group_name == "freee"
    with pytest.raises(PropertiesApiException) as duplicate:
        core.create("companies", definition)
    assert duplicate.value.status == 409
    assert "already exists" in error_body(duplicate.value)["message"]
    with pytest.raises(PropertiesApiException) as missing:
        core.get_by_name("companies", "freee_nope")
    assert missing.value.status == 404


def test_a_property_update_replaces_the_options_given_and_the_dropdown_then_refuses_other_values(
    hs: HubSpot, sandbox: HubSpotSandbox
) -> None:
    core = hs.crm.properties.core_api
    core.create(
        "companies",
        PropertyCreate(
            name="freee_terms_contract",
            label="支払条件",
            type="enumeration",
            field_type="select",
            group_name="companyinformation",
            options=[
                OptionInput(
                    label="月末締め翌月末払い",
                    value="month_end_next_month_end",
                    display_order=0,
                    hidden=False,
                )
            ],
        ),
    )
    updated = core.update(
        "companies",
        "freee_terms_contract",
        PropertyUpdate(
            options=[
                OptionInput(
                    label="月末締め翌月末払い",
                    value="month_end_next_month_end",
                    display_order=0,
                    hidden=False,
                ),
                OptionInput(
                    label="請求日から30日後", value="net_30", display_order=1, hidden=False, description="net"
                ),
            ]
        ),
    )
    assert isinstance(updated, ModelProperty)
    assert [(o.value, o.label, o.description) for o in updated.options] == [
        ("month_end_next_month_end", "月末締め翌月末払い", ""),
        ("net_30", "請求日から30日後", "net"),
    ]
    assert updated.type == "enumeration" and updated.label == "支払条件"  # fields not given are kept
    sandbox.create_company(name="株式会社ドロップダウン", freee_terms_contract="net_30")
    with pytest.raises(HubSpotApiError, match="not one of the allowed options"):
        sandbox.create_company(name="株式会社テキスト", freee_terms_contract="翌月末")
    with pytest.raises(PropertiesApiException) as missing:
        core.update("companies", "freee_nope", PropertyUpdate(label="x"))
    assert missing.value.status == 404
    with pytest.raises(PropertiesApiException) as hubspots_own:
        core.update("companies", "name", PropertyUpdate(label="x"))
    assert hubspots_own.value.status == 400


def test_callback_completion_with_typed_outputs_is_recorded(
    sandbox: HubSpotSandbox, served: ServedApp
) -> None:
    response = requests.post(
        f"{served.url}/automation/v4/actions/callbacks/cb-contract-1/complete",
        headers={"Authorization": f"Bearer {TOKEN}"},
        json={"outputFields": {"hs_execution_state": "SUCCESS", "n": "3"}, "typedOutputs": {"n": 3}},
        timeout=5,
    )

    assert response.status_code == 204
    [done] = [c for c in sandbox.callbacks if c.callback_id == "cb-contract-1"]
    assert (done.output_fields, done.typed_outputs) == ({"hs_execution_state": "SUCCESS", "n": "3"}, {"n": 3})


def test_the_official_clients_completion_without_typed_outputs_is_refused(
    hs: HubSpot, sandbox: HubSpotSandbox
) -> None:
    """``hubspot-api-client`` 12's ``CallbackCompletionRequest`` has no ``typedOutputs``, which HubSpot's current
    reference requires: the sandbox refuses it as HubSpot would, so nothing that HubSpot refuses passes here."""
    with pytest.raises(ActionsApiException) as refused:
        hs.automation.actions.callbacks_api.complete(
            "cb-contract-2", CallbackCompletionRequest(output_fields={"hs_execution_state": "SUCCESS"})
        )

    assert refused.value.status == 400
    body = error_body(refused.value)
    assert body["category"] == "VALIDATION_ERROR"
    assert "Cannot build CallbackCompletionRequest" in body["message"]
    assert body["context"] == {"missingAttributes": ["typedOutputs"]}
    assert not any(c.callback_id == "cb-contract-2" for c in sandbox.callbacks)


def test_a_batch_of_completions_is_refused_whole_when_one_lacks_a_required_field(
    sandbox: HubSpotSandbox, served: ServedApp
) -> None:
    url = f"{served.url}/automation/v4/actions/callbacks/complete"
    good = {"callbackId": "cb-batch-1", "outputFields": {"r": "ok"}, "typedOutputs": {"r": "ok"}}
    untyped = {"callbackId": "cb-batch-2", "outputFields": {"r": "ok"}}
    auth = {"Authorization": f"Bearer {TOKEN}"}

    refused = requests.post(url, headers=auth, json={"inputs": [good, untyped]}, timeout=5)
    nameless = requests.post(url, headers=auth, json={"inputs": [{**good, "callbackId": None}]}, timeout=5)
    accepted = requests.post(url, headers=auth, json={"inputs": [good]}, timeout=5)

    assert (refused.status_code, nameless.status_code, accepted.status_code) == (400, 400, 204)
    assert "CallbackCompletionBatchRequest" in refused.json()["message"]
    assert refused.json()["context"] == {"missingAttributes": ["typedOutputs"]}
    assert nameless.json()["context"] == {"missingAttributes": ["callbackId"]}
    assert [c.callback_id for c in sandbox.callbacks if c.callback_id.startswith("cb-batch")] == [
        "cb-batch-1"
    ]


# -- account information -------------------------------------------------------------------------------------------

#: the answer of GET /account-info/v3/details as HubSpot documents it (the official client has no model for it):
#: https://developers.hubspot.com/docs/api-reference/legacy/account/account-information/get-account-details
ACCOUNT_DETAILS_FIELDS = {
    "portalId": int,
    "timeZone": str,
    "companyCurrency": str,
    "additionalCurrencies": list,
    "utcOffset": str,
    "utcOffsetMilliseconds": int,
    "uiDomain": str,
    "dataHostingLocation": str,
    "accountType": str,
}


@pytest.mark.parametrize("path", ["/account-info/v3/details", "/account-info/2026-03/details"])
def test_account_details_answer_the_documented_fields_and_the_portal(
    served: ServedApp, sandbox: HubSpotSandbox, path: str
) -> None:
    answer = requests.get(served.url + path, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=5)

    assert answer.status_code == 200
    body = answer.json()
    assert set(body) == set(ACCOUNT_DETAILS_FIELDS)
    assert all(isinstance(body[k], t) for k, t in ACCOUNT_DETAILS_FIELDS.items()), body
    assert body["portalId"] == sandbox.portal_id
    unauthorised = requests.get(served.url + path, headers={"Authorization": "Bearer nope"}, timeout=5)
    assert unauthorised.status_code == 401


def test_the_project_client_reads_the_portal_of_its_token() -> None:
    from sdk.hubspot import HubSpotClient
    from sdk.settings import load_settings

    box = create_hubspot_sandbox(clock=FakeClock(), access_token=TOKEN, portal_id=97531)
    with serve(box.app) as other:
        client = HubSpotClient(load_settings(hubspot_api_base=other.url, hubspot_access_token=TOKEN))
        assert client.read_account_details().portal_id == 97531
    box.close()


# -- the app's webhook settings and subscriptions (webhooks API v3, developer API key) ------------------------------

DEVELOPER_KEY = "contract-developer-key"


@pytest.fixture
def developer() -> Iterator[tuple[HubSpotSandbox, HubSpot]]:
    box = create_hubspot_sandbox(clock=FakeClock(), developer_api_key=DEVELOPER_KEY, app_id=4242)
    with serve(box.app) as served:
        yield box, HubSpot(api_key=DEVELOPER_KEY, host=served.url, client_side_validation=True)
    box.close()


def test_webhook_settings_are_404_until_a_target_url_is_set_then_answer_it(developer) -> None:
    from hubspot.webhooks import ApiException as WebhooksApiException
    from hubspot.webhooks import SettingsChangeRequest, SettingsResponse, ThrottlingSettings

    box, hs = developer
    with pytest.raises(WebhooksApiException) as raised:
        hs.webhooks.settings_api.get_all(4242)
    assert raised.value.status == 404
    assert error_body(raised.value)["category"] == "OBJECT_NOT_FOUND"

    change = SettingsChangeRequest(
        target_url="https://invoices.example.jp/webhooks/hubspot",
        throttling=ThrottlingSettings(max_concurrent_requests=5),
    )
    hs.webhooks.settings_api.configure(4242, change)
    answer = hs.webhooks.settings_api.get_all(4242)

    assert isinstance(answer, SettingsResponse)
    present(answer, "target_url", "created_at", "updated_at", "throttling.max_concurrent_requests")
    assert answer.target_url == "https://invoices.example.jp/webhooks/hubspot"
    assert answer.throttling.max_concurrent_requests == 5
    assert box.webhook_target_url == answer.target_url  # where the dispatcher now delivers
    hs.webhooks.settings_api.clear(4242)
    assert box.webhook_target_url is None


def test_a_callable_target_is_reported_as_the_url_it_is_signed_for(developer) -> None:
    box, hs = developer
    box.set_webhook_target(lambda request: 204, uri="https://hooks.example.jp/webhooks/hubspot")
    assert hs.webhooks.settings_api.get_all(4242).target_url == "https://hooks.example.jp/webhooks/hubspot"


def test_subscriptions_list_the_dealstage_one_and_pausing_it_stops_the_events(developer) -> None:
    from hubspot.webhooks import SubscriptionListResponse, SubscriptionPatchRequest

    box, hs = developer
    listed = hs.webhooks.subscriptions_api.get_all(4242)
    assert isinstance(listed, SubscriptionListResponse)
    (dealstage,) = listed.results
    present(dealstage, "id", "event_type", "property_name", "active", "created_at", "updated_at")
    assert (dealstage.event_type, dealstage.property_name, dealstage.active) == (
        "deal.propertyChange",
        "dealstage",
        True,
    )
    deal = box.create_deal(dealname="x", dealstage="appointmentscheduled", pipeline="default")
    box.move_deal_to_stage(deal, "closedwon")
    assert [e["subscriptionId"] for e in box.events] == [int(dealstage.id)]

    hs.webhooks.subscriptions_api.update(dealstage.id, 4242, SubscriptionPatchRequest(active=False))
    assert hs.webhooks.subscriptions_api.get_by_id(dealstage.id, 4242).active is False
    box.move_deal_to_stage(deal, "appointmentscheduled")
    assert len(box.events) == 1  # paused: HubSpot sends nothing


def test_a_subscription_can_be_created_and_deleted(developer) -> None:
    from hubspot.webhooks import SubscriptionCreateRequest, SubscriptionResponse

    _, hs = developer
    created = hs.webhooks.subscriptions_api.create(
        4242, SubscriptionCreateRequest(event_type="deal.creation", active=True)
    )
    assert isinstance(created, SubscriptionResponse) and created.active is True
    assert len(hs.webhooks.subscriptions_api.get_all(4242).results) == 2
    hs.webhooks.subscriptions_api.archive(created.id, 4242)
    assert len(hs.webhooks.subscriptions_api.get_all(4242).results) == 1


def test_webhook_endpoints_want_the_developer_key_and_the_app(developer) -> None:
    from hubspot.webhooks import ApiException as WebhooksApiException

    _box, hs = developer
    url = hs.webhooks.subscriptions_api.api_client.configuration.host
    with_token = requests.get(
        f"{url}/webhooks/v3/4242/subscriptions", headers={"Authorization": "Bearer a-portal-token"}, timeout=5
    )
    assert with_token.status_code == 401
    with pytest.raises(WebhooksApiException) as raised:
        hs.webhooks.subscriptions_api.get_all(999)
    assert raised.value.status == 404


# -- auth, rate limit ----------------------------------------------------------------------------------------------


def test_a_wrong_token_gets_hubspots_401(served: ServedApp, ids: dict[str, str]) -> None:
    wrong = HubSpot(access_token="not-the-token", host=served.url)

    with pytest.raises(ApiException) as raised:
        wrong.crm.deals.basic_api.get_by_id(ids["deal-accounting"])

    assert raised.value.status == 401
    assert error_body(raised.value)["category"] == "INVALID_AUTHENTICATION"


def test_rate_limit_answers_429_with_hubspots_body_and_headers() -> None:
    box = create_hubspot_sandbox(clock=FakeClock(), access_token=TOKEN, rate_limit_per_10s=2)
    deal_id = box.create_deal(dealname="limited")
    with serve(box.app) as app:
        hs = HubSpot(access_token=TOKEN, host=app.url)
        _, status, headers = hs.crm.deals.basic_api.get_by_id_with_http_info(deal_id)
        hs.crm.deals.basic_api.get_by_id(deal_id)
        with pytest.raises(ApiException) as raised:
            hs.crm.deals.basic_api.get_by_id(deal_id)
    box.close()

    assert status == 200
    assert headers["X-HubSpot-RateLimit-Max"] == "2"
    assert headers["X-HubSpot-RateLimit-Remaining"] == "1"
    assert headers["X-HubSpot-RateLimit-Interval-Milliseconds"] == "10000"
    assert "X-HubSpot-RateLimit-Daily-Remaining" in headers
    assert raised.value.status == 429
    body = error_body(raised.value)
    assert body["errorType"] == "RATE_LIMIT"
    assert body["policyName"] == "TEN_SECONDLY_ROLLING"
    assert body["message"] == "You have reached your ten_secondly_rolling limit."
    assert body["groupName"]
    assert raised.value.headers["X-HubSpot-RateLimit-Remaining"] == "0"


# -- admin API -----------------------------------------------------------------------------------------------------


def test_admin_reset_seed_and_state() -> None:
    box = create_hubspot_sandbox(clock=FakeClock(), access_token=TOKEN)
    with serve(box.app) as app:
        seeded = requests.post(f"{app.url}/_sandbox/seed", json={}, timeout=5).json()["ids"]
        state = requests.get(f"{app.url}/_sandbox/state", timeout=5).json()
        reset = requests.post(f"{app.url}/_sandbox/reset", timeout=5)
        after = requests.get(f"{app.url}/_sandbox/state", timeout=5).json()
    box.close()

    assert {"sample", "deal-accounting"} <= set(seeded)
    assert len(state["objects"]["deals"]) == 3
    deal = next(d for d in state["objects"]["deals"] if d["id"] == seeded["deal-accounting"])
    assert deal["associations"]["companies"] == [{"id": seeded["sample"], "typeIds": [5, 341]}]
    assert reset.status_code == 204
    assert after["objects"]["deals"] == []


# -- drift is caught -----------------------------------------------------------------------------------------------


def test_a_sandbox_that_drops_the_id_fails_deserialization(
    hs: HubSpot, sandbox: HubSpotSandbox, ids: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    original = sandbox.state.object_json

    def without_id(*args: Any, **kwargs: Any) -> dict[str, Any]:
        data = original(*args, **kwargs)
        data["objectId"] = data.pop("id")  # a drifted sandbox renames HubSpot's "id"
        return data

    monkeypatch.setattr(sandbox.state, "object_json", without_id)

    with pytest.raises(ValueError, match="`id`, must not be `None`"):
        hs.crm.deals.basic_api.get_by_id(ids["deal-accounting"])


def test_a_renamed_field_the_client_tolerates_is_caught_by_the_project_field_check(
    hs: HubSpot, sandbox: HubSpotSandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    drifted = json.loads(json.dumps(sandbox.state.pipelines))
    for pipeline in drifted["deals"]:
        for stage in pipeline["stages"]:
            stage["meta"] = stage.pop("metadata")  # optional in the client's model: no error there
    monkeypatch.setattr(sandbox.state, "pipelines", drifted)

    answer = hs.crm.pipelines.pipelines_api.get_all("deals")

    with pytest.raises(AssertionError, match=r"stages.0.metadata is missing"):
        present(answer.results[0], "stages.0.metadata")
