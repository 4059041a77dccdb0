"""The freee client's calls, with ``responses``: retries, errors, paging, and what a write must never do."""

from __future__ import annotations

import json
from datetime import date
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
import responses
from responses import matchers

from sdk.freee.client import FreeeClient
from sdk.freee.errors import (
    FreeeAuthError,
    FreeeError,
    FreeeNotFound,
    FreeeOutcomeUnknown,
    FreeeRateLimited,
    FreeeServerError,
    FreeeUnavailable,
    FreeeValidationError,
)
from sdk.freee.ratelimit import MemoryRateLimitStore, RateLimiter
from sdk.freee.tokens import MemoryTokenStore
from sdk.log import get_logger
from sdk.models.freee import PartnerCreateRequest
from sdk.settings import load_settings
from tests.unit.freee_client.world import (
    API,
    INVOICE,
    TOKEN_URL,
    _invoice_request,
    error,
)


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
