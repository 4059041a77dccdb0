"""The freee sandbox's rate limits and lock-out on the sandbox clock, injected faults (in-process and on
loopback), and its admin API. Assertions are on the sandbox's state."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest
import requests

from sandbox.freee import create_freee_sandbox
from sandbox.transport import serve
from sdk.clock import FakeClock
from tests.integration.freee_world import BASE, CLIENT, COMPANY, World


@pytest.fixture
def world() -> Iterator[World]:
    w = World()
    yield w
    w.http.close()


# ---------------------------------------------------------------------------------- rate limit, lockout


def test_the_31st_call_in_a_minute_gets_429_and_the_window_slides_on_the_clock():
    w = World(rate_limit_per_minute=30, rate_limit_per_hour=1500)
    for n in range(30):
        ok = w.get("/iv/invoices/templates")
        assert ok.status_code == 200
        assert ok.headers["X-RateLimit-Limit"] == "30"
        assert ok.headers["X-RateLimit-Remaining"] == str(29 - n)
    limited = w.get("/iv/invoices/templates")
    assert limited.status_code == 429
    assert limited.headers["X-RateLimit-Limit"] == "30"
    assert limited.headers["X-RateLimit-Remaining"] == "0"
    assert limited.headers["X-RateLimit-Reset"] == limited.headers["Retry-After"] == "60"
    assert limited.json()["status_code"] == 429
    w.clock.advance(59)
    assert w.get("/api/1/partners").headers["Retry-After"] == "1"
    w.clock.advance(1)
    assert w.get("/api/1/partners").status_code == 200
    assert w.sandbox.snapshot()["rate_limit"]["calls_last_hour"] == 31  # refused calls are not counted


def test_the_hourly_limit_has_its_own_window():
    w = World(rate_limit_per_minute=100, rate_limit_per_hour=5)
    for _ in range(5):
        assert w.get("/api/1/partners").status_code == 200
        w.clock.advance(120)
    limited = w.get("/api/1/partners")
    assert limited.status_code == 429
    assert limited.headers["X-RateLimit-Limit"] == "5"
    assert int(limited.headers["Retry-After"]) == 3600 - 5 * 120
    w.clock.advance(3600 - 5 * 120)
    assert w.get("/api/1/partners").status_code == 200


def test_consecutive_429s_lock_the_api_with_403_until_the_lockout_ends():
    w = World(rate_limit_per_minute=2, rate_limit_per_hour=1500, lockout_after_429s=3, lockout_seconds=600)
    assert [w.get("/api/1/partners").status_code for _ in range(5)] == [200, 200, 429, 429, 429]
    locked = w.get("/iv/invoices/templates")
    assert locked.status_code == 403
    assert locked.headers["Retry-After"] == "600"
    w.clock.advance(300)
    assert w.get("/iv/invoices/templates").status_code == 403
    w.clock.advance(300)
    assert w.get("/iv/invoices/templates").status_code == 200
    assert w.sandbox.snapshot()["rate_limit"]["locked_for_seconds"] == 0


def test_a_success_between_429s_resets_the_lockout_count():
    w = World(rate_limit_per_minute=1, rate_limit_per_hour=1500, lockout_after_429s=2, lockout_seconds=600)
    assert w.get("/api/1/partners").status_code == 200
    assert w.get("/api/1/partners").status_code == 429
    w.clock.advance(60)
    assert w.get("/api/1/partners").status_code == 200
    assert w.get("/api/1/partners").status_code == 429
    w.clock.advance(60)
    assert w.get("/api/1/partners").status_code == 200


def test_admin_and_token_calls_are_not_rate_limited():
    w = World(rate_limit_per_minute=1, rate_limit_per_hour=1)
    tokens = w.sandbox.issue_tokens()
    for _ in range(3):
        assert w.http.get(f"{BASE}/_sandbox/state").status_code == 200
    assert w.token(grant_type="refresh_token", refresh_token=tokens["refresh_token"]).status_code == 200
    assert w.get("/api/1/partners").status_code == 200
    assert w.get("/api/1/partners").status_code == 429


# ---------------------------------------------------------------------------------------------- faults


def test_a_reset_before_processing_stores_nothing(world):
    partner = world.partner()
    world.sandbox.faults.script("reset", path_prefix="/iv/invoices", methods={"POST"})
    with pytest.raises(requests.ConnectionError):
        world.post("/iv/invoices", world.invoice_body(partner["id"]))
    assert world.sandbox.invoices() == []
    assert world.post("/iv/invoices", world.invoice_body(partner["id"])).status_code == 201


def test_a_timeout_after_commit_loses_the_answer_but_not_the_invoice(world):
    partner = world.partner()
    world.sandbox.faults.script("timeout_after_commit", path_prefix="/iv/invoices", methods={"POST"})
    with pytest.raises(requests.ReadTimeout):
        world.post("/iv/invoices", world.invoice_body(partner["id"], subject="【deal-1】"))
    assert [i["subject"] for i in world.sandbox.invoices()] == ["【deal-1】"]
    assert world.sandbox.deals()[0]["ref_number"] == "INV-0000000001"


def test_injected_429_and_5xx_answer_in_freees_shape(world):
    world.sandbox.faults.script("429", "5xx", path_prefix="/iv/invoices/templates")
    limited = world.get("/iv/invoices/templates")
    assert (limited.status_code, limited.headers["Retry-After"]) == (429, "1")
    failed = world.get("/iv/invoices/templates")
    assert failed.status_code == 503
    assert failed.json()["errors"][0]["messages"]
    assert world.get("/iv/invoices/templates").status_code == 200
    assert [kind for _, _, kind in world.sandbox.faults.history] == ["429", "5xx"]


def test_served_on_loopback_it_answers_real_http_and_drops_on_a_reset():
    clock = FakeClock()
    sandbox = create_freee_sandbox(clock=clock)
    token = sandbox.issue_tokens()["access_token"]
    with serve(sandbox.app) as served, requests.Session() as http:
        http.headers["Authorization"] = f"Bearer {token}"
        response = http.get(f"{served.url}/iv/invoices/templates", params={"company_id": COMPANY}, timeout=5)
        assert response.status_code == 200
        assert response.json()["templates"][0]["id"] == 1
        code = http.post(f"{served.url}/_sandbox/oauth/codes", timeout=5).json()["code"]
        exchanged = http.post(
            f"{served.url}/public_api/token",
            data={"grant_type": "authorization_code", "code": code, **CLIENT},
            timeout=5,
        )
        assert exchanged.status_code == 200
        sandbox.faults.script("reset", path_prefix="/api/1/partners")
        with pytest.raises(requests.ConnectionError):
            http.post(
                f"{served.url}/api/1/partners",
                json={"company_id": COMPANY, "name": "A", "code": "A"},
                timeout=5,
            )
    assert sandbox.partners() == []
    assert sandbox.token_calls == {"authorization_code": 1}


# -------------------------------------------------------------------------------------------- admin API


def test_admin_seed_state_and_reset(world):
    seeded = world.post(
        "/_sandbox/seed", {"partners": [{"name": "既存会社", "code": "HS-9"}, {"name": "コードなし"}]}
    )
    assert seeded.status_code == 201
    assert [p["code"] for p in seeded.json()["partners"]] == ["HS-9", None]
    world.invoice(seeded.json()["partners"][0]["id"])
    state = world.http.get(f"{BASE}/_sandbox/state").json()
    assert (len(state["partners"]), len(state["invoices"]), len(state["deals"])) == (2, 1, 1)
    assert state["api_calls"] == world.sandbox.api_calls == 1
    assert world.http.post(f"{BASE}/_sandbox/reset").status_code == 204
    assert world.sandbox.snapshot()["partners"] == []
    assert world.get("/iv/invoices/templates").status_code == 401  # tokens are gone too
    fresh = world.http.post(f"{BASE}/_sandbox/tokens").json()
    assert (
        world.session()
        .get(
            f"{BASE}/api/1/partners",
            params={"company_id": COMPANY},
            headers={"Authorization": f"Bearer {fresh['access_token']}"},
        )
        .status_code
        == 200
    )


def test_admin_issued_codes_work_at_the_token_endpoint(world):
    code = world.http.post(
        f"{BASE}/_sandbox/oauth/codes", json={"redirect_uri": "http://localhost/cb"}
    ).json()["code"]
    assert (
        world.token(
            grant_type="authorization_code", code=code, redirect_uri="http://localhost/cb"
        ).status_code
        == 200
    )


def test_every_response_has_its_own_request_id(world):
    ids = {world.get("/iv/invoices/templates").headers["X-Freee-Request-ID"] for _ in range(5)}
    ids.add(world.session().get(f"{BASE}/iv/invoices").headers["X-Freee-Request-ID"])
    ids.add(world.http.get(f"{BASE}/_sandbox/state").headers["X-Freee-Request-ID"])
    assert len(ids) == 7


def test_concurrent_creates_get_distinct_numbers(world):
    partner = world.partner()
    numbers: list[str] = []
    lock = threading.Lock()

    def create() -> None:
        session = world.session()
        session.headers.update(world.http.headers)
        for _ in range(5):
            response = session.post(f"{BASE}/iv/invoices", json=world.invoice_body(partner["id"]))
            with lock:
                numbers.append(response.json()["invoice"]["invoice_number"])

    threads = [threading.Thread(target=create) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert len(set(numbers)) == len(numbers) == 40
    assert len(world.sandbox.deals()) == 40
