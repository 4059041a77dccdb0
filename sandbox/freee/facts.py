"""What the freee sandbox answers by: limits, its one company, tax groups, and the fields of each response
shape in freee's order (from ``specs/freee``)."""

from __future__ import annotations

import decimal
from zoneinfo import ZoneInfo

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
