"""What the freee client's unit tests share: the fake freee's addresses, a stored invoice, answers to build."""

from __future__ import annotations

import responses

from sdk.mapping import PartnerRef, build_invoice_request
from sdk.settings import load_settings
from sdk.validation import validate_deal
from tests.conftest import TODAY
from tests.factories import bundle, line_item

API = "https://api.freee.test"
AUTH = "https://accounts.freee.test"
TOKEN_URL = f"{AUTH}/public_api/token"

INVOICE = {
    "id": 101,
    "company_id": 1,
    "invoice_number": "INV-0000000101",
    "subject": "件名",
    "billing_date": "2026-11-20",
    "payment_date": "2026-12-31",
    "memo": "[hubspot-freee portal=1 deal=5]",
    "sending_status": "unsent",
    "payment_status": "unsettled",
    "cancel_status": "uncanceled",
    "deal_status": "unregistered",
    "deal_id": None,
    "total_amount": 11000,
    "amount_including_tax": 11000,
    "amount_excluding_tax": 10000,
    "amount_tax": 1000,
    "partner_id": 7,
    "report_url": "https://invoice.secure.freee.co.jp/reports/invoices/101",
    "lines": [],
}


def _invoice_request():
    settings = load_settings()
    draft = validate_deal(bundle(line_item()), settings, today=TODAY)
    return build_invoice_request(draft, settings, company_id=1, partner=PartnerRef(id=7))


def error(status: int, *messages: str) -> dict:
    return {
        "status_code": status,
        "errors": [{"type": "validation" if status == 400 else "status", "messages": list(messages)}],
    }


def _grant(n: int) -> dict:
    return {"access_token": f"access-{n}", "refresh_token": f"refresh-{n}", "expires_in": 21600}


def _token_calls() -> int:
    return sum(1 for c in responses.calls if c.request.url == TOKEN_URL)
