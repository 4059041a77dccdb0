"""What our mapping sends must be valid for freee's own OpenAPI documents (specs/freee)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from openapi_core.validation.request.exceptions import InvalidRequestBody
from pydantic import TypeAdapter

from sdk.billing.preview import first_invoice, preview_schedule
from sdk.errors import ValidationFailed
from sdk.mapping import PartnerRef, build_invoice_request, build_partner_request, known_partner
from sdk.models.hubspot import DealBundle
from sdk.validation import validate_deal
from tests.conftest import TODAY
from tests.contract.conftest import freee_request
from tests.factories import VALID_REGISTRATION, bundle, company, contact, line_item

EXAMPLES = Path(__file__).resolve().parents[2] / "cli" / "examples" / "deals.json"


def _examples() -> list[DealBundle]:
    return TypeAdapter(list[DealBundle]).validate_json(EXAMPLES.read_bytes())


def test_every_valid_example_deal_maps_to_a_valid_freee_invoice_request(invoice_api, settings):
    """The deal as validated, and the first invoice its schedule sends (a period's, an instalment's)."""
    checked = 0
    periods = 0
    for example in _examples():
        try:
            draft = validate_deal(example, settings, today=TODAY)
            first = first_invoice(preview_schedule(example, draft, settings), draft, settings)
        except ValidationFailed:
            continue
        assert example.company is not None
        partner = known_partner(example.company, settings)
        for invoice in [draft] if first is None or first is draft else [draft, first]:
            body = build_invoice_request(invoice, settings, company_id=1, partner=partner)
            invoice_api.validate_request(freee_request("post", "/iv/invoices", body.to_json()))
            periods += invoice.period is not None
        checked += 1
    assert checked >= 10
    assert periods >= 4


def test_an_edge_case_invoice_is_still_valid_for_freee(invoice_api, settings):
    deal = bundle(
        line_item("🎉" * 255, quantity="99999999.999", price="0.001"),
        line_item("割引", quantity="0.001", price="9999999999999.999", hs_discount_percentage="100"),
        contact_=contact(email="a@example.jp"),
        name="件" * 255,
    )
    draft = validate_deal(deal, settings, today=TODAY)
    body = build_invoice_request(draft, settings, company_id=2**62, partner=PartnerRef(code="HS-1")).to_json()
    invoice_api.validate_request(freee_request("post", "/iv/invoices", body))


def test_the_contract_check_itself_catches_a_bad_request(invoice_api):
    with pytest.raises(InvalidRequestBody):
        invoice_api.validate_request(freee_request("post", "/iv/invoices", {"company_id": 1, "lines": []}))


def test_partner_requests_are_valid_for_freee(accounting_api, settings):
    full = company(
        "株式会社サンプル商事",
        zip="150-0002",
        state="東京都",
        city="渋谷区",
        address="渋谷2-21-1",
        phone="03-5555-0100",
        freee_invoice_registration_number=VALID_REGISTRATION,
    )
    for source, who, with_code in ((full, contact(), True), (company("個人事業 山田"), None, False)):
        body = build_partner_request(source, who, settings, company_id=1, with_code=with_code).to_json()
        accounting_api.validate_request(
            freee_request("post", "/api/1/partners", json.loads(json.dumps(body)))
        )
