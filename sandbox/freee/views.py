"""Rendering: a stored record in the shape of the response asked for, the company, a listed partner."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from sandbox.freee.facts import (
    _COMPANY,
    _INVOICE_CREATE_KEYS,
    _INVOICE_INDEX_KEYS,
    _INVOICE_NULLABLE,
    _INVOICE_SHOW_KEYS,
    _LINE_CREATE_KEYS,
    _LINE_NULLABLE,
    _LINE_SHOW_KEYS,
    _PARTNER_LIST_OMITS,
)


def _shape(record: Mapping[str, Any], keys: Iterable[str], nullable: set[str]) -> dict[str, Any]:
    return {k: record[k] for k in keys if k in record and (record[k] is not None or k in nullable)}


def _invoice_view(record: Mapping[str, Any], shape: str) -> dict[str, Any]:
    if shape == "index":
        return _shape(record, _INVOICE_INDEX_KEYS, _INVOICE_NULLABLE)
    keys, line_keys = (
        (_INVOICE_CREATE_KEYS, _LINE_CREATE_KEYS)
        if shape == "create"
        else (_INVOICE_SHOW_KEYS, _LINE_SHOW_KEYS)
    )
    out = _shape(record, keys, _INVOICE_NULLABLE)
    out["lines"] = [_shape(line, line_keys, _LINE_NULLABLE) for line in record["lines"]]
    return out


def _company_detail(company_id: int, use_partner_codes: bool) -> dict[str, Any]:
    """The company (事業所) as ``GET /api/1/companies/{id}`` answers it (every field freee's document requires)."""
    return {
        "id": company_id,
        "name": _COMPANY["name"],
        "name_kana": "サンドボックスカブシキガイシャ",
        "display_name": _COMPANY["name"],
        "company_number": f"{company_id:010d}",
        "role": "admin",
        "use_partner_code": use_partner_codes,
        "tax_at_source_calc_type": 0,
        "contact_name": _COMPANY["contact"],
        "head_count": 10,
        "corporate_number": "1234567890123",
        "txn_number_format": "not_used",
        "default_wallet_account_id": 1,
        "private_settlement": False,
        "minus_format": 0,
        "industry_class": "it",
        "industry_code": "",
        "workflow_setting": "disable",
        "fiscal_years": [
            {
                "id": 1,
                "use_industry_template": False,
                "indirect_write_off_method": False,
                "start_date": "2026-04-01",
                "end_date": "2027-03-31",
                "depreciation_record_method": 0,
                "is_closed": False,
                "month_end_date": "2026-11-30",
                "temp_month_end_date": "2026-11-30",
                "return_code": 0,
                "tax_fraction": 0,
                "tax_method": 0,
                "tax_account_method": 0,
                "sales_tax_business_code": 5,
            }
        ],
        "phone1": "03-0000-0000",
        "phone2": None,
        "fax": None,
        "zipcode": "141-0032",
        "prefecture_code": 12,
        "street_name1": "品川区大崎1-2-1",
        "street_name2": None,
        "invoice_layout": "default_classic",
        "amount_fraction": 0,
        "org_code": 1,
    }


def _listed_partner(partner: Mapping[str, Any]) -> dict[str, Any]:
    """A partner as ``GET /api/1/partners`` lists it (without the payment-term objects)."""
    return {k: v for k, v in partner.items() if k not in _PARTNER_LIST_OMITS}
