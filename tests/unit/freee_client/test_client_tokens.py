"""The freee client's tokens, with ``responses``: refresh, keeping connected, the token row's states."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
import requests
import responses
from responses import matchers

from sdk.freee.client import FreeeClient
from sdk.freee.errors import (
    FreeeAuthError,
    FreeeDisconnected,
    FreeeServerError,
    FreeeUnavailable,
)
from sdk.freee.oauth import OAuthClient, TokenManager
from sdk.freee.ratelimit import MemoryRateLimitStore, RateLimiter
from sdk.freee.tokens import MemoryTokenStore, TokenSet
from tests.unit.freee_client.world import (
    API,
    AUTH,
    INVOICE,
    TOKEN_URL,
    _grant,
    _token_calls,
    error,
)


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
