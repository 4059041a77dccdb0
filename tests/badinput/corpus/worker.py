"""Hostile inputs at the worker: deals and queue messages through the real worker path."""

from __future__ import annotations

from tests.badinput.corpus.model import OTHER_PORTAL, PORTAL, WK, Case, DealSpec, Job, item

CASES: tuple[Case, ...] = (
    # ------------------------------------------------------------------------------------- worker path
    Case(
        "job-foreign-portal",
        WK,
        Job({"type": "create_invoice", "portal_id": OTHER_PORTAL, "deal_id": "{deal}", "trigger": "webhook"}),
        error="refused",
        message=str(OTHER_PORTAL),
    ),
    Case(
        "job-portal-id-as-bool",
        WK,
        Job({"type": "create_invoice", "portal_id": True, "deal_id": "{deal}", "trigger": "webhook"}),
        error="malformed",
        message="portal_id",
    ),
    Case(
        "job-deal-id-as-bool",
        WK,
        Job({"type": "create_invoice", "portal_id": PORTAL, "deal_id": True, "trigger": "webhook"}),
        error="malformed",
        message="deal_id",
    ),
    Case(
        "deal-negative-quantity",
        WK,
        DealSpec(line_items=(item(quantity="-3"),)),
        error="line_item.quantity_invalid",
        message="マイナス",
    ),
    Case("deal-zero-price", WK, DealSpec(line_items=(item(price="0"),)), error="invoice.total_zero"),
    Case(
        "deal-negative-price",
        WK,
        DealSpec(line_items=(item(price="-100000"),)),
        error="line_item.price_negative",
    ),
    Case(
        "deal-10000-line-items",
        WK,
        DealSpec(line_items=10_000),
        error="invoice.too_many_lines",
        message="10000",
        max_line_item_reads=0,
    ),
    Case(
        "deal-amount-over-a-trillion",
        WK,
        DealSpec(props={"amount": "1000000000001"}, line_items=()),
        error="invoice.total_too_large",
        message="¥999,999,999,999",
    ),
    Case(
        "deal-line-total-over-a-trillion",
        WK,
        DealSpec(line_items=(item(quantity="1000", price="1000000000"),)),
        error="invoice.total_too_large",
    ),
    Case(
        "deal-nan-price",
        WK,
        DealSpec(line_items=(item(price="NaN"),)),
        error="line_item.price_invalid",
        message="is not a number",
    ),
    Case(
        "deal-infinite-quantity",
        WK,
        DealSpec(line_items=(item(quantity="Infinity"),)),
        error="line_item.quantity_invalid",
    ),
    Case(
        "deal-price-1e309",
        WK,
        DealSpec(line_items=(item(price="1e309"),)),
        error="line_item.price_invalid",
        message="exceeds freee's limit",
    ),
    Case(
        "deal-amount-1e999999999",
        WK,
        DealSpec(props={"amount": "1e999999999"}, line_items=()),
        error="deal.amount_invalid",
    ),
    Case(
        "deal-quantity-four-decimals",
        WK,
        DealSpec(line_items=(item(quantity="0.0001"),)),
        error="line_item.quantity_invalid",
        message="decimal places",
    ),
    Case(
        "deal-close-date-year-9999",
        WK,
        DealSpec(props={"closedate": "9999-12-31"}),
        error="deal.close_date_invalid",
    ),
    Case(
        "deal-close-date-epoch-overflow",
        WK,
        DealSpec(props={"closedate": "99999999999999999999"}),
        error="deal.close_date_invalid",
    ),
    Case("deal-name-nul", WK, DealSpec(props={"dealname": "受注\x00案件"}), error="text.control_characters"),
    Case(
        "deal-name-ansi-escape",
        WK,
        DealSpec(props={"dealname": "\x1b[2J\x1b[31mPWNED\x1b[0m"}),
        error="text.control_characters",
    ),
    Case(
        "line-item-name-rtl-override",
        WK,
        DealSpec(line_items=(item(name="請求書\u202egpj.exe"),)),
        error="text.control_characters",
    ),
    Case(
        "company-name-newline",
        WK,
        DealSpec(company={"name": "株式会社サンプル\n商事"}),
        error="text.control_characters",
    ),
    Case(
        "line-item-name-1mb",
        WK,
        DealSpec(line_items=(item(name="あ" * 1_000_000),)),
        error="text.too_long",
        message="1000000",
    ),
    Case(
        "line-item-quantity-1mb-digits",
        WK,
        DealSpec(line_items=(item(quantity="9" * 1_000_000),)),
        error="line_item.quantity_invalid",
    ),
    Case(
        "line-item-1mb-name-and-bad-price",
        WK,
        DealSpec(line_items=(item(name="い" * 1_000_000, price="-1"),)),
        error="line_item.price_negative",
    ),
    Case(
        "deal-amount-fraction-of-a-yen",
        WK,
        DealSpec(props={"amount": "1000.5"}, line_items=()),
        error="deal.amount_not_integer",
    ),
    Case(
        "company-registration-number-sql",
        WK,
        DealSpec(company={"name": "x", "freee_invoice_registration_number": "T1' OR 1=1--"}),
        error="company.registration_number_invalid",
    ),
    Case(
        "company-payment-terms-huge",
        WK,
        DealSpec(company={"name": "x", "freee_payment_terms": "net_" + "9" * 10_000}),
        error="company.payment_terms_invalid",
    ),
    Case(
        "deal-currency-usd", WK, DealSpec(props={"deal_currency_code": "USD"}), error="deal.currency_not_jpy"
    ),
    Case(
        "line-item-discount-over-100-percent",
        WK,
        DealSpec(line_items=(item(hs_discount_percentage="150"),)),
        error="line_item.discount_invalid",
    ),
    Case(
        "deal-emoji-names",
        WK,
        DealSpec(
            props={"dealname": "🍣寿司🍺 family 👨\u200d👩\u200d👧"},
            line_items=(item(name="🎉 初期費用"),),
            company={"name": "株式会社😀"},
        ),
        invoiced=True,
    ),
    Case(
        "deal-sql-looking-names",
        WK,
        DealSpec(
            props={"dealname": "Robert'); DROP TABLE ledger;--"},
            line_items=(item(name="1 OR 1=1; --"),),
            company={"name": "'; DELETE FROM partners; --"},
        ),
        invoiced=True,
    ),
)
