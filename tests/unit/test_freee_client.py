"""The freee client's edges, with ``responses``: retries, refresh, errors, and what a write must never do."""

from __future__ import annotations

import json
import random
from datetime import date, timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
import responses
from responses import matchers

from sdk.clock import FakeClock
from sdk.freee.client import FreeeClient, RetryPolicy
from sdk.freee.errors import (
    FreeeAuthError,
    FreeeDisconnected,
    FreeeError,
    FreeeNotFound,
    FreeeOutcomeUnknown,
    FreeeRateLimited,
    FreeeServerError,
    FreeeUnavailable,
    FreeeValidationError,
)
from sdk.freee.oauth import OAuthClient, TokenManager
from sdk.freee.ratelimit import MemoryRateLimitStore, RateLimiter
from sdk.freee.tokens import MemoryTokenStore, TokenSet
from sdk.log import get_logger
from sdk.mapping import PartnerRef, build_invoice_request
from sdk.models.freee import PartnerCreateRequest
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


@pytest.fixture
def clock():
    return FakeClock()


@pytest.fixture
def store(clock):
    return MemoryTokenStore(TokenSet("access-1", "refresh-1", clock.now() + timedelta(hours=6), company_id=1))


@pytest.fixture
def client(clock, store):
    session = requests.Session()
    oauth = OAuthClient(
        auth_base=AUTH,
        client_id="cid",
        client_secret="csecret-canary",
        redirect_uri="urn:x",
        session=session,
        clock=clock,
    )
    return FreeeClient(
        api_base=API,
        company_id=1,
        tokens=TokenManager(store, oauth, clock),
        limiter=RateLimiter(MemoryRateLimitStore(), clock, [(30, 60.0)]),
        clock=clock,
        session=session,
        retry=RetryPolicy(max_attempts=4, rng=random.Random(7)),
    )


def _invoice_request():
    settings = load_settings()
    draft = validate_deal(bundle(line_item()), settings, today=TODAY)
    return build_invoice_request(draft, settings, company_id=1, partner=PartnerRef(id=7))


def error(status: int, *messages: str) -> dict:
    return {
        "status_code": status,
        "errors": [{"type": "validation" if status == 400 else "status", "messages": list(messages)}],
    }


@responses.activate
def test_create_invoice_sends_the_request_and_parses_the_answer(client):
    responses.post(
        f"{API}/iv/invoices",
        json={"invoice": INVOICE},
        headers={"X-Freee-Request-ID": "req-1"},
        match=[matchers.header_matcher({"Authorization": "Bearer access-1"})],
    )
    invoice = client.create_invoice(_invoice_request())
    assert (invoice.id, invoice.total_amount, invoice.invoice_number) == (101, 11000, "INV-0000000101")
    sent = json.loads(responses.calls[0].request.body)
    assert sent["partner_id"] == 7
    assert sent["lines"][0]["unit_price"] == "10000"


@responses.activate
def test_401_refreshes_once_then_succeeds_and_stores_the_new_pair(client, store):
    responses.get(f"{API}/iv/invoices/101", json=error(401, "expired"), status=401)
    responses.get(
        f"{API}/iv/invoices/101",
        json={"invoice": INVOICE},
        match=[matchers.header_matcher({"Authorization": "Bearer access-2"})],
    )
    responses.post(
        TOKEN_URL,
        json={
            "access_token": "access-2",
            "refresh_token": "refresh-2",
            "expires_in": 21600,
            "token_type": "bearer",
        },
        match=[
            matchers.urlencoded_params_matcher(
                {
                    "grant_type": "refresh_token",
                    "refresh_token": "refresh-1",
                    "client_id": "cid",
                    "client_secret": "csecret-canary",
                }
            )
        ],
    )
    assert client.get_invoice(101).id == 101
    row = store.load_token()
    assert (row.tokens.access_token, row.tokens.refresh_token, row.version) == ("access-2", "refresh-2", 2)
    assert [c.request.url.split("?")[0] for c in responses.calls] == [
        f"{API}/iv/invoices/101",
        TOKEN_URL,
        f"{API}/iv/invoices/101",
    ]


@responses.activate
def test_a_second_401_after_refresh_is_an_auth_error(client):
    responses.get(f"{API}/iv/invoices/101", json=error(401, "no"), status=401)
    responses.post(
        TOKEN_URL, json={"access_token": "access-2", "refresh_token": "refresh-2", "expires_in": 21600}
    )
    with pytest.raises(FreeeAuthError, match="setup freee"):
        client.get_invoice(101)


@responses.activate
def test_expired_access_token_is_refreshed_before_the_call(client, clock):
    clock.advance(6 * 3600)
    responses.post(
        TOKEN_URL, json={"access_token": "access-2", "refresh_token": "refresh-2", "expires_in": 21600}
    )
    responses.get(
        f"{API}/iv/invoices/101",
        json={"invoice": INVOICE},
        match=[matchers.header_matcher({"Authorization": "Bearer access-2"})],
    )
    client.get_invoice(101)
    assert len(responses.calls) == 2


@responses.activate
def test_rejected_refresh_token_says_to_authorise_again(client, clock):
    clock.advance(7 * 3600)
    responses.post(TOKEN_URL, json={"error": "invalid_grant", "error_description": "used"}, status=401)
    with pytest.raises(FreeeAuthError, match=r"invalid_grant.*setup freee"):
        client.get_invoice(101)


def _grant(n: int) -> dict:
    return {"access_token": f"access-{n}", "refresh_token": f"refresh-{n}", "expires_in": 21600}


@responses.activate
def test_a_refreshed_pair_knows_when_its_refresh_token_dies(client, clock, store):
    clock.advance(7 * 3600)
    responses.post(TOKEN_URL, json=_grant(2))
    responses.get(f"{API}/iv/invoices/101", json={"invoice": INVOICE})
    client.get_invoice(101)
    tokens = store.load_token().tokens
    assert tokens.refresh_issued_at == clock.now()
    assert tokens.refresh_expires_at == clock.now() + timedelta(days=90)
    assert TokenSet.from_json(tokens.to_json()) == tokens


def test_a_pair_stored_before_the_issue_time_was_kept_still_loads():
    legacy = '{"access_token": "a", "refresh_token": "r", "access_expires_at": "2026-11-20T00:00:00+00:00"}'
    tokens = TokenSet.from_json(legacy)
    assert (tokens.refresh_issued_at, tokens.refresh_expires_at) == (None, None)


@responses.activate
def test_keep_connected_leaves_a_young_refresh_token_alone(client, clock, store):
    store.save_token(TokenSet.from_grant(_grant(2), clock.now()), expected_version=1)
    clock.advance(29 * 24 * 3600)
    assert client.keep_connected() is False
    assert len(responses.calls) == 0  # nothing sent
    assert store.load_token().tokens.refresh_token == "refresh-2"


@responses.activate
def test_keep_connected_renews_an_old_refresh_token_while_the_access_token_is_still_valid(
    client, clock, store
):
    store.save_token(  # a pair whose access token is fresh but whose refresh token is 30 days old
        TokenSet(
            "access-2",
            "refresh-2",
            clock.now() + timedelta(hours=6),
            refresh_issued_at=clock.now() - timedelta(days=30),
        ),
        expected_version=1,
    )
    responses.post(
        TOKEN_URL,
        json=_grant(3),
        match=[
            matchers.urlencoded_params_matcher(
                {"grant_type": "refresh_token", "refresh_token": "refresh-2"},
                allow_blank=True,
                strict_match=False,
            )
        ],
    )
    assert client.keep_connected() is True
    row = store.load_token()
    assert (row.tokens.refresh_token, row.tokens.refresh_issued_at) == ("refresh-3", clock.now())
    assert client.keep_connected() is False  # young again
    assert len(responses.calls) == 1


@responses.activate
def test_keep_connected_renews_a_pair_of_unknown_age_once(client, store):
    responses.post(TOKEN_URL, json=_grant(2))
    assert store.load_token().tokens.refresh_issued_at is None
    assert client.keep_connected() is True
    assert client.keep_connected() is False
    assert len(responses.calls) == 1


@responses.activate
def test_keep_connected_leaves_the_renewal_to_a_worker_already_refreshing(client, clock, store):
    row = store.load_token()
    assert store.claim_refresh(row.version, "other-worker", clock.now(), clock.now() + timedelta(seconds=30))
    assert client.keep_connected() is False
    assert len(responses.calls) == 0


@responses.activate
def test_keep_connected_says_when_freee_refuses_the_refresh_token(client):
    responses.post(TOKEN_URL, json={"error": "invalid_grant"}, status=401)
    with pytest.raises(FreeeAuthError, match=r"invalid_grant.*setup freee"):
        client.keep_connected()


# ------------------------------------------------------------------ the token row's states (TokenManager)


def _token_calls() -> int:
    return sum(1 for c in responses.calls if c.request.url == TOKEN_URL)


@responses.activate
def test_a_refused_refresh_token_marks_the_row_disconnected_and_says_what_to_run(client, clock, store):
    clock.advance(7 * 3600)
    responses.post(TOKEN_URL, json={"error": "invalid_grant"}, status=401)
    with pytest.raises(FreeeDisconnected) as raised:
        client.tokens.access_token()
    message = str(raised.value)
    assert "freee接続が切れています" in message and "freee connection is lost" in message
    assert "`hubspot-freee setup freee`" in message
    row = store.load_token()
    assert (row.version, row.disconnected_at, row.claim_holder) == (1, clock.now(), None)
    assert "invalid_grant" in (row.disconnected_reason or "")
    assert raised.value.since == clock.now()


@responses.activate
def test_while_disconnected_every_call_fails_at_once_without_asking_freee_again(client, clock, store):
    clock.advance(7 * 3600)
    responses.post(TOKEN_URL, json={"error": "invalid_grant"}, status=401)
    with pytest.raises(FreeeDisconnected):
        client.get_invoice(101)
    since = clock.now()
    clock.advance(3600)
    for call in (client.tokens.access_token, lambda: client.get_invoice(101), client.keep_connected):
        with pytest.raises(FreeeDisconnected) as raised:
            call()
        assert raised.value.since == since
    assert _token_calls() == 1
    assert len(responses.calls) == 1  # no API call either


@responses.activate
def test_connect_after_a_disconnection_makes_the_installation_usable_again(client, clock, store):
    clock.advance(7 * 3600)
    responses.post(TOKEN_URL, json={"error": "invalid_grant"}, status=401)
    with pytest.raises(FreeeDisconnected):
        client.tokens.access_token()
    saved = client.tokens.connect(TokenSet.from_grant(_grant(5), clock.now()))
    assert (saved.version, saved.disconnected) == (2, False)
    assert client.tokens.access_token() == "access-5"
    row = store.load_token()
    assert (row.disconnected_reason, row.disconnected_at) == (None, None)


@pytest.mark.parametrize(
    "failure",
    [
        pytest.param({"body": requests.ReadTimeout("lost")}, id="timeout"),
        pytest.param({"status": 503, "json": {}}, id="5xx"),
    ],
)
@responses.activate
def test_a_refresh_without_an_answer_leaves_the_row_and_lets_the_next_call_retry_at_once(
    client, clock, store, failure
):
    clock.advance(7 * 3600)
    responses.post(TOKEN_URL, **failure)
    with pytest.raises((FreeeUnavailable, FreeeServerError)):
        client.tokens.access_token()
    row = store.load_token()
    assert (row.version, row.disconnected, row.claim_holder, row.claim_until) == (1, False, None, None)
    responses.replace(responses.POST, TOKEN_URL, json=_grant(2))
    started = clock.monotonic()
    assert client.tokens.access_token() == "access-2"  # no 30 s lease to wait out
    assert clock.monotonic() == started
    assert store.load_token().version == 2


@responses.activate
def test_a_lost_refresh_answer_then_the_reused_token_refused_is_a_disconnection(client, clock, store):
    """freee committed the refresh but its answer was lost: the refresh token is spent, and the retry is refused."""
    clock.advance(7 * 3600)
    responses.post(TOKEN_URL, body=requests.ReadTimeout("committed, answer lost"))
    responses.post(TOKEN_URL, json={"error": "invalid_grant"}, status=401)
    with pytest.raises(FreeeUnavailable, match="may have been committed"):
        client.tokens.access_token()
    with pytest.raises(FreeeDisconnected):
        client.tokens.access_token()
    assert store.load_token().disconnected


@responses.activate
def test_another_refusal_than_invalid_grant_is_not_a_disconnection(client, clock, store):
    clock.advance(7 * 3600)
    responses.post(TOKEN_URL, json={"error": "invalid_client"}, status=401)
    with pytest.raises(FreeeAuthError, match="invalid_client") as raised:
        client.tokens.access_token()
    assert not isinstance(raised.value, FreeeDisconnected)
    row = store.load_token()
    assert (row.disconnected, row.claim_holder) == (False, None)


@responses.activate
def test_a_refusal_after_another_worker_stored_a_newer_pair_uses_that_pair(client, clock, store):
    """Our lease ran out mid-refresh and another worker refreshed first: freee refuses our (now used) token, but
    the row already holds the new pair, so this is no disconnection."""
    clock.advance(7 * 3600)

    def refused_after_another_worker_saved(request: requests.PreparedRequest) -> tuple[int, dict, str]:
        store.save_token(TokenSet.from_grant(_grant(9), clock.now()), expected_version=1)
        return 401, {}, json.dumps({"error": "invalid_grant"})

    responses.add_callback(responses.POST, TOKEN_URL, callback=refused_after_another_worker_saved)
    assert client.tokens.access_token() == "access-9"
    row = store.load_token()
    assert (row.version, row.disconnected) == (2, False)


def test_not_connected_is_an_auth_error(clock):
    oauth = OAuthClient(
        auth_base=AUTH,
        client_id="c",
        client_secret="s",
        redirect_uri="x",
        session=requests.Session(),
        clock=clock,
    )
    client = FreeeClient(
        api_base=API,
        company_id=1,
        tokens=TokenManager(MemoryTokenStore(), oauth, clock),
        limiter=RateLimiter(MemoryRateLimitStore(), clock),
        clock=clock,
    )
    with pytest.raises(FreeeAuthError, match="not connected"):
        client.get_invoice(1)


@responses.activate
def test_429_with_retry_after_waits_that_long_then_succeeds(client, clock):
    responses.get(
        f"{API}/iv/invoices/101", json=error(429, "too many"), status=429, headers={"Retry-After": "17"}
    )
    responses.get(f"{API}/iv/invoices/101", json={"invoice": INVOICE})
    client.get_invoice(101)
    assert 17 in clock.slept


@responses.activate
def test_429_without_headers_backs_off_with_jitter(client, clock):
    for _ in range(2):
        responses.get(f"{API}/iv/invoices/101", status=429, body="")
    responses.get(f"{API}/iv/invoices/101", json={"invoice": INVOICE})
    client.get_invoice(101)
    assert len(clock.slept) == 2
    assert 0.5 <= clock.slept[0] <= 1.0
    assert 1.0 <= clock.slept[1] <= 2.0


@responses.activate
def test_429_on_every_attempt_raises_rate_limited_with_the_delay(client):
    for _ in range(4):
        responses.post(
            f"{API}/iv/invoices", json=error(429, "too many"), status=429, headers={"X-RateLimit-Reset": "42"}
        )
    with pytest.raises(FreeeRateLimited) as caught:
        client.create_invoice(_invoice_request())
    assert caught.value.retry_after == 42
    assert len(responses.calls) == 4  # a 429 means freee did nothing: the write is retried


@responses.activate
def test_403_lockout_is_rate_limited_and_not_hammered(client):
    responses.get(
        f"{API}/iv/invoices/101",
        json=error(403, "アクセス制限中です"),
        status=403,
        headers={"Retry-After": "600"},
    )
    with pytest.raises(FreeeRateLimited) as caught:
        client.get_invoice(101)
    assert caught.value.retry_after == 600
    assert len(responses.calls) == 1


@responses.activate
def test_403_permission_is_an_auth_error(client):
    responses.get(f"{API}/iv/invoices/101", json=error(403, "権限がありません"), status=403)
    with pytest.raises(FreeeAuthError, match="permissions"):
        client.get_invoice(101)


@responses.activate
def test_html_error_page_on_a_read_is_retried(client):
    responses.get(
        f"{API}/iv/invoices/101",
        body="<html><h1>502 Bad Gateway</h1></html>",
        status=502,
        content_type="text/html",
    )
    responses.get(f"{API}/iv/invoices/101", json={"invoice": INVOICE})
    assert client.get_invoice(101).id == 101


@responses.activate
def test_malformed_json_on_success_is_a_server_error_not_a_crash(client):
    responses.get(f"{API}/iv/invoices/101", body="{not json", status=200, content_type="application/json")
    with pytest.raises(FreeeServerError, match="not JSON"):
        client.get_invoice(101)


@responses.activate
def test_malformed_answer_to_a_write_is_an_unknown_outcome(client):
    responses.post(f"{API}/iv/invoices", body="<html>ok?</html>", status=201, content_type="text/html")
    with pytest.raises(FreeeOutcomeUnknown):
        client.create_invoice(_invoice_request())


@responses.activate
def test_write_that_times_out_is_never_retried_blindly(client):
    responses.post(f"{API}/iv/invoices", body=requests.ReadTimeout("read timed out"))
    with pytest.raises(FreeeOutcomeUnknown, match="may have been applied"):
        client.create_invoice(_invoice_request())
    assert len(responses.calls) == 1


@responses.activate
def test_write_cut_off_by_a_reset_is_an_unknown_outcome(client):
    responses.post(f"{API}/iv/invoices", body=requests.ConnectionError(ConnectionResetError(104, "reset")))
    with pytest.raises(FreeeOutcomeUnknown):
        client.create_invoice(_invoice_request())
    assert len(responses.calls) == 1


@responses.activate
def test_write_5xx_is_not_retried_but_reported_retryable(client):
    responses.post(f"{API}/iv/invoices", json=error(500, "internal"), status=500)
    with pytest.raises(FreeeServerError) as caught:
        client.create_invoice(_invoice_request())
    assert len(responses.calls) == 1
    assert caught.value.messages == ["internal"]


@responses.activate
def test_write_that_never_connected_is_retried(client):
    responses.post(f"{API}/iv/invoices", body=requests.ConnectTimeout("connect timed out"))
    responses.post(f"{API}/iv/invoices", json={"invoice": INVOICE})
    assert client.create_invoice(_invoice_request()).id == 101


@responses.activate
def test_reads_retry_connection_errors_then_give_up_as_unavailable(client):
    for _ in range(4):
        responses.get(f"{API}/iv/invoices/101", body=requests.ConnectionError("boom"))
    with pytest.raises(FreeeUnavailable):
        client.get_invoice(101)
    assert len(responses.calls) == 4


@responses.activate
def test_validation_error_carries_freees_messages(client):
    responses.post(
        f"{API}/iv/invoices",
        json=error(400, "取引先が存在しません", "請求日が不正です"),
        status=400,
        headers={"X-Freee-Request-ID": "abc"},
    )
    with pytest.raises(FreeeValidationError) as caught:
        client.create_invoice(_invoice_request())
    assert caught.value.messages == ["取引先が存在しません", "請求日が不正です"]
    assert caught.value.request_id == "abc"
    assert "取引先が存在しません" in str(caught.value)


@responses.activate
def test_partner_by_code_is_the_exact_code_among_the_keyword_matches(client):
    near = {"id": 1, "company_id": 1, "name": "A", "code": "HS-10"}
    exact = {"id": 2, "company_id": 1, "name": "B", "code": "HS-1"}
    responses.get(
        f"{API}/api/1/partners",
        match=[
            matchers.query_param_matcher(
                {"company_id": "1", "keyword": "HS-1", "offset": "0", "limit": "3000"}
            )
        ],
        json={"partners": [near, exact]},
    )
    assert client.get_partner_by_code("HS-1").id == 2


@responses.activate
def test_partner_by_code_missing_is_none_after_every_page(client, monkeypatch):
    monkeypatch.setattr("sdk.freee.client.PARTNER_PAGE", 2)
    pages = [
        [{"id": 1, "company_id": 1, "name": "A", "code": "HS/1 xa"}, {"id": 2, "company_id": 1, "name": "B"}],
        [{"id": 3, "company_id": 1, "name": "C", "code": "HS/1 xb"}],
    ]
    for page in pages:
        responses.get(f"{API}/api/1/partners", json={"partners": page})
    assert client.get_partner_by_code("HS/1 x") is None
    assert [c.request.params["offset"] for c in responses.calls] == ["0", "2"]
    assert responses.calls[0].request.params["keyword"] == "HS/1 x"


@responses.activate
def test_uses_partner_codes_reads_the_company_setting(client):
    responses.get(f"{API}/api/1/companies/1", json={"company": {"id": 1, "use_partner_code": False}})
    assert client.uses_partner_codes() is False


@responses.activate
def test_other_404_is_not_found(client):
    responses.get(f"{API}/api/1/deals/9", json=error(404, "not found"), status=404)
    with pytest.raises(FreeeNotFound):
        client.get_deal(9)


@responses.activate
def test_iter_invoices_lists_the_whole_range_in_one_query_while_it_fits(client):
    seen: list[dict] = []

    def answer(request):
        query = {k: v[0] for k, v in parse_qs(urlsplit(request.url).query).items()}
        seen.append(query)
        rows = [dict(INVOICE, id=n) for n in range(1, 6)]
        offset, limit = int(query["offset"]), int(query["limit"])
        return 200, {}, json.dumps({"invoices": rows[offset : offset + limit]})

    responses.add_callback(responses.GET, f"{API}/iv/invoices", callback=answer)
    found = list(
        client.iter_invoices(start=date(2026, 1, 1), end=date(2026, 12, 31), page_size=2, partner_ids=[7, 8])
    )
    assert [(q["start_billing_date"], q["end_billing_date"], q["offset"]) for q in seen] == [
        ("2026-01-01", "2026-12-31", "0"),
        ("2026-01-01", "2026-12-31", "2"),
        ("2026-01-01", "2026-12-31", "4"),
    ]
    assert seen[0]["partner_ids"] == "7,8"
    assert [i.id for i in found] == [1, 2, 3, 4, 5]


@responses.activate
def test_iter_invoices_halves_a_range_past_the_offset_ceiling_and_yields_each_once(client, monkeypatch):
    """freee refuses offset + limit over 10,000: a range holding more is split by billing date."""
    monkeypatch.setattr("sdk.freee.client.MAX_LIST_OFFSET", 6)
    by_day = {date(2026, 1, d): [d * 10 + k for k in range(3)] for d in (1, 2, 3, 4)}  # 12 invoices
    seen: list[tuple[str, str, str]] = []

    def answer(request):
        query = {k: v[0] for k, v in parse_qs(urlsplit(request.url).query).items()}
        low, high = (
            date.fromisoformat(query["start_billing_date"]),
            date.fromisoformat(query["end_billing_date"]),
        )
        seen.append((query["start_billing_date"], query["end_billing_date"], query["offset"]))
        ids = [i for day, day_ids in sorted(by_day.items()) if low <= day <= high for i in day_ids]
        offset, limit = int(query["offset"]), int(query["limit"])
        return 200, {}, json.dumps({"invoices": [dict(INVOICE, id=i) for i in ids[offset : offset + limit]]})

    responses.add_callback(responses.GET, f"{API}/iv/invoices", callback=answer)
    found = [i.id for i in client.iter_invoices(start=date(2026, 1, 1), end=date(2026, 1, 4), page_size=3)]
    assert sorted(found) == sorted(i for ids in by_day.values() for i in ids)
    assert len(found) == len(set(found)) == 12
    assert seen[:2] == [("2026-01-01", "2026-01-04", "0"), ("2026-01-01", "2026-01-04", "3")]
    assert ("2026-01-01", "2026-01-02", "0") in seen and ("2026-01-03", "2026-01-04", "0") in seen


@responses.activate
def test_iter_invoices_refuses_one_day_past_the_ceiling(client, monkeypatch):
    monkeypatch.setattr("sdk.freee.client.MAX_LIST_OFFSET", 4)
    rows = [dict(INVOICE, id=n) for n in range(1, 10)]

    def answer(request):
        query = {k: v[0] for k, v in parse_qs(urlsplit(request.url).query).items()}
        offset, limit = int(query["offset"]), int(query["limit"])
        return 200, {}, json.dumps({"invoices": rows[offset : offset + limit]})

    responses.add_callback(responses.GET, f"{API}/iv/invoices", callback=answer)
    with pytest.raises(FreeeError, match="2026-01-05"):
        list(client.iter_invoices(start=date(2026, 1, 5), end=date(2026, 1, 5), page_size=2))


def test_list_refuses_offsets_freee_would_refuse(client):
    with pytest.raises(ValueError, match="10,000"):
        client.list_invoices(offset=9950, limit=100)


@responses.activate
def test_iter_deals_follows_total_count(client):
    deal = {
        "id": 1,
        "company_id": 1,
        "issue_date": "2026-11-20",
        "amount": 11000,
        "due_amount": 0,
        "status": "settled",
        "payments": [],
    }
    responses.get(f"{API}/api/1/deals", json={"deals": [deal, deal], "meta": {"total_count": 3}})
    responses.get(f"{API}/api/1/deals", json={"deals": [deal], "meta": {"total_count": 3}})
    assert len(list(client.iter_deals(page_size=2, status="settled"))) == 3


@responses.activate
def test_no_token_or_secret_reaches_the_logs(client, caplog):
    responses.post(
        TOKEN_URL,
        json={"access_token": "access-canary-2", "refresh_token": "refresh-canary-2", "expires_in": 21600},
    )
    responses.get(f"{API}/iv/invoices/101", json=error(401, "x"), status=401)
    responses.get(
        f"{API}/iv/invoices/101", json={"invoice": INVOICE}, headers={"X-Freee-Request-ID": "rid-9"}
    )
    caplog.set_level("DEBUG")
    client.get_invoice(101)
    formatter = get_logger().registered_formatter  # the JSON lines exactly as they are written
    text = "\n".join(formatter.format(record) for record in caplog.records)
    assert '"freee_request_id":"rid-9"' in text  # the request id is logged
    for secret in ("access-1", "refresh-1", "access-canary-2", "refresh-canary-2", "csecret-canary"):
        assert secret not in text


def test_authorization_url_and_settings_factory(tmp_path):
    from sdk.store.sqlite import SQLiteRateLimitStore, SQLiteTokenStore

    settings = load_settings(
        freee_client_id="cid",
        freee_client_secret="s",
        freee_company_id=3,
        freee_auth_base="https://auth.example",
    )
    client = FreeeClient.from_settings(
        settings,
        token_store=SQLiteTokenStore(tmp_path / "s"),
        rate_store=SQLiteRateLimitStore(tmp_path / "s"),
    )
    url, state = client.tokens.oauth.authorization_url()
    assert url.startswith("https://auth.example/public_api/authorize?client_id=cid&")
    assert f"state={state}" in url
    assert client.limiter.windows == ((30, 61.0), (1500, 3601.0))  # freee's limits plus the one-second margin
    from sdk.errors import SettingsError

    with pytest.raises(SettingsError, match="freee_client_secret"):
        FreeeClient.from_settings(
            load_settings(freee_client_id="c", freee_company_id=1),
            token_store=MemoryTokenStore(),
            rate_store=MemoryRateLimitStore(),
        )


@responses.activate
def test_a_caller_with_a_deadline_is_told_at_once_when_the_limit_has_no_room(client, clock):
    responses.get(f"{API}/iv/invoices/101", json={"invoice": INVOICE})
    for _ in range(30):
        client.get_invoice(101)
    hurried = client.with_deadline(3.0)
    with pytest.raises(FreeeRateLimited) as caught:
        hurried.get_invoice(101)
    assert caught.value.retry_after > 3.0
    assert len(responses.calls) == 30  # nothing sent
    assert clock.slept == []  # and nothing waited
    client.get_invoice(101)  # the patient client still waits for room
    assert len(responses.calls) == 31


# --- before_send: the invoice process renews its lease after every wait, right before the write leaves ---------


@responses.activate
def test_before_send_runs_after_the_429_back_off_right_before_each_send(client, clock):
    responses.post(
        f"{API}/iv/invoices", json=error(429, "too many"), status=429, headers={"Retry-After": "30"}
    )
    responses.post(f"{API}/iv/invoices", json={"invoice": INVOICE}, status=201)
    checks: list[tuple[float, int]] = []

    def renew() -> None:
        checks.append((sum(clock.slept), len(responses.calls)))

    assert client.create_invoice(_invoice_request(), before_send=renew).id == 101
    assert checks == [(0.0, 0), (30.0, 1)]  # once per send: the second after the back-off, before it went out


@responses.activate
def test_before_send_runs_after_the_rate_limiter_wait(client, clock):
    client.limiter = RateLimiter(MemoryRateLimitStore(), clock, [(1, 600.0)])
    client.limiter.acquire()
    responses.post(f"{API}/iv/invoices", json={"invoice": INVOICE}, status=201)
    waited: list[float] = []
    client.create_invoice(_invoice_request(), before_send=lambda: waited.append(sum(clock.slept)))
    assert waited and waited[0] >= 600


@responses.activate
def test_a_before_send_that_raises_sends_nothing(client):
    class Lost(Exception):
        pass

    def refuse() -> None:
        raise Lost

    with pytest.raises(Lost):
        client.create_invoice(_invoice_request(), before_send=refuse)
    with pytest.raises(Lost):
        client.create_partner(PartnerCreateRequest(company_id=1, name="株式会社サンプル"), before_send=refuse)
    assert len(responses.calls) == 0
