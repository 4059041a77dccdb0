from datetime import date

import pytest

from sdk.billing.units import Unit, parse_marker
from sdk.mapping import (
    PartnerRef,
    build_invoice_request,
    build_partner_request,
    known_partner,
    partner_code,
    prefecture_code,
)
from sdk.settings import load_settings
from sdk.validation import validate_deal
from tests.conftest import TODAY
from tests.factories import VALID_REGISTRATION, bundle, company, contact, line_item


def invoice_marker(portal_id: int, deal_id: str) -> str:
    return Unit.deal(deal_id).marker(portal_id)


def test_marker_ties_the_invoice_to_portal_and_deal_and_is_found_again():
    marker = invoice_marker(24681357, "9876543210")
    assert marker == "[hubspot-freee portal=24681357 deal=9876543210]"
    assert parse_marker(f"社内メモ: 担当 山田\n{marker}") == (24681357, "9876543210")
    assert parse_marker("no marker here") is None
    assert parse_marker(None) is None
    # a marker for another deal whose id starts the same way does not match
    assert parse_marker(invoice_marker(1, "98765")) != (1, "9876543210")


def test_invoice_request_carries_every_field_freee_requires(settings):
    deal = bundle(
        line_item("会計ソフト導入支援", quantity="1.5", price="800000"),
        line_item("お弁当", quantity=20, price=1080, freee_tax_rate="8_reduced"),
        line_item("輸出機器", quantity=1, price=50000, freee_tax_rate="0"),
        line_item("年間ライセンス", quantity=10, price=12000, hs_discount_percentage="10"),
        contact_=contact(),
        portal_id=42,
    )
    draft = validate_deal(deal, settings, today=TODAY)
    body = build_invoice_request(draft, settings, company_id=1234, partner=PartnerRef(id=777)).to_json()
    assert body["company_id"] == 1234
    assert body["partner_id"] == 777
    assert "partner_code" not in body
    assert body["billing_date"] == "2026-11-20"
    assert body["payment_date"] == "2026-12-31"
    assert body["tax_entry_method"] == "out"
    assert body["tax_fraction"] == body["line_amount_fraction"] == "omit"
    assert body["withholding_tax_entry_method"] == "out"
    assert body["partner_title"] == "御中"
    assert body["memo"] == invoice_marker(42, deal.deal.id)
    assert body["subject"] == deal.deal.name
    assert body["partner_contact_name"] == "山田 太郎"
    assert body["lines"] == [
        {
            "type": "item",
            "description": "会計ソフト導入支援",
            "quantity": 1.5,
            "unit_price": "800000",
            "tax_rate": 10,
            "reduced_tax_rate": False,
            "withholding": False,
        },
        {
            "type": "item",
            "description": "お弁当",
            "quantity": 20,
            "unit_price": "1080",
            "tax_rate": 8,
            "reduced_tax_rate": True,
            "withholding": False,
        },
        {
            "type": "item",
            "description": "輸出機器",
            "quantity": 1,
            "unit_price": "50000",
            "tax_rate": 0,
            "reduced_tax_rate": False,
            "withholding": False,
        },
        {
            "type": "item",
            "description": "年間ライセンス",
            "quantity": 10,
            "unit_price": "12000",
            "tax_rate": 10,
            "reduced_tax_rate": False,
            "withholding": False,
        },
        {
            "type": "item",
            "description": "値引き（年間ライセンス）",
            "quantity": 1,
            "unit_price": "-12000",
            "tax_rate": 10,
            "reduced_tax_rate": False,
            "withholding": False,
        },
    ]


def test_rounding_and_entry_settings_reach_the_request():
    settings = load_settings(tax={"rounding": "ceil", "entry_method": "in"}, freee_template_id=55)
    draft = validate_deal(bundle(line_item()), settings, today=TODAY)
    body = build_invoice_request(draft, settings, company_id=1, partner=PartnerRef(code="HS-1")).to_json()
    assert (body["tax_fraction"], body["tax_entry_method"], body["template_id"]) == ("round_up", "in", 55)
    assert body["partner_code"] == "HS-1"
    assert "partner_id" not in body


def test_partner_ref_names_exactly_one_of_id_or_code():
    with pytest.raises(ValueError, match="exactly one"):
        PartnerRef()
    with pytest.raises(ValueError, match="exactly one"):
        PartnerRef(id=1, code="x")


def test_known_partner_prefers_the_id_written_on_the_company(settings):
    assert known_partner(company(freee_partner_id="4321"), settings) == PartnerRef(id=4321)
    fresh = company()
    assert known_partner(fresh, settings) == PartnerRef(code=f"HS-{fresh.id}")
    assert known_partner(company(freee_partner_id="garbage"), settings).code is not None


def test_partner_code_pattern_is_a_setting():
    assert (
        partner_code("123", load_settings(freee_partner_code_pattern="hubspot-{company_id}")) == "hubspot-123"
    )


def test_company_becomes_a_freee_partner(settings):
    source = company(
        "株式会社サンプル商事",
        zip="1500002",
        state="東京都",
        city="渋谷区",
        address="渋谷2-21-1",
        address2="ヒカリエ 10F",
        phone="03-5555-0100",
        freee_invoice_registration_number=VALID_REGISTRATION,
    )
    request = build_partner_request(source, contact(), settings, company_id=99, with_code=True)
    body = request.to_json()
    assert body["company_id"] == 99
    assert body["name"] == body["long_name"] == "株式会社サンプル商事"
    assert body["code"] == f"HS-{source.id}"
    assert body["shortcut1"] == f"HubSpot {source.id}"
    assert body["default_title"] == "御中"
    assert body["qualified_invoice_issuer"] is True
    assert body["invoice_registration_number"] == VALID_REGISTRATION
    assert body["contact_name"] == "山田 太郎"
    assert body["email"] == "taro@example.co.jp"
    assert body["address_attributes"] == {
        "zipcode": "150-0002",
        "prefecture_code": 12,
        "street_name1": "渋谷区 渋谷2-21-1",
        "street_name2": "ヒカリエ 10F",
    }


def test_partner_without_code_or_address(settings):
    body = build_partner_request(
        company("有限会社さくら"), None, settings, company_id=1, with_code=False
    ).to_json()
    assert "code" not in body
    assert "address_attributes" not in body
    assert "qualified_invoice_issuer" not in body
    assert body["country_code"] == "JP"


@pytest.mark.parametrize(
    ("state", "code"),
    [
        ("北海道", 0),
        ("東京都", 12),
        ("東京", 12),
        ("京都府", 25),
        ("京都", 25),
        ("大阪", 26),
        ("沖縄県", 46),
        ("Tokyo", 12),
        ("Atlantis", None),
        (None, None),
        ("", None),
    ],
)
def test_prefecture_codes_follow_freee(state, code):
    assert prefecture_code(state) == code


def test_request_dates_serialise_as_iso(settings):
    draft = validate_deal(bundle(line_item(), closedate="2026-11-30T16:00:00Z"), settings, today=TODAY)
    body = build_invoice_request(draft, settings, company_id=1, partner=PartnerRef(id=1)).to_json()
    assert body["billing_date"] == date(2026, 12, 1).isoformat()


def test_invoice_request_names_exactly_one_partner(settings):
    from pydantic import ValidationError

    from sdk.models import InvoiceRequest

    draft = validate_deal(bundle(line_item()), settings, today=TODAY)
    body = build_invoice_request(draft, settings, company_id=1, partner=PartnerRef(id=5)).to_json()
    with pytest.raises(ValidationError, match="exactly one of partner_id or partner_code"):
        InvoiceRequest.model_validate(body | {"partner_code": "HS-1"})
    del body["partner_id"]
    with pytest.raises(ValidationError, match="exactly one"):
        InvoiceRequest.model_validate(body)
