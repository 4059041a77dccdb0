"""Every reason a deal cannot be invoiced, collected at once, and the invoice draft when there is none.

``validate_deal`` is the only way to obtain an :class:`InvoiceDraft`: parse, don't validate. It reads the deal,
its line items, company and contact exactly as HubSpot holds them (strings), checks every rule, and either
returns the draft (lines in whole yen, tax per rate, dates) or raises ``ValidationFailed`` with *all* the
problems, each with a stable ``code``, the ``field`` concerned and a message in Japanese and English.

Stable codes (also listed in the README):
``deal.company_missing``, ``deal.name_missing``, ``deal.amount_missing``, ``deal.amount_invalid``,
``deal.amount_negative``, ``deal.amount_not_integer``, ``deal.currency_not_jpy``, ``deal.close_date_missing``,
``deal.close_date_invalid``, ``invoice.total_zero``, ``invoice.total_too_large``, ``invoice.too_many_lines``,
``line_item.name_missing``, ``line_item.quantity_invalid``, ``line_item.price_invalid``,
``line_item.price_negative``, ``line_item.discount_invalid``, ``line_item.currency_not_jpy``,
``line_item.tax_rate_unknown``, ``company.name_missing``, ``company.registration_number_invalid``,
``company.payment_terms_invalid``, ``text.too_long``, ``text.control_characters``.
Warnings (the invoice can still be made): ``deal.amount_mismatch``.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import TYPE_CHECKING, Literal

from sdk.billing.units import Unit
from sdk.errors import NotANumber, Problem, ValidationFailed
from sdk.money import decimal_places, format_yen, line_amount, round_yen, to_decimal
from sdk.tax import TaxEntryMethod, TaxRate, TaxSummary, summarize
from sdk.terms import (
    ACCEPTED_EN,
    ACCEPTED_JA,
    IssueDateSource,
    PaymentTerms,
    TermsError,
    parse_hubspot_date,
    parse_terms,
)

if TYPE_CHECKING:  # runtime needs neither: validation stays importable without pydantic
    from sdk.models.hubspot import DealBundle, LineItem
    from sdk.settings import Settings

# freee's limits (InvoiceRequest in the freee請求書 API document)
TEXT_LIMIT = 255
MAX_QUANTITY = Decimal("99999999.999")
MAX_UNIT_PRICE = Decimal("9999999999999.999")
MAX_TOTAL = 999_999_999_999
MAX_DECIMALS = 3

_REGISTRATION = re.compile(r"T([1-9][0-9]{12})")


@dataclass(frozen=True, slots=True)
class DraftLine:
    """One invoice line in whole yen; discount lines carry a negative amount at the rate of their item."""

    description: str
    quantity: Decimal
    unit_price: Decimal
    amount: int
    rate: TaxRate
    kind: Literal["item", "discount", "text"] = "item"
    """``text``: a heading (a consolidated invoice's deal and period), no amount."""
    line_item_id: str | None = None


@dataclass(frozen=True, slots=True)
class InvoiceDraft:
    """A deal that passed validation, with everything freee needs except its own ids."""

    portal_id: int
    deal_id: str
    deal_name: str
    hubspot_company_id: str
    company_name: str
    subject: str
    billing_date: date
    due_date: date
    terms: PaymentTerms
    lines: tuple[DraftLine, ...]
    tax: TaxSummary
    registration_number: str | None = None
    contact_name: str | None = None
    contact_email: str | None = None
    warnings: tuple[Problem, ...] = field(default=())
    period: int | None = None
    """The period of the deal's schedule this invoice bills (:func:`sdk.billing.schedule.period_draft`); ``None``
    for a deal billed once."""

    billing_unit: Unit | None = None
    """What the invoice bills when it is not the deal (or its period): a company's consolidated invoice
    (:func:`sdk.billing.consolidation.consolidated_draft`)."""

    @property
    def unit(self) -> Unit:
        """What the invoice bills, as the ledger keys it and its marker names it."""
        if self.billing_unit is not None:
            return self.billing_unit
        return (
            Unit.of_period(self.deal_id, self.period) if self.period is not None else Unit.deal(self.deal_id)
        )


SHOWN_LIMIT = 40  # how much of a value a message quotes back
# Bidirectional embeddings, overrides and isolates: invisible, and they make text read differently from what it
# is ("Trojan Source"). Zero-width joiners (emoji sequences) are not among them.
_DIRECTION_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


def _is_control(ch: str) -> bool:
    """A character no invoice text should carry: C0/C1 controls, lone surrogates, direction controls."""
    return ch in _DIRECTION_CONTROLS or unicodedata.category(ch) in ("Cc", "Cs")


def _shown(value: str, limit: int = SHOWN_LIMIT) -> str:
    """A value someone typed, safe to quote in a message: short, and its control characters made visible, so a
    megabyte or an ANSI escape in a property does not end up in ``freee_sync_error``, a log or a terminal."""
    short = value if len(value) <= limit else value[:limit] + "…"
    return "".join(f"\\u{ord(ch):04x}" if _is_control(ch) else ch for ch in short)


def registration_number_is_valid(number: str) -> bool:
    """``T`` + 13 digits whose first digit is the check digit of the other twelve (法人番号の検査用数字)."""
    match = _REGISTRATION.fullmatch(number)
    if not match:
        return False
    digits = match.group(1)
    body = digits[1:]
    weighted = sum(int(d) * (1 if i % 2 == 0 else 2) for i, d in enumerate(reversed(body)))
    return int(digits[0]) == 9 - weighted % 9


class _Collector:
    def __init__(self) -> None:
        self.problems: list[Problem] = []
        self.warnings: list[Problem] = []

    def add(self, code: str, field_name: str, ja: str, en: str) -> None:
        self.problems.append(Problem(code, field_name, ja, en))

    def warn(self, code: str, field_name: str, ja: str, en: str) -> None:
        self.warnings.append(Problem(code, field_name, ja, en))

    def text(self, value: str, field_name: str, what_ja: str, what_en: str) -> None:
        if len(value) > TEXT_LIMIT:
            self.add(
                "text.too_long",
                field_name,
                f"{what_ja}が{len(value)}文字です。freeeの上限は{TEXT_LIMIT}文字です。短くしてください。",
                f"{what_en} is {len(value)} characters; freee accepts at most {TEXT_LIMIT}. Shorten it.",
            )
        if any(_is_control(ch) for ch in value):
            self.add(
                "text.control_characters",
                field_name,
                f"{what_ja}に改行やタブ、文字の向きを変える記号などの制御文字が含まれています。削除してください。",
                f"{what_en} contains control characters (line breaks, tabs, direction overrides, ...). "
                "Remove them.",
            )


def validate_deal(bundle: DealBundle, settings: Settings, *, today: date) -> InvoiceDraft:
    """Check everything at once; return the draft or raise ``ValidationFailed`` with every problem."""
    check = _Collector()
    deal = bundle.deal
    names = settings.properties

    deal_name = deal.name
    if deal_name is None:
        check.add("deal.name_missing", "dealname", "取引名が空です。", "The deal has no name.")
    else:
        check.text(deal_name, "dealname", "取引名", "The deal name")

    if deal.currency is not None and deal.currency.upper() != settings.currency:
        check.add(
            "deal.currency_not_jpy",
            "deal_currency_code",
            f"通貨が{_shown(deal.currency)}です。freeeの請求書は日本円（JPY）のみ対応しています。",
            f"The deal currency is {_shown(deal.currency)}; freee invoices are in Japanese yen (JPY) only.",
        )

    billing_date = _billing_date(check, bundle, settings, today)

    company = bundle.company
    company_name: str | None = None
    terms = settings.default_terms
    registration: str | None = None
    if company is None:
        check.add(
            "deal.company_missing",
            "associations.company",
            "取引に会社が関連付けられていません。請求先の会社を関連付けてください。",
            "No company is associated with the deal. Associate the company to bill.",
        )
    else:
        company_name = company.name
        if company_name is None:
            check.add("company.name_missing", "company.name", "会社名が空です。", "The company has no name.")
        else:
            check.text(company_name, "company.name", "会社名", "The company name")
        raw_terms = company.prop(names.company_payment_terms)
        if raw_terms is not None:
            try:
                terms = parse_terms(raw_terms)
            except TermsError as exc:
                check.add(
                    "company.payment_terms_invalid",
                    f"company.{names.company_payment_terms}",
                    f"支払条件「{_shown(raw_terms)}」を解釈できません（{exc.problem_ja}）。{ACCEPTED_JA}",
                    f"Payment terms '{_shown(raw_terms)}' are not understood ({exc.problem_en}); {ACCEPTED_EN}.",
                )
        raw_registration = company.prop(names.company_registration_number)
        if raw_registration is not None:
            registration = raw_registration.strip().upper()
            if not registration_number_is_valid(registration):
                check.add(
                    "company.registration_number_invalid",
                    f"company.{names.company_registration_number}",
                    f"登録番号「{_shown(raw_registration)}」が正しくありません。T＋13桁の数字で、検査用数字が合っている"
                    "必要があります。国税庁の公表サイトで確認してください。",
                    f"Registration number '{_shown(raw_registration)}' is not valid: it must be T followed by 13 digits "
                    "with a correct check digit. Check it on the NTA's qualified invoice issuer site.",
                )

    contact_name = bundle.contact.full_name if bundle.contact else None
    contact_email = bundle.contact.email if bundle.contact else None
    if contact_name is not None:
        check.text(contact_name, "contact.name", "担当者名", "The contact name")
    if contact_email is not None:
        check.text(contact_email, "contact.email", "担当者メールアドレス", "The contact e-mail")

    rounding = settings.tax.rounding
    entry = settings.tax.entry_method
    lines: list[DraftLine] = []
    if bundle.line_items_unread > settings.freee_max_lines:
        lines_count = bundle.line_items_unread  # too many to be worth reading: refused on the count alone
    elif bundle.line_items:
        lines = _lines_from_items(check, bundle.line_items, settings)
        lines_count = len(lines)
    else:
        lines = _line_from_amount(check, deal.amount, deal_name or "", settings)
        lines_count = len(lines)

    if lines_count > settings.freee_max_lines:
        check.add(
            "invoice.too_many_lines",
            "line_items",
            f"明細が{lines_count}行あります（値引き行を含む）。freeeの請求書は{settings.freee_max_lines}行までです。"
            "明細をまとめるか、取引を分けてください。",
            f"The invoice would have {lines_count} lines (discount lines included); freee accepts at most "
            f"{settings.freee_max_lines}. Combine line items or split the deal.",
        )

    tax = summarize(((line.rate, line.amount) for line in lines), entry, rounding)
    if lines and not check.problems:
        if tax.gross <= 0:
            check.add(
                "invoice.total_zero",
                "amount",
                "請求金額の合計が0円以下です。金額のある明細を追加してください。",
                "The invoice total is zero or less. Add line items with an amount.",
            )
        elif tax.gross > MAX_TOTAL:
            check.add(
                "invoice.total_too_large",
                "amount",
                f"請求金額の合計 {format_yen(tax.gross)} がfreeeの上限 {format_yen(MAX_TOTAL)} を超えています。",
                f"The invoice total {format_yen(tax.gross)} exceeds freee's limit of {format_yen(MAX_TOTAL)}.",
            )
        elif bundle.line_items and deal.amount is not None:
            _warn_amount_mismatch(check, deal.amount, tax, entry)

    subject = _subject(check, bundle, settings, deal_name, company_name, billing_date)
    due_date = _due_date(check, terms, billing_date)

    if (
        check.problems
        or due_date is None
        or deal_name is None
        or company is None
        or company_name is None
        or billing_date is None
        or subject is None
    ):
        raise ValidationFailed(check.problems, check.warnings)
    return InvoiceDraft(
        portal_id=bundle.portal_id,
        deal_id=deal.id,
        deal_name=deal_name,
        hubspot_company_id=company.id,
        company_name=company_name,
        subject=subject,
        billing_date=billing_date,
        due_date=due_date,
        terms=terms,
        lines=tuple(lines),
        tax=tax,
        registration_number=registration,
        contact_name=contact_name,
        contact_email=contact_email,
        warnings=tuple(check.warnings),
    )


def _billing_date(check: _Collector, bundle: DealBundle, settings: Settings, today: date) -> date | None:
    if settings.issue_date_source is IssueDateSource.TODAY:
        return today
    raw = bundle.deal.close_date
    if raw is None:
        check.add(
            "deal.close_date_missing",
            "closedate",
            "取引の完了予定日（closedate）が空です。請求日に使うため入力してください。",
            "The deal has no close date; it is used as the invoice's billing date. Fill it in.",
        )
        return None
    try:
        return parse_hubspot_date(raw)
    except (ValueError, OverflowError, OSError):
        check.add(
            "deal.close_date_invalid",
            "closedate",
            f"完了予定日「{_shown(raw)}」を日付として解釈できません。",
            f"The close date '{_shown(raw)}' is not a date.",
        )
        return None


def _due_date(check: _Collector, terms: PaymentTerms, billing_date: date | None) -> date | None:
    """The due date, or a problem when the calendar ends first (a close date in the year 9999)."""
    if billing_date is None:
        return None
    try:
        return terms.due_date(billing_date)
    except (ValueError, OverflowError):
        check.add(
            "deal.close_date_invalid",
            "closedate",
            f"請求日 {billing_date.isoformat()} からは支払期日（{terms.label_ja}）を計算できません。完了予定日を確認してください。",
            f"No due date ({terms.code}) can follow the billing date {billing_date.isoformat()}; check the close date.",
        )
        return None


def _number(
    check: _Collector,
    raw: str | None,
    field_name: str,
    what: tuple[str, str],
    *,
    code: str,
    negative_code: str | None = None,
    maximum: Decimal,
    allow_zero: bool,
) -> Decimal | None:
    """Parse a positive decimal with at most 3 places; report once and return None when it is not one."""
    what_ja, what_en = what
    if raw is None:
        check.add(code, field_name, f"{what_ja}が空です。", f"{what_en} is missing.")
        return None
    try:
        number = to_decimal(raw)
    except NotANumber:
        check.add(
            code,
            field_name,
            f"{what_ja}「{_shown(raw)}」は数値ではありません。",
            f"{what_en} '{_shown(raw)}' is not a number.",
        )
        return None
    if number < 0:
        negative_code = "line_item.price_negative" if code == "line_item.price_invalid" else code
        check.add(
            negative_code,
            field_name,
            f"{what_ja}がマイナスです（{_shown(raw)}）。",
            f"{what_en} is negative ({_shown(raw)}).",
        )
        return None
    if number == 0 and not allow_zero:
        check.add(code, field_name, f"{what_ja}が0です。", f"{what_en} is zero.")
        return None
    if decimal_places(number) > MAX_DECIMALS:
        check.add(
            code,
            field_name,
            f"{what_ja}「{_shown(raw)}」の小数点以下が{MAX_DECIMALS}桁を超えています。",
            f"{what_en} '{_shown(raw)}' has more than {MAX_DECIMALS} decimal places.",
        )
        return None
    if number > maximum:
        check.add(
            code,
            field_name,
            f"{what_ja}「{_shown(raw)}」がfreeeの上限（{maximum}）を超えています。",
            f"{what_en} '{_shown(raw)}' exceeds freee's limit ({maximum}).",
        )
        return None
    return number


def _tax_rate(check: _Collector, item: LineItem, index: int, settings: Settings) -> TaxRate:
    prop = settings.properties.line_item_tax_rate
    raw = item.prop(prop)
    if raw is None:
        return settings.tax.rate
    try:
        return TaxRate.parse(raw)
    except ValueError:
        check.add(
            "line_item.tax_rate_unknown",
            f"line_items[{index}].{prop}",
            f"明細「{_shown(item.name or item.id)}」の税率「{_shown(raw)}」は使えません。10、8_reduced（軽減税率8%）、0、exempt（非課税）"
            "のいずれかを指定してください。",
            f"Line item '{_shown(item.name or item.id)}' has tax rate '{_shown(raw)}'; use 10, 8_reduced (reduced 8%), 0 or exempt.",
        )
        return settings.tax.rate


def _lines_from_items(check: _Collector, items: list[LineItem], settings: Settings) -> list[DraftLine]:
    rounding = settings.tax.rounding
    lines: list[DraftLine] = []
    for index, item in sorted(enumerate(items), key=lambda pair: (pair[1].position, pair[0])):
        where = f"line_items[{index}]"
        label = _shown(item.name or item.id)
        if item.name is None:
            check.add(
                "line_item.name_missing",
                f"{where}.name",
                f"明細（ID {item.id}）に名前がありません。",
                f"Line item {item.id} has no name.",
            )
        else:
            check.text(
                item.name,
                f"{where}.name",
                f"明細名「{_shown(item.name, 20)}」",
                f"Line item name '{_shown(item.name, 20)}'",
            )
        if item.currency is not None and item.currency.upper() != settings.currency:
            check.add(
                "line_item.currency_not_jpy",
                f"{where}.hs_line_item_currency_code",
                f"明細「{label}」の通貨が{_shown(item.currency)}です。日本円（JPY）のみ対応しています。",
                f"Line item '{label}' is in {_shown(item.currency)}; only Japanese yen (JPY) is supported.",
            )
        rate = _tax_rate(check, item, index, settings)
        quantity = _number(
            check,
            item.quantity,
            f"{where}.quantity",
            (f"明細「{label}」の数量", f"The quantity of line item '{label}'"),
            code="line_item.quantity_invalid",
            maximum=MAX_QUANTITY,
            allow_zero=False,
        )
        price = _number(
            check,
            item.price,
            f"{where}.price",
            (f"明細「{label}」の単価", f"The unit price of line item '{label}'"),
            code="line_item.price_invalid",
            negative_code="line_item.price_negative",
            maximum=MAX_UNIT_PRICE,
            allow_zero=True,
        )
        if quantity is None or price is None or item.name is None:
            continue
        amount = line_amount(quantity, price, rounding)
        lines.append(DraftLine(item.name, quantity, price, amount, rate, "item", item.id))
        discount = _discount(check, item, where, label, quantity, amount, settings)
        if discount:
            description = f"値引き（{item.name}）"[:TEXT_LIMIT]
            lines.append(
                DraftLine(description, Decimal(1), Decimal(-discount), -discount, rate, "discount", item.id)
            )
    return lines


def _discount(
    check: _Collector,
    item: LineItem,
    where: str,
    label: str,
    quantity: Decimal,
    amount: int,
    settings: Settings,
) -> int:
    """The yen taken off a line by HubSpot's percentage or per-unit discount (0 when none)."""
    percent_raw, unit_raw = item.discount_percentage, item.discount_amount
    if percent_raw is None and unit_raw is None:
        return 0
    if percent_raw is not None and unit_raw is not None:
        check.add(
            "line_item.discount_invalid",
            f"{where}.discount",
            f"明細「{label}」に割引率と割引額の両方が入っています。どちらか一方にしてください。",
            f"Line item '{label}' has both a discount percentage and a discount amount; keep one.",
        )
        return 0
    try:
        value = to_decimal(percent_raw if percent_raw is not None else unit_raw)  # type: ignore[arg-type]
    except NotANumber:
        value = Decimal(-1)
    if percent_raw is not None:
        if not 0 <= value <= 100:
            check.add(
                "line_item.discount_invalid",
                f"{where}.hs_discount_percentage",
                f"明細「{label}」の割引率「{_shown(percent_raw)}」は0〜100の数値にしてください。",
                f"The discount percentage '{_shown(percent_raw)}' of line item '{label}' must be a number from 0 to 100.",
            )
            return 0
        return round_yen(Decimal(amount) * value / Decimal(100), settings.tax.rounding)
    if value < 0 or decimal_places(value) > MAX_DECIMALS:
        check.add(
            "line_item.discount_invalid",
            f"{where}.discount",
            f"明細「{label}」の割引額「{_shown(unit_raw or '')}」は0以上の金額にしてください。",
            f"The discount '{_shown(unit_raw or '')}' of line item '{label}' must be an amount of 0 or more.",
        )
        return 0
    discount = line_amount(quantity, value, settings.tax.rounding)
    if discount > amount:
        check.add(
            "line_item.discount_invalid",
            f"{where}.discount",
            f"明細「{label}」の割引額（{format_yen(discount)}）が明細金額（{format_yen(amount)}）を超えています。",
            f"The discount of line item '{label}' ({format_yen(discount)}) exceeds its amount ({format_yen(amount)}).",
        )
        return 0
    return discount


def _line_from_amount(
    check: _Collector, raw: str | None, deal_name: str, settings: Settings
) -> list[DraftLine]:
    """A deal without line items is invoiced as one line: the deal name for the deal amount."""
    if raw is None:
        check.add(
            "deal.amount_missing",
            "amount",
            "取引に明細も金額もありません。明細を追加するか金額を入力してください。",
            "The deal has neither line items nor an amount. Add line items or fill in the amount.",
        )
        return []
    try:
        amount = to_decimal(raw)
    except NotANumber:
        check.add(
            "deal.amount_invalid",
            "amount",
            f"金額「{_shown(raw)}」は数値ではありません。",
            f"The amount '{_shown(raw)}' is not a number.",
        )
        return []
    if amount < 0:
        check.add(
            "deal.amount_negative",
            "amount",
            f"金額がマイナスです（{_shown(raw)}）。",
            f"The amount is negative ({_shown(raw)}).",
        )
        return []
    if amount != amount.to_integral_value():
        check.add(
            "deal.amount_not_integer",
            "amount",
            f"金額「{_shown(raw)}」に1円未満の端数があります。円単位の整数にしてください。",
            f"The amount '{_shown(raw)}' has a fraction of a yen; use whole yen.",
        )
        return []
    yen = int(amount)
    if yen > MAX_TOTAL:
        check.add(
            "invoice.total_too_large",
            "amount",
            f"金額 {format_yen(yen)} がfreeeの上限 {format_yen(MAX_TOTAL)} を超えています。",
            f"The amount {format_yen(yen)} exceeds freee's limit of {format_yen(MAX_TOTAL)}.",
        )
        return []
    return [DraftLine(deal_name or "-", Decimal(1), Decimal(yen), yen, settings.tax.rate, "item", None)]


def _warn_amount_mismatch(check: _Collector, raw: str, tax: TaxSummary, entry: TaxEntryMethod) -> None:
    try:
        amount = to_decimal(raw)
    except NotANumber:
        return
    expected = tax.net if entry is TaxEntryMethod.EXCLUSIVE else tax.gross
    if amount != expected:
        check.warn(
            "deal.amount_mismatch",
            "amount",
            f"取引の金額（{_shown(raw)}）と明細の合計（{format_yen(expected)}）が一致しません。請求書は明細から作成します。",
            f"The deal amount ({_shown(raw)}) differs from the line items' total ({format_yen(expected)}); "
            "the invoice follows the line items.",
        )


def _subject(
    check: _Collector,
    bundle: DealBundle,
    settings: Settings,
    deal_name: str | None,
    company_name: str | None,
    billing_date: date | None,
) -> str | None:
    if deal_name is None:
        return None
    subject = settings.invoice_title_pattern.format(
        deal_name=deal_name,
        deal_id=bundle.deal.id,
        company_name=company_name or "",
        close_date=billing_date.isoformat() if billing_date else "",
        portal_id=bundle.portal_id,
    ).strip()
    if not subject:
        check.add(
            "deal.name_missing",
            "dealname",
            "請求書の件名が空になります。",
            "The invoice subject would be empty.",
        )
        return None
    if subject != deal_name:
        check.text(subject, "subject", "請求書の件名", "The invoice subject")
    return subject
