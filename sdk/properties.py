"""The HubSpot properties this package owns (DESIGN §5): group ``freee`` on deals, companies and line items.

HubSpot keeps one label per property, so each label carries Japanese and English (``freee請求書ID / freee invoice
ID``); the description says what a sales rep reads in it. Names come from the settings (``properties.*``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sdk.tax import TaxRate
from sdk.terms import PaymentTerms

if TYPE_CHECKING:
    from sdk.settings import PropertyNames

GROUP_LABEL = "freee 連携 / freee"


def _prop(
    name: str,
    label: str,
    description: str,
    kind: str = "string",
    *,
    group: str,
    options: list[tuple[str, str]] | list[tuple[str, str, str]] | None = None,
) -> dict[str, Any]:
    field_type = {
        "string": "text",
        "number": "number",
        "date": "date",
        "datetime": "date",
        "enumeration": "select",
    }[kind]
    definition: dict[str, Any] = {
        "name": name,
        "label": label,
        "type": kind,
        "fieldType": field_type,
        "groupName": group,
        "description": description,
    }
    if options:
        definition["options"] = [
            {"value": option[0], "label": option[1], "displayOrder": index}
            | ({"description": option[2]} if len(option) > 2 else {})
            for index, option in enumerate(options)
        ]
    return definition


SYNC_STATUS = [
    ("pending", "処理中 / pending"),
    ("created", "作成済み / created"),
    ("invalid", "要修正 / invalid"),
    ("failed", "失敗 / failed"),
    ("cancelled", "取消済み / cancelled"),
]
PAYMENT_STATUS = [
    ("unpaid", "未入金 / unpaid"),
    ("partially_paid", "一部入金 / partially paid"),
    ("paid", "入金済み / paid"),
    ("overdue", "期日超過 / overdue"),
]
RISK = [("none", "問題なし / none"), ("watch", "注意 / watch"), ("overdue", "期日超過あり / overdue")]
#: the deal dropdown ``freee_billing_status``: where the deal's billing schedule stands (written by us)
BILLING_STATUS = [
    ("one_off", "単発 / one-off"),
    ("scheduled", "定期請求中 / scheduled"),
    ("ended", "請求完了 / ended"),
    ("stopped", "停止 / stopped"),
]
#: the company dropdown ``freee_billing_mode``: an invoice per deal (the default, also when empty) or one a month
BILLING_MODE = [("per_deal", "取引ごと / per deal"), ("consolidated", "月締め合算 / consolidated monthly")]
#: the company dropdown ``freee_closing_day``: the day a consolidated month closes (empty: month end)
CLOSING_DAY = [
    ("month_end", "末日 / month end"),
    *((str(day), f"{day}日締め / closes on the {day}th") for day in (5, 10, 15, 20, 25)),
]
#: the line item dropdown ``freee_tax_rate``: exactly the values HubSpot accepts (TaxRate's values, in its order)
TAX_RATES = [
    (rate.value, rate.label_ja if rate.label_ja == rate.label_en else f"{rate.label_ja} / {rate.label_en}")
    for rate in TaxRate
]
#: the company dropdown ``freee_payment_terms``: canonical codes as values, the Japanese terms as labels (English in
#: each option's description). HubSpot refuses any other value in it; other terms (``parse_terms`` reads them
#: all) come from imports, installations whose property is still a text field, and ``payment_terms_default``.
PAYMENT_TERMS = [
    *(PaymentTerms.closing(months=months) for months in (1, 2)),  # 月末締め翌月末払い, 月末締め翌々月末払い
    *(PaymentTerms.closing(pay_day=day) for day in (10, 15, 20, 25)),  # 月末締め翌月10日払い, ...
    PaymentTerms.closing(months=2, pay_day=10),  # 月末締め翌々月10日払い
    PaymentTerms.closing(20, pay_day=10),  # 20日締め翌月10日払い
    *(PaymentTerms.closing(day) for day in (20, 15, 25, 10)),  # 20日締め翌月末払い, ...
    PaymentTerms.closing(20, months=2),  # 20日締め翌々月末払い
    *(PaymentTerms.net(days) for days in (7, 14, 30, 45, 60, 90)),  # 請求日から7日後, ...
]
PAYMENT_TERMS_OPTIONS = [(terms.code, terms.label_ja, terms.label_en) for terms in PAYMENT_TERMS]


def property_definitions(names: PropertyNames) -> dict[str, list[dict[str, Any]]]:
    """HubSpot property JSON per object type (``deals``, ``companies``, ``line_items``)."""
    g = names.group
    deal = [
        _prop(
            names.deal_invoice_id, "freee請求書ID / freee invoice ID", "freeeの請求書ID（自動入力）", group=g
        ),
        _prop(
            names.deal_invoice_number, "freee請求書番号 / freee invoice number", "freeeの請求書番号", group=g
        ),
        _prop(
            names.deal_invoice_url, "freee請求書URL / freee invoice URL", "freeeで請求書を開くリンク", group=g
        ),
        _prop(
            names.deal_sync_status,
            "freee連携状態 / freee sync status",
            "請求書作成の状態",
            "enumeration",
            group=g,
            options=SYNC_STATUS,
        ),
        _prop(
            names.deal_sync_error,
            "freee連携エラー / freee sync error",
            "請求書を作成できない理由（日本語 / English）",
            group=g,
        ),
        _prop(
            names.deal_sync_warning,
            "freee連携の注意 / freee sync warning",
            "請求書は作成できるが確認が必要な点（取引の金額と明細の合計の不一致など。日本語 / English）",
            group=g,
        ),
        _prop(
            names.deal_payment_status,
            "入金状況 / payment status",
            "freeeでの入金状況",
            "enumeration",
            group=g,
            options=PAYMENT_STATUS,
        ),
        _prop(
            names.deal_amount_invoiced,
            "請求金額（税込） / amount invoiced",
            "これまでに発行したfreee請求書の合計（税込、円） / invoiced to date: the freee invoices issued for the deal "
            "so far (tax included, yen)",
            "number",
            group=g,
        ),
        _prop(names.deal_amount_paid, "入金額 / amount paid", "入金済みの金額（円）", "number", group=g),
        _prop(
            names.deal_amount_outstanding,
            "未回収額 / amount outstanding",
            "未入金の残高（円）",
            "number",
            group=g,
        ),
        _prop(names.deal_due_date, "支払期日 / due date", "freee請求書の期日", "date", group=g),
        _prop(names.deal_paid_date, "入金日 / paid date", "全額入金された日", "date", group=g),
        _prop(names.deal_days_overdue, "期日超過日数 / days overdue", "期日を過ぎた日数", "number", group=g),
        _prop(
            names.deal_synced_at,
            "freee同期日時 / synced at",
            "freeeから最後に同期した日時",
            "datetime",
            group=g,
        ),
        _prop(
            names.deal_billing_plan,
            "分割回数 / instalments",
            "入力：取引の金額をこの回数の均等分割で請求（明細の請求スケジュールより優先）。空欄なら明細どおり / set by "
            "you: bill the deal in this many equal instalments instead of the line items' schedule; empty: follow "
            "the line items",
            "number",
            group=g,
        ),
        _prop(
            names.deal_next_billing_date,
            "次回請求日 / next billing date",
            "次の請求期間の請求日（予定がなければ空欄） / the next period's billing date; empty when none is left",
            "date",
            group=g,
        ),
        _prop(
            names.deal_invoice_count,
            "請求書発行数 / invoices issued",
            "この取引でこれまでに発行したfreee請求書の数 / freee invoices issued for the deal so far",
            "number",
            group=g,
        ),
        _prop(
            names.deal_billing_status,
            "請求状況 / billing status",
            "単発・定期請求中・請求完了・停止 / one-off, scheduled, ended or stopped",
            "enumeration",
            group=g,
            options=BILLING_STATUS,
        ),
    ]
    company = [
        _prop(
            names.company_partner_id,
            "freee取引先ID / freee partner ID",
            "freeeの取引先ID（自動入力、手動で紐付けも可）",
            group=g,
        ),
        _prop(
            names.company_outstanding_total,
            "未回収残高 / outstanding total",
            "未入金の請求の合計（円）",
            "number",
            group=g,
        ),
        _prop(
            names.company_overdue_total,
            "期日超過残高 / overdue total",
            "期日を過ぎた未入金の合計（円）",
            "number",
            group=g,
        ),
        _prop(
            names.company_overdue_invoice_count,
            "期日超過件数 / overdue invoices",
            "期日を過ぎた請求書の数",
            "number",
            group=g,
        ),
        _prop(
            names.company_oldest_overdue_days,
            "最長超過日数 / oldest overdue days",
            "最も古い期日超過の日数",
            "number",
            group=g,
        ),
        _prop(
            names.company_last_payment_date,
            "最終入金日 / last payment date",
            "最後に入金があった日",
            "date",
            group=g,
        ),
        _prop(
            names.company_payment_risk,
            "支払リスク / payment risk",
            "未入金の状況",
            "enumeration",
            group=g,
            options=RISK,
        ),
        _prop(
            names.company_registration_number,
            "登録番号 / registration number",
            "適格請求書発行事業者登録番号（T＋13桁）",
            group=g,
        ),
        _prop(
            names.company_payment_terms,
            "支払条件 / payment terms",
            "支払期日の計算方法（締め日・支払日、または請求日からの日数） / how the due date is computed",
            "enumeration",
            group=g,
            options=PAYMENT_TERMS_OPTIONS,
        ),
        _prop(
            names.company_billing_mode,
            "請求方法 / billing mode",
            "取引ごとに請求書を作るか、月締めで1通にまとめるか（空欄は取引ごと） / an invoice per deal, or one "
            "invoice a month for all of the company's deals (empty: per deal)",
            "enumeration",
            group=g,
            options=BILLING_MODE,
        ),
        _prop(
            names.company_closing_day,
            "締め日 / closing day",
            "月締め合算の締め日（空欄は末日） / the day the consolidated month closes (empty: month end)",
            "enumeration",
            group=g,
            options=CLOSING_DAY,
        ),
    ]
    line_item = [
        _prop(
            names.line_item_tax_rate,
            "税率 / tax rate",
            "10、8_reduced（軽減税率）、0、exempt（非課税）",
            "enumeration",
            group=g,
            options=TAX_RATES,
        ),
    ]
    return {"deals": deal, "companies": company, "line_items": line_item}
