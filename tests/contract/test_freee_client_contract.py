"""Every request the freee client sends, and every answer it reads, validates against freee's own documents.

The client runs against the sandbox; a response hook hands each exchange to the contract check, so a field the
client invents, a wrong parameter name or a body freee would refuse fails here.
"""

from __future__ import annotations

from datetime import date, timedelta

import requests

from sandbox.freee import create_freee_sandbox
from sandbox.transport import WSGIAdapter
from sdk.clock import FakeClock
from sdk.freee.client import FreeeClient
from sdk.freee.oauth import OAuthClient, TokenManager
from sdk.freee.ratelimit import MemoryRateLimitStore, RateLimiter
from sdk.freee.tokens import MemoryTokenStore, TokenSet
from sdk.mapping import PartnerRef, build_invoice_request, build_partner_request
from sdk.validation import validate_deal
from tests.conftest import TODAY
from tests.contract.conftest import Contract
from tests.factories import VALID_REGISTRATION, bundle, company, contact, line_item

BASE = "http://freee.sandbox"


def test_every_exchange_of_the_client_matches_the_freee_documents(contract: Contract, settings):
    clock = FakeClock()
    sandbox = create_freee_sandbox(clock=clock)
    checked: list[str] = []
    session = requests.Session()
    session.mount(BASE, WSGIAdapter(sandbox.app))

    def check(response: requests.Response, *args: object, **kwargs: object) -> None:
        path = response.request.path_url.split("?")[0]
        if path.startswith("/public_api/"):
            return  # the OAuth endpoints are not part of the API documents
        contract.check(response)
        checked.append(f"{response.request.method} {path}")

    session.hooks["response"].append(check)
    issued = sandbox.issue_tokens()
    tokens = MemoryTokenStore(
        TokenSet(issued["access_token"], issued["refresh_token"], clock.now() + timedelta(hours=6))
    )
    oauth = OAuthClient(
        auth_base=BASE,
        client_id="sandbox-client-id",
        client_secret="sandbox-client-secret",
        redirect_uri="urn:x",
        session=session,
        clock=clock,
    )
    client = FreeeClient(
        api_base=BASE,
        company_id=1,
        tokens=TokenManager(tokens, oauth, clock),
        limiter=RateLimiter(MemoryRateLimitStore(), clock),
        clock=clock,
        session=session,
    )

    source = company(
        "株式会社サンプル商事",
        zip="150-0002",
        state="東京都",
        city="渋谷区",
        address="渋谷2-21-1",
        freee_invoice_registration_number=VALID_REGISTRATION,
    )
    partner = client.create_partner(
        build_partner_request(source, contact(), settings, company_id=1, with_code=True)
    )
    assert client.get_partner(partner.id).name == "株式会社サンプル商事"
    assert client.get_partner_by_code(partner.code or "").id == partner.id
    assert client.search_partners("サンプル")
    upserted = client.upsert_partner_by_code(
        "HS-999",
        build_partner_request(company("有限会社さくら"), None, settings, company_id=1, with_code=True),
    )
    assert upserted.code == "HS-999"

    draft = validate_deal(
        bundle(
            line_item("導入支援", quantity="1.5", price=800000, hs_discount_percentage="10"),
            line_item("弁当", quantity=20, price=1080, freee_tax_rate="8_reduced"),
            line_item("輸出", quantity=1, price=5000, freee_tax_rate="0"),
            company_=source,
            contact_=contact(),
        ),
        settings,
        today=TODAY,
    )
    invoice = client.create_invoice(
        build_invoice_request(draft, settings, company_id=1, partner=PartnerRef(id=partner.id))
    )
    assert client.get_invoice(invoice.id).total_amount == draft.tax.gross
    assert client.list_invoices(
        partner_ids=[partner.id], payment_status="unsettled", start_billing_date=draft.billing_date
    )
    assert list(client.iter_invoices(start=date(2026, 10, 1), end=date(2026, 12, 31)))
    assert client.list_templates()
    assert [(c.id, c.role) for c in client.list_companies()] == [(1, "admin")]
    sandbox.pay(invoice.id, 1000, draft.due_date)
    deal_id = client.get_invoice(invoice.id).deal_id
    assert deal_id is not None
    assert client.get_deal(deal_id).payments[0].amount == 1000
    deals, total = client.list_deals(partner_id=partner.id, status="unsettled", type="income")
    assert total == 1
    assert deals[0].due_amount == draft.tax.gross - 1000
    second = client.create_invoice(
        build_invoice_request(draft, settings, company_id=1, partner=PartnerRef(code=partner.code or ""))
    )
    client.cancel_invoice(second.id)
    assert client.get_invoice(second.id).is_canceled

    assert {c.split(" ")[0] for c in checked} == {"GET", "POST", "PUT"}
    assert "GET /api/1/companies" in checked
    assert len(checked) >= 17
