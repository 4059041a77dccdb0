"""Every field our freee models name exists, with the same name, in freee's own schema (no typo can hide)."""

from __future__ import annotations

import json
from functools import cache
from typing import Any

import pytest
import yaml

from sdk.models import (
    AccountingDeal,
    DealPayment,
    Invoice,
    InvoiceLine,
    InvoiceLineRequest,
    InvoiceRequest,
    Partner,
    PartnerAddress,
    PartnerCreateRequest,
)
from tests.contract.conftest import SPECS


@cache
def _schemas() -> dict[str, dict[str, Any]]:
    invoice = yaml.safe_load((SPECS / "invoice-api.yml").read_text(encoding="utf-8"))["components"]["schemas"]
    accounting = json.loads((SPECS / "accounting-api.json").read_text(encoding="utf-8"))["components"][
        "schemas"
    ]
    deal = accounting["deal"]["properties"]
    partner = accounting["partnerResponse"]["properties"]["partner"]
    return {
        "InvoiceRequest": invoice["InvoiceRequest"],
        "InvoiceRequest_lines": invoice["InvoiceRequest_lines"],
        "InvoiceResponse_invoice": invoice["InvoiceResponse_invoice"],
        "InvoiceIndexResponse_invoices": invoice["InvoiceIndexResponse_invoices"],
        "InvoiceResponse_invoice_lines": invoice["InvoiceResponse_invoice_lines"],
        "partnerCreateParams": accounting["partnerCreateParams"],
        "partner": partner,
        "partner.address_attributes": partner["properties"]["address_attributes"],
        "deal": accounting["deal"],
        "deal.payments": deal["payments"]["items"],
    }


@pytest.mark.parametrize(
    ("model", "schema_names"),
    [
        (InvoiceRequest, ["InvoiceRequest"]),
        (InvoiceLineRequest, ["InvoiceRequest_lines"]),
        (Invoice, ["InvoiceResponse_invoice", "InvoiceIndexResponse_invoices"]),
        (InvoiceLine, ["InvoiceResponse_invoice_lines"]),
        (PartnerCreateRequest, ["partnerCreateParams"]),
        (Partner, ["partner"]),
        (PartnerAddress, ["partner.address_attributes"]),
        (AccountingDeal, ["deal"]),
        (DealPayment, ["deal.payments"]),
    ],
)
def test_model_fields_are_fields_of_the_freee_schema(model, schema_names):
    for name in schema_names:
        schema = _schemas()[name]
        known = set(schema["properties"])
        fields = {f.alias or key for key, f in model.model_fields.items()}
        if name == "InvoiceIndexResponse_invoices":
            fields -= {
                "lines",
                "payment_date",
            } - known  # the list omits lines; both are read from /invoices/{id}
        assert fields <= known, (
            f"{model.__name__} names fields freee's {name} does not have: {fields - known}"
        )


@pytest.mark.parametrize(
    ("model", "schema_name"),
    [
        (InvoiceRequest, "InvoiceRequest"),
        (PartnerCreateRequest, "partnerCreateParams"),
        (InvoiceLine, "InvoiceResponse_invoice_lines"),
    ],
)
def test_fields_freee_requires_are_required_or_defaulted_by_us(model, schema_name):
    required = set(_schemas()[schema_name].get("required", []))
    ours = {key for key, f in model.model_fields.items() if f.is_required() or f.default is not None}
    assert required <= ours, f"{model.__name__} may omit {required - ours}, which freee requires"
