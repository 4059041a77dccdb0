"""The freee sandbox's invoices (numbering, arithmetic per tax rate, rounding, validation, lists, cancel) and its
accounting deals and payments. Assertions are on the sandbox's state."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date

import pytest

from sandbox.freee import FreeeSandboxError
from tests.integration.freee_world import BASE, COMPANY, TODAY, World, item, messages


@pytest.fixture
def world() -> Iterator[World]:
    w = World()
    yield w
    w.http.close()


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
