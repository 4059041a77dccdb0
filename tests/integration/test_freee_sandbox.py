"""The freee sandbox behaves like freee: OAuth rotation, auth and partners (invoices and deals in
``test_freee_sandbox_invoices``; rate limits, faults and the admin API in ``test_freee_sandbox_limits``).
Assertions are on the sandbox's state."""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest

from tests.consent import answer_consent, code_on_page
from tests.integration.freee_world import BASE, CLIENT, COMPANY, World, messages


@pytest.fixture
def world() -> Iterator[World]:
    w = World()
    yield w
    w.http.close()


# ----------------------------------------------------------------------------------------------- OAuth


def test_a_code_from_the_admin_api_exchanges_once_for_a_token_pair(world):
    code = world.sandbox.issue_code()
    first = world.token(grant_type="authorization_code", code=code, redirect_uri="urn:ietf:wg:oauth:2.0:oob")
    assert first.status_code == 200
    body = first.json()
    assert body["token_type"] == "bearer"
    assert body["expires_in"] == 21600
    assert body["scope"] == "read write"
    assert body["company_id"] == COMPANY
    assert body["created_at"] == int(world.clock.now().timestamp())
    reused = world.token(grant_type="authorization_code", code=code)
    assert (reused.status_code, reused.json()["error"]) == (401, "invalid_grant")
    assert world.sandbox.token_calls == {"authorization_code": 2}


def authorize_url(redirect: str, **extra: str) -> str:
    query = urlencode(
        {"client_id": CLIENT["client_id"], "redirect_uri": redirect, "response_type": "code", **extra}
    )
    return f"{BASE}/public_api/authorize?{query}"


def test_consent_redirects_with_code_and_state_and_the_code_is_bound_to_the_redirect_uri(world):
    redirect = "http://127.0.0.1:8765/callback"
    page = world.http.get(authorize_url(redirect, state="xyz"), allow_redirects=False)
    assert page.status_code == 200 and "許可する" in page.text  # the consent page, no code yet
    assert world.sandbox.state.codes == {}
    response = answer_consent(authorize_url(redirect, state="xyz"), session=world.http)
    assert response.status_code == 302
    location = urlsplit(response.headers["Location"])
    assert f"{location.scheme}://{location.netloc}{location.path}" == redirect
    query = parse_qs(location.query)
    assert query["state"] == ["xyz"]
    elsewhere = world.token(
        grant_type="authorization_code", code=query["code"][0], redirect_uri="http://evil/cb"
    )
    assert elsewhere.json()["error"] == "invalid_grant"
    ok = world.token(grant_type="authorization_code", code=query["code"][0], redirect_uri=redirect)
    assert ok.status_code == 200


def test_the_out_of_band_redirect_shows_the_code_on_a_page_to_copy(world):
    oob = "urn:ietf:wg:oauth:2.0:oob"
    page = answer_consent(authorize_url(oob, state="s"), session=world.http)
    assert page.status_code == 200 and "Location" not in page.headers
    code = code_on_page(page)
    assert world.token(grant_type="authorization_code", code=code, redirect_uri=oob).status_code == 200


def test_deny_on_the_consent_page_redirects_with_access_denied(world):
    denied = answer_consent(authorize_url("http://127.0.0.1:9/cb", state="s"), "deny", session=world.http)
    query = parse_qs(urlsplit(denied.headers["Location"]).query)
    assert query["error"] == ["access_denied"] and query["state"] == ["s"] and "code" not in query
    page = answer_consent(authorize_url("urn:ietf:wg:oauth:2.0:oob"), "deny", session=world.http)
    assert "認可されませんでした" in page.text and '<code id="code">' not in page.text
    assert world.sandbox.state.codes == {}


def test_the_consent_page_checks_the_request(world):
    wrong = world.http.get(authorize_url("http://127.0.0.1:9/cb").replace(CLIENT["client_id"], "other"))
    assert (wrong.status_code, wrong.json()["error"]) == (400, "invalid_client")
    no_redirect = world.http.get(f"{BASE}/public_api/authorize", params={"client_id": CLIENT["client_id"]})
    assert (no_redirect.status_code, no_redirect.json()["error"]) == (400, "invalid_request")


def test_a_refresh_token_is_single_use_and_the_old_access_token_lives_until_it_expires(world):
    old = world.sandbox.issue_tokens()
    rotated = world.token(grant_type="refresh_token", refresh_token=old["refresh_token"])
    assert rotated.status_code == 200
    new = rotated.json()
    assert new["refresh_token"] != old["refresh_token"]

    again = world.token(grant_type="refresh_token", refresh_token=old["refresh_token"])
    assert again.status_code == 401
    assert again.json()["error"] == "invalid_grant"
    assert again.json()["error_description"]
    assert world.token(grant_type="refresh_token", refresh_token=new["refresh_token"]).status_code == 200
    assert world.sandbox.token_calls == {"refresh_token": 3}

    for token in (old["access_token"], new["access_token"]):
        reply = world.session().get(
            f"{BASE}/iv/invoices/templates",
            params={"company_id": COMPANY},
            headers={"Authorization": f"Bearer {token}"},
        )
        assert reply.status_code == 200
    world.clock.advance(21600)
    stale = world.session().get(
        f"{BASE}/iv/invoices/templates",
        params={"company_id": COMPANY},
        headers={"Authorization": f"Bearer {old['access_token']}"},
    )
    assert stale.status_code == 401


def test_the_token_endpoint_checks_the_client_and_the_grant_type(world):
    tokens = world.sandbox.issue_tokens()
    wrong = world.http.post(
        f"{BASE}/public_api/token",
        data={
            "grant_type": "refresh_token",
            "refresh_token": tokens["refresh_token"],
            "client_id": CLIENT["client_id"],
            "client_secret": "nope",
        },
    )
    assert (wrong.status_code, wrong.json()["error"]) == (401, "invalid_client")
    basic = world.http.post(
        f"{BASE}/public_api/token",
        data={"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]},
        auth=(CLIENT["client_id"], CLIENT["client_secret"]),
    )
    assert basic.status_code == 200  # the refused call above did not use the refresh token up
    unsupported = world.token(grant_type="password")
    assert (unsupported.status_code, unsupported.json()["error"]) == (400, "unsupported_grant_type")
    assert world.sandbox.token_calls == {"refresh_token": 2, "password": 1}


# ------------------------------------------------------------------------------------------------ auth


def test_calls_without_or_with_an_unknown_token_get_401(world):
    anonymous = world.session()
    no_token = anonymous.get(f"{BASE}/iv/invoices", params={"company_id": COMPANY})
    assert no_token.status_code == 401
    assert no_token.json()["code"] == "invalid_access_token"
    forged = anonymous.get(
        f"{BASE}/api/1/deals", params={"company_id": COMPANY}, headers={"Authorization": "Bearer forged"}
    )
    assert forged.status_code == 401
    assert world.sandbox.snapshot()["rate_limit"]["calls_last_minute"] == 0  # refused calls are not counted


def test_an_access_token_expires_on_the_sandbox_clock(world):
    assert world.get("/iv/invoices/templates").status_code == 200
    world.clock.advance(21599)
    assert world.get("/iv/invoices/templates").status_code == 200
    world.clock.advance(1)
    expired = world.get("/iv/invoices/templates")
    assert expired.status_code == 401
    assert expired.json()["code"] == "expired_access_token"


def test_the_admin_api_can_expire_every_access_token(world):
    response = world.http.post(f"{BASE}/_sandbox/tokens/expire")
    assert response.json() == {"expired_access_tokens": 1}
    assert world.get("/api/1/partners").status_code == 401


# -------------------------------------------------------------------------------------------- partners


def test_partner_names_and_codes_are_unique_per_company(world):
    world.partner("株式会社サンプル商事", "HS-1")
    same_name = world.post(
        "/api/1/partners", {"company_id": COMPANY, "name": "株式会社サンプル商事", "code": "HS-2"}
    )
    assert same_name.status_code == 400
    assert "既に使用されています" in messages(same_name)[0]
    same_code = world.post("/api/1/partners", {"company_id": COMPANY, "name": "別会社", "code": "HS-1"})
    assert same_code.status_code == 400
    no_code = world.post("/api/1/partners", {"company_id": COMPANY, "name": "コードなし"})
    assert no_code.status_code == 400
    assert [p["name"] for p in world.sandbox.partners()] == ["株式会社サンプル商事"]


def test_a_company_without_partner_codes_refuses_codes():
    w = World(use_partner_codes=False)
    refused = w.post("/api/1/partners", {"company_id": COMPANY, "name": "A", "code": "X"})
    assert refused.status_code == 400
    created = w.partner("A", code=None)
    assert created["code"] is None
    assert (
        w.http.put(
            f"{BASE}/api/1/partners/upsert_by_code",
            json={"company_id": COMPANY, "code": "X", "partner": {"name": "B"}},
        ).status_code
        == 400
    )


def test_partner_keyword_search_is_a_partial_and_match_over_names_and_codes(world):
    a = world.partner("株式会社サンプル商事", "HS-1", shortcut1="SAMPLE")
    b = world.partner("サンプル工業", "HS-2")
    world.partner("有限会社さくら", "HS-3")
    ids = lambda r: [p["id"] for p in r.json()["partners"]]  # noqa: E731
    assert ids(world.get("/api/1/partners", keyword="サンプル")) == [a["id"], b["id"]]
    assert ids(world.get("/api/1/partners", keyword="サンプル\u3000商事")) == [a["id"]]
    assert ids(world.get("/api/1/partners", keyword="SAMPLE")) == [a["id"]]
    assert ids(world.get("/api/1/partners", keyword="HS-2")) == [b["id"]]
    assert ids(world.get("/api/1/partners", offset=1, limit=1)) == [b["id"]]


def test_upsert_by_code_creates_then_updates(world):
    body = {"company_id": COMPANY, "code": "HS-7", "partner": {"name": "合同会社アップサート"}}
    created = world.http.put(f"{BASE}/api/1/partners/upsert_by_code", json=body)
    body["partner"] = {"name": "合同会社アップサート", "phone": "03-0000-0000"}
    updated = world.http.put(f"{BASE}/api/1/partners/upsert_by_code", json=body)
    assert (created.status_code, updated.status_code) == (201, 200)
    assert [(p["code"], p["phone"]) for p in world.sandbox.partners()] == [("HS-7", "03-0000-0000")]
