"""A stateful in-memory freee (Flask WSGI app): the freee請求書 API under ``/iv``, the freee会計 API's partners,
deals and companies under ``/api/1``, and the OAuth endpoints under ``/public_api``, on one base URL (use it as
both ``FREEE_API_BASE`` and ``FREEE_AUTH_BASE``).

It follows freee's own OpenAPI documents (``specs/freee``): field names, required fields, enums, error
shapes and status codes; the contract tests validate its answers against them. It computes invoice totals on
its own (one rounding per tax rate, as freee does), registers an accounting deal (取引) per invoice, takes
payments through its admin API, rotates single-use refresh tokens, and enforces freee's rate limits on the
injected clock (429, then a 403 lock-out for sustained overuse).

Admin API (no auth, no rate limit) under ``/_sandbox``: ``POST reset``, ``POST seed``, ``GET state``,
``POST oauth/codes``, ``POST tokens``, ``POST tokens/expire``, ``POST invoices/{id}/payments``,
``POST invoices/{id}/register`` and the fault endpoints of :func:`sandbox.faults.install_faults`.
"""

from __future__ import annotations

import contextlib
import copy
import decimal
import hashlib
import json
import math
import re
import secrets
import threading
import uuid
from collections import Counter, deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from flask import Flask, Response, g, request
from werkzeug.exceptions import HTTPException

from sandbox.faults import ADMIN_PREFIX, FaultInjector, install_faults
from sdk.clock import Clock, SystemClock

__all__ = ["FreeeSandbox", "FreeeSandboxError", "FreeeState", "create_freee_sandbox"]

JST = ZoneInfo("Asia/Tokyo")
REPORT_URL = "https://invoice.secure.freee.co.jp/reports/invoices/{id}"
REQUEST_ID_HEADER = "X-Freee-Request-ID"
AUTH_CODE_TTL = 600.0
REFRESH_TOKEN_TTL = 90 * 24 * 3600.0
MAX_INVOICE_WINDOW = 10_000
#: how ``GET /iv/invoices`` orders what it lists (freee documents no order): ``newest_first`` (the default),
#: ``oldest_first``, or ``shuffled`` (a fixed pseudo-random order per ``invoice_order_seed``, the same on every
#: page) — a caller looking for one invoice must page through every result, not trust the first page
INVOICE_ORDERS = ("newest_first", "oldest_first", "shuffled")

_MATH = decimal.Context(prec=60, traps=[decimal.InvalidOperation, decimal.DivisionByZero, decimal.Overflow])
_ROUNDING = {"omit": decimal.ROUND_FLOOR, "round": decimal.ROUND_HALF_UP, "round_up": decimal.ROUND_CEILING}
# (key used in freee's per-rate field names, rate in %, reduced rate?)
_RATE_GROUPS: tuple[tuple[str, int, bool], ...] = (
    ("10", 10, False),
    ("8_reduced", 8, True),
    ("8", 8, False),
    ("0", 0, False),
)
# Illustrative tax codes for the one detail line of a registered deal (課税売上10% / 8%(軽) / 8% / 対象外).
_TAX_CODES = {"10": 129, "8_reduced": 156, "8": 101, "0": 2}
_SALES_ACCOUNT_ITEM_ID = 101

_TEMPLATES = ({"id": 1, "name": "請求書（標準）"}, {"id": 2, "name": "請求書（シンプル）"})
_COMPANY = {
    "name": "サンドボックス株式会社",
    "description": "〒141-0032 東京都品川区大崎1-2-1",
    "bank_account": "サンドボックス銀行 本店 普通 1234567",
    "registration_number": "T1234567890123",
    "contact": "freee 太郎",
}

# Fields of each response shape, in freee's order (from invoice-api.yml); absent/None non-nullable ones are left out.
_INVOICE_CREATE_KEYS = (  # noqa: SIM905 - one line per group of fields reads better than 63 list items
    "id company_id invoice_number branch_no subject template_id template_name billing_date issue_date payment_date "
    "payment_type invoice_note memo sending_status payment_status cancel_status deal_status deal_id tax_entry_method "
    "tax_fraction line_amount_fraction withholding_tax_entry_method total_amount created_at amount_withholding_tax "
    "amount_including_tax amount_excluding_tax amount_tax amount_including_tax_10 amount_excluding_tax_10 "
    "amount_tax_10 amount_including_tax_8 amount_excluding_tax_8 amount_tax_8 amount_including_tax_8_reduced "
    "amount_excluding_tax_8_reduced amount_tax_8_reduced amount_including_tax_0 amount_excluding_tax_0 amount_tax_0 "
    "amount_brought_forward partner_id partner_code partner_name partner_title partner_address_zipcode "
    "partner_address_prefecture_code partner_address_street_name1 partner_address_street_name2 "
    "partner_contact_department partner_contact_email_cc partner_contact_email_to partner_contact_name "
    "partner_display_name partner_bank_account partner_sending_method company_contact_name company_name "
    "company_description bank_account_to_transfer template lines report_url"
).split()
_INVOICE_SHOW_KEYS = [
    k
    for k in _INVOICE_CREATE_KEYS
    if k not in ("partner_contact_email_cc", "partner_contact_email_to", "partner_sending_method")
] + ["email_url_file_downloaded_at", "email_url_file_downloaded_status", "sales_management_origin"]
_INVOICE_INDEX_KEYS = (  # noqa: SIM905
    "id company_id invoice_number subject template_id billing_date issue_date payment_date payment_type memo "
    "sending_status payment_status cancel_status deal_status deal_id total_amount amount_withholding_tax "
    "amount_including_tax amount_excluding_tax amount_tax amount_brought_forward partner_id partner_code "
    "partner_name partner_display_name company_contact_name email_url_file_downloaded_at "
    "email_url_file_downloaded_status report_url sales_management_origin"
).split()
# Nullable fields answered as null when unset. Nullable *enums* (partner_sending_method,
# email_url_file_downloaded_status, a text line's tax_rate) are left out instead: under OpenAPI 3.0 a null does not
# pass an enum that does not list it.
_INVOICE_NULLABLE = {
    "branch_no",
    "issue_date",
    "payment_date",
    "deal_id",
    "tax_entry_method",
    "tax_fraction",
    "line_amount_fraction",
    "withholding_tax_entry_method",
    "amount_withholding_tax",
    "amount_brought_forward",
    "partner_code",
    "email_url_file_downloaded_at",
} | {
    f"amount_{kind}_{key}" for kind in ("including_tax", "excluding_tax", "tax") for key, _, _ in _RATE_GROUPS
}
_LINE_CREATE_KEYS = (  # noqa: SIM905
    "id type description sales_date unit quantity unit_price tax_rate reduced_tax_rate withholding "
    "amount_excluding_tax account_item_id tax_code item_id section_id tag_ids segment_1_tag_id segment_2_tag_id "
    "segment_3_tag_id"
).split()
_LINE_SHOW_KEYS = _LINE_CREATE_KEYS[:11]
_LINE_NULLABLE = {
    "sales_date",
    "quantity",
    "unit_price",
    "amount_excluding_tax",
    "account_item_id",
    "tax_code",
    "item_id",
    "section_id",
    "segment_1_tag_id",
    "segment_2_tag_id",
    "segment_3_tag_id",
}
# partnersResponse items lack the two payment-term objects that partnerResponse has.
_PARTNER_LIST_OMITS = ("payment_term_attributes", "invoice_payment_term_attributes")


# ------------------------------------------------------------------------------------------------ errors


class FreeeSandboxError(Exception):
    """A refusal in freee's words: the HTTP layer turns it into freee's error shape for the path asked."""

    def __init__(
        self,
        status: int,
        messages: str | Iterable[str],
        kind: str | None = None,
        *,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        self.status = status
        self.messages = [messages] if isinstance(messages, str) else list(messages)
        self.kind = kind or {400: "validation", 404: "status"}.get(status, "error")
        self.headers = dict(headers or {})
        super().__init__(f"{status}: {'; '.join(self.messages)}")


def _invalid(messages: str | Iterable[str]) -> FreeeSandboxError:
    return FreeeSandboxError(400, messages, "validation")


def _not_found(what: str) -> FreeeSandboxError:
    return FreeeSandboxError(404, f"{what}が見つかりません。", "status")


# ------------------------------------------------------------------------------------- request checking

_MISSING = object()
_DATE_RE = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$")


class _Fields:
    """Checks one JSON object against a few schema rules, collecting every problem in Japanese."""

    def __init__(
        self,
        data: Mapping[str, Any],
        where: str = "",
        *,
        form: bool = False,
        problems: list[str] | None = None,
    ) -> None:
        self.data = data
        self.where = where
        self.form = form
        self.problems: list[str] = problems if problems is not None else []

    def child(self, data: Mapping[str, Any], where: str) -> _Fields:
        return _Fields(data, where, form=self.form, problems=self.problems)

    def label(self, name: str) -> str:
        return f"{self.where}{name}"

    def has(self, name: str) -> bool:
        return self.data.get(name) is not None

    def fail(self, message: str) -> None:
        self.problems.append(message)

    def raise_if_any(self) -> None:
        if self.problems:
            raise _invalid(self.problems)

    def _get(self, name: str, required: bool) -> Any:
        value = self.data.get(name, _MISSING)
        if value is _MISSING or value is None:
            if required:
                self.fail(f"{self.label(name)} は必須項目です。")
            return _MISSING
        return value

    def string(
        self,
        name: str,
        *,
        required: bool = False,
        min_length: int | None = None,
        max_length: int | None = None,
        pattern: str | None = None,
        enum: Iterable[str] | None = None,
    ) -> str | None:
        value = self._get(name, required)
        if value is _MISSING:
            return None
        if not isinstance(value, str):
            self.fail(f"{self.label(name)} は文字列で指定してください。")
            return None
        before = len(self.problems)
        if min_length is not None and len(value) < min_length:
            self.fail(
                f"{self.label(name)} を入力してください。"
                if min_length == 1
                else f"{self.label(name)} は{min_length}文字以上で入力してください。"
            )
        if max_length is not None and len(value) > max_length:
            self.fail(f"{self.label(name)} は{max_length}文字以内で入力してください。")
        if pattern is not None and not re.fullmatch(pattern, value):
            self.fail(f"{self.label(name)} の形式が正しくありません。")
        if enum is not None:
            allowed = list(enum)
            if value not in allowed:
                self.fail(f"{self.label(name)} には {', '.join(allowed)} のいずれかを指定してください。")
        return value if len(self.problems) == before else None

    def integer(
        self,
        name: str,
        *,
        required: bool = False,
        minimum: int | None = None,
        maximum: int | None = None,
        enum: Iterable[int] | None = None,
    ) -> int | None:
        value = self._get(name, required)
        if value is _MISSING:
            return None
        if self.form and isinstance(value, str) and re.fullmatch(r"-?[0-9]+", value.strip()):
            value = int(value)
        if isinstance(value, Decimal) and value.is_finite() and value == value.to_integral_value():
            value = int(value)
        if isinstance(value, bool) or not isinstance(value, int):
            self.fail(f"{self.label(name)} は整数で指定してください。")
            return None
        return value if self._in_range(name, value, minimum, maximum, enum) else None

    def number(
        self,
        name: str,
        *,
        required: bool = False,
        minimum: Decimal | None = None,
        maximum: Decimal | None = None,
    ) -> Decimal | None:
        value = self._get(name, required)
        if value is _MISSING:
            return None
        if self.form and isinstance(value, str):
            with contextlib.suppress(decimal.InvalidOperation):
                value = Decimal(value.strip())
        if isinstance(value, bool) or not isinstance(value, int | Decimal):
            self.fail(f"{self.label(name)} は数値で指定してください。")
            return None
        number = Decimal(value)
        if not number.is_finite():
            self.fail(f"{self.label(name)} は数値で指定してください。")
            return None
        return number if self._in_range(name, number, minimum, maximum, None) else None

    def _in_range(
        self, name: str, value: Any, minimum: Any, maximum: Any, enum: Iterable[int] | None
    ) -> bool:
        if enum is not None:
            allowed = list(enum)
            if value not in allowed:
                self.fail(
                    f"{self.label(name)} には {', '.join(map(str, allowed))} のいずれかを指定してください。"
                )
                return False
        if (minimum is not None and value < minimum) or (maximum is not None and value > maximum):
            low = "" if minimum is None else f"{minimum}以上"
            high = "" if maximum is None else f"{maximum}以下"
            self.fail(f"{self.label(name)} は{low}{high}の値で指定してください。")
            return False
        return True

    def boolean(self, name: str, *, required: bool = False) -> bool | None:
        value = self._get(name, required)
        if value is _MISSING:
            return None
        if self.form and isinstance(value, str) and value.lower() in ("true", "false", "1", "0"):
            value = value.lower() in ("true", "1")
        if not isinstance(value, bool):
            self.fail(f"{self.label(name)} は true または false で指定してください。")
            return None
        return value

    def date(self, name: str, *, required: bool = False) -> date | None:
        value = self._get(name, required)
        if value is _MISSING:
            return None
        parsed = _parse_date(value)
        if parsed is None:
            self.fail(f"{self.label(name)} は yyyy-mm-dd 形式の正しい日付で指定してください。")
        return parsed

    def obj(self, name: str) -> Mapping[str, Any] | None:
        value = self._get(name, False)
        if value is _MISSING:
            return None
        if not isinstance(value, Mapping):
            self.fail(f"{self.label(name)} はオブジェクトで指定してください。")
            return None
        return value

    def array(self, name: str, *, required: bool = False) -> list[Any] | None:
        value = self._get(name, required)
        if value is _MISSING:
            return None
        if not isinstance(value, list):
            self.fail(f"{self.label(name)} は配列で指定してください。")
            return None
        return value


def _parse_date(value: Any) -> date | None:
    if not isinstance(value, str) or not _DATE_RE.fullmatch(value):
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        return None


def _decimal_places(number: Decimal) -> int:
    exponent = number.normalize(_MATH).as_tuple().exponent
    return max(0, -exponent) if isinstance(exponent, int) else 0


def _yen(value: Decimal, mode: str) -> int:
    return int(value.quantize(Decimal(1), rounding=_ROUNDING[mode], context=_MATH))


def _number_out(value: Decimal) -> int | float:
    return int(value) if value == value.to_integral_value() else float(value)


# -------------------------------------------------------------------------------------- partner fields

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


def _partner_attributes(f: _Fields) -> dict[str, Any]:
    """The partner attributes present in a create / update / upsert body, checked (``name`` and ``code`` aside)."""
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


# ------------------------------------------------------------------------------------- invoice requests


@dataclass
class _LineInput:
    type: str
    description: str
    sales_date: date | None = None
    unit: str | None = None
    quantity: Decimal | None = None
    unit_price: str | None = None
    tax_rate: int | None = None
    reduced_tax_rate: bool = False
    withholding: bool = False
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def group(self) -> str:
        if self.tax_rate == 8 and self.reduced_tax_rate:
            return "8_reduced"
        return str(self.tax_rate)


@dataclass
class _InvoiceInput:
    company_id: int
    billing_date: date
    tax_entry_method: str
    tax_fraction: str
    withholding_tax_entry_method: str
    partner_title: str
    lines: list[_LineInput]
    line_amount_fraction: str | None = None
    template_id: int | None = None
    invoice_number: str | None = None
    branch_no: int | None = None
    issue_date: date | None = None
    payment_date: date | None = None
    payment_type: str = "transfer"
    subject: str | None = None
    include_amount_brought_forward: bool = False
    amount_brought_forward: int | None = None
    invoice_note: str | None = None
    memo: str | None = None
    partner_id: int | None = None
    partner_code: str | None = None
    optional: dict[str, Any] = field(default_factory=dict)


_FRACTIONS = ("omit", "round_up", "round")
_TITLES = ("御中", "様", "(空白)", "（空白）")
_INVOICE_OPTIONAL_STRINGS: dict[str, tuple[int, int | None, str | None]] = {
    # name: (min length, max length, pattern)
    "partner_address_zipcode": (1, 10, r"^[0-9]{3}-?[0-9]{4}$"),
    "partner_address_street_name1": (1, 255, None),
    "partner_address_street_name2": (1, 255, None),
    "partner_contact_department": (1, 255, None),
    "partner_contact_email_cc": (1, 255, None),
    "partner_contact_email_to": (1, 255, None),
    "partner_contact_name": (1, 255, None),
    "partner_display_name": (0, 255, None),
    "partner_bank_account": (0, 255, None),
    "company_contact_name": (0, 255, None),
    "company_name": (0, 255, None),
    "company_description": (0, 255, None),
    "bank_account_to_transfer": (0, 255, None),
}
_LINE_OPTIONAL_INTS = (
    ("account_item_id", 1, 2147483647),
    ("tax_code", 0, 2147483647),
    ("item_id", 1, 2147483647),
    ("section_id", 1, 2147483647),
    ("segment_1_tag_id", 1, 9223372036854775000),
    ("segment_2_tag_id", 1, 9223372036854775000),
    ("segment_3_tag_id", 1, 9223372036854775000),
)
_QUANTITY_LIMIT = Decimal("99999999.999")


def _parse_invoice_request(body: Mapping[str, Any]) -> _InvoiceInput:
    """``InvoiceRequest`` checked as freee does: required fields, types, enums, lengths and line rules."""
    f = _Fields(body)
    company_id = f.integer("company_id", required=True, minimum=1)
    template_id = f.integer("template_id", minimum=1)
    invoice_number = f.string("invoice_number", max_length=255)
    branch_no = f.integer("branch_no", minimum=0, maximum=2147483647)
    billing_date = f.date("billing_date", required=True)
    issue_date = f.date("issue_date")
    payment_date = f.date("payment_date")
    payment_type = f.string("payment_type", enum=("transfer", "direct_debit", "card"))
    if payment_type == "card":
        f.fail("payment_type に card を指定するには決済連携（M's PayBridge連携）の設定が必要です。")
    subject = f.string("subject", min_length=1, max_length=255)
    tax_entry_method = f.string("tax_entry_method", required=True, enum=("in", "out"))
    tax_fraction = f.string("tax_fraction", required=True, enum=_FRACTIONS)
    line_amount_fraction = f.string("line_amount_fraction", enum=_FRACTIONS)
    withholding_method = f.string("withholding_tax_entry_method", required=True, enum=("in", "out"))
    include_forward = f.boolean("include_amount_brought_forward")
    amount_forward = f.integer("amount_brought_forward", minimum=-999999999999, maximum=999999999999)
    if amount_forward is not None and not include_forward:
        f.fail(
            "amount_brought_forward は include_amount_brought_forward に true を指定した場合のみ指定できます。"
        )
    invoice_note = f.string("invoice_note", max_length=4000)
    memo = f.string("memo", min_length=1, max_length=2000)
    partner_id = f.integer("partner_id", minimum=1)
    partner_code = f.string("partner_code")
    if not f.has("partner_id") and not f.has("partner_code"):
        f.fail("取引先ID（partner_id）と取引先コード（partner_code）のどちらか一方を指定してください。")
    partner_title = f.string("partner_title", required=True, enum=_TITLES)
    optional: dict[str, Any] = {}
    for name, (low, high, pattern) in _INVOICE_OPTIONAL_STRINGS.items():
        if name in body:
            optional[name] = f.string(name, min_length=low or None, max_length=high, pattern=pattern)
    if "partner_address_prefecture_code" in body:
        optional["partner_address_prefecture_code"] = f.integer(
            "partner_address_prefecture_code", minimum=-1, maximum=46
        )
    if "partner_sending_method" in body:
        optional["partner_sending_method"] = f.string(
            "partner_sending_method", enum=("email", "posting", "email_and_posting")
        )
    raw_lines = f.array("lines", required=True)
    lines: list[_LineInput] = []
    if raw_lines is not None and not raw_lines:
        f.fail("lines（請求書の明細行）を1行以上指定してください。")
    for index, raw in enumerate(raw_lines or []):
        if not isinstance(raw, Mapping):
            f.fail(f"lines[{index}] はオブジェクトで指定してください。")
            continue
        line = _parse_line(f.child(raw, f"lines[{index}]."), raw)
        if line is not None:
            lines.append(line)
    f.raise_if_any()
    if company_id is None or billing_date is None or not (tax_entry_method and tax_fraction):
        raise _invalid("リクエストの形式が不正です。")  # unreachable: the checks above reported it
    if not (withholding_method and partner_title):
        raise _invalid("リクエストの形式が不正です。")
    return _InvoiceInput(
        company_id=company_id,
        billing_date=billing_date,
        tax_entry_method=tax_entry_method,
        tax_fraction=tax_fraction,
        withholding_tax_entry_method=withholding_method,
        partner_title="(空白)" if partner_title == "（空白）" else partner_title,
        lines=lines,
        line_amount_fraction=line_amount_fraction,
        template_id=template_id,
        invoice_number=invoice_number,
        branch_no=branch_no,
        issue_date=issue_date,
        payment_date=payment_date,
        payment_type=payment_type or "transfer",
        subject=subject,
        include_amount_brought_forward=bool(include_forward),
        amount_brought_forward=amount_forward,
        invoice_note=invoice_note,
        memo=memo,
        partner_id=partner_id,
        partner_code=partner_code,
        optional={k: v for k, v in optional.items() if v is not None},
    )


def _parse_line(f: _Fields, raw: Mapping[str, Any]) -> _LineInput | None:
    before = len(f.problems)
    kind = f.string("type", enum=("item", "text")) or "item"
    description = f.string("description", required=kind == "text", min_length=1, max_length=255) or ""
    if kind == "text":  # freee keeps only the description of a text line
        return _LineInput(type="text", description=description) if len(f.problems) == before else None
    sales_date = f.date("sales_date")
    unit = f.string("unit", min_length=1, max_length=255)
    quantity = f.number("quantity", required=True, minimum=-_QUANTITY_LIMIT, maximum=_QUANTITY_LIMIT)
    if quantity is not None and _decimal_places(quantity) > 3:
        f.fail(f"{f.label('quantity')} は小数点以下3桁までで指定してください。")
    unit_price = f.string("unit_price", pattern=r"^-?[0-9]{0,13}(\.[0-9]{1,3})?$")
    if unit_price is not None and not re.search(r"[0-9]", unit_price):
        f.fail(f"{f.label('unit_price')} の形式が正しくありません。")
    tax_rate = f.integer("tax_rate", required=True, enum=(0, 8, 10))
    reduced = f.boolean("reduced_tax_rate")
    if reduced and tax_rate is not None and tax_rate != 8:
        f.fail(f"{f.label('reduced_tax_rate')} に true を指定できるのは tax_rate が 8 の場合のみです。")
    withholding = f.boolean("withholding")
    extra: dict[str, Any] = {}
    for name, low, high in _LINE_OPTIONAL_INTS:
        if name in raw:
            extra[name] = f.integer(name, minimum=low, maximum=high)
    tag_ids = f.array("tag_ids")
    if tag_ids is not None:
        if len(tag_ids) > 10 or any(isinstance(t, bool) or not isinstance(t, int) for t in tag_ids):
            f.fail(f"{f.label('tag_ids')} は10個までの整数の配列で指定してください。")
        else:
            extra["tag_ids"] = list(tag_ids)
    if len(f.problems) != before:
        return None
    return _LineInput(
        type="item",
        description=description,
        sales_date=sales_date,
        unit=unit,
        quantity=quantity,
        unit_price=unit_price if unit_price is not None else "0",
        tax_rate=tax_rate,
        reduced_tax_rate=bool(reduced),
        withholding=bool(withholding),
        extra=extra,
    )


@dataclass
class _Totals:
    line_amounts: list[int | None]
    line_excluding: list[int | None]
    groups: dict[str, tuple[int, int, int] | None]  # key -> (including, excluding, tax)
    including: int
    excluding: int
    tax: int
    withholding: int


def _compute_totals(invoice: _InvoiceInput) -> _Totals:
    """freee's arithmetic: each line once per ``line_amount_fraction``, tax once per rate per ``tax_fraction``."""
    line_mode = invoice.line_amount_fraction or "omit"
    tax_mode = invoice.tax_fraction
    inclusive = invoice.tax_entry_method == "in"
    sums: dict[str, int] = {}
    amounts: list[int | None] = []
    excluding_lines: list[int | None] = []
    withholding_base = Decimal(0)
    for line in invoice.lines:
        if line.type == "text" or line.quantity is None or line.tax_rate is None:
            amounts.append(None)
            excluding_lines.append(None)
            continue
        amount = _yen(_MATH.multiply(line.quantity, Decimal(line.unit_price or "0")), line_mode)
        amounts.append(amount)
        rate = Decimal(line.tax_rate)
        sums[line.group] = sums.get(line.group, 0) + amount
        excluding = amount - _yen(amount * rate / (100 + rate), tax_mode) if inclusive else amount
        excluding_lines.append(excluding)
        if line.withholding:
            if invoice.withholding_tax_entry_method == "out":
                withholding_base += excluding
            else:
                withholding_base += amount if inclusive else amount * (100 + rate) / 100
    groups: dict[str, tuple[int, int, int] | None] = {}
    including_total = excluding_total = tax_total = 0
    for key, rate_value, _ in _RATE_GROUPS:
        if key not in sums:
            groups[key] = None
            continue
        total = Decimal(sums[key])
        rate = Decimal(rate_value)
        if inclusive:
            tax = _yen(_MATH.divide(total * rate, 100 + rate), tax_mode)
            including, excluding = int(total), int(total) - tax
        else:
            tax = _yen(_MATH.divide(total * rate, Decimal(100)), tax_mode)
            including, excluding = int(total) + tax, int(total)
        groups[key] = (including, excluding, tax)
        including_total += including
        excluding_total += excluding
        tax_total += tax
    return _Totals(
        line_amounts=amounts,
        line_excluding=excluding_lines,
        groups=groups,
        including=including_total,
        excluding=excluding_total,
        tax=tax_total,
        withholding=_withholding_tax(withholding_base),
    )


def _withholding_tax(base: Decimal) -> int:
    """源泉所得税 on fees: 10.21 % up to 1,000,000 yen, 20.42 % on the excess (rounded down)."""
    base = base.to_integral_value(rounding=decimal.ROUND_FLOOR)
    if base <= 0:
        return 0
    if base <= 1_000_000:
        return int((base * Decimal("0.1021")).to_integral_value(rounding=decimal.ROUND_FLOOR))
    return 102_100 + int(
        ((base - 1_000_000) * Decimal("0.2042")).to_integral_value(rounding=decimal.ROUND_FLOOR)
    )


# ------------------------------------------------------------------------------------------ rate limit


@dataclass(frozen=True)
class _Verdict:
    """What the rate limiter decided for one call, and the headers that say so."""

    status: int  # 200 (allowed), 429 or 403
    limit: int
    remaining: int
    reset_seconds: int
    period: int
    minute_limit: int
    minute_remaining: int
    minute_reset_at: float

    def headers(self) -> dict[str, str]:
        out = {
            "X-RateLimit-Limit": str(self.limit),
            "X-RateLimit-Remaining": str(self.remaining),
            "X-RateLimit-Reset": str(self.reset_seconds),
            "X-Ratelimit-Limit-Minute": str(self.minute_limit),
            "X-Ratelimit-Remaining-Minute": str(self.minute_remaining),
            "X-Ratelimit-Reset-Minute": datetime.fromtimestamp(self.minute_reset_at, JST).isoformat(
                timespec="microseconds"
            ),
        }
        if self.status != 200:
            out["Retry-After"] = str(self.reset_seconds)
        return out


class _RateLimiter:
    """Sliding windows (a minute and an hour) over the sandbox clock; rejected calls are not counted.

    A window counts the calls made at ``t > now - length``, the same rule as :mod:`sdk.freee.ratelimit`.
    """

    def __init__(
        self, per_minute: int, per_hour: int, lockout_after: int | None, lockout_seconds: float
    ) -> None:
        self.windows = ((per_minute, 60.0), (per_hour, 3600.0))
        self.lockout_after = lockout_after
        self.lockout_seconds = lockout_seconds
        self.calls: deque[float] = deque()
        self.consecutive_429s = 0
        self.locked_until: float | None = None

    def reset(self) -> None:
        self.calls.clear()
        self.consecutive_429s = 0
        self.locked_until = None

    def _window(self, now: float, limit: int, length: float) -> tuple[int, float]:
        """(calls inside the window, seconds until a call is allowed in it)."""
        recent = [t for t in self.calls if t > now - length]
        wait = recent[len(recent) - limit] + length - now if len(recent) >= limit else 0.0
        return len(recent), wait

    def decide(self, now: float) -> _Verdict:
        while self.calls and self.calls[0] <= now - self.windows[-1][1]:
            self.calls.popleft()
        if self.locked_until is not None:
            if now < self.locked_until:
                return self._verdict(403, now, locked=self.locked_until - now)
            self.locked_until = None
            self.consecutive_429s = 0
        if any(self._window(now, limit, length)[1] > 0 for limit, length in self.windows):
            self.consecutive_429s += 1
            verdict = self._verdict(429, now)
            if self.lockout_after is not None and self.consecutive_429s >= self.lockout_after:
                self.locked_until = now + self.lockout_seconds
            return verdict
        self.consecutive_429s = 0
        self.calls.append(now)
        return self._verdict(200, now)

    def _verdict(self, status: int, now: float, locked: float | None = None) -> _Verdict:
        stats = []
        for limit, length in self.windows:
            count, wait = self._window(now, limit, length)
            oldest = next((t for t in self.calls if t > now - length), None)
            until_reset = wait if wait > 0 else (oldest + length - now if oldest is not None else length)
            stats.append((limit, max(0, limit - count), until_reset, int(length), wait))
        if status == 429:  # the window that refused, the longer wait if both did
            chosen = max((s for s in stats if s[4] > 0), key=lambda s: s[4])
        else:  # the tighter window
            chosen = min(stats, key=lambda s: (s[1], s[3]))
        reset = locked if locked is not None else chosen[2]
        minute = stats[0]
        return _Verdict(
            status=status,
            limit=chosen[0],
            remaining=0 if status != 200 else chosen[1],
            reset_seconds=max(1, math.ceil(reset - 1e-9)),
            period=chosen[3],
            minute_limit=minute[0],
            minute_remaining=minute[1],
            minute_reset_at=now + minute[2],
        )


# ------------------------------------------------------------------------------------------- the state


@dataclass
class _RefreshToken:
    expires_at: float
    used: bool = False


@dataclass
class _AuthCode:
    expires_at: float
    redirect_uri: str | None
    used: bool = False


class FreeeState:
    """Everything the sandbox holds. Every method takes :attr:`lock`: the app is served multi-threaded."""

    def __init__(
        self,
        *,
        clock: Clock,
        company_id: int,
        use_partner_codes: bool,
        auto_register_deals: bool,
        client_id: str,
        client_secret: str,
        access_token_ttl: float,
        limiter: _RateLimiter,
        invoice_order: str = "newest_first",
        invoice_order_seed: int = 0,
    ) -> None:
        if invoice_order not in INVOICE_ORDERS:
            raise ValueError(f"invoice_order must be one of {', '.join(INVOICE_ORDERS)}")
        self.lock = threading.RLock()
        self.clock = clock
        self.company_id = company_id
        self.use_partner_codes = use_partner_codes
        self.auto_register_deals = auto_register_deals
        self.client_id = client_id
        self.client_secret = client_secret
        self.access_token_ttl = access_token_ttl
        self.limiter = limiter
        self.invoice_order = invoice_order
        self.invoice_order_seed = invoice_order_seed
        self.reset()

    def reset(self) -> None:
        with self.lock:
            self.partners: dict[int, dict[str, Any]] = {}
            self.invoices: dict[int, dict[str, Any]] = {}
            self.deals: dict[int, dict[str, Any]] = {}
            self.deal_invoice: dict[int, int] = {}
            self.access_tokens: dict[str, float] = {}
            self.refresh_tokens: dict[str, _RefreshToken] = {}
            self.codes: dict[str, _AuthCode] = {}
            self.consent_denied = False  # the user clicks "deny" on the consent page
            self.token_calls: Counter[str] = Counter()
            self.api_calls = 0
            self._ids: Counter[str] = Counter()
            self.limiter.reset()

    # ---------------------------------------------------------------------------------------- helpers

    def _next(self, kind: str) -> int:
        self._ids[kind] += 1
        return self._ids[kind]

    def _now(self) -> float:
        return self.clock.now().timestamp()

    def today(self) -> date:
        return self.clock.now().astimezone(JST).date()

    def check_company(self, company_id: int) -> None:
        if company_id != self.company_id:
            raise _invalid(
                f"指定された事業所（company_id: {company_id}）は存在しないか、アクセス権限がありません。"
            )

    # ------------------------------------------------------------------------------------------ OAuth

    def issue_code(self, redirect_uri: str | None = None) -> str:
        with self.lock:
            code = secrets.token_urlsafe(24)
            self.codes[code] = _AuthCode(self._now() + AUTH_CODE_TTL, redirect_uri)
            return code

    def _token_pair(self) -> dict[str, Any]:
        now = self._now()
        access, refresh = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
        self.access_tokens[access] = now + self.access_token_ttl
        self.refresh_tokens[refresh] = _RefreshToken(now + REFRESH_TOKEN_TTL)
        return {
            "access_token": access,
            "token_type": "bearer",
            "expires_in": int(self.access_token_ttl),
            "refresh_token": refresh,
            "scope": "read write",
            "created_at": int(now),
            "company_id": self.company_id,
        }

    def issue_tokens(self) -> dict[str, Any]:
        with self.lock:
            return self._token_pair()

    def grant(
        self, form: Mapping[str, str], client_id: str | None, client_secret: str | None
    ) -> dict[str, Any]:
        """``POST /public_api/token``; raises :class:`_OAuthError` for every refusal."""
        with self.lock:
            grant_type = form.get("grant_type") or ""
            self.token_calls[grant_type or "(none)"] += 1
            if not grant_type:
                raise _OAuthError(400, "invalid_request", "grant_type を指定してください。")
            if client_id != self.client_id or client_secret != self.client_secret:
                raise _OAuthError(
                    401,
                    "invalid_client",
                    "クライアント認証に失敗しました。client_id と client_secret を確認してください。",
                )
            now = self._now()
            if grant_type == "authorization_code":
                code = form.get("code") or ""
                if not code:
                    raise _OAuthError(400, "invalid_request", "code を指定してください。")
                found = self.codes.get(code)
                if found is None or found.used or found.expires_at <= now:
                    raise _OAuthError(
                        401, "invalid_grant", "認可コードが無効です。認可からやり直してください。"
                    )
                if found.redirect_uri is not None and form.get("redirect_uri") != found.redirect_uri:
                    raise _OAuthError(401, "invalid_grant", "redirect_uri が認可リクエストと一致しません。")
                found.used = True
                return self._token_pair()
            if grant_type == "refresh_token":
                token = form.get("refresh_token") or ""
                if not token:
                    raise _OAuthError(400, "invalid_request", "refresh_token を指定してください。")
                held = self.refresh_tokens.get(token)
                if held is None or held.used or held.expires_at <= now:
                    raise _OAuthError(
                        401,
                        "invalid_grant",
                        "リフレッシュトークンが無効です（使用済み、期限切れ、または不明）。再度認可してください。",
                    )
                held.used = True
                return self._token_pair()
            raise _OAuthError(
                400, "unsupported_grant_type", f"grant_type {grant_type} には対応していません。"
            )

    def check_access_token(self, token: str | None) -> str | None:
        """None when the token is good, else freee's error code for it."""
        with self.lock:
            if not token:
                return "invalid_access_token"
            expires = self.access_tokens.get(token)
            if expires is None:
                return "invalid_access_token"
            if expires <= self._now():
                return "expired_access_token"
            return None

    def expire_access_tokens(self, *, refresh_tokens: bool = False) -> int:
        with self.lock:
            now = self._now()
            count = 0
            for token, expires in self.access_tokens.items():
                if expires > now:
                    self.access_tokens[token] = now
                    count += 1
            if refresh_tokens:
                for held in self.refresh_tokens.values():
                    held.expires_at = min(held.expires_at, now)
            return count

    def token_stats(self) -> dict[str, Any]:
        with self.lock:
            now = self._now()
            return {
                "calls": dict(self.token_calls),
                "active_access_tokens": sum(1 for e in self.access_tokens.values() if e > now),
                "usable_refresh_tokens": sum(
                    1 for r in self.refresh_tokens.values() if not r.used and r.expires_at > now
                ),
            }

    # --------------------------------------------------------------------------------------- partners

    def _partner_by_name(self, name: str) -> dict[str, Any] | None:
        return next((p for p in self.partners.values() if p["name"] == name), None)

    def _partner_by_code(self, code: str) -> dict[str, Any] | None:
        return next((p for p in self.partners.values() if p["code"] == code), None)

    def create_partner(
        self, name: str, code: str | None, attributes: Mapping[str, Any], *, seeding: bool = False
    ) -> dict[str, Any]:
        with self.lock:
            problems = []
            if not name.strip():
                problems.append("取引先名（name）を入力してください。")
            elif self._partner_by_name(name) is not None:
                problems.append(f"取引先名「{name}」は既に使用されています。")
            if self.use_partner_codes:
                if code is None and not seeding:
                    problems.append("取引先コードの利用が有効な事業所では code の指定が必須です。")
                elif code is not None and self._partner_by_code(code) is not None:
                    problems.append(f"取引先コード「{code}」は既に使用されています。")
            elif code is not None:
                problems.append("取引先コードの利用が無効な事業所では code を指定できません。")
            if problems:
                raise _invalid(problems)
            partner = _blank_partner()
            partner.update(id=self._next("partner"), company_id=self.company_id, name=name, code=code)
            _merge(partner, attributes)
            partner["update_date"] = self.today().isoformat()
            self.partners[partner["id"]] = partner
            return self._out(partner)

    def update_partner(
        self, partner_id: int, name: str | None, attributes: Mapping[str, Any]
    ) -> dict[str, Any]:
        with self.lock:
            partner = self.partners[partner_id]
            if name is not None and name != partner["name"]:
                if not name.strip():
                    raise _invalid("取引先名（name）を入力してください。")
                if self._partner_by_name(name) is not None:
                    raise _invalid(f"取引先名「{name}」は既に使用されています。")
                partner["name"] = name
            _merge(partner, attributes)
            partner["update_date"] = self.today().isoformat()
            return self._out(partner)

    def get_partner(self, partner_id: int) -> dict[str, Any]:
        with self.lock:
            partner = self.partners.get(partner_id)
            if partner is None:
                raise _not_found("取引先")
            return self._out(partner)

    def require_partner_codes(self) -> None:
        if not self.use_partner_codes:
            raise _invalid("取引先コードの利用が無効な事業所では、取引先コードによる操作はできません。")

    def get_partner_by_code(self, code: str) -> dict[str, Any]:
        with self.lock:
            self.require_partner_codes()
            partner = self._partner_by_code(code)
            if partner is None:
                raise _not_found("取引先")
            return self._out(partner)

    def upsert_partner_by_code(
        self, code: str, name: str, attributes: Mapping[str, Any]
    ) -> tuple[dict[str, Any], bool]:
        with self.lock:
            self.require_partner_codes()
            existing = self._partner_by_code(code)
            if existing is None:
                return self.create_partner(name, code, attributes), True
            return self.update_partner(existing["id"], name, attributes), False

    def list_partners(
        self,
        *,
        keyword: str | None = None,
        start_update_date: date | None = None,
        end_update_date: date | None = None,
        offset: int = 0,
        limit: int = 50,
    ) -> list[dict[str, Any]]:
        with self.lock:
            words = [w for w in re.split(r"[ \u3000\t]+", keyword or "") if w]
            found = []
            for partner in sorted(self.partners.values(), key=lambda p: p["id"]):
                if not partner["available"]:
                    continue
                haystack = [
                    partner.get(k) or ""
                    for k in ("code", "name", "long_name", "name_kana", "shortcut1", "shortcut2")
                ]
                if any(not any(w in text for text in haystack) for w in words):
                    continue
                updated = date.fromisoformat(partner["update_date"])
                if start_update_date and updated < start_update_date:
                    continue
                if end_update_date and updated > end_update_date:
                    continue
                found.append(partner)
            return [self._out(p) for p in found[offset : offset + limit]]

    def all_partners(self) -> list[dict[str, Any]]:
        with self.lock:
            return [self._out(self.partners[k]) for k in sorted(self.partners)]

    def _out(self, partner: dict[str, Any]) -> dict[str, Any]:
        """A copy to answer with: the code hidden unless the company uses codes, and unset enums left out
        (OpenAPI 3.0 ``nullable`` does not let ``null`` through an ``enum`` that does not list it)."""
        out = copy.deepcopy(partner)
        if not self.use_partner_codes:
            out["code"] = None
        for group, key in (
            ("partner_doc_setting_attributes", "sending_method"),
            ("partner_bank_account_attributes", "account_type"),
        ):
            if out[group].get(key) is None:
                out[group].pop(key, None)
        return out

    # --------------------------------------------------------------------------------------- invoices

    def create_invoice(self, data: _InvoiceInput) -> dict[str, Any]:
        with self.lock:
            self.check_company(data.company_id)
            problems = []
            partner: dict[str, Any] | None = None
            if data.partner_code is not None:
                if not self.use_partner_codes:
                    problems.append("取引先コードの利用が無効な事業所では partner_code を指定できません。")
                else:
                    partner = self._partner_by_code(data.partner_code)
                    if partner is None:
                        problems.append(f"取引先コード「{data.partner_code}」の取引先が存在しません。")
            if data.partner_id is not None:
                by_id = self.partners.get(data.partner_id)
                if by_id is None:
                    problems.append(f"取引先ID {data.partner_id} の取引先が存在しません。")
                elif partner is not None and partner["id"] != by_id["id"]:
                    problems.append("partner_id と partner_code が別の取引先を指しています。")
                partner = partner or by_id
            if partner is not None and not partner["available"]:
                problems.append("使用できない取引先が指定されています。")
            template_id = data.template_id or _TEMPLATES[0]["id"]
            template = next((t for t in _TEMPLATES if t["id"] == template_id), None)
            if template is None:
                problems.append(f"帳票テンプレートID {template_id} のテンプレートが存在しません。")
            if problems or partner is None or template is None:
                raise _invalid(problems)
            totals = _compute_totals(data)
            invoice_id = self._next("invoice")
            number = data.invoice_number or f"INV-{self._next('invoice_number'):010d}"
            forward: int | None = None
            if data.include_amount_brought_forward:
                forward = (
                    data.amount_brought_forward
                    if data.amount_brought_forward is not None
                    else sum(
                        d["due_amount"]
                        for d in self.deals.values()
                        if d["partner_id"] == partner["id"] and d["status"] == "unsettled"
                    )
                )
            address = partner["address_attributes"]
            opt = data.optional
            record: dict[str, Any] = {
                "id": invoice_id,
                "company_id": self.company_id,
                "invoice_number": number,
                "branch_no": data.branch_no,
                "subject": data.subject or "",
                "template_id": template_id,
                "template_name": template["name"],
                "billing_date": data.billing_date.isoformat(),
                "issue_date": (data.issue_date or data.billing_date).isoformat(),
                "payment_date": data.payment_date.isoformat() if data.payment_date else None,
                "payment_type": data.payment_type,
                "invoice_note": data.invoice_note or "",
                "memo": data.memo or "",
                "sending_status": "unsent",
                "payment_status": "unsettled",
                "cancel_status": "uncanceled",
                "deal_status": "unregistered",
                "deal_id": None,
                "tax_entry_method": data.tax_entry_method,
                "tax_fraction": data.tax_fraction,
                "line_amount_fraction": data.line_amount_fraction or "omit",
                "withholding_tax_entry_method": data.withholding_tax_entry_method,
                "total_amount": float(totals.including - totals.withholding + (forward or 0)),
                "created_at": self.clock.now().astimezone(JST).strftime("%Y-%m-%d %H:%M:%S"),
                "amount_withholding_tax": float(totals.withholding),
                "amount_including_tax": float(totals.including),
                "amount_excluding_tax": float(totals.excluding),
                "amount_tax": float(totals.tax),
                "amount_brought_forward": None if forward is None else float(forward),
                "partner_id": partner["id"],
                "partner_code": partner["code"] if self.use_partner_codes else None,
                "partner_name": partner["name"],
                "partner_title": data.partner_title,
                "partner_address_zipcode": opt.get("partner_address_zipcode", address.get("zipcode")),
                "partner_address_prefecture_code": opt.get(
                    "partner_address_prefecture_code", address.get("prefecture_code")
                ),
                "partner_address_street_name1": opt.get(
                    "partner_address_street_name1", address.get("street_name1")
                ),
                "partner_address_street_name2": opt.get(
                    "partner_address_street_name2", address.get("street_name2")
                ),
                "partner_contact_department": opt.get("partner_contact_department"),
                "partner_contact_email_cc": opt.get("partner_contact_email_cc"),
                "partner_contact_email_to": opt.get("partner_contact_email_to", partner.get("email")),
                "partner_contact_name": opt.get("partner_contact_name", partner.get("contact_name")),
                "partner_display_name": opt.get(
                    "partner_display_name", partner.get("long_name") or partner["name"]
                ),
                "partner_bank_account": opt.get("partner_bank_account"),
                "partner_sending_method": opt.get("partner_sending_method"),
                "company_contact_name": opt.get("company_contact_name", _COMPANY["contact"]),
                "company_name": opt.get("company_name", _COMPANY["name"]),
                "company_description": opt.get("company_description", _COMPANY["description"]),
                "bank_account_to_transfer": opt.get("bank_account_to_transfer", _COMPANY["bank_account"]),
                "template": {
                    "title": "請求書",
                    "invoice_registration_number": _COMPANY["registration_number"],
                    "company_name": _COMPANY["name"],
                    "company_description": _COMPANY["description"],
                    "bank_account_to_transfer": _COMPANY["bank_account"],
                    "message": "下記の通りご請求申し上げます。",
                },
                "lines": [],
                "email_url_file_downloaded_at": None,
                "email_url_file_downloaded_status": None,
                "report_url": REPORT_URL.format(id=invoice_id),
                "sales_management_origin": False,
            }
            for key, _, _ in _RATE_GROUPS:
                group = totals.groups[key]
                including, excluding, tax = group if group is not None else (0, 0, 0)
                record[f"amount_including_tax_{key}"] = float(including)
                record[f"amount_excluding_tax_{key}"] = float(excluding)
                record[f"amount_tax_{key}"] = float(tax)
            for line, line_excluding in zip(data.lines, totals.line_excluding, strict=True):
                record["lines"].append(
                    {
                        "id": self._next("invoice_line"),
                        "type": line.type,
                        "description": line.description,
                        "sales_date": line.sales_date.isoformat() if line.sales_date else None,
                        "unit": line.unit,
                        "quantity": None if line.quantity is None else _number_out(line.quantity),
                        "unit_price": line.unit_price if line.type == "item" else None,
                        "tax_rate": line.tax_rate,
                        "reduced_tax_rate": line.reduced_tax_rate,
                        "withholding": line.withholding,
                        "amount_excluding_tax": None if line_excluding is None else float(line_excluding),
                        "account_item_id": line.extra.get("account_item_id"),
                        "tax_code": line.extra.get("tax_code"),
                        "item_id": line.extra.get("item_id"),
                        "section_id": line.extra.get("section_id"),
                        "tag_ids": line.extra.get("tag_ids", []),
                        "segment_1_tag_id": line.extra.get("segment_1_tag_id"),
                        "segment_2_tag_id": line.extra.get("segment_2_tag_id"),
                        "segment_3_tag_id": line.extra.get("segment_3_tag_id"),
                    }
                )
            self.invoices[invoice_id] = record
            if self.auto_register_deals:
                self._register(record)
            return copy.deepcopy(record)

    def _invoice(self, invoice_id: int) -> dict[str, Any]:
        record = self.invoices.get(invoice_id)
        if record is None:
            raise _not_found("請求書")
        return record

    def get_invoice(self, invoice_id: int) -> dict[str, Any]:
        with self.lock:
            return copy.deepcopy(self._invoice(invoice_id))

    def all_invoices(self) -> list[dict[str, Any]]:
        with self.lock:
            return copy.deepcopy([self.invoices[k] for k in sorted(self.invoices)])

    def list_invoices(self, filters: Mapping[str, Any], offset: int, limit: int) -> list[dict[str, Any]]:
        with self.lock:
            found = []
            for record in sorted(self.invoices.values(), key=self._listing_key):
                if not _invoice_matches(record, filters):
                    continue
                found.append(record)
            return copy.deepcopy(found[offset : offset + limit])

    def _listing_key(self, record: Mapping[str, Any]) -> tuple[int, int]:
        """Where ``GET /iv/invoices`` lists an invoice (:data:`INVOICE_ORDERS`); stable across pages."""
        invoice_id = int(record["id"])
        if self.invoice_order == "oldest_first":
            return (invoice_id, 0)
        if self.invoice_order == "shuffled":
            digest = hashlib.blake2b(f"{self.invoice_order_seed}:{invoice_id}".encode(), digest_size=8)
            return (int.from_bytes(digest.digest(), "big"), invoice_id)
        return (-invoice_id, 0)

    def cancel_invoice(self, invoice_id: int) -> dict[str, Any]:
        with self.lock:
            record = self._invoice(invoice_id)
            if record["cancel_status"] == "canceled":
                raise _invalid("この請求書は既に取消済みです。")
            deal_id = record["deal_id"]
            if deal_id is not None:
                if self.deals[deal_id]["payments"]:
                    raise _invalid("入金が登録された取引が紐づいているため、請求書を取消できません。")
                del self.deals[deal_id]  # freee deletes the linked deal with the invoice
                self.deal_invoice.pop(deal_id, None)
            record.update(cancel_status="canceled", deal_status="unregistered", deal_id=None)
            return copy.deepcopy(record)

    def uncancel_invoice(self, invoice_id: int) -> dict[str, Any]:
        with self.lock:
            record = self._invoice(invoice_id)
            if record["cancel_status"] != "canceled":
                raise _invalid("この請求書は取消されていません。")
            record["cancel_status"] = "uncanceled"
            if self.auto_register_deals:
                self._register(record)
            return copy.deepcopy(record)

    # ------------------------------------------------------------------------------------------ deals

    def _register(self, record: dict[str, Any]) -> dict[str, Any]:
        if record["deal_id"] is not None:
            return self.deals[record["deal_id"]]
        if record["cancel_status"] == "canceled":
            raise _invalid("取消済みの請求書の取引は登録できません。")
        amount = int(record["amount_including_tax"])
        biggest = max(
            (key for key, _, _ in _RATE_GROUPS),
            key=lambda key: abs(record[f"amount_including_tax_{key}"] or 0),
        )
        partner = self.partners[record["partner_id"]]
        deal = {
            "id": self._next("deal"),
            "company_id": self.company_id,
            "issue_date": record["issue_date"] or record["billing_date"],
            "due_date": record["payment_date"],
            "amount": amount,
            "due_amount": amount,
            "type": "income",
            "partner_id": partner["id"],
            "partner_code": partner["code"] if self.use_partner_codes else None,
            "ref_number": record["invoice_number"],
            "status": "settled" if amount == 0 else "unsettled",
            "details": [
                {
                    "id": self._next("deal_detail"),
                    "account_item_id": _SALES_ACCOUNT_ITEM_ID,
                    "tax_code": _TAX_CODES[biggest],
                    "partner_id": partner["id"],
                    "item_id": None,
                    "section_id": None,
                    "tag_ids": [],
                    "amount": amount,
                    "vat": int(record["amount_tax"]),
                    "entry_side": "credit",
                }
            ],
            "payments": [],
            "renews": [],
            "receipts": [],
        }
        self.deals[deal["id"]] = deal
        self.deal_invoice[deal["id"]] = record["id"]
        record.update(deal_status="registered", deal_id=deal["id"])
        if deal["status"] == "settled":
            record["payment_status"] = "settled"
        return deal

    def register_deal(self, invoice_id: int) -> dict[str, Any]:
        with self.lock:
            return copy.deepcopy(self._register(self._invoice(invoice_id)))

    def pay(self, invoice_id: int, amount: int, on: date) -> dict[str, Any]:
        with self.lock:
            record = self._invoice(invoice_id)
            if record["cancel_status"] == "canceled":
                raise _invalid("取消済みの請求書には入金を登録できません。")
            if isinstance(amount, bool) or not isinstance(amount, int) or amount <= 0:
                raise _invalid("入金額（amount）は1円以上の整数で指定してください。")
            deal = self._register(record)
            if amount > deal["due_amount"]:
                raise _invalid(f"入金額 {amount} 円が未決済残高 {deal['due_amount']} 円を超えています。")
            deal["payments"].append(
                {
                    "id": self._next("payment"),
                    "date": on.isoformat(),
                    "from_walletable_type": "bank_account",
                    "from_walletable_id": 1,
                    "amount": amount,
                }
            )
            deal["due_amount"] -= amount
            if deal["due_amount"] == 0:
                deal["status"] = "settled"
                record["payment_status"] = "settled"
            return copy.deepcopy(deal)

    def get_deal(self, deal_id: int) -> dict[str, Any]:
        with self.lock:
            deal = self.deals.get(deal_id)
            if deal is None:
                raise _not_found("取引")
            return copy.deepcopy(deal)

    def all_deals(self) -> list[dict[str, Any]]:
        with self.lock:
            return copy.deepcopy([self.deals[k] for k in sorted(self.deals)])

    def list_deals(
        self, filters: Mapping[str, Any], offset: int, limit: int
    ) -> tuple[list[dict[str, Any]], int]:
        with self.lock:
            found = []
            for deal in sorted(self.deals.values(), key=lambda d: d["id"], reverse=True):
                if filters.get("partner_id") is not None and deal["partner_id"] != filters["partner_id"]:
                    continue
                if (
                    filters.get("partner_code") is not None
                    and deal["partner_code"] != filters["partner_code"]
                ):
                    continue
                if filters.get("status") and deal["status"] != filters["status"]:
                    continue
                if filters.get("type") and deal["type"] != filters["type"]:
                    continue
                if not _in_dates(
                    deal["issue_date"], filters.get("start_issue_date"), filters.get("end_issue_date")
                ):
                    continue
                if not _in_dates(
                    deal["due_date"], filters.get("start_due_date"), filters.get("end_due_date")
                ):
                    continue
                found.append(deal)
            return copy.deepcopy(found[offset : offset + limit]), len(found)

    # ---------------------------------------------------------------------------------------- summary

    def snapshot(self) -> dict[str, Any]:
        with self.lock:
            now = self._now()
            locked = self.limiter.locked_until
            return {
                "company_id": self.company_id,
                "partners": self.all_partners(),
                "invoices": self.all_invoices(),
                "deals": self.all_deals(),
                "tokens": self.token_stats(),
                "api_calls": self.api_calls,
                "rate_limit": {
                    "calls_last_minute": sum(1 for t in self.limiter.calls if t > now - 60),
                    "calls_last_hour": sum(1 for t in self.limiter.calls if t > now - 3600),
                    "consecutive_429s": self.limiter.consecutive_429s,
                    "locked_for_seconds": max(0.0, locked - now) if locked is not None else 0.0,
                },
            }


def _in_dates(value: str | None, start: date | None, end: date | None) -> bool:
    if start is None and end is None:
        return True
    if value is None:
        return False
    day = date.fromisoformat(value)
    return (start is None or day >= start) and (end is None or day <= end)


def _invoice_matches(record: Mapping[str, Any], filters: Mapping[str, Any]) -> bool:
    if filters.get("partner_ids") and record["partner_id"] not in filters["partner_ids"]:
        return False
    for name in ("payment_status", "deal_status", "sending_status", "cancel_status", "invoice_number"):
        if filters.get(name) is not None and record[name] != filters[name]:
            return False
    if filters.get("subject") and filters["subject"] not in record["subject"]:
        return False
    if not _in_dates(
        record["billing_date"], filters.get("start_billing_date"), filters.get("end_billing_date")
    ):
        return False
    return _in_dates(
        record["payment_date"], filters.get("start_payment_date"), filters.get("end_payment_date")
    )


# --------------------------------------------------------------------------------------- rendering


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


class _OAuthError(Exception):
    def __init__(self, status: int, error: str, description: str) -> None:
        self.status, self.error, self.description = status, error, description
        super().__init__(f"{error}: {description}")


# ----------------------------------------------------------------------------------------- the sandbox


def _is_api(path: str) -> bool:
    return path == "/iv" or path.startswith(("/iv/", "/api/1/"))


def _dump(body: Any) -> str:
    return json.dumps(body, ensure_ascii=False, default=_json_default)


def _json_default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return _number_out(value)
    if isinstance(value, date):
        return value.isoformat()
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def _json(
    body: Any,
    status: int = 200,
    *,
    content_type: str = "application/json",
    headers: Mapping[str, str] | None = None,
) -> Response:
    response = Response(_dump(body), status=status, content_type=f"{content_type}; charset=utf-8")
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


class FreeeSandbox:
    """The app, its state and the helpers tests use instead of HTTP (each mirrors an admin endpoint)."""

    def __init__(self, state: FreeeState, clock: Clock, faults: FaultInjector) -> None:
        self.state = state
        self.clock = clock
        self.faults = faults
        self.app = Flask("sandbox.freee")
        self.app.url_map.strict_slashes = False
        install_faults(self.app, faults, clock, error=self._fault_error)
        self._routes()

    # --------------------------------------------------------------------------------- python helpers

    def reset(self) -> None:
        """Forget everything (partners, invoices, deals, tokens, counters, rate-limit windows); faults stay."""
        self.state.reset()

    def seed(self, partners: Iterable[Mapping[str, Any]] = ()) -> list[dict[str, Any]]:
        """Create partners directly (``code`` may be left out even when the company uses partner codes)."""
        created = []
        for given in partners:
            f = _Fields(given)
            name = f.string("name", required=True, min_length=1, max_length=255)
            code = f.string("code", max_length=255)
            attributes = _partner_attributes(f)
            if "available" in given:
                attributes["available"] = f.boolean("available")
            f.raise_if_any()
            created.append(self.state.create_partner(name or "", code, attributes, seeding=True))
        return created

    def add_partner(self, name: str, code: str | None = None, **attributes: Any) -> dict[str, Any]:
        return self.seed([{"name": name, "code": code, **attributes}])[0]

    def issue_code(self, redirect_uri: str | None = None) -> str:
        return self.state.issue_code(redirect_uri)

    def issue_tokens(self) -> dict[str, Any]:
        """A ready token pair (not counted as a token-endpoint call)."""
        return self.state.issue_tokens()

    def deny_consent(self, denied: bool = True) -> None:
        """The next authorisations are refused by the user (``error=access_denied`` on the redirect)."""
        with self.state.lock:
            self.state.consent_denied = denied

    def expire_access_tokens(self, *, refresh_tokens: bool = False) -> int:
        return self.state.expire_access_tokens(refresh_tokens=refresh_tokens)

    def pay(self, invoice_id: int, amount: int, on: date | None = None) -> dict[str, Any]:
        """Record a payment on the invoice's accounting deal (registering it first); returns the deal."""
        return self.state.pay(invoice_id, amount, on or self.state.today())

    def register_deal(self, invoice_id: int) -> dict[str, Any]:
        return self.state.register_deal(invoice_id)

    def invoices(self) -> list[dict[str, Any]]:
        return [_invoice_view(r, "show") for r in self.state.all_invoices()]

    def invoice(self, invoice_id: int) -> dict[str, Any]:
        return _invoice_view(self.state.get_invoice(invoice_id), "show")

    def partners(self) -> list[dict[str, Any]]:
        return self.state.all_partners()

    def deals(self) -> list[dict[str, Any]]:
        return self.state.all_deals()

    def deal(self, deal_id: int) -> dict[str, Any]:
        return self.state.get_deal(deal_id)

    @property
    def token_calls(self) -> dict[str, int]:
        with self.state.lock:
            return dict(self.state.token_calls)

    @property
    def api_calls(self) -> int:
        with self.state.lock:
            return self.state.api_calls

    def snapshot(self) -> dict[str, Any]:
        return self.state.snapshot()

    # ------------------------------------------------------------------------------------ error shapes

    def _error(self, status: int, messages: list[str], kind: str, code: str | None = None) -> Response:
        """freee's error body for this path and status, in the content type the spec gives it."""
        path = request.path
        message = " ".join(messages)
        if path.startswith("/public_api"):
            return _json({"error": code or kind, "error_description": message}, status)
        if status == 401:
            return _json(
                {"message": message, "code": code or "invalid_access_token"},
                401,
                headers={
                    "WWW-Authenticate": f'Bearer realm="freee", error="invalid_token", error_description="{code}"'
                },
            )
        problem = path == "/iv" or path.startswith("/iv/")
        if status == 403 and not problem:
            return _json({"message": message, "code": code or "forbidden"}, 403)
        body: dict[str, Any] = {"status_code": status, "errors": [{"type": kind, "messages": messages}]}
        return _json(
            body,
            status,
            content_type="application/problem+json" if problem and status != 429 else "application/json",
        )

    def _fault_error(self, status: int, kind: str) -> Response:
        if status == 429:
            per_minute = self.state.limiter.windows[0][0]
            now = self.clock.now().timestamp()
            response = self._rate_limited(_Verdict(429, per_minute, 0, 1, 60, per_minute, 0, now + 1))
        else:
            response = self._error(
                status,
                ["システム内で予期しないエラーが発生しました。しばらく時間をおいてから再度お試しください。"],
                "error",
                code="server_error" if status < 503 else "temporarily_unavailable",
            )
        response.headers["X-Sandbox-Injected"] = kind
        return response

    def _rate_limited(self, verdict: _Verdict) -> Response:
        path = request.path
        message = "APIの利用回数制限を超えました。しばらく時間をおいてから再度お試しください。"
        if path.startswith("/public_api"):
            return _json(
                {"error": "too_many_requests", "error_description": message}, 429, headers=verdict.headers()
            )
        body = {
            "status_code": 429,
            "errors": [{"type": "status", "messages": [message]}],
            "meta": {
                "limit": verdict.limit,
                "period": verdict.period,
                "remaining": 0,
                "reset": datetime.fromtimestamp(
                    self.clock.now().timestamp() + verdict.reset_seconds, JST
                ).isoformat(timespec="seconds"),
            },
        }
        return _json(body, 429, headers=verdict.headers())

    # ---------------------------------------------------------------------------------------- request flow

    def _guard(self) -> Response | None:
        """Before every API call: count it, check the token, then the rate limit and the lock-out."""
        if not _is_api(request.path):
            return None
        state = self.state
        with state.lock:
            state.api_calls += 1
        header = request.headers.get("Authorization", "")
        scheme, _, token = header.partition(" ")
        problem = state.check_access_token(token.strip() if scheme.lower() == "bearer" else None)
        if problem is not None:
            return self._error(401, ["アクセスする権限がありません"], "status", code=problem)
        with state.lock:
            verdict = state.limiter.decide(self.clock.now().timestamp())
        g.freee_rate = verdict
        if verdict.status == 403:
            response = self._error(
                403,
                [
                    "API の利用が一時的に制限されています（短時間に過度なアクセスを検知しました）。しばらくしてから再度お試しください。"
                ],
                "status",
                code="access_restricted",
            )
            for name, value in verdict.headers().items():
                response.headers[name] = value
            return response
        if verdict.status == 429:
            return self._rate_limited(verdict)
        return None

    def _finish(self, response: Response) -> Response:
        response.headers[REQUEST_ID_HEADER] = uuid.uuid4().hex
        verdict = g.get("freee_rate")
        if verdict is not None and verdict.status == 200:
            for name, value in verdict.headers().items():
                response.headers.setdefault(name, value)
        return response

    # ------------------------------------------------------------------------------------------ routes

    def _routes(self) -> None:
        app, state = self.app, self.state
        app.before_request(self._guard)
        app.after_request(self._finish)

        @app.errorhandler(FreeeSandboxError)
        def _refused(error: FreeeSandboxError) -> Response:
            response = self._error(error.status, error.messages, error.kind)
            for name, value in error.headers.items():
                response.headers[name] = value
            return response

        @app.errorhandler(_OAuthError)
        def _oauth_refused(error: _OAuthError) -> Response:
            return _json({"error": error.error, "error_description": error.description}, error.status)

        @app.errorhandler(HTTPException)
        def _http(error: HTTPException) -> Response:
            status = error.code or 500
            messages = {
                404: "指定されたリソースが見つかりません。",
                405: "このメソッドは利用できません。",
            }
            response = self._error(
                status,
                [messages.get(status, error.description or "不正なリクエストです。")],
                "status" if status < 500 else "error",
            )
            if status == 405 and error.get_headers():
                for name, value in error.get_headers():
                    if name.lower() == "allow":
                        response.headers[name] = value
            return response

        @app.errorhandler(Exception)
        def _crash(
            error: Exception,
        ) -> Response:  # pragma: no cover - a bug in the sandbox, not in the caller
            app.logger.exception("freee sandbox crashed")
            return self._error(
                500, [f"システム内で予期しないエラーが発生しました。({type(error).__name__})"], "error"
            )

        # ---------------------------------------------------------------------------------- OAuth

        @app.post("/public_api/token")
        def token() -> Response:
            form: Mapping[str, str] = request.form
            if request.is_json:
                data = request.get_json(silent=True)
                form = {k: str(v) for k, v in data.items()} if isinstance(data, dict) else {}
            client_id, client_secret = form.get("client_id"), form.get("client_secret")
            if request.authorization is not None and request.authorization.type == "basic":
                client_id = request.authorization.username
                client_secret = request.authorization.password
            body = state.grant(form, client_id, client_secret)
            return _json(body, 200, headers={"Cache-Control": "no-store", "Pragma": "no-cache"})

        @app.get("/public_api/authorize")
        def authorize() -> Response:
            args = request.args
            if args.get("client_id") != state.client_id:
                raise _OAuthError(400, "invalid_client", "client_id が正しくありません。")
            redirect_uri = args.get("redirect_uri")
            if not redirect_uri:
                raise _OAuthError(400, "invalid_request", "redirect_uri を指定してください。")
            if args.get("response_type") != "code":
                raise _OAuthError(
                    400, "unsupported_response_type", "response_type には code を指定してください。"
                )
            separator = "&" if "?" in redirect_uri else "?"
            keep_state = {"state": args["state"]} if "state" in args else {}
            if state.consent_denied and not redirect_uri.startswith("urn:ietf:wg:oauth:2.0:oob"):
                denied = {"error": "access_denied", "error_description": "ユーザーが許可しませんでした。"}
                response = Response(status=302)
                response.headers["Location"] = f"{redirect_uri}{separator}{urlencode(denied | keep_state)}"
                return response
            code = state.issue_code(redirect_uri)
            if redirect_uri.startswith("urn:ietf:wg:oauth:2.0:oob"):
                page = f'<!doctype html><title>認可コード</title><p>認可コード: <code id="code">{code}</code></p>'
                return Response(page, 200, content_type="text/html; charset=utf-8")
            query = {"code": code} | keep_state
            response = Response(status=302)
            response.headers["Location"] = f"{redirect_uri}{separator}{urlencode(query)}"
            return response

        # ---------------------------------------------------------------------------------- partners

        @app.get("/api/1/partners")
        def partners_index() -> Response:
            q = _Query()
            company_id = q.integer("company_id", required=True, minimum=1)
            offset = q.integer("offset", minimum=0) or 0
            limit = q.integer("limit", minimum=1, maximum=3000) or 50
            keyword = request.args.get("keyword")
            start, end = q.date("start_update_date"), q.date("end_update_date")
            q.raise_if_any()
            state.check_company(company_id or 0)
            found = state.list_partners(
                keyword=keyword, start_update_date=start, end_update_date=end, offset=offset, limit=limit
            )
            return _json({"partners": [_listed_partner(p) for p in found]})

        @app.post("/api/1/partners")
        def partners_create() -> Response:
            body, form = _body(allow_form=True)
            f = _Fields(body, form=form)
            company_id = f.integer("company_id", required=True, minimum=1)
            name = f.string("name", required=True, max_length=255)
            code = f.string("code", max_length=255)
            attributes = _partner_attributes(f)
            f.raise_if_any()
            state.check_company(company_id or 0)
            return _json({"partner": state.create_partner(name or "", code, attributes)}, 201)

        @app.get("/api/1/partners/<partner_id>")
        def partners_show(partner_id: str) -> Response:
            ident = _path_id(partner_id, "取引先")
            _company_from_query(state)
            return _json({"partner": state.get_partner(ident)})

        @app.put("/api/1/partners/code/<path:code>")
        def partners_update_by_code(code: str) -> Response:
            body, form = _body(allow_form=True)
            f = _Fields(body, form=form)
            company_id = f.integer("company_id", required=True, minimum=1)
            name = f.string("name", required=True, max_length=255)
            if "id" in body:
                f.fail("id は指定できません。")
            attributes = _partner_attributes(f)
            if "available" in body:
                attributes["available"] = f.boolean("available")
            f.raise_if_any()
            state.check_company(company_id or 0)
            partner = state.get_partner_by_code(code)
            return _json({"partner": state.update_partner(partner["id"], name, attributes)})

        @app.put("/api/1/partners/upsert_by_code")
        def partners_upsert() -> Response:
            body, form = _body(allow_form=True)
            f = _Fields(body, form=form)
            company_id = f.integer("company_id", required=True, minimum=1)
            code = f.string("code", required=True, min_length=1, max_length=255)
            given = f.obj("partner")
            if given is None and "partner" not in body:
                f.fail("partner は必須項目です。")
            attributes: dict[str, Any] = {}
            name = None
            if given is not None:
                p = f.child(given, "partner.")
                name = p.string("name", required=True, max_length=255)
                if "code" in given:
                    p.fail("partner.code は指定できません（URL ではなく code で指定してください）。")
                attributes = _partner_attributes(p)
                if "available" in given:
                    attributes["available"] = p.boolean("available")
            f.raise_if_any()
            state.check_company(company_id or 0)
            partner, created = state.upsert_partner_by_code(code or "", name or "", attributes)
            return _json({"partner": partner}, 201 if created else 200)

        # ---------------------------------------------------------------------------------- companies

        @app.get("/api/1/companies/<company_id>")
        def companies_show(company_id: str) -> Response:
            state.check_company(_path_id(company_id, "事業所"))
            return _json({"company": _company_detail(state.company_id, state.use_partner_codes)})

        @app.get("/api/1/companies")
        def companies() -> Response:
            return _json(
                {
                    "companies": [
                        {
                            "id": state.company_id,
                            "name": _COMPANY["name"],
                            "name_kana": "サンドボックスカブシキガイシャ",
                            "display_name": _COMPANY["name"],
                            "company_number": f"{state.company_id:010d}",
                            "role": "admin",
                        }
                    ]
                }
            )

        # ---------------------------------------------------------------------------------- invoices

        @app.get("/iv/invoices")
        def invoices_index() -> Response:
            q = _Query()
            company_id = q.integer("company_id", required=True, minimum=1)
            limit = q.integer("limit", minimum=1, maximum=100) or 20
            offset = q.integer("offset", minimum=0, maximum=2147483647) or 0
            filters: dict[str, Any] = {
                "invoice_number": q.string("invoice_number", min_length=1, max_length=255),
                "subject": q.string("subject", min_length=1, max_length=255),
                "payment_status": q.string(
                    "payment_status", enum=("settled", "unsettled", "canceled", "unprocessed", "failed")
                ),
                "deal_status": q.string("deal_status", enum=("registered", "unregistered")),
                "sending_status": q.string("sending_status", enum=("sent", "unsent")),
                "cancel_status": q.string("cancel_status", enum=("canceled", "uncanceled")),
            }
            for name in ("start_billing_date", "end_billing_date", "start_payment_date", "end_payment_date"):
                filters[name] = q.date(name)
            raw_ids = q.string("partner_ids", max_length=255)
            if raw_ids is not None:
                if not re.fullmatch(r"[0-9]+(,[0-9]+){0,2}", raw_ids):
                    q.fail(
                        "partner_ids には取引先IDを半角カンマ区切り（スペースなし）で最大3件まで指定してください。"
                    )
                else:
                    filters["partner_ids"] = {int(x) for x in raw_ids.split(",")}
            q.boolean("sales_management_origin")
            if offset + limit > MAX_INVOICE_WINDOW:
                q.fail(f"offset と limit の合計は {MAX_INVOICE_WINDOW} 以下で指定してください。")
            q.raise_if_any()
            state.check_company(company_id or 0)
            found = state.list_invoices(filters, offset, limit)
            return _json({"invoices": [_invoice_view(r, "index") for r in found]})

        @app.post("/iv/invoices")
        def invoices_create() -> Response:
            body, _ = _body()
            record = state.create_invoice(_parse_invoice_request(body))
            return _json({"invoice": _invoice_view(record, "create")}, 201)

        @app.get("/iv/invoices/templates")
        def invoices_templates() -> Response:
            _company_from_query(state)
            return _json({"templates": [dict(t) for t in _TEMPLATES]})

        @app.get("/iv/invoices/<invoice_id>")
        def invoices_show(invoice_id: str) -> Response:
            ident = _path_id(invoice_id, "請求書")
            _company_from_query(state)
            return _json({"invoice": _invoice_view(state.get_invoice(ident), "show")})

        @app.put("/iv/invoices/<invoice_id>/cancel")
        def invoices_cancel(invoice_id: str) -> Response:
            return _cancel_status(invoice_id, state.cancel_invoice)

        @app.put("/iv/invoices/<invoice_id>/uncancel")
        def invoices_uncancel(invoice_id: str) -> Response:
            return _cancel_status(invoice_id, state.uncancel_invoice)

        def _cancel_status(invoice_id: str, action: Any) -> Response:
            ident = _path_id(invoice_id, "請求書")
            body, _ = _body()
            f = _Fields(body)
            company_id = f.integer("company_id", required=True, minimum=1)
            f.raise_if_any()
            state.check_company(company_id or 0)
            record = action(ident)
            return _json({"invoice": {"id": record["id"], "cancel_status": record["cancel_status"]}})

        # ------------------------------------------------------------------------------------- deals

        @app.get("/api/1/deals")
        def deals_index() -> Response:
            q = _Query()
            company_id = q.integer("company_id", required=True, minimum=1)
            offset = q.integer("offset", minimum=0) or 0
            limit = q.integer("limit", minimum=1, maximum=100) or 20
            filters: dict[str, Any] = {
                "partner_id": q.integer("partner_id", minimum=1),
                "partner_code": q.string("partner_code"),
                "status": q.string("status", enum=("unsettled", "settled")),
                "type": q.string("type", enum=("income", "expense")),
            }
            q.integer("account_item_id", minimum=1)
            q.string("accruals", enum=("without", "with"))
            for name in ("start_issue_date", "end_issue_date", "start_due_date", "end_due_date"):
                filters[name] = q.date(name)
            if filters["partner_id"] is not None and filters["partner_code"] is not None:
                q.fail("partner_id と partner_code は同時に指定できません。")
            if filters["partner_code"] is not None and not state.use_partner_codes:
                q.fail("取引先コードの利用が無効な事業所では partner_code を指定できません。")
            q.raise_if_any()
            state.check_company(company_id or 0)
            found, total = state.list_deals(filters, offset, limit)
            return _json({"deals": found, "meta": {"total_count": total}})

        @app.get("/api/1/deals/<deal_id>")
        def deals_show(deal_id: str) -> Response:
            ident = _path_id(deal_id, "取引")
            _company_from_query(state)
            return _json({"deal": state.get_deal(ident)})

        # ------------------------------------------------------------------------------------- admin

        @app.post(f"{ADMIN_PREFIX}/reset")
        def admin_reset() -> Response:
            self.reset()
            return Response(status=204)

        @app.post(f"{ADMIN_PREFIX}/seed")
        def admin_seed() -> Response:
            body, _ = _body(allow_empty=True)
            partners = body.get("partners", [])
            if not isinstance(partners, list) or not all(isinstance(p, Mapping) for p in partners):
                raise _invalid("partners はオブジェクトの配列で指定してください。")
            return _json({"partners": self.seed(partners)}, 201)

        @app.get(f"{ADMIN_PREFIX}/state")
        def admin_state() -> Response:
            return _json(self.snapshot())

        @app.post(f"{ADMIN_PREFIX}/oauth/codes")
        def admin_code() -> Response:
            body, _ = _body(allow_empty=True)
            redirect_uri = body.get("redirect_uri")
            if redirect_uri is not None and not isinstance(redirect_uri, str):
                raise _invalid("redirect_uri は文字列で指定してください。")
            return _json({"code": self.issue_code(redirect_uri), "expires_in": int(AUTH_CODE_TTL)}, 201)

        @app.post(f"{ADMIN_PREFIX}/tokens")
        def admin_tokens() -> Response:
            return _json(self.issue_tokens(), 201)

        @app.post(f"{ADMIN_PREFIX}/tokens/expire")
        def admin_expire() -> Response:
            body, _ = _body(allow_empty=True)
            expired = self.expire_access_tokens(refresh_tokens=bool(body.get("refresh_tokens", False)))
            return _json({"expired_access_tokens": expired})

        @app.post(f"{ADMIN_PREFIX}/invoices/<invoice_id>/payments")
        def admin_pay(invoice_id: str) -> Response:
            ident = _path_id(invoice_id, "請求書")
            body, _ = _body()
            f = _Fields(body)
            amount = f.integer("amount", required=True, minimum=1)
            on = f.date("date")
            f.raise_if_any()
            deal = self.pay(ident, amount or 0, on)
            return _json({"deal": deal, "invoice": self.invoice(ident)}, 201)

        @app.post(f"{ADMIN_PREFIX}/invoices/<invoice_id>/register")
        def admin_register(invoice_id: str) -> Response:
            ident = _path_id(invoice_id, "請求書")
            deal = self.register_deal(ident)
            return _json({"deal": deal, "invoice": self.invoice(ident)})


# ------------------------------------------------------------------------------------- request parsing


class _Query(_Fields):
    """Query-string parameters: strings that may be numbers, dates or booleans."""

    def __init__(self) -> None:
        super().__init__(request.args.to_dict(), form=True)


def _company_from_query(state: FreeeState) -> None:
    q = _Query()
    company_id = q.integer("company_id", required=True, minimum=1)
    q.raise_if_any()
    state.check_company(company_id or 0)


def _path_id(raw: str, what: str) -> int:
    if not re.fullmatch(r"[0-9]{1,18}", raw) or int(raw) < 1:
        raise _not_found(what)
    return int(raw)


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def _body(*, allow_form: bool = False, allow_empty: bool = False) -> tuple[dict[str, Any], bool]:
    """The request body as a dict (numbers with a fraction as ``Decimal``), and whether it came as a form."""
    if allow_form and request.mimetype in ("application/x-www-form-urlencoded", "multipart/form-data"):
        return _form_dict(request.form.items(multi=False)), True
    raw = request.get_data(cache=True)
    if not raw.strip():
        if allow_empty:
            return {}, False
        raise FreeeSandboxError(400, "リクエストボディが空です。JSON で指定してください。", "bad_request")
    try:
        data = json.loads(raw, parse_float=Decimal, parse_constant=_reject_constant)
    except (ValueError, UnicodeDecodeError, RecursionError):
        raise FreeeSandboxError(400, "リクエストの形式が不正です。", "bad_request") from None
    if not isinstance(data, dict):
        raise FreeeSandboxError(
            400, "リクエストの形式が不正です。JSON オブジェクトで指定してください。", "bad_request"
        )
    return data, False


def _form_dict(items: Iterable[tuple[str, str]]) -> dict[str, Any]:
    """``a=1&address_attributes[zipcode]=...`` → ``{"a": "1", "address_attributes": {"zipcode": ...}}``."""
    out: dict[str, Any] = {}
    for key, value in items:
        match = re.fullmatch(r"([^\[\]]+)\[([^\[\]]+)\]", key)
        if match:
            nested = out.setdefault(match.group(1), {})
            if isinstance(nested, dict):
                nested[match.group(2)] = value
        else:
            out[key] = value
    return out


def create_freee_sandbox(
    *,
    clock: Clock | None = None,
    faults: FaultInjector | None = None,
    company_id: int = 1,
    rate_limit_per_minute: int = 30,
    rate_limit_per_hour: int = 1500,
    lockout_after_429s: int | None = None,
    lockout_seconds: float = 600,
    use_partner_codes: bool = True,
    auto_register_deals: bool = True,
    client_id: str = "sandbox-client-id",
    client_secret: str = "sandbox-client-secret",  # noqa: S107 - the sandbox's own test credential
    access_token_ttl: float = 21600,
    invoice_order: str = "newest_first",
    invoice_order_seed: int = 0,
) -> FreeeSandbox:
    """A fresh freee sandbox. Serve ``.app`` (WSGI) or mount it into ``requests`` with
    :class:`sandbox.transport.WSGIAdapter`; drive time with the ``clock`` given (rate windows, token expiry,
    created-at dates). ``invoice_order`` (:data:`INVOICE_ORDERS`, with ``invoice_order_seed`` when shuffled) is
    the order ``GET /iv/invoices`` lists in."""
    clock = clock or SystemClock()
    faults = faults if faults is not None else FaultInjector()
    limiter = _RateLimiter(rate_limit_per_minute, rate_limit_per_hour, lockout_after_429s, lockout_seconds)
    state = FreeeState(
        clock=clock,
        company_id=company_id,
        use_partner_codes=use_partner_codes,
        auto_register_deals=auto_register_deals,
        client_id=client_id,
        client_secret=client_secret,
        access_token_ttl=access_token_ttl,
        limiter=limiter,
        invoice_order=invoice_order,
        invoice_order_seed=invoice_order_seed,
    )
    return FreeeSandbox(state, clock, faults)
