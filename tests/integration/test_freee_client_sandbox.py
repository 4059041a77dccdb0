"""The freee client against the stateful freee sandbox: token refresh under concurrency, the rate limit, and
the calls the use cases make."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
import requests

from sandbox.freee import create_freee_sandbox
from sandbox.transport import WSGIAdapter
from sdk.clock import Clock, FakeClock, SystemClock
from sdk.freee.client import FreeeClient, RetryPolicy
from sdk.freee.errors import FreeeOutcomeUnknown, FreeeValidationError
from sdk.freee.oauth import OAuthClient, TokenManager
from sdk.freee.ratelimit import FREEE_WINDOWS, MemoryRateLimitStore, RateLimiter, RateLimitStore
from sdk.freee.tokens import MemoryTokenStore, TokenSet, TokenStore
from sdk.mapping import PartnerRef, build_invoice_request, build_partner_request
from sdk.settings import load_settings
from sdk.store.sqlite import SQLiteTokenStore
from sdk.validation import validate_deal
from tests.conftest import TODAY
from tests.factories import bundle, company, line_item

BASE = "http://freee.sandbox"


def make_client(
    sandbox, store: TokenStore, rate_store: RateLimitStore, clock: Clock, statuses: list[int] | None = None
):
    session = requests.Session()
    session.mount(BASE, WSGIAdapter(sandbox.app))
    if statuses is not None:
        session.hooks["response"].append(
            lambda response, *args, **kwargs: statuses.append(response.status_code)
        )
    oauth = OAuthClient(
        auth_base=BASE,
        client_id="sandbox-client-id",
        client_secret="sandbox-client-secret",
        redirect_uri="urn:ietf:wg:oauth:2.0:oob",
        session=session,
        clock=clock,
    )
    return FreeeClient(
        api_base=BASE,
        company_id=1,
        tokens=TokenManager(store, oauth, clock),
        limiter=RateLimiter(rate_store, clock, FREEE_WINDOWS),
        clock=clock,
        session=session,
        retry=RetryPolicy(max_attempts=5),
    )


def stored(sandbox, clock: Clock, store: TokenStore, *, expired: bool = False) -> TokenStore:
    issued = sandbox.issue_tokens()
    expires = clock.now() + (timedelta(seconds=-1) if expired else timedelta(hours=6))
    store.save_token(TokenSet(issued["access_token"], issued["refresh_token"], expires, company_id=1), None)
    return store


def test_eight_workers_with_an_expired_token_refresh_exactly_once(tmp_path):
    clock = SystemClock()
    sandbox = create_freee_sandbox(clock=clock)
    store = stored(sandbox, clock, SQLiteTokenStore(tmp_path / "tokens.sqlite"), expired=True)
    rate_store = MemoryRateLimitStore()
    clients = [make_client(sandbox, store, rate_store, clock) for _ in range(8)]
    barrier = threading.Barrier(8)
    results: list[object] = []

    def work(client: FreeeClient) -> None:
        barrier.wait()
        try:
            results.append(client.list_templates())
        except Exception as exc:
            results.append(exc)

    threads = [threading.Thread(target=work, args=(c,)) for c in clients]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert [r for r in results if isinstance(r, Exception)] == []
    assert len(results) == 8
    assert sandbox.token_calls.get("refresh_token", 0) == 1
    # the stored refresh token is the newest: it still works (a used one would fail with invalid_grant)
    row = store.load_token()
    assert row.version == 2
    fresh = clients[0].tokens.oauth.refresh(row.tokens.refresh_token)
    assert fresh.access_token


def test_300_calls_under_30_per_minute_never_see_a_429_and_take_the_bound():
    clock = FakeClock()
    sandbox = create_freee_sandbox(clock=clock, rate_limit_per_minute=30, rate_limit_per_hour=1500)
    statuses: list[int] = []
    client = make_client(
        sandbox, stored(sandbox, clock, MemoryTokenStore()), MemoryRateLimitStore(), clock, statuses
    )
    start = clock.monotonic()
    for _ in range(300):
        client.list_templates()
    elapsed = clock.monotonic() - start
    bound = (300 / 30 - 1) * 60.0  # the 300th call can start no sooner than 9 minutes in
    assert statuses.count(429) == 0
    assert len(statuses) == 300
    assert elapsed / bound <= 1.15, f"elapsed {elapsed:.0f}s vs bound {bound:.0f}s"


@pytest.fixture
def world():
    clock = FakeClock()
    sandbox = create_freee_sandbox(clock=clock)
    client = make_client(sandbox, stored(sandbox, clock, MemoryTokenStore()), MemoryRateLimitStore(), clock)
    return sandbox, client, load_settings(freee_company_id=1)


def test_partner_then_invoice_then_payments_through_the_client(world):
    sandbox, client, settings = world
    source = company("株式会社サンプル商事", state="東京都")
    partner = client.create_partner(
        build_partner_request(source, None, settings, company_id=1, with_code=True)
    )
    assert client.get_partner_by_code(f"HS-{source.id}").id == partner.id
    assert [p.id for p in client.search_partners("サンプル")] == [partner.id]
    draft = validate_deal(
        bundle(
            line_item("導入支援", quantity=1, price=100000),
            line_item("弁当", quantity=10, price=1000, freee_tax_rate="8_reduced"),
            company_=source,
        ),
        settings,
        today=TODAY,
    )
    invoice = client.create_invoice(
        build_invoice_request(draft, settings, company_id=1, partner=PartnerRef(id=partner.id))
    )
    # the sandbox computes totals on its own; they agree with ours
    assert (invoice.amount_excluding_tax, invoice.amount_tax, invoice.total_amount) == (
        draft.tax.net,
        draft.tax.tax,
        draft.tax.gross,
    )
    found = client.list_invoices(
        partner_ids=[partner.id], start_billing_date=draft.billing_date, end_billing_date=draft.billing_date
    )
    assert [i.memo for i in found] == [invoice.memo]
    sandbox.pay(invoice.id, 50000, draft.due_date)
    deal = client.get_deal(client.get_invoice(invoice.id).deal_id)
    assert (deal.amount, deal.due_amount, deal.status) == (
        draft.tax.gross,
        draft.tax.gross - 50000,
        "unsettled",
    )
    sandbox.pay(invoice.id, draft.tax.gross - 50000, draft.due_date)
    deals, total = client.list_deals(partner_id=partner.id, status="settled")
    assert total == 1
    assert deals[0].due_amount == 0
    assert client.get_invoice(invoice.id).payment_status == "settled"


def test_freee_validation_messages_reach_the_caller(world):
    _, client, settings = world
    draft = validate_deal(bundle(line_item()), settings, today=TODAY)
    with pytest.raises(FreeeValidationError) as caught:
        client.create_invoice(
            build_invoice_request(draft, settings, company_id=1, partner=PartnerRef(id=999999))
        )
    assert caught.value.messages


def test_time_out_after_commit_is_an_unknown_outcome_and_the_invoice_exists(world):
    sandbox, client, settings = world
    source = company("有限会社さくら")
    partner = client.create_partner(
        build_partner_request(source, None, settings, company_id=1, with_code=True)
    )
    draft = validate_deal(bundle(line_item(), company_=source), settings, today=TODAY)
    sandbox.faults.script("timeout_after_commit", path_prefix="/iv/invoices", methods={"POST"})
    with pytest.raises(FreeeOutcomeUnknown):
        client.create_invoice(
            build_invoice_request(draft, settings, company_id=1, partner=PartnerRef(id=partner.id))
        )
    assert (
        len(client.list_invoices(partner_ids=[partner.id])) == 1
    )  # it was created: reconcile, never re-send


def test_injected_429_and_5xx_on_reads_are_absorbed(world):
    sandbox, client, _ = world
    sandbox.faults.script("429", "5xx", "reset", path_prefix="/iv/invoices/templates")
    assert client.list_templates()
