"""Month-end consolidated invoices (月締め合算請求): one freee invoice per company and closing window, exactly once,
against both sandboxes and each store (issue 17)."""

from __future__ import annotations

import contextlib
import threading
from collections import Counter
from collections.abc import Iterator
from datetime import date

import pytest

from local.world import World
from sdk.billing.units import parse_marker
from sdk.errors import DealBusy
from sdk.freee.errors import FreeeOutcomeUnknown
from sdk.store import LedgerState, ScheduleState, Store
from sdk.usecases import consolidate
from sdk.usecases.billing import run_billing
from sdk.usecases.create_invoice import Result, create_invoice_for_deal
from tests.billing_clock import PORTAL, advance_to, clocked_world


@pytest.fixture
def world(store: Store) -> Iterator[World]:
    yield from clocked_world(store)


def consolidated_company(world: World, **props: str) -> str:
    values = {
        "freee_billing_mode": "consolidated",
        "freee_closing_day": "month_end",
        "freee_payment_terms": "month_end_next_month_end",
    } | props
    return world.company(name="株式会社まとめ商事", **values)


def subscription(world: World, company: str, price: int = 50000) -> str:
    items = [
        {
            "name": "クラウド勤怠 Pro",
            "quantity": 1,
            "price": price,
            "recurringbillingfrequency": "monthly",
            "hs_recurring_billing_period": "P3M",
        }
    ]
    return world.deal(
        company=company, line_items=items, dealname="勤怠サブスク", closedate="2027-01-01T03:00:00Z"
    )


def one_off(world: World, company: str, close: str = "2027-01-15", name: str = "導入研修") -> str:
    items = [
        {"name": "導入研修", "quantity": 2, "price": 30000},
        {"name": "お弁当", "quantity": 10, "price": 1000, "freee_tax_rate": "8_reduced"},
    ]
    return world.deal(company=company, line_items=items, dealname=name, closedate=f"{close}T03:00:00Z")


def consolidated_invoices(world: World) -> list[dict]:
    return [i for i in world.invoices() if (m := parse_marker(i["memo"])) and m[1].startswith("c")]


def test_a_month_of_deals_becomes_one_invoice_per_company_with_lines_grouped_and_tax_once(world: World):
    company = consolidated_company(world)
    sub = subscription(world, company)
    outcome = create_invoice_for_deal(world.context(), PORTAL, sub, "webhook")
    assert (
        outcome.result is Result.SCHEDULED and world.invoices() == []
    )  # nothing alone: it waits for month end
    assert world.deal_props(sub)["freee_next_billing_date"] == "2027-01-31"
    assert world.deal_props(sub)["freee_billing_status"] == "scheduled"
    advance_to(world, date(2027, 1, 15))
    once = one_off(world, company)
    assert create_invoice_for_deal(world.context(), PORTAL, once, "webhook").result is Result.SCHEDULED

    advance_to(world, date(2027, 1, 31))
    summary = run_billing(world.context(), date(2027, 1, 31))
    assert summary.invoices_created == 1
    [invoice] = world.invoices()
    assert f"[hubspot-freee portal={PORTAL} company={company} window=2027-01-31]" in invoice["memo"]
    assert invoice["billing_date"] == "2027-01-31" and invoice["payment_date"] == "2027-02-28"
    assert invoice["subject"] == "2027年1月分 ご請求"
    descriptions = [line.get("description") for line in invoice["lines"]]
    assert descriptions[0] == "【勤怠サブスク 2027年1月分】" and descriptions[2] == "【導入研修】"
    # 10 %: 50,000 + 60,000 = 110,000 → 11,000; 8 %: 10,000 → 800; rounded once per rate for the invoice
    assert invoice["amount_excluding_tax"] == 120000 and invoice["amount_tax"] == 11800
    assert run_billing(world.context(), date(2027, 1, 31)).invoices_created == 0  # again: nothing

    shown_sub, shown_once = world.deal_props(sub), world.deal_props(once)
    assert (
        shown_sub["freee_invoice_number"] == shown_once["freee_invoice_number"] == invoice["invoice_number"]
    )
    assert int(shown_sub["freee_amount_invoiced"]) + int(shown_once["freee_amount_invoiced"]) == 131800
    assert shown_sub["freee_amount_invoiced"] == "55000"
    assert shown_sub["freee_next_billing_date"] == "2027-02-28"
    assert shown_once["freee_billing_status"] == "ended"
    row = world.store.get_ledger(PORTAL, f"c{company}:2027-01-31")
    assert row is not None and row.charges == ((f"{sub}:1", 55000), (f"{once}:1", 76800))

    advance_to(world, date(2027, 2, 28))
    run_billing(world.context(), date(2027, 2, 28))
    feb = [i for i in consolidated_invoices(world) if i["billing_date"] == "2027-02-28"]
    assert len(feb) == 1 and feb[0]["amount_excluding_tax"] == 50000
    assert world.deal_props(sub)["freee_invoice_count"] == "2"


def test_a_deal_won_after_its_window_was_invoiced_goes_to_the_next_window(world: World):
    company = consolidated_company(world)
    first = one_off(world, company, close="2027-01-10", name="第1弾")
    create_invoice_for_deal(world.context(), PORTAL, first, "webhook")
    advance_to(world, date(2027, 1, 31))
    run_billing(world.context(), date(2027, 1, 31))
    advance_to(world, date(2027, 2, 3))
    late = one_off(world, company, close="2027-01-20", name="第2弾")  # closed in January, won in February
    assert create_invoice_for_deal(world.context(), PORTAL, late, "webhook").result is Result.SCHEDULED
    assert len(world.invoices()) == 1
    assert world.deal_props(late)["freee_next_billing_date"] == "2027-02-28"
    advance_to(world, date(2027, 2, 28))
    run_billing(world.context(), date(2027, 2, 28))
    windows = Counter(parse_marker(i["memo"])[1] for i in world.invoices())
    assert windows == Counter({f"c{company}:2027-01-31": 1, f"c{company}:2027-02-28": 1})


def test_a_closing_day_of_the_20th_bills_the_window_from_the_21st(world: World):
    company = consolidated_company(world, freee_closing_day="20")
    deal = one_off(world, company, close="2027-01-21")
    create_invoice_for_deal(world.context(), PORTAL, deal, "webhook")
    assert world.deal_props(deal)["freee_next_billing_date"] == "2027-02-20"
    advance_to(world, date(2027, 2, 20))
    run_billing(world.context(), date(2027, 2, 20))
    [invoice] = world.invoices()
    assert invoice["billing_date"] == "2027-02-20"
    assert invoice["subject"] == "2027年1月21日〜2月20日分 ご請求"


def test_a_lost_answer_is_adopted_by_the_window_marker_never_made_twice(world: World):
    company = consolidated_company(world)
    deals = [subscription(world, company), one_off(world, company)]
    for deal in deals:
        create_invoice_for_deal(world.context(), PORTAL, deal, "webhook")
    advance_to(world, date(2027, 1, 31))
    world.freee_box.faults.script("timeout_after_commit", path_prefix="/iv/invoices", methods={"POST"})
    with pytest.raises(FreeeOutcomeUnknown):
        consolidate.bill_company(world.context(), PORTAL, company, date(2027, 1, 31), "billing")
    assert len(world.invoices()) == 1  # freee has it; the ledger does not know yet
    failed = world.deal_props(deals[0])
    assert failed["freee_sync_status"] == "failed"  # every deal of the window says it is being retried
    world.clock.advance(world.settings.freee_settle_seconds)
    summary = run_billing(world.context(), date(2027, 1, 31))
    assert summary.invoices_created == 1  # adopted, not made again
    assert len(world.invoices()) == 1
    for deal in deals:
        assert world.store.get_ledger(PORTAL, f"{deal}:1").state is LedgerState.CREATED
        assert world.deal_props(deal)["freee_sync_status"] == "created"


def test_a_crash_between_the_invoice_and_the_marks_completes_them_without_a_second_invoice(
    world: World, monkeypatch: pytest.MonkeyPatch
):
    company = consolidated_company(world)
    deals = [subscription(world, company), one_off(world, company)]
    for deal in deals:
        create_invoice_for_deal(world.context(), PORTAL, deal, "webhook")
    advance_to(world, date(2027, 1, 31))
    real = consolidate._mark_charges

    def crash(*args: object, **kwargs: object) -> None:
        raise RuntimeError("worker killed")

    monkeypatch.setattr(consolidate, "_mark_charges", crash)
    with pytest.raises(RuntimeError):
        consolidate.bill_company(world.context(), PORTAL, company, date(2027, 1, 31), "billing")
    monkeypatch.setattr(consolidate, "_mark_charges", real)
    assert world.store.get_ledger(PORTAL, f"{deals[0]}:1") is None
    world.freee_calls.clear()
    run_billing(world.context(), date(2027, 1, 31))
    assert len(world.invoices()) == 1
    assert not [c for c in world.freee_calls if c[0] == "POST"]
    assert all(world.store.get_ledger(PORTAL, f"{d}:1").state is LedgerState.CREATED for d in deals)


def test_duplicate_triggers_at_month_end_make_one_invoice(world: World):
    company = consolidated_company(world)
    deals = [subscription(world, company), one_off(world, company), one_off(world, company, name="追加")]
    for deal in deals:
        create_invoice_for_deal(world.context(), PORTAL, deal, "webhook")
    advance_to(world, date(2027, 1, 31))
    barrier = threading.Barrier(len(deals) * 2)

    def trigger(deal: str) -> None:
        barrier.wait()
        with contextlib.suppress(DealBusy):  # retried by the queue in real life
            create_invoice_for_deal(world.context(), PORTAL, deal, "webhook")

    threads = [threading.Thread(target=trigger, args=(d,)) for d in deals * 2]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    run_billing(world.context(), date(2027, 1, 31))  # what the next pass (or the queue's retry) does
    assert len(world.invoices()) == 1
    assert len(world.store.get_ledger(PORTAL, f"c{company}:2027-01-31").charges) == 3


def test_a_consolidated_company_without_terms_is_refused_on_the_deal_and_nothing_sent(world: World):
    company = world.company(freee_billing_mode="consolidated")
    deal = one_off(world, company)
    outcome = create_invoice_for_deal(world.context(), PORTAL, deal, "webhook")
    assert outcome.result is Result.INVALID
    assert [p.code for p in outcome.problems] == ["company.consolidated_without_terms"]
    shown = world.deal_props(deal)
    assert shown["freee_sync_status"] == "invalid"
    assert "支払条件" in shown["freee_sync_error"] and "payment terms" in shown["freee_sync_error"]
    assert world.invoices() == [] and world.freee_calls == []


def test_a_member_leaving_won_stops_and_the_others_are_still_billed(world: World):
    company = consolidated_company(world)
    keep, leave = one_off(world, company), subscription(world, company)
    for deal in (keep, leave):
        create_invoice_for_deal(world.context(), PORTAL, deal, "webhook")
    world.hubspot_box.update("deals", leave, dealstage="appointmentscheduled")
    advance_to(world, date(2027, 1, 31))
    run_billing(world.context(), date(2027, 1, 31))
    [invoice] = world.invoices()
    assert invoice["amount_excluding_tax"] == 70000
    assert world.store.get_schedule(PORTAL, leave).state is ScheduleState.STOPPED
    assert world.deal_props(leave)["freee_billing_status"] == "stopped"


def test_billing_show_says_which_closing_date_each_period_goes_out_on(world: World):
    from sdk.usecases.billing import PeriodState, schedule_view

    company = consolidated_company(world)
    sub = subscription(world, company)
    create_invoice_for_deal(world.context(), PORTAL, sub, "webhook")
    advance_to(world, date(2027, 1, 31))
    run_billing(world.context(), date(2027, 1, 31))
    view = schedule_view(world.context(), PORTAL, sub)
    assert [p.state for p in view.periods] == [
        PeriodState.INVOICED,
        PeriodState.UPCOMING,
        PeriodState.UPCOMING,
    ]
    assert view.periods[0].invoice_number == world.invoices()[0]["invoice_number"]
    assert [p.consolidated_on for p in view.periods] == [None, date(2027, 2, 28), date(2027, 3, 31)]


class Sink:
    def __init__(self) -> None:
        self.bodies: list[dict] = []

    def send_many(self, bodies: list[dict]) -> None:
        self.bodies.extend(bodies)


def test_the_scheduled_pass_queues_one_job_per_company_which_bills_it_even_if_that_deal_broke(world: World):
    from sdk.usecases.billing import queue_due

    company = consolidated_company(world)
    deals = [one_off(world, company, name=f"案件{n}") for n in range(3)]
    for deal in deals:
        create_invoice_for_deal(world.context(), PORTAL, deal, "webhook")
    own = world.deal(
        company=world.company(),
        line_items=[{"name": "SaaS", "quantity": 1, "price": 1000, "recurringbillingfrequency": "monthly"}],
        dealname="単独サブスク",
        closedate="2027-01-01T03:00:00Z",
    )
    create_invoice_for_deal(world.context(), PORTAL, own, "webhook")
    advance_to(world, date(2027, 1, 31))
    sink = Sink()
    queued = queue_due(world.context(), sink, on=date(2027, 2, 1))
    assert sorted(queued.deals) == sorted([deals[0], own])  # the company once, the per-deal subscription once
    world.hubspot_box.update("deals", deals[0], dealname="")  # the queued deal broke meanwhile
    for body in sink.bodies:
        create_invoice_for_deal(
            world.context(), PORTAL, body["deal_id"], body["trigger"], on=date(2027, 2, 1)
        )
    consolidated = consolidated_invoices(world)
    assert (
        len(consolidated) == 1 and len(world.store.get_ledger(PORTAL, f"c{company}:2027-01-31").charges) == 2
    )
    assert world.deal_props(deals[0])["freee_sync_status"] == "invalid"
    assert world.deal_props(deals[1])["freee_invoice_number"] == consolidated[0]["invoice_number"]


def test_the_company_is_told_its_new_freee_partner_once_not_once_per_deal(
    world: World, monkeypatch: pytest.MonkeyPatch
):
    company = consolidated_company(world)
    for n in range(3):
        create_invoice_for_deal(world.context(), PORTAL, one_off(world, company, name=f"案件{n}"), "webhook")
    advance_to(world, date(2027, 1, 31))
    writes: list[dict] = []
    real = world.hubspot.update_companies

    def counted(updates):  # type: ignore[no-untyped-def]
        writes.append(dict(updates))
        return real(updates)

    monkeypatch.setattr(world.hubspot, "update_companies", counted)
    run_billing(world.context(), date(2027, 1, 31))
    partner = str(world.invoices()[0]["partner_id"])
    assert writes == [{company: {"freee_partner_id": partner}}]
    assert world.company_props(company)["freee_partner_id"] == partner


def test_a_payment_on_the_issued_consolidated_invoice_is_allocated_oldest_first_by_the_sync(world: World):
    from sdk.usecases.sync_payments import sync_payments

    company = consolidated_company(world)
    sub = subscription(world, company)  # charge 2027-01-01: ¥55,000
    once = one_off(world, company)  # charge 2027-01-15: ¥76,800
    for deal in (sub, once):
        create_invoice_for_deal(world.context(), PORTAL, deal, "webhook")
    advance_to(world, date(2027, 1, 31))
    run_billing(world.context(), date(2027, 1, 31))
    [invoice] = world.invoices()
    world.freee_box.pay(invoice["id"], 60000, date(2027, 2, 10))
    advance_to(world, date(2027, 2, 11))
    sync_payments(world.context())
    first, second = world.deal_props(sub), world.deal_props(once)
    assert (first["freee_payment_status"], first["freee_amount_outstanding"]) == ("paid", "0")
    assert (second["freee_payment_status"], second["freee_amount_outstanding"]) == ("partially_paid", "71800")
    assert world.company_props(company)["freee_outstanding_total"] == "71800"


def test_a_rep_cancelling_a_consolidated_subscription_leaves_it_off_the_month_end_invoice(world: World):
    company = consolidated_company(world)
    sub, once = subscription(world, company), one_off(world, company)
    for deal in (sub, once):
        create_invoice_for_deal(world.context(), PORTAL, deal, "webhook")
    world.hubspot_box.update("deals", sub, freee_billing_status="stopped")
    advance_to(world, date(2027, 1, 31))
    run_billing(world.context(), date(2027, 1, 31))
    [invoice] = world.invoices()
    assert invoice["amount_excluding_tax"] == 70000  # the one-off deal only
    assert world.store.get_schedule(PORTAL, sub).state is ScheduleState.STOPPED
