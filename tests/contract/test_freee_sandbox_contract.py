"""Every answer of the freee sandbox validates against freee's own OpenAPI documents (status and body).

Success bodies are checked twice: as freee's documents allow (unknown fields tolerated), and strictly (no field
the document does not name), so the sandbox cannot invent fields our client might come to rely on. Each request
these tests send is checked too, so the sandbox is exercised the way freee documents its API.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from datetime import date
from typing import Any

import pytest
import requests
from openapi_schema_validator import OAS30Validator

from sandbox.faults import FaultKind, FaultRule
from sandbox.freee import FreeeSandbox, create_freee_sandbox
from sandbox.transport import WSGIAdapter
from sdk.clock import FakeClock
from tests.contract.conftest import SPECS, Contract

BASE = "http://freee.sandbox"
COMPANY = 1


@pytest.fixture(scope="module")
def too_many_requests_schema() -> OAS30Validator:
    schemas = json.loads((SPECS / "accounting-api.json").read_text(encoding="utf-8"))["components"]["schemas"]
    return OAS30Validator(schemas["tooManyRequestsError"])


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def sandbox(clock: FakeClock) -> FreeeSandbox:
    return create_freee_sandbox(clock=clock, lockout_after_429s=2, lockout_seconds=600)


@pytest.fixture
def http(sandbox: FreeeSandbox) -> Iterator[requests.Session]:
    session = requests.Session()
    session.mount(BASE, WSGIAdapter(sandbox.app))
    session.headers["Authorization"] = f"Bearer {sandbox.issue_tokens()['access_token']}"
    yield session
    session.close()


def _partner_body(name: str = "株式会社サンプル商事", code: str = "HS-1001", **extra: Any) -> dict[str, Any]:
    return {
        "company_id": COMPANY,
        "name": name,
        "code": code,
        "long_name": f"{name}（正式）",
        "name_kana": "サンプルショウジ",
        "default_title": "御中",
        "phone": "03-5555-0100",
        "email": "billing@example.co.jp",
        "qualified_invoice_issuer": True,
        "invoice_registration_number": "T7000012050002",
        "address_attributes": {
            "zipcode": "150-0002",
            "prefecture_code": 12,
            "street_name1": "渋谷区渋谷2-21-1",
        },
        **extra,
    }


def _invoice_body(partner: int | str, **extra: Any) -> dict[str, Any]:
    """An ``InvoiceRequest`` naming the partner by id (an int) or by code (a str)."""
    return {
        "company_id": COMPANY,
        "billing_date": "2026-11-25",
        "payment_date": "2026-12-31",
        "subject": "【受注】会計導入支援",
        "memo": "hubspot-deal:1001",
        "tax_entry_method": "out",
        "tax_fraction": "omit",
        "line_amount_fraction": "omit",
        "withholding_tax_entry_method": "out",
        **({"partner_code": partner} if isinstance(partner, str) else {"partner_id": partner}),
        "partner_title": "御中",
        "lines": [
            {
                "type": "item",
                "description": "導入支援",
                "quantity": 1,
                "unit_price": "100000",
                "tax_rate": 10,
            },
            {"type": "item", "description": "値引き", "quantity": 1, "unit_price": "-5000", "tax_rate": 10},
            {
                "type": "item",
                "description": "弁当",
                "quantity": 2.5,
                "unit": "個",
                "unit_price": "1080.5",
                "tax_rate": 8,
                "reduced_tax_rate": True,
                "sales_date": "2026-11-20",
            },
            {"type": "item", "description": "立替金", "quantity": 1, "unit_price": "3000", "tax_rate": 0},
            {"type": "text", "description": "毎度ありがとうございます。"},
        ],
        **extra,
    }


def _create_partner(http: requests.Session, contract: Contract, **kwargs: Any) -> dict[str, Any]:
    response = http.post(f"{BASE}/api/1/partners", json=_partner_body(**kwargs))
    assert response.status_code == 201
    return contract.check(response)["partner"]


def _create_invoice(
    http: requests.Session, contract: Contract, partner: int | str, **extra: Any
) -> dict[str, Any]:
    response = http.post(f"{BASE}/iv/invoices", json=_invoice_body(partner, **extra))
    assert response.status_code == 201, response.text
    return contract.check(response)["invoice"]


# -------------------------------------------------------------------------------------------- partners


def test_partner_endpoints_answer_as_documented(http, contract):
    created = _create_partner(http, contract)
    assert created["code"] == "HS-1001"

    listed = http.get(
        f"{BASE}/api/1/partners", params={"company_id": COMPANY, "keyword": "サンプル 商事", "limit": 10}
    )
    assert [p["id"] for p in contract.check(listed)["partners"]] == [created["id"]]

    shown = http.get(f"{BASE}/api/1/partners/{created['id']}", params={"company_id": COMPANY})
    assert contract.check(shown)["partner"]["name"] == "株式会社サンプル商事"

    # freee's document has no GET for /partners/code/{code} (only PUT), and neither has the sandbox
    assert http.get(f"{BASE}/api/1/partners/code/HS-1001", params={"company_id": COMPANY}).status_code in (
        404,
        405,
    )
    company = http.get(f"{BASE}/api/1/companies/{COMPANY}")
    assert contract.check(company)["company"]["use_partner_code"] is True

    updated = http.put(
        f"{BASE}/api/1/partners/code/HS-1001",
        json={"company_id": COMPANY, "name": "株式会社サンプル商事", "phone": "03-5555-0199"},
    )
    assert contract.check(updated)["partner"]["phone"] == "03-5555-0199"

    upsert = {
        "company_id": COMPANY,
        "code": "HS-2002",
        "partner": {"name": "有限会社さくら", "shortcut1": "SAKURA"},
    }
    first = http.put(f"{BASE}/api/1/partners/upsert_by_code", json=upsert)
    assert first.status_code == 201
    contract.check(first)
    upsert["partner"] = {"name": "有限会社さくら", "long_name": "有限会社さくら商店"}
    second = http.put(f"{BASE}/api/1/partners/upsert_by_code", json=upsert)
    assert second.status_code == 200
    assert contract.check(second)["partner"]["shortcut1"] == "SAKURA"  # PATCH-like: kept


def test_a_form_encoded_partner_is_accepted(http, contract):
    response = http.post(
        f"{BASE}/api/1/partners",
        data={
            "company_id": "1",
            "name": "合同会社フォーム",
            "code": "HS-3003",
            "address_attributes[zipcode]": "100-0001",
        },
    )
    assert response.status_code == 201
    assert contract.check(response)["partner"]["address_attributes"]["zipcode"] == "100-0001"


def test_partner_refusals_answer_in_freees_error_shape(http, contract):
    _create_partner(http, contract)
    duplicate = http.post(f"{BASE}/api/1/partners", json=_partner_body(code="HS-9999"))
    assert duplicate.status_code == 400
    body = contract.check(duplicate)
    assert body["errors"][0]["type"] == "validation"
    assert "既に使用されています" in body["errors"][0]["messages"][0]

    missing = http.get(f"{BASE}/api/1/partners/424242", params={"company_id": COMPANY})
    assert missing.status_code == 404
    contract.check(missing)

    too_many = http.get(f"{BASE}/api/1/partners", params={"company_id": COMPANY, "limit": 3001})
    assert too_many.status_code == 400
    contract.check(too_many)

    missing_code = http.put(f"{BASE}/api/1/partners/code/NOPE", json={"company_id": COMPANY, "name": "x"})
    assert missing_code.status_code == 404
    contract.check(missing_code)


def test_companies_are_listed_as_documented(http, contract):
    response = http.get(f"{BASE}/api/1/companies")
    assert contract.check(response)["companies"][0]["id"] == COMPANY


# -------------------------------------------------------------------------------------------- invoices


def test_invoice_endpoints_answer_as_documented(http, contract, sandbox):
    partner = _create_partner(http, contract)
    invoice = _create_invoice(http, contract, partner["id"])
    assert invoice["invoice_number"] == "INV-0000000001"
    assert invoice["deal_status"] == "registered"

    shown = http.get(f"{BASE}/iv/invoices/{invoice['id']}", params={"company_id": COMPANY})
    assert contract.check(shown)["invoice"]["total_amount"] == invoice["total_amount"]

    listed = http.get(
        f"{BASE}/iv/invoices",
        params={
            "company_id": COMPANY,
            "partner_ids": str(partner["id"]),
            "payment_status": "unsettled",
            "start_billing_date": "2026-11-01",
            "end_billing_date": "2026-11-30",
            "subject": "会計導入",
            "limit": 10,
            "offset": 0,
        },
    )
    assert [i["id"] for i in contract.check(listed)["invoices"]] == [invoice["id"]]

    templates = http.get(f"{BASE}/iv/invoices/templates", params={"company_id": COMPANY})
    assert contract.check(templates)["templates"]

    canceled = http.put(f"{BASE}/iv/invoices/{invoice['id']}/cancel", json={"company_id": COMPANY})
    assert contract.check(canceled)["invoice"] == {"id": invoice["id"], "cancel_status": "canceled"}

    again = http.put(f"{BASE}/iv/invoices/{invoice['id']}/cancel", json={"company_id": COMPANY})
    assert again.status_code == 400
    contract.check(again)

    restored = http.put(f"{BASE}/iv/invoices/{invoice['id']}/uncancel", json={"company_id": COMPANY})
    assert contract.check(restored)["invoice"]["cancel_status"] == "uncanceled"

    by_code = _create_invoice(http, contract, "HS-1001")
    assert by_code["partner_id"] == partner["id"]


def test_a_tax_inclusive_invoice_with_a_withholding_line_is_documented_shape(http, contract):
    partner = _create_partner(http, contract)
    body = _invoice_body(partner["id"], tax_entry_method="in", tax_fraction="round")
    body["lines"][0]["withholding"] = True
    response = http.post(f"{BASE}/iv/invoices", json=body)
    assert response.status_code == 201
    invoice = contract.check(response)["invoice"]
    assert invoice["amount_withholding_tax"] > 0


def test_invoice_refusals_answer_in_freees_error_shape(http, contract):
    unknown_partner = http.post(f"{BASE}/iv/invoices", json=_invoice_body(999999))
    assert unknown_partner.status_code == 400
    assert unknown_partner.headers["Content-Type"].startswith("application/problem+json")
    assert contract.check(unknown_partner)["errors"][0]["messages"]

    malformed = http.post(
        f"{BASE}/iv/invoices", data=b'{"company_id": 1,', headers={"Content-Type": "application/json"}
    )
    assert malformed.status_code == 400
    contract.check(malformed)

    missing = http.get(f"{BASE}/iv/invoices/424242", params={"company_id": COMPANY})
    assert missing.status_code == 404
    contract.check(missing)

    beyond = http.get(f"{BASE}/iv/invoices", params={"company_id": COMPANY, "offset": 9950, "limit": 100})
    assert beyond.status_code == 400
    contract.check(beyond)

    cancel_missing = http.put(f"{BASE}/iv/invoices/424242/cancel", json={"company_id": COMPANY})
    assert cancel_missing.status_code == 404
    contract.check(cancel_missing)


# --------------------------------------------------------------------------------------- accounting deals


def test_deal_endpoints_answer_as_documented(http, contract, sandbox):
    partner = _create_partner(http, contract)
    invoice = _create_invoice(http, contract, partner["id"])
    sandbox.pay(invoice["id"], 10000, date(2026, 12, 1))

    shown = http.get(f"{BASE}/api/1/deals/{invoice['deal_id']}", params={"company_id": COMPANY})
    deal = contract.check(shown)["deal"]
    assert deal["payments"][0]["amount"] == 10000

    listed = http.get(
        f"{BASE}/api/1/deals",
        params={
            "company_id": COMPANY,
            "partner_id": partner["id"],
            "status": "unsettled",
            "type": "income",
            "start_issue_date": "2026-11-01",
            "end_due_date": "2026-12-31",
            "limit": 100,
        },
    )
    body = contract.check(listed)
    assert body["meta"]["total_count"] == 1

    missing = http.get(f"{BASE}/api/1/deals/424242", params={"company_id": COMPANY})
    assert missing.status_code == 404
    contract.check(missing)

    bad_limit = http.get(f"{BASE}/api/1/deals", params={"company_id": COMPANY, "limit": 101})
    assert bad_limit.status_code == 400
    contract.check(bad_limit)


# ------------------------------------------------------------------------------- auth, limits and faults


def test_401s_answer_in_freees_shape_on_both_apis(http, contract, sandbox, clock):
    anonymous = requests.Session()
    anonymous.mount(BASE, WSGIAdapter(sandbox.app))
    response = anonymous.get(f"{BASE}/iv/invoices/templates", params={"company_id": COMPANY})
    assert response.status_code == 401
    contract.check(response)

    clock.advance(6 * 3600)
    expired = http.get(f"{BASE}/api/1/partners", params={"company_id": COMPANY})
    assert expired.status_code == 401
    assert contract.check(expired)["code"] == "expired_access_token"


@pytest.mark.parametrize("path", ["/iv/invoices/templates", "/api/1/partners"])
def test_429_and_the_lockout_403_answer_in_freees_shape(
    http, contract, sandbox, too_many_requests_schema, path
):
    for _ in range(30):
        assert http.get(f"{BASE}{path}", params={"company_id": COMPANY}).status_code == 200
    limited = http.get(f"{BASE}{path}", params={"company_id": COMPANY})
    assert limited.status_code == 429
    # neither document gives these operations a 429: the body is the accounting document's tooManyRequestsError
    api, documented = (
        (contract.lenient["invoice"], path.removeprefix("/iv"))
        if path.startswith("/iv/")
        else (contract.lenient["accounting"], path)
    )
    assert "429" not in api.spec / "paths" / documented / "get" / "responses"
    too_many_requests_schema.validate(limited.json())
    assert limited.headers["Retry-After"] == limited.headers["X-RateLimit-Reset"]

    assert http.get(f"{BASE}{path}", params={"company_id": COMPANY}).status_code == 429
    locked = http.get(f"{BASE}{path}", params={"company_id": COMPANY})
    assert locked.status_code == 403
    contract.check(locked)


def test_an_injected_500_answers_in_freees_shape(http, contract, sandbox):
    sandbox.faults.add(FaultRule(FaultKind.SERVER_ERROR, status=500, path_prefix="/iv/invoices/templates"))
    response = http.get(f"{BASE}/iv/invoices/templates", params={"company_id": COMPANY})
    assert response.status_code == 500
    contract.check(response)


# ------------------------------------------------------------------------------- the check catches drift


def test_the_contract_check_catches_a_renamed_required_field(http, contract):
    partner = _create_partner(http, contract)
    invoice = _create_invoice(http, contract, partner["id"])
    shown = http.get(f"{BASE}/iv/invoices/{invoice['id']}", params={"company_id": COMPANY})
    mock_request, mock_response = contract.mocks(shown)
    contract.lenient["invoice"].validate_response(mock_request, mock_response)

    drifted = copy.deepcopy(shown.json())
    drifted["invoice"]["invoice_no"] = drifted["invoice"].pop("invoice_number")
    mock_response.data = json.dumps(drifted).encode()
    with pytest.raises(Exception, match=r"(?i)invalid|required"):
        contract.lenient["invoice"].validate_response(mock_request, mock_response)


def test_the_strict_check_catches_an_invented_field_and_a_wrong_type(http, contract, sandbox):
    partner = _create_partner(http, contract)
    invoice = _create_invoice(http, contract, partner["id"])
    shown = http.get(f"{BASE}/api/1/deals/{invoice['deal_id']}", params={"company_id": COMPANY})
    mock_request, mock_response = contract.mocks(shown)

    invented = copy.deepcopy(shown.json())
    invented["deal"]["invoice_id"] = invoice["id"]
    mock_response.data = json.dumps(invented).encode()
    contract.lenient["accounting"].validate_response(mock_request, mock_response)  # freee tolerates extras
    with pytest.raises(Exception, match=r"(?i)invalid|additional"):
        contract.strict["accounting"].validate_response(mock_request, mock_response)

    wrong_type = copy.deepcopy(shown.json())
    wrong_type["deal"]["due_amount"] = str(wrong_type["deal"]["due_amount"])
    mock_response.data = json.dumps(wrong_type).encode()
    with pytest.raises(Exception, match=r"(?i)invalid"):
        contract.lenient["accounting"].validate_response(mock_request, mock_response)
