"""Partner (取引先) fields: the attributes a create / update / upsert body may carry, checked, and a blank
partner they are merged into."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sandbox.freee.fields import _MISSING, _Fields

_PARTNER_STRINGS: dict[str, int | None] = {
    "shortcut1": 255,
    "shortcut2": 255,
    "long_name": 255,
    "name_kana": 255,
    "default_title": None,
    "phone": None,
    "contact_name": 255,
    "email": 255,
}
_TERM_FIELDS = (("cutoff_day", 1, 32), ("additional_months", 0, 6), ("fixed_day", 1, 32))
_BANK_FIELDS = (
    "bank_name",
    "bank_name_kana",
    "bank_code",
    "branch_name",
    "branch_kana",
    "branch_code",
    "account_type",
    "account_number",
    "account_name",
    "long_account_name",
)


def _partner_attributes(f: _Fields, *, available: bool = False) -> dict[str, Any]:
    """The partner attributes present in a create / update / upsert body, checked (``name`` and ``code`` aside);
    with ``available``, the ``available`` flag too (an update or a seed may set it, a create may not)."""
    out: dict[str, Any] = {}
    for name, max_length in _PARTNER_STRINGS.items():
        if name in f.data:
            out[name] = f.string(name, max_length=max_length)
    if "org_code" in f.data:
        out["org_code"] = f.integer("org_code", enum=(1, 2))
    if f.has("country_code"):
        out["country_code"] = f.string("country_code", enum=("JP", "ZZ"))
    if "payer_walletable_id" in f.data:
        out["payer_walletable_id"] = f.integer("payer_walletable_id", minimum=1)
    if f.has("transfer_fee_handling_side"):
        out["transfer_fee_handling_side"] = f.string("transfer_fee_handling_side", enum=("payer", "payee"))
    if f.has("qualified_invoice_issuer"):
        out["qualified_invoice_issuer"] = f.boolean("qualified_invoice_issuer")
    if "invoice_registration_number" in f.data:
        number = f.string(
            "invoice_registration_number", min_length=13, max_length=14, pattern=r"^T?[1-9][0-9]{12}$"
        )
        out["invoice_registration_number"] = (
            None if number is None else (number if number.startswith("T") else f"T{number}")
        )
    address = f.obj("address_attributes")
    if address is not None:
        a = f.child(address, "address_attributes.")
        out["address_attributes"] = {
            key: value
            for key, value in (
                ("zipcode", a.string("zipcode", max_length=8) if "zipcode" in address else _MISSING),
                (
                    "prefecture_code",
                    a.integer("prefecture_code", minimum=-1, maximum=46)
                    if "prefecture_code" in address
                    else _MISSING,
                ),
                (
                    "street_name1",
                    a.string("street_name1", max_length=255) if "street_name1" in address else _MISSING,
                ),
                (
                    "street_name2",
                    a.string("street_name2", max_length=255) if "street_name2" in address else _MISSING,
                ),
            )
            if value is not _MISSING
        }
    doc = f.obj("partner_doc_setting_attributes")
    if doc is not None and "sending_method" in doc:
        d = f.child(doc, "partner_doc_setting_attributes.")
        out["partner_doc_setting_attributes"] = {
            "sending_method": d.string(
                "sending_method",
                enum=("email", "posting", "email_and_posting", "pdf_delivery", "pdf_delivery_and_posting"),
            )
        }
    bank = f.obj("partner_bank_account_attributes")
    if bank is not None:
        b = f.child(bank, "partner_bank_account_attributes.")
        values: dict[str, Any] = {}
        for key in _BANK_FIELDS:
            if key in bank:
                enum = (
                    ("ordinary", "checking", "earmarked", "savings", "other")
                    if key == "account_type"
                    else None
                )
                values[key] = b.string(key, enum=enum)
        out["partner_bank_account_attributes"] = values
    for terms in ("payment_term_attributes", "invoice_payment_term_attributes"):
        if terms in f.data and f.data[terms] is None:
            out[terms] = {key: None for key, _, _ in _TERM_FIELDS}
            continue
        given = f.obj(terms)
        if given is not None:
            t = f.child(given, f"{terms}.")
            out[terms] = {
                key: t.integer(key, minimum=low, maximum=high)
                for key, low, high in _TERM_FIELDS
                if key in given
            }
    if available and "available" in f.data:
        out["available"] = f.boolean("available")
    return out


def _blank_partner() -> dict[str, Any]:
    return {
        "id": 0,
        "code": None,
        "company_id": 0,
        "name": "",
        "update_date": "",
        "available": True,
        "shortcut1": None,
        "shortcut2": None,
        "org_code": None,
        "country_code": "JP",
        "long_name": None,
        "name_kana": None,
        "default_title": None,
        "phone": None,
        "contact_name": None,
        "email": None,
        "payer_walletable_id": None,
        "transfer_fee_handling_side": "payer",
        "qualified_invoice_issuer": False,
        "invoice_registration_number": None,
        "address_attributes": {
            "zipcode": None,
            "prefecture_code": None,
            "street_name1": None,
            "street_name2": None,
        },
        "partner_doc_setting_attributes": {"sending_method": None},
        "partner_bank_account_attributes": dict.fromkeys(_BANK_FIELDS),
        "payment_term_attributes": {key: None for key, _, _ in _TERM_FIELDS},
        "invoice_payment_term_attributes": {key: None for key, _, _ in _TERM_FIELDS},
    }


def _merge(target: dict[str, Any], changes: Mapping[str, Any]) -> None:
    for key, value in changes.items():
        if isinstance(value, Mapping) and isinstance(target.get(key), dict):
            target[key].update(value)
        else:
            target[key] = value
