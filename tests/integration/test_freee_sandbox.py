"""The freee sandbox behaves like freee: OAuth rotation, auth, partners, invoice arithmetic, lists, cancel, deals and
payments, rate limits and the lock-out, injected faults, and the admin API. Assertions are on the sandbox's state."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import date
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from sandbox.freee import FreeeSandbox, FreeeSandboxError, create_freee_sandbox
from sandbox.transport import WSGIAdapter, serve
from sdk.clock import FakeClock

BASE = "http://freee.sandbox"
COMPANY = 1
CLIENT = {"client_id": "sandbox-client-id", "client_secret": "sandbox-client-secret"}
TODAY = "2026-11-25"


class World:
    """A sandbox on a fake clock, and a session mounted on it that holds a valid access token."""

    def __init__(self, **options: Any) -> None:
        self.clock = FakeClock()
        options.setdefault("rate_limit_per_minute", 10_000)
        options.setdefault("rate_limit_per_hour", 100_000)
        self.sandbox: FreeeSandbox = create_freee_sandbox(clock=self.clock, **options)
        self.http = self.session()
        self.http.headers["Authorization"] = f"Bearer {self.sandbox.issue_tokens()['access_token']}"

    def session(self) -> requests.Session:
        session = requests.Session()
        session.mount(BASE, WSGIAdapter(self.sandbox.app))
        return session

    def get(self, path: str, **params: Any) -> requests.Response:
        return self.http.get(f"{BASE}{path}", params={"company_id": COMPANY, **params})

    def post(self, path: str, body: Any) -> requests.Response:
        return self.http.post(f"{BASE}{path}", json=body)

    def token(self, **form: str) -> requests.Response:
        return self.http.post(f"{BASE}/public_api/token", data={**CLIENT, **form})

    def partner(
        self, name: str = "株式会社サンプル商事", code: str | None = "HS-1", **extra: Any
    ) -> dict[str, Any]:
        body = {"company_id": COMPANY, "name": name, **({"code": code} if code else {}), **extra}
        response = self.post("/api/1/partners", body)
        assert response.status_code == 201, response.text
        return response.json()["partner"]

    def invoice_body(
        self, partner_id: int, lines: list[dict[str, Any]] | None = None, **extra: Any
    ) -> dict[str, Any]:
        return {
            "company_id": COMPANY,
            "billing_date": TODAY,
            "payment_date": "2026-12-31",
            "tax_entry_method": "out",
            "tax_fraction": "omit",
            "withholding_tax_entry_method": "out",
            "partner_id": partner_id,
            "partner_title": "御中",
            "lines": lines or [item("導入支援", 1, "100000", 10)],
            **extra,
        }

    def invoice(
        self, partner_id: int, lines: list[dict[str, Any]] | None = None, **extra: Any
    ) -> dict[str, Any]:
        response = self.post("/iv/invoices", self.invoice_body(partner_id, lines, **extra))
        assert response.status_code == 201, response.text
        return response.json()["invoice"]


def item(description: str, quantity: Any, unit_price: str, tax_rate: int, **extra: Any) -> dict[str, Any]:
    return {
        "type": "item",
        "description": description,
        "quantity": quantity,
        "unit_price": unit_price,
        "tax_rate": tax_rate,
        **extra,
    }


def messages(response: requests.Response) -> list[str]:
    return [m for error in response.json()["errors"] for m in error["messages"]]


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


def test_authorize_redirects_with_code_and_state_and_the_code_is_bound_to_the_redirect_uri(world):
    redirect = "http://127.0.0.1:8765/callback"
    response = world.http.get(
        f"{BASE}/public_api/authorize",
        params={
            "client_id": CLIENT["client_id"],
            "redirect_uri": redirect,
            "response_type": "code",
            "state": "xyz",
        },
        allow_redirects=False,
    )
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


# -------------------------------------------------------------------------------------------- invoices


def test_invoices_are_numbered_in_order_unless_a_number_is_given(world):
    partner = world.partner()
    numbers = [world.invoice(partner["id"])["invoice_number"] for _ in range(2)]
    given = world.invoice(partner["id"], invoice_number="HS-DEAL-42")["invoice_number"]
    assert [*numbers, given] == ["INV-0000000001", "INV-0000000002", "HS-DEAL-42"]
    assert world.sandbox.invoices()[0]["report_url"] == (
        "https://invoice.secure.freee.co.jp/reports/invoices/1"
    )


def test_mixed_rates_with_discounts_are_taxed_once_per_rate(world):
    partner = world.partner()
    invoice = world.invoice(
        partner["id"],
        [
            item("導入支援", 1, "100000", 10),
            item("保守", 3, "3333.3", 10),  # 9999.9 → 9999 (omit)
            item("値引き", 1, "-5000", 10),
            item("弁当", 3, "1234.5", 8, reduced_tax_rate=True),  # 3703.5 → 3703
            item("弁当値引き", 1, "-703", 8, reduced_tax_rate=True),
            item("旧税率", 1, "1001", 8),
            item("立替金", 1, "3000", 0),
            {"type": "text", "description": "いつもありがとうございます。"},
        ],
    )
    # 10 %: 100000 + 9999 - 5000 = 104999 → tax 10499.9 → 10499; 8 % reduced: 3000 → 240; 8 %: 1001 → 80.08 → 80
    assert (
        invoice["amount_excluding_tax_10"],
        invoice["amount_tax_10"],
        invoice["amount_including_tax_10"],
    ) == (
        104999,
        10499,
        115498,
    )
    assert (invoice["amount_excluding_tax_8_reduced"], invoice["amount_tax_8_reduced"]) == (3000, 240)
    assert (invoice["amount_excluding_tax_8"], invoice["amount_tax_8"]) == (1001, 80)
    assert (invoice["amount_excluding_tax_0"], invoice["amount_tax_0"]) == (3000, 0)
    assert invoice["amount_excluding_tax"] == 104999 + 3000 + 1001 + 3000
    assert invoice["amount_tax"] == 10499 + 240 + 80
    assert invoice["amount_including_tax"] == invoice["total_amount"] == 112000 + 10819
    assert [line["amount_excluding_tax"] for line in invoice["lines"]] == [
        100000,
        9999,
        -5000,
        3703,
        -703,
        1001,
        3000,
        None,
    ]
    assert invoice["lines"][-1]["type"] == "text"
    deal = world.sandbox.deal(invoice["deal_id"])
    assert (deal["amount"], deal["due_amount"], deal["details"][0]["vat"]) == (122819, 122819, 10819)


@pytest.mark.parametrize(
    ("line_fraction", "tax_fraction", "line_amount", "tax"),
    [("omit", "omit", 2701, 216), ("round", "round", 2701, 216), ("round_up", "round_up", 2702, 217)],
)
def test_rounding_modes_apply_to_lines_and_to_tax(world, line_fraction, tax_fraction, line_amount, tax):
    partner = world.partner()
    invoice = world.invoice(
        partner["id"],
        [item("量り売り", 2.5, "1080.5", 8)],  # 2701.25 yen; 8 % of 2701 = 216.08, of 2702 = 216.16
        line_amount_fraction=line_fraction,
        tax_fraction=tax_fraction,
    )
    assert (invoice["amount_excluding_tax"], invoice["amount_tax"]) == (line_amount, tax)


def test_tax_inclusive_entry_takes_the_tax_out_of_each_rates_total(world):
    partner = world.partner()
    invoice = world.invoice(
        partner["id"],
        [
            item("月額", 1, "11000", 10),
            item("追加", 1, "1005", 10),
            item("菓子", 1, "1080", 8, reduced_tax_rate=True),
        ],
        tax_entry_method="in",
        tax_fraction="round_up",
    )
    # 10 %: 12005 × 10/110 = 1091.36 → 1092 (round_up); 8 % reduced: 1080 × 8/108 = 80
    assert (
        invoice["amount_including_tax_10"],
        invoice["amount_tax_10"],
        invoice["amount_excluding_tax_10"],
    ) == (
        12005,
        1092,
        10913,
    )
    assert (invoice["amount_tax_8_reduced"], invoice["amount_excluding_tax_8_reduced"]) == (80, 1000)
    assert invoice["amount_including_tax"] == invoice["total_amount"] == 13085
    assert invoice["amount_tax"] == 1172


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"partner_id": 999}, "取引先"),
        ({"tax_entry_method": "both"}, "tax_entry_method"),
        ({"billing_date": "2026-02-30"}, "billing_date"),
        ({"lines": []}, "lines"),
        ({"lines": [item("x", "1", "100", 10)]}, "quantity"),
        ({"lines": [item("x", 1, "1.2345", 10)]}, "unit_price"),
        ({"lines": [item("x", 1, "100", 5)]}, "tax_rate"),
        ({"lines": [item("x", 1, "100", 10, reduced_tax_rate=True)]}, "reduced_tax_rate"),
        ({"lines": [item("x", 1.0001, "100", 10)]}, "quantity"),
        ({"partner_title": "殿"}, "partner_title"),
        ({"company_id": 2}, "事業所"),
        ({"template_id": 99}, "テンプレート"),
    ],
)
def test_an_invalid_invoice_is_refused_with_freees_messages_and_nothing_is_stored(world, change, expected):
    partner = world.partner()
    response = world.post("/iv/invoices", world.invoice_body(partner["id"]) | change)
    assert response.status_code == 400
    assert response.json()["errors"][0]["type"] == "validation"
    assert any(expected in m for m in messages(response)), messages(response)
    assert world.sandbox.invoices() == []


@pytest.mark.parametrize(
    "raw",
    [b"", b"{", b"[1, 2]", b'"text"', b'{"company_id": NaN}', b"\xff\xfe", b"[" * 5000],
)
def test_malformed_bodies_are_a_400_never_a_500(world, raw):
    response = world.http.post(f"{BASE}/iv/invoices", data=raw, headers={"Content-Type": "application/json"})
    assert response.status_code == 400
    assert response.json()["status_code"] == 400


def test_missing_required_fields_are_all_reported_at_once(world):
    response = world.post("/iv/invoices", {"company_id": COMPANY})
    text = " ".join(messages(response))
    for name in (
        "billing_date",
        "tax_entry_method",
        "tax_fraction",
        "withholding_tax_entry_method",
        "partner_title",
        "lines",
    ):
        assert name in text


def test_list_filters_and_paging(world):
    a, b, c, d = (world.partner(f"会社{n}", f"HS-{n}") for n in range(4))
    for day in range(1, 26):
        world.invoice(
            [a, b][day % 2]["id"],
            billing_date=f"2026-10-{day:02d}",
            payment_date=f"2026-11-{day:02d}",
            subject=f"案件{day} 【deal-{day}】",
        )
    other = world.invoice(c["id"], billing_date="2026-09-30", subject="別件")
    ids = lambda r: [i["id"] for i in r.json()["invoices"]]  # noqa: E731

    first = world.get("/iv/invoices")
    assert len(ids(first)) == 20  # default limit
    assert ids(first) == sorted(ids(first), reverse=True)
    rest = world.get("/iv/invoices", offset=20)
    assert len(ids(rest)) == 6
    assert set(ids(first)) | set(ids(rest)) == {i["id"] for i in world.sandbox.invoices()}

    october = world.get(
        "/iv/invoices", start_billing_date="2026-10-10", end_billing_date="2026-10-19", limit=100
    )
    assert len(ids(october)) == 10
    due = world.get("/iv/invoices", start_payment_date="2026-11-25", end_payment_date="2026-11-30")
    assert len(ids(due)) == 1
    assert ids(world.get("/iv/invoices", subject="【deal-7】")) == [7]
    assert ids(world.get("/iv/invoices", invoice_number=other["invoice_number"])) == [other["id"]]
    assert len(ids(world.get("/iv/invoices", partner_ids=f"{a['id']},{c['id']}", limit=100))) == 13
    assert ids(world.get("/iv/invoices", partner_ids=str(d["id"]))) == []

    assert world.get("/iv/invoices", partner_ids="1,2,3,4").status_code == 400
    assert world.get("/iv/invoices", partner_ids="1, 2").status_code == 400
    assert world.get("/iv/invoices", limit=101).status_code == 400
    assert world.get("/iv/invoices", limit=0).status_code == 400
    assert world.get("/iv/invoices", offset=9901, limit=100).status_code == 400
    assert world.get("/iv/invoices", offset=9900, limit=100).status_code == 200
    assert world.get("/iv/invoices", payment_status="paid").status_code == 400
    assert world.get("/iv/invoices", start_billing_date="2026/10/01").status_code == 400

    world.sandbox.pay(other["id"], int(other["total_amount"]), date(2026, 11, 30))
    assert ids(world.get("/iv/invoices", payment_status="settled")) == [other["id"]]
    world.http.put(f"{BASE}/iv/invoices/1/cancel", json={"company_id": COMPANY})
    assert ids(world.get("/iv/invoices", cancel_status="canceled")) == [1]


def test_cancel_removes_the_deal_and_blocks_payments(world):
    partner = world.partner()
    invoice = world.invoice(partner["id"])
    response = world.http.put(f"{BASE}/iv/invoices/{invoice['id']}/cancel", json={"company_id": COMPANY})
    assert response.json()["invoice"] == {"id": invoice["id"], "cancel_status": "canceled"}
    stored = world.sandbox.invoice(invoice["id"])
    assert (stored["cancel_status"], stored["deal_status"], stored["deal_id"]) == (
        "canceled",
        "unregistered",
        None,
    )
    assert world.get(f"/api/1/deals/{invoice['deal_id']}").status_code == 404
    assert world.sandbox.deals() == []
    with pytest.raises(FreeeSandboxError) as refused:
        world.sandbox.pay(invoice["id"], 1, date(2026, 12, 1))
    assert refused.value.status == 400
    assert (
        world.http.put(f"{BASE}/iv/invoices/{invoice['id']}/cancel", json={"company_id": COMPANY}).status_code
        == 400
    )


def test_an_invoice_with_payments_cannot_be_canceled(world):
    partner = world.partner()
    invoice = world.invoice(partner["id"])
    world.sandbox.pay(invoice["id"], 1000, date(2026, 12, 1))
    response = world.http.put(f"{BASE}/iv/invoices/{invoice['id']}/cancel", json={"company_id": COMPANY})
    assert response.status_code == 400
    assert world.sandbox.invoice(invoice["id"])["cancel_status"] == "uncanceled"


# ------------------------------------------------------------------------------------ deals and payments


def test_a_partial_then_a_full_payment_settle_the_deal_and_the_invoice(world):
    partner = world.partner()
    invoice = world.invoice(partner["id"])  # 110,000 yen
    deal = world.sandbox.deal(invoice["deal_id"])
    assert (deal["type"], deal["issue_date"], deal["due_date"], deal["ref_number"]) == (
        "income",
        TODAY,
        "2026-12-31",
        invoice["invoice_number"],
    )
    partial = world.post(
        f"/_sandbox/invoices/{invoice['id']}/payments", {"amount": 40000, "date": "2026-12-10"}
    )
    assert partial.status_code == 201
    shown = world.get(f"/api/1/deals/{invoice['deal_id']}").json()["deal"]
    assert (shown["amount"], shown["due_amount"], shown["status"]) == (110000, 70000, "unsettled")
    assert world.sandbox.invoice(invoice["id"])["payment_status"] == "unsettled"

    over = world.post(f"/_sandbox/invoices/{invoice['id']}/payments", {"amount": 70001, "date": "2026-12-20"})
    assert over.status_code == 400
    assert world.sandbox.deal(invoice["deal_id"])["due_amount"] == 70000

    world.sandbox.pay(invoice["id"], 70000, date(2026, 12, 20))
    settled = world.sandbox.deal(invoice["deal_id"])
    assert (settled["due_amount"], settled["status"]) == (0, "settled")
    assert [(p["date"], p["amount"]) for p in settled["payments"]] == [
        ("2026-12-10", 40000),
        ("2026-12-20", 70000),
    ]
    assert world.get(f"/iv/invoices/{invoice['id']}").json()["invoice"]["payment_status"] == "settled"
    listed = world.get("/api/1/deals", status="settled", partner_id=partner["id"]).json()
    assert (listed["meta"]["total_count"], listed["deals"][0]["id"]) == (1, invoice["deal_id"])


def test_without_auto_registration_the_deal_waits_for_register():
    w = World(auto_register_deals=False)
    partner = w.partner()
    invoice = w.invoice(partner["id"])
    assert (invoice["deal_status"], invoice["deal_id"]) == ("unregistered", None)
    assert w.get("/api/1/deals").json()["meta"]["total_count"] == 0
    registered = w.post(f"/_sandbox/invoices/{invoice['id']}/register", {})
    assert registered.status_code == 200
    deal_id = registered.json()["invoice"]["deal_id"]
    assert w.get(f"/iv/invoices/{invoice['id']}").json()["invoice"]["deal_status"] == "registered"
    assert (
        w.get("/api/1/deals", start_due_date="2026-12-31", end_due_date="2026-12-31").json()["deals"][0]["id"]
        == deal_id
    )

    second = w.invoice(partner["id"])
    w.sandbox.pay(second["id"], 10000, date(2026, 12, 1))  # paying registers the deal first
    assert w.sandbox.invoice(second["id"])["deal_status"] == "registered"
    assert len(w.sandbox.deals()) == 2


def test_deal_list_filters_and_paging(world):
    partner = world.partner()
    other = world.partner("別会社", "HS-2")
    for n in range(5):
        world.invoice(partner["id"], billing_date=f"2026-11-{n + 1:02d}")
    world.invoice(other["id"])
    page = world.get("/api/1/deals", partner_id=partner["id"], limit=2, offset=2).json()
    assert (page["meta"]["total_count"], len(page["deals"])) == (5, 2)
    assert (
        world.get("/api/1/deals", start_issue_date="2026-11-04", end_issue_date="2026-11-05").json()["meta"][
            "total_count"
        ]
        == 2
    )
    assert world.get("/api/1/deals", partner_code="HS-2").json()["meta"]["total_count"] == 1
    assert world.get("/api/1/deals", partner_code="HS-2", partner_id=other["id"]).status_code == 400
    assert world.http.get(f"{BASE}/api/1/deals").status_code == 400  # company_id is required


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
