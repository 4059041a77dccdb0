import json

import pytest
from pydantic import ValidationError

from sdk.models import (
    AccountingDeal,
    Contact,
    DealBundle,
    FreeeErrorBody,
    Invoice,
    Pipeline,
    WorkflowActionRequest,
    parse_webhook_batch,
)


def test_webhook_batch_parses_hubspot_events():
    batch = parse_webhook_batch(
        [
            {
                "eventId": 100,
                "subscriptionId": 2,
                "portalId": 24681357,
                "appId": 9,
                "occurredAt": 1764000000000,
                "subscriptionType": "deal.propertyChange",
                "attemptNumber": 0,
                "objectId": 555,
                "propertyName": "dealstage",
                "propertyValue": "closedwon",
                "changeSource": "CRM_UI",
            },
            {
                "eventId": 101,
                "subscriptionId": 3,
                "portalId": 24681357,
                "occurredAt": 1764000000001,
                "subscriptionType": "object.propertyChange",
                "objectTypeId": "0-3",
                "objectId": 556,
                "propertyName": "dealstage",
                "propertyValue": "12345",
            },
            {
                "eventId": 102,
                "subscriptionId": 4,
                "portalId": 24681357,
                "occurredAt": 1764000000002,
                "subscriptionType": "deal.propertyChange",
                "objectId": 557,
                "propertyName": "amount",
                "propertyValue": "1",
            },
        ]
    )
    assert [e.is_deal_stage_change for e in batch] == [True, True, False]
    assert batch[0].portal_id == 24681357


@pytest.mark.parametrize("body", [[], {"eventId": 1}, [{"eventId": "x"}], "text", b"[", b'"x"', "[]"])
def test_webhook_batch_refuses_what_is_not_a_batch(body):
    with pytest.raises(ValidationError):
        parse_webhook_batch(body)


def test_webhook_batch_from_raw_bytes_and_its_size_limit():
    event = {
        "eventId": 1,
        "subscriptionId": 2,
        "portalId": 3,
        "occurredAt": 4,
        "subscriptionType": "deal.creation",
        "objectId": 5,
    }
    assert parse_webhook_batch(json.dumps([event]).encode())[0].object_id == 5
    with pytest.raises(ValidationError, match="at most 1000"):
        parse_webhook_batch([event] * 1001)


def test_workflow_action_request():
    request = WorkflowActionRequest.model_validate(
        {
            "callbackId": "ap-123-456",
            "origin": {"portalId": 42, "actionDefinitionId": 7},
            "context": {"source": "WORKFLOWS", "workflowId": 99},
            "object": {"objectId": 555, "objectType": "DEAL"},
            "inputFields": {"dry_run": "false"},
        }
    )
    assert (request.origin.portal_id, request.object.object_id, request.input_fields) == (
        42,
        555,
        {"dry_run": "false"},
    )


@pytest.mark.parametrize(
    ("given", "read"), [(1, 1), ("42", 42), ("007", 7), (2**63 - 1, 2**63 - 1), (str(2**63 - 1), 2**63 - 1)]
)
def test_an_id_is_a_positive_integer_or_ascii_digits(given, read):
    from sdk.models.ids import parse_id

    assert parse_id(given) == read


NOT_TEXT_IDS = ("", " 1", "1 ", "+1", "-1", "1e3", "１２３", "²", "9" * 20)  # ASCII digits only, ≤ 2**63 - 1
NOT_IDS = (True, False, 0, -1, 2**63, 1.0, 1.5, None, [1], {}, *NOT_TEXT_IDS)


@pytest.mark.parametrize("given", NOT_IDS)
def test_nothing_else_is_an_id(given):
    from sdk.models.ids import parse_id

    with pytest.raises(ValueError):
        parse_id(given)


def test_every_request_model_shares_the_id_policy():
    from sdk.models.hubspot import CustomCodeRequest
    from sdk.queue import InvoiceJob

    event = {"eventId": 1, "subscriptionId": 2, "occurredAt": 4, "subscriptionType": "deal.creation"}
    action = {"callbackId": "c", "origin": {"portalId": 1}, "object": {"objectId": 1, "objectType": "DEAL"}}
    refused = [
        (parse_webhook_batch, [event | {"portalId": True, "objectId": 5}], "0.portalId"),
        (parse_webhook_batch, [event | {"portalId": 3, "objectId": True}], "0.objectId"),
        (WorkflowActionRequest.model_validate, action | {"origin": {"portalId": True}}, "origin.portalId"),
        (
            WorkflowActionRequest.model_validate,
            action | {"object": {"objectId": True, "objectType": "DEAL"}},
            "object.objectId",
        ),
        (CustomCodeRequest.model_validate, {"portalId": True, "dealId": "1"}, "portalId"),
        (CustomCodeRequest.model_validate, {"portalId": 1, "dealId": True}, "dealId"),
        (InvoiceJob.model_validate, {"portal_id": True, "deal_id": "1"}, "portal_id"),
        (InvoiceJob.model_validate, {"portal_id": 1, "deal_id": True}, "deal_id"),
    ]
    for parse, data, where in refused:
        with pytest.raises(ValidationError) as invalid:
            parse(data)
        assert [".".join(map(str, e["loc"])) for e in invalid.value.errors()] == [where]
    assert CustomCodeRequest.model_validate({"portalId": "3", "dealId": 12}).deal_id == "12"
    assert InvoiceJob.model_validate({"portal_id": "3", "deal_id": 12}).portal_id == 3


def test_pipeline_stage_won_by_metadata_not_by_name():
    pipeline = Pipeline.model_validate(
        {
            "id": "default",
            "label": "営業パイプライン",
            "stages": [
                {"id": "98765", "label": "受注", "metadata": {"isClosed": "true", "probability": "1.0"}},
                {"id": "98766", "label": "失注", "metadata": {"isClosed": "true", "probability": "0.0"}},
                {
                    "id": "closedwon",
                    "label": "closedwon?",
                    "metadata": {"isClosed": "false", "probability": "0.9"},
                },
                {"id": "x", "label": "broken", "metadata": {"probability": "n/a"}},
            ],
        }
    )
    assert [s.is_won_by_metadata for s in pipeline.stages] == [True, False, False, False]


def test_crm_ids_must_be_numeric_and_blank_properties_read_as_absent():
    with pytest.raises(ValidationError):
        DealBundle.model_validate({"deal": {"id": "../etc", "properties": {}}})
    bundle = DealBundle.model_validate({"deal": {"id": "1", "properties": {"dealname": "  ", "amount": "5"}}})
    assert bundle.deal.name is None
    assert bundle.deal.amount == "5"
    assert Contact(id="1", properties={"firstname": "太郎"}).full_name == "太郎"
    assert Contact(id="1", properties={}).full_name is None


def test_invoice_amounts_become_whole_yen_and_fractions_are_refused():
    base = {
        "id": 1,
        "company_id": 2,
        "invoice_number": "INV-0001",
        "billing_date": "2026-11-20",
        "payment_status": "unsettled",
        "cancel_status": "uncanceled",
        "deal_status": "unregistered",
        "total_amount": 110000.0,
        "amount_including_tax": 110000.0,
        "amount_excluding_tax": 100000,
        "amount_tax": "10000",
        "partner_id": 3,
        "report_url": "https://invoice.freee.co.jp/reports/1",
        "unknown_new_field": "ignored",
    }
    invoice = Invoice.model_validate(base)
    assert invoice.total_amount == 110000 and isinstance(invoice.total_amount, int)
    assert invoice.amount_tax == 10000
    assert not invoice.is_canceled
    with pytest.raises(ValidationError, match="whole number of yen"):
        Invoice.model_validate(base | {"total_amount": 110000.5})
    with pytest.raises(ValidationError, match="whole number of yen"):
        Invoice.model_validate(base | {"amount_tax": "0.5"})


def test_accounting_deal_with_partial_payments():
    deal = AccountingDeal.model_validate(
        {
            "id": 9,
            "company_id": 2,
            "issue_date": "2026-11-20",
            "due_date": "2026-12-31",
            "amount": 110000,
            "due_amount": 60000,
            "type": "income",
            "partner_id": 3,
            "status": "unsettled",
            "payments": [
                {"id": 1, "date": "2026-12-10", "amount": 50000, "from_walletable_type": "bank_account"}
            ],
        }
    )
    assert deal.paid_amount == 50000
    assert deal.payments[0].amount == 50000


def test_freee_error_body_collects_messages():
    body = FreeeErrorBody.model_validate(
        {
            "status_code": 400,
            "errors": [
                {"type": "validation", "messages": ["取引先が見つかりません", "日付が不正です"]},
                {"type": "status", "messages": "x"},
            ],
        }
    )
    assert body.messages == ["取引先が見つかりません", "日付が不正です", "x"]
