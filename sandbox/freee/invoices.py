"""Invoice requests (``InvoiceRequest``) checked as freee does, and freee's arithmetic on them: each line
rounded once, tax once per rate, withholding tax on fees."""

from __future__ import annotations

import decimal
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

from sandbox.freee.errors import _invalid
from sandbox.freee.facts import _MATH, _RATE_GROUPS
from sandbox.freee.fields import _decimal_places, _Fields, _yen


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
