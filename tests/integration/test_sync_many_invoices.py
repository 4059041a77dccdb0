"""Many invoices per deal through the payment sync, the card and ``invoice show`` (issue 17): a deal billed per
period shows its oldest unpaid invoice over all of them, and a payment on a consolidated invoice is allocated to
its deals oldest period first, the company counting that invoice once. Against both sandboxes and each store."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import replace
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from cli.app import app
from local.world import World, build_world, cli_env
from sdk.billing.consolidation import Charge, charge_amounts, consolidated_draft, window_of
from sdk.billing.units import Unit
from sdk.clock import FakeClock
from sdk.mapping import PartnerRef, build_invoice_request
from sdk.store import Intent, InvoiceRecord, LedgerState, Store
from sdk.store.sqlite import SQLiteStore
from sdk.terms import MONTH_END, parse_terms, tokyo_today
from sdk.usecases.balance import balance_card
from sdk.usecases.billing import run_billing
from sdk.usecases.create_invoice import Result, create_invoice_for_deal
from sdk.usecases.sync_payments import sync_payments
from sdk.validation import validate_deal
from tests.billing_clock import JAN_1, PORTAL, clocked_world
from tests.billing_clock import advance_to as go_to

TERMS = "month_end_next_month_end"


@pytest.fixture
def world(store: Store) -> Iterator[World]:
    yield from clocked_world(store)


def payment(world: World, deal: str) -> tuple[str | None, ...]:
    p = world.deal_props(deal)
    return tuple(
        p.get(name) or ""
        for name in (
            "freee_payment_status",
            "freee_amount_paid",
            "freee_amount_outstanding",
            "freee_due_date",
            "freee_days_overdue",
            "freee_paid_date",
        )
    )


def rollup(world: World, company: str) -> tuple[str | None, ...]:
    p = world.company_props(company)
    return tuple(
        p.get(name) or ""
        for name in (
            "freee_outstanding_total",
            "freee_overdue_total",
            "freee_overdue_invoice_count",
            "freee_oldest_overdue_days",
            "freee_last_payment_date",
        )
    )


class OnlyKeyedReads:
    """The world's store, refusing a full read of the ledger: the card reads a record's own rows only."""

    def __init__(self, store: Store) -> None:
        self._store = store

    def __getattr__(self, name: str) -> Any:
        return getattr(self._store, name)

    def ledger(self, **_: Any) -> Any:
        raise AssertionError("the card read the whole ledger")


def card(world: World, object_type: str, object_id: str) -> dict:
    today = tokyo_today(world.clock.now())
    return balance_card(
        OnlyKeyedReads(world.store),  # type: ignore[arg-type]
        world.settings,
        portal_id=PORTAL,
        object_type=object_type,  # type: ignore[arg-type]
        object_id=object_id,
        today=today,
    )


# ------------------------------------------------------------------------------------- a deal, three periods


def three_months_billed(world: World, term: str = "P3M") -> tuple[str, str, list[InvoiceRecord]]:
    """A subscription of ¥50,000 a month (and ¥100,000 set-up on the first), its first three months billed."""
    company = world.company("株式会社定期", freee_payment_terms=TERMS)
    items = [
        {
            "name": "クラウド勤怠 Pro",
            "quantity": 1,
            "price": 50000,
            "recurringbillingfrequency": "monthly",
            "hs_recurring_billing_period": term,
        },
        {"name": "初期設定", "quantity": 1, "price": 100000},
    ]
    deal = world.deal(company=company, line_items=items, closedate="2027-01-01T03:00:00Z")
    assert create_invoice_for_deal(world.context(), PORTAL, deal, "webhook").result is Result.CREATED
    for month in (2, 3):
        go_to(world, date(2027, month, 1))
        assert run_billing(world.context(), date(2027, month, 1)).invoices_created == 1
    records = [world.store.get_ledger(PORTAL, f"{deal}:{n}").invoice for n in (1, 2, 3)]  # type: ignore[union-attr]
    assert all(r is not None for r in records)
    return deal, company, records  # type: ignore[return-value]


def test_a_deal_billed_per_period_shows_its_oldest_unpaid_invoice_and_sums_the_rest(world: World):
    deal, company, (first, second, third) = three_months_billed(world)
    world.freee_box.pay(first.invoice_id, first.amount_total, date(2027, 2, 20))  # paid
    world.freee_box.pay(third.invoice_id, 30_000, date(2027, 3, 10))  # partly; the second: nothing, due 3/31
    go_to(world, date(2027, 4, 5))

    summary = sync_payments(world.context())

    assert summary.ok, summary.errors
    assert summary.checked == 3  # each period's invoice read once
    paid = first.amount_total + 30_000
    owed = second.amount_total + third.amount_total - 30_000
    assert payment(world, deal) == ("overdue", str(paid), str(owed), "2027-03-31", "5", "")
    shown = world.deal_props(deal)  # the billing pass's properties, untouched by the sync
    assert shown["freee_invoice_count"] == "3"
    total = first.amount_total + second.amount_total + third.amount_total
    assert shown["freee_amount_invoiced"] == str(total)
    assert world.store.get_ledger(PORTAL, deal).state is LedgerState.SCHEDULED  # type: ignore[union-attr]
    assert rollup(world, company) == (str(owed), str(second.amount_total), "1", "5", "2027-03-10")

    answer = card(world, "deal", deal)
    assert [
        (i["label"], i["invoiceNumber"], i["amountInvoiced"], i["status"]) for i in answer["invoices"]
    ] == [
        ("2027年1月分", first.invoice_number, first.amount_total, "paid"),
        ("2027年2月分", second.invoice_number, second.amount_total, "overdue"),
        ("2027年3月分", third.invoice_number, third.amount_total, "partially_paid"),
    ]
    assert answer["invoice"]["invoiceNumber"] == second.invoice_number  # the one to chase
    deal_summary = answer["summary"]
    assert (deal_summary["status"], deal_summary["amountOutstanding"], deal_summary["invoiceCount"]) == (
        "overdue",
        owed,
        3,
    )
    assert card(world, "company", company)["summary"]["outstandingTotal"] == owed

    world.counter.reset()
    again = sync_payments(world.context())
    assert (again.checked, again.changed_deals, again.changed_companies) == (2, 0, 0)  # the paid one not read
    assert world.counter.count("deals.batch_update") == 0


def test_the_billing_pass_leaves_the_payment_properties_to_the_sync(world: World):
    deal, _, _ = three_months_billed(world, term="P6M")
    go_to(world, date(2027, 3, 5))
    sync_payments(world.context())
    before = payment(world, deal)
    assert before[:1] + before[3:5] == ("overdue", "2027-02-28", "5")

    go_to(world, date(2027, 4, 1))
    assert run_billing(world.context(), date(2027, 4, 1)).invoices_created == 1

    shown = world.deal_props(deal)
    assert shown["freee_invoice_count"] == "4"  # the billing pass's own
    assert payment(world, deal) == before  # the oldest unpaid invoice's, as the sync wrote them
    sync_payments(world.context())
    after = payment(world, deal)
    assert after[:1] + after[3:5] == ("overdue", "2027-02-28", "32")


def test_a_period_paid_in_full_after_the_billing_pass_is_shown_by_the_next_sync(world: World):
    deal, _, (first, second, third) = three_months_billed(world)
    sync_payments(world.context())
    for record in (first, second, third):
        world.freee_box.pay(record.invoice_id, record.amount_total, date(2027, 3, 2))

    sync_payments(world.context())

    total = sum(r.amount_total for r in (first, second, third))
    assert payment(world, deal) == ("paid", str(total), "0", "2027-04-30", "0", "2027-03-02")


# ------------------------------------------------------------------------------------ a consolidated invoice


def consolidated(world: World) -> tuple[str, str, str, InvoiceRecord]:
    """Company C billed by consolidated invoice for January: period 1 of deal A (¥50,000 + tax, billed 1/1) and
    deal B billed once (¥100,000 + tax, billed 1/20): one freee invoice of ¥165,000, and the ledger rows the
    consolidation leaves (the invoice's row with its charges; each charge's row, for its share)."""
    company = world.company("株式会社合算", freee_payment_terms=TERMS, freee_billing_mode="consolidated")
    a = world.deal(
        company=company,
        line_items=[{"name": "保守", "quantity": 1, "price": 50000}],
        dealname="保守契約",
        closedate="2027-01-01T03:00:00Z",
    )
    b = world.deal(
        company=company,
        line_items=[{"name": "導入支援", "quantity": 1, "price": 100000}],
        dealname="導入支援",
        closedate="2027-01-20T03:00:00Z",
    )
    drafts = {}
    for deal in (a, b):
        bundle = world.hubspot.read_deal_bundle(PORTAL, deal, with_contact=False, max_line_items=100)
        drafts[deal] = validate_deal(bundle, world.settings, today=date(2027, 1, 31))
    charges = [
        Charge(Unit.of_period(a, 1), "保守契約", "2027年1月分", date(2027, 1, 1), drafts[a].lines),
        Charge(Unit.deal(b), "導入支援", "", date(2027, 1, 20), drafts[b].lines),
    ]
    window = window_of(date(2027, 1, 20), MONTH_END)
    draft = consolidated_draft(
        drafts[a], company, "株式会社合算", window, parse_terms(TERMS), charges, world.settings
    )
    shares = charge_amounts(charges, draft.tax)
    partner = world.freee_box.add_partner("株式会社合算")["id"]
    request = build_invoice_request(
        draft, world.settings, company_id=world.freee.company_id, partner=PartnerRef(id=partner)
    )
    made = world.freee.create_invoice(request)
    record = InvoiceRecord(
        made.id,
        made.invoice_number,
        made.report_url,
        made.partner_id,
        made.amount_excluding_tax,
        made.amount_tax,
        made.total_amount,
        made.billing_date,
        made.payment_date,
    )
    key = draft.unit.key
    store, now = world.store, world.clock.now()
    lease = now + timedelta(minutes=5)

    def invoiced(unit: str, invoice: InvoiceRecord, covers: tuple[tuple[str, int], ...]) -> None:
        assert store.claim(PORTAL, unit, f"t-{unit}", now, lease).granted
        store.note_intent(PORTAL, unit, f"t-{unit}", Intent(company, partner, window.end, charges=covers))
        store.record_invoice(PORTAL, unit, f"t-{unit}", invoice, now)
        store.record_written(PORTAL, unit, {}, now, token=f"t-{unit}")

    invoiced(key, record, tuple((c.key, shares[c.key]) for c in charges))
    for charge in charges:
        share = shares[charge.key]
        net = record.amount_net * share // record.amount_total
        part = replace(record, amount_total=share, amount_net=net, amount_tax=share - net)
        invoiced(charge.key, part, ((key, share),))
    assert store.claim(PORTAL, a, "t-a", now, lease).granted  # deal A is billed per period
    store.record_scheduled(PORTAL, a, "t-a", now)
    assert (shares[f"{a}:1"], shares[b], record.amount_total) == (55_000, 110_000, 165_000)
    return company, a, b, record


def test_a_payment_on_a_consolidated_invoice_goes_to_its_oldest_charge_first_and_counts_once(world: World):
    company, a, b, invoice = consolidated(world)
    world.freee_box.pay(invoice.invoice_id, 80_000, date(2027, 2, 10))
    go_to(world, date(2027, 2, 12))
    world.freee_calls.clear()

    summary = sync_payments(world.context())

    assert summary.ok, summary.errors
    assert summary.checked == 1  # the consolidated invoice, read once; its charges never
    assert payment(world, a) == ("paid", "55000", "0", "2027-02-28", "0", "2027-02-10")
    assert payment(world, b) == ("partially_paid", "25000", "85000", "2027-02-28", "0", "")
    assert rollup(world, company) == ("85000", "0", "0", "0", "2027-02-10")
    company_card = card(world, "company", company)
    assert [
        (i["invoiceNumber"], i["amountInvoiced"], i["consolidated"]) for i in company_card["invoices"]
    ] == [(invoice.invoice_number, 165_000, True)]
    assert company_card["summary"]["outstandingTotal"] == 85_000
    [charge] = card(world, "deal", b)["invoices"]
    assert (
        charge["invoiceNumber"],
        charge["amountInvoiced"],
        charge["amountPaid"],
        charge["consolidated"],
    ) == (
        invoice.invoice_number,
        110_000,
        25_000,
        True,
    )

    go_to(world, date(2027, 3, 3))  # past the due date: the rest of B is late, the invoice counted once
    sync_payments(world.context())

    assert payment(world, b) == ("overdue", "25000", "85000", "2027-02-28", "3", "")
    assert rollup(world, company) == ("85000", "85000", "1", "3", "2027-02-10")
    world.freee_box.pay(invoice.invoice_id, 85_000, date(2027, 3, 4))
    go_to(world, date(2027, 3, 5))
    sync_payments(world.context())
    assert payment(world, b) == ("paid", "110000", "0", "2027-02-28", "0", "2027-03-04")
    assert rollup(world, company) == ("0", "0", "0", "0", "2027-03-04")
    world.freee_calls.clear()
    assert sync_payments(world.context()).checked == 0  # paid: not read again
    assert world.freee_calls == []


def test_a_consolidated_invoice_cancelled_in_freee_is_reflected_on_every_charge_and_never_read_again(
    world: World,
):
    company, a, b, invoice = consolidated(world)
    world.freee.cancel_invoice(invoice.invoice_id)

    summary = sync_payments(world.context())

    assert summary.ok, summary.errors
    states = {k: world.store.get_ledger(PORTAL, k).state for k in (f"{a}:1", b)}  # type: ignore[union-attr]
    assert set(states.values()) == {LedgerState.CANCELLED}
    assert world.deal_props(b)["freee_sync_status"] == "cancelled"
    assert world.deal_props(a)["freee_payment_status"] in ("", None)
    assert world.deal_props(a).get("freee_sync_status") != "cancelled"  # a scheduled deal: the billing pass's
    assert rollup(world, company)[0] == "0"
    assert sync_payments(world.context()).checked == 0


# ----------------------------------------------------------------------------------------- invoice show


def test_invoice_show_lists_every_invoice_of_the_deal(tmp_path: Path):
    path = tmp_path / "store.sqlite"
    world = build_world(SQLiteStore(path), clock=FakeClock(JAN_1))
    try:
        deal, _, records = three_months_billed(world)
        world.freee_box.pay(records[0].invoice_id, records[0].amount_total, date(2027, 2, 20))
        sync_payments(world.context())
        env = cli_env(world, "http://127.0.0.1:9", path)  # show reads the store only

        shown = CliRunner().invoke(app, ["invoice", "show", "--deal", deal, "--json"], env=env)
        human = CliRunner().invoke(app, ["invoice", "show", "--deal", deal], env=env)
    finally:
        world.close()

    assert shown.exit_code == 0, shown.output
    data = json.loads(shown.stdout)
    assert [(i["period"], i["label"], i["invoiceNumber"], i["amountInvoiced"]) for i in data["invoices"]] == [
        (n, f"2027年{n}月分", r.invoice_number, r.amount_total) for n, r in enumerate(records, start=1)
    ]
    assert data["invoices"][0]["status"] == "paid"
    assert data["summary"]["amountPaid"] == records[0].amount_total
    assert data["ledger"]["state"] == "scheduled"
    assert human.exit_code == 0, human.output
    assert all(r.invoice_number in human.output for r in records)
    assert "2027年3月分" in human.output and "paid / 入金済" in human.output
