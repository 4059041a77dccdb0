"""Deal won → exactly one freee invoice, written back (issue: quote-to-cash), against both sandboxes."""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Iterator

import pytest

from local.world import World, build_world
from sandbox.hubspot import HubSpotApiError
from sdk.clock import SystemClock
from sdk.errors import DealBusy, Retryable
from sdk.freee.errors import FreeeOutcomeUnknown
from sdk.store import LedgerState, Store
from sdk.usecases.create_invoice import Result, create_invoice_for_deal, plan_invoice_for_deal

PORTAL = 24681357
VALID_REGISTRATION = "T7000012050002"


@pytest.fixture
def world(store: Store) -> Iterator[World]:
    w = build_world(store)
    yield w
    w.close()


def items() -> list[dict]:
    return [
        {"name": "会計ソフト導入支援", "quantity": 2, "price": 150000},
        {"name": "研修用お弁当", "quantity": 20, "price": 1080, "freee_tax_rate": "8_reduced"},
        {"name": "年間ライセンス", "quantity": 10, "price": 12000, "hs_discount_percentage": 10},
    ]


def test_won_deal_gets_one_invoice_written_back_on_deal_and_company(world: World):
    company = world.company(
        freee_invoice_registration_number=VALID_REGISTRATION, freee_payment_terms="net_30"
    )
    deal = world.deal(company=company, contact=world.contact(), line_items=items())
    outcome = create_invoice_for_deal(world.context(), PORTAL, deal, "test")
    assert outcome.result is Result.CREATED
    [invoice] = world.invoices()
    assert f"[hubspot-freee portal={PORTAL} deal={deal}]" in invoice["memo"]
    # 300,000 + 21,600 (8 %) + 120,000 − 12,000 → net 429,600; tax 30,000 + 10,800 + … per rate, rounded once
    assert invoice["amount_excluding_tax"] == 429600
    assert invoice["total_amount"] == 429600 + 40800 + 1728
    shown = world.deal_props(deal)
    assert shown["freee_invoice_id"] == str(invoice["id"])
    assert shown["freee_invoice_number"] == invoice["invoice_number"]
    assert shown["freee_invoice_url"] == invoice["report_url"]
    assert shown["freee_amount_invoiced"] == str(int(invoice["total_amount"]))
    assert shown["freee_due_date"] == "2026-12-20"
    assert shown["freee_sync_status"] == "created"
    assert shown["freee_payment_status"] == "unpaid"
    assert not shown["freee_sync_error"]
    [partner] = world.partners()
    assert world.company_props(company)["freee_partner_id"] == str(partner["id"])
    assert partner["invoice_registration_number"] == VALID_REGISTRATION
    assert partner["contact_name"] == "山田 太郎"  # the contact is carried by the partner record
    row = world.store.get_ledger(PORTAL, deal)
    assert row.state is LedgerState.CREATED
    assert row.invoice.invoice_id == invoice["id"]
    assert row.claim_token is None
    events = [e.event for e in world.store.history(PORTAL, deal)]
    assert events == ["triggered", "claimed", "partner", "invoice_created", "written_back"]


def test_second_trigger_for_invoiced_deal_creates_nothing_and_writes_nothing(world: World):
    deal = world.deal(company=world.company(), line_items=items())
    create_invoice_for_deal(world.context(), PORTAL, deal, "webhook")
    world.counter.reset()
    world.freee_calls.clear()
    again = create_invoice_for_deal(world.context(), PORTAL, deal, "workflow_action")
    assert again.result is Result.ALREADY_INVOICED
    assert len(world.invoices()) == 1
    assert world.freee_calls == []
    assert world.counter.count("deals.batch_update") == 0


def test_api_budget_per_won_deal(world: World):
    company = world.company()
    first = world.deal(company=company, contact=world.contact(), line_items=items())
    create_invoice_for_deal(world.context(), PORTAL, first, "test")
    new_partner = dict(world.counter.snapshot())
    new_partner_freee = list(world.freee_calls)
    world.counter.reset()
    world.freee_calls.clear()
    second = world.deal(company=company, contact=world.contact(), line_items=items())
    create_invoice_for_deal(world.context(), PORTAL, second, "test")
    known = dict(world.counter.snapshot())
    reads = ("deals.get", "line_items.batch_read", "companies.get", "contacts.get")
    # partner known: 3 HubSpot reads, 1 deal write, no company write, 1 freee write
    assert sum(known.get(k, 0) for k in reads) == 3
    assert known.get("deals.batch_update") == 1
    assert known.get("companies.batch_update", 0) == 0
    assert world.freee_calls == ["POST /iv/invoices"]
    # new partner: the contact is read once for the partner record; 3 freee calls; 1 company write
    assert sum(new_partner.get(k, 0) for k in reads) == 4
    assert new_partner.get("deals.batch_update") == 1
    assert new_partner.get("companies.batch_update") == 1
    assert new_partner_freee == [
        "GET /api/1/partners",  # by code: the keyword list, filtered to the exact code
        "POST /api/1/partners",
        "POST /iv/invoices",
    ]


def test_payment_terms_from_the_dropdown_or_an_older_text_property_give_the_due_date(world: World):
    with pytest.raises(HubSpotApiError, match="not one of the allowed options"):
        world.company(freee_payment_terms="20日締め翌月10日払い")  # the dropdown takes its codes only
    chosen = world.company("株式会社エー", freee_payment_terms="close_20_next_month_day_10")
    world.hubspot_box.state.update_property(  # now as an installation from before the dropdown
        "companies", "freee_payment_terms", {"type": "string", "fieldType": "text", "options": []}
    )
    typed = world.company("株式会社ビー", freee_payment_terms="２０日締め 翌月１０日払い")
    for company in (chosen, typed):
        deal = world.deal(company=company, line_items=items(), closedate="2026-11-21T03:00:00Z")
        assert create_invoice_for_deal(world.context(), PORTAL, deal, "test").result is Result.CREATED
        assert world.deal_props(deal)["freee_due_date"] == "2027-01-10"  # closes 12-20, paid 01-10


def test_invalid_deal_shows_every_reason_and_creates_nothing_in_freee(world: World):
    # an installation from before the dropdown: its text property holds whatever was typed
    world.hubspot_box.state.update_property(
        "companies", "freee_payment_terms", {"type": "string", "fieldType": "text", "options": []}
    )
    deal = world.deal(
        company=world.company(
            freee_invoice_registration_number="T1234567890123", freee_payment_terms="翌月末頃"
        ),
        line_items=[
            {"name": "品目", "quantity": 0, "price": 100},
            {"name": "改行\nあり", "quantity": 1, "price": -5},
        ],
        closedate=None,
    )
    outcome = create_invoice_for_deal(world.context(), PORTAL, deal, "test")
    assert outcome.result is Result.INVALID
    shown = world.deal_props(deal)
    assert shown["freee_sync_status"] == "invalid"
    for code in (
        "company.registration_number_invalid",
        "company.payment_terms_invalid",
        "line_item.quantity_invalid",
        "line_item.price_negative",
        "text.control_characters",
        "deal.close_date_missing",
    ):
        assert f"[{code}]" in shown["freee_sync_error"]
    assert "登録番号" in shown["freee_sync_error"]  # Japanese first,
    assert "Registration number" in shown["freee_sync_error"]  # English beside it
    assert world.invoices() == []
    assert world.partners() == []
    assert world.store.get_ledger(PORTAL, deal).state is LedgerState.INVALID


@pytest.mark.parametrize(
    ("company", "props", "line_items", "code"),
    [
        (False, {"amount": "100000"}, [], "deal.company_missing"),
        (True, {}, [], "deal.amount_missing"),
        (True, {"amount": "-50000"}, [], "deal.amount_negative"),
        (True, {"amount": "1000.5"}, [], "deal.amount_not_integer"),
        (True, {"amount": "0"}, [], "invoice.total_zero"),
        (True, {"amount": "1000000000000"}, [], "invoice.total_too_large"),
        (
            True,
            {"deal_currency_code": "USD"},
            [{"name": "x", "quantity": 1, "price": 1}],
            "deal.currency_not_jpy",
        ),
        (True, {"dealname": "件" * 256}, [{"name": "x", "quantity": 1, "price": 1}], "text.too_long"),
        (True, {}, [{"name": "x", "quantity": "1.2345", "price": 1}], "line_item.quantity_invalid"),
        (
            True,
            {},
            [{"name": "x", "quantity": 1, "price": 1, "hs_discount_percentage": 150}],
            "line_item.discount_invalid",
        ),
    ],
)
def test_each_validation_rule_reaches_the_deal(world: World, company, props, line_items, code):
    deal = world.deal(company=world.company() if company else None, line_items=line_items, **props)
    assert create_invoice_for_deal(world.context(), PORTAL, deal, "test").result is Result.INVALID
    assert f"[{code}]" in world.deal_props(deal)["freee_sync_error"]
    assert world.invoices() == []


def test_fixed_deal_is_invoiced_on_the_next_trigger_and_the_error_cleared(world: World):
    deal = world.deal(company=world.company(), line_items=[], amount="-1")
    assert create_invoice_for_deal(world.context(), PORTAL, deal, "test").result is Result.INVALID
    world.hubspot_box.update("deals", deal, amount="330000")
    assert create_invoice_for_deal(world.context(), PORTAL, deal, "test").result is Result.CREATED
    shown = world.deal_props(deal)
    assert (shown["freee_sync_status"], shown["freee_sync_error"]) == ("created", "")
    assert world.invoices()[0]["total_amount"] == 363000


def test_deal_not_in_a_won_stage_is_left_alone(world: World):
    deal = world.deal(company=world.company(), line_items=items(), stage="appointmentscheduled")
    assert create_invoice_for_deal(world.context(), PORTAL, deal, "test").result is Result.NOT_WON
    assert world.invoices() == []
    assert world.store.get_ledger(PORTAL, deal) is None


def test_custom_pipeline_won_stage_by_metadata(world: World):
    pipelines = world.hubspot.read_pipelines()
    custom = next(p for p in pipelines if p.id != "default")
    won = next(s for s in custom.stages if s.is_won_by_metadata)
    deal = world.deal(company=world.company(), line_items=items(), pipeline=custom.id, stage=won.id)
    assert create_invoice_for_deal(world.context(), PORTAL, deal, "test").result is Result.CREATED


def test_twenty_triggers_from_four_workers_make_one_invoice_and_one_write(store: Store):
    world = build_world(store, clock=SystemClock())
    try:
        deal = world.deal(company=world.company(), contact=world.contact(), line_items=items())
        triggers: queue.Queue[int] = queue.Queue()
        for n in range(20):
            triggers.put(n)
        results: list[Result] = []
        errors: list[BaseException] = []

        def worker() -> None:
            freee = world.freee_client()
            while True:
                try:
                    triggers.get_nowait()
                except queue.Empty:
                    return
                while True:
                    try:
                        results.append(
                            create_invoice_for_deal(
                                world.context(freee=freee), PORTAL, deal, "webhook"
                            ).result
                        )
                        break
                    except DealBusy:
                        time.sleep(0.01)  # a queue would redeliver later
                    except BaseException as exc:
                        errors.append(exc)
                        break

        threads = [threading.Thread(target=worker) for _ in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=60)
        assert errors == []
        assert sorted(results).count(Result.CREATED) == 1
        assert results.count(Result.ALREADY_INVOICED) == 19
        assert len(world.invoices()) == 1
        assert len(world.partners()) == 1
        assert [r.deal_id for r in world.store.ledger()] == [deal]
        assert world.counter.count("deals.batch_update") == 1
        assert world.deal_props(deal)["freee_invoice_id"] == str(world.invoices()[0]["id"])
    finally:
        world.close()


def test_answer_lost_after_freee_committed_then_next_attempt_adopts_the_invoice(world: World):
    deal = world.deal(company=world.company(), line_items=items())
    world.freee_box.faults.script("timeout_after_commit", path_prefix="/iv/invoices", methods={"POST"})
    with pytest.raises(FreeeOutcomeUnknown):
        create_invoice_for_deal(world.context(), PORTAL, deal, "webhook")
    assert len(world.invoices()) == 1  # freee has it; the ledger does not
    row = world.store.get_ledger(PORTAL, deal)
    assert row.state is LedgerState.FAILED
    assert world.deal_props(deal)["freee_sync_status"] == "failed"
    world.clock.advance(world.settings.freee_settle_seconds)  # the settling period after a lost answer
    outcome = create_invoice_for_deal(world.context(), PORTAL, deal, "retry")
    assert outcome.result is Result.CREATED
    assert outcome.adopted
    assert len(world.invoices()) == 1
    assert world.deal_props(deal)["freee_invoice_id"] == str(world.invoices()[0]["id"])
    assert world.deal_props(deal)["freee_sync_status"] == "created"


class WorkerKilled(BaseException):
    """The process dies: nothing after this line runs, no error handler records anything."""


def test_worker_killed_after_freee_committed_is_finished_by_the_next_one_after_the_lease(world: World):
    deal = world.deal(company=world.company(), line_items=items())

    class Dying:
        def __init__(self, store: Store) -> None:
            self._store = store

        def __getattr__(self, name: str):
            return getattr(self._store, name)

        def record_invoice(self, *args, **kwargs):
            raise WorkerKilled

    with pytest.raises(WorkerKilled):
        create_invoice_for_deal(world.context(store=Dying(world.store)), PORTAL, deal, "webhook")
    assert len(world.invoices()) == 1
    assert world.store.get_ledger(PORTAL, deal).state is LedgerState.CREATING
    with pytest.raises(DealBusy):  # the dead worker's lease still holds
        create_invoice_for_deal(world.context(), PORTAL, deal, "webhook")
    world.clock.advance(121)
    outcome = create_invoice_for_deal(world.context(), PORTAL, deal, "webhook")
    assert (outcome.result, outcome.adopted) == (Result.CREATED, True)
    assert len(world.invoices()) == 1
    assert world.store.get_ledger(PORTAL, deal).attempts == 2


def test_deal_moved_to_lost_after_invoicing_is_flagged_for_accounting(world: World):
    deal = world.deal(company=world.company(), line_items=items())
    create_invoice_for_deal(world.context(), PORTAL, deal, "webhook")
    world.hubspot_box.update("deals", deal, dealstage="closedlost")
    outcome = create_invoice_for_deal(world.context(), PORTAL, deal, "webhook")
    assert outcome.result is Result.FLAGGED_LOST
    error = world.deal_props(deal)["freee_sync_error"]
    assert "経理" in error
    assert "accounting must cancel" in error
    assert world.invoices()[0]["cancel_status"] == "uncanceled"


def test_deal_moved_to_lost_cancels_the_invoice_when_allowed(store: Store):
    world = build_world(store, cancel_invoice_when_lost=True)
    try:
        deal = world.deal(company=world.company(), line_items=items())
        create_invoice_for_deal(world.context(), PORTAL, deal, "webhook")
        world.hubspot_box.update("deals", deal, dealstage="closedlost")
        assert create_invoice_for_deal(world.context(), PORTAL, deal, "webhook").result is Result.CANCELLED
        assert world.invoices()[0]["cancel_status"] == "canceled"
        assert world.store.get_ledger(PORTAL, deal).state is LedgerState.CANCELLED
        assert world.deal_props(deal)["freee_sync_status"] == "cancelled"
    finally:
        world.close()


def test_same_name_as_someone_elses_partner_is_a_conflict_not_a_merge(world: World):
    world.freee_box.add_partner("株式会社サンプル商事", code="MANUAL-1")
    deal = world.deal(company=world.company("株式会社サンプル商事"), line_items=items())
    outcome = create_invoice_for_deal(world.context(), PORTAL, deal, "test")
    assert outcome.result is Result.INVALID
    assert outcome.problems[0].code == "company.partner_conflict"
    assert "[company.partner_conflict]" in world.deal_props(deal)["freee_sync_error"]
    assert len(world.partners()) == 1
    assert world.invoices() == []


def test_partner_set_by_hand_on_the_company_is_used(world: World):
    existing = world.freee_box.add_partner("サンプル商事（本社）", code="MANUAL-2")
    company = world.company(freee_partner_id=str(existing["id"]))
    deal = world.deal(company=company, line_items=items())
    assert create_invoice_for_deal(world.context(), PORTAL, deal, "test").result is Result.CREATED
    assert world.invoices()[0]["partner_id"] == existing["id"]
    assert len(world.partners()) == 1
    assert world.counter.count("companies.batch_update") == 0


def test_partner_with_the_derived_code_is_found_not_duplicated(world: World):
    company = world.company()
    existing = world.freee_box.add_partner("サンプル商事", code=f"HS-{company}")
    deal = world.deal(company=company, line_items=items())
    create_invoice_for_deal(world.context(), PORTAL, deal, "test")
    assert world.invoices()[0]["partner_id"] == existing["id"]
    assert len(world.partners()) == 1


def test_freee_down_while_finding_the_partner_shows_failed_then_the_retry_succeeds(world: World):
    deal = world.deal(company=world.company(), line_items=items())
    world.freee_box.faults.script("5xx", "5xx", "5xx", "5xx", path_prefix="/api/1/partners")
    with pytest.raises(Retryable):
        create_invoice_for_deal(world.context(), PORTAL, deal, "webhook")
    row = world.store.get_ledger(PORTAL, deal)
    assert (row.state, row.claim_token) == (LedgerState.FAILED, None)
    assert "FreeeServerError" in row.last_error
    shown = world.deal_props(deal)
    assert shown["freee_sync_status"] == "failed"
    assert "retried" in shown["freee_sync_error"]
    assert world.invoices() == []
    assert create_invoice_for_deal(world.context(), PORTAL, deal, "retry").result is Result.CREATED
    assert world.deal_props(deal)["freee_sync_status"] == "created"


def test_hubspot_down_during_write_back_releases_the_claim_and_the_next_trigger_writes_it(world: World):
    deal = world.deal(company=world.company(), line_items=items())
    world.hubspot_box.faults.script(
        "5xx", "5xx", "5xx", "5xx", "5xx", "5xx", "5xx", path_prefix="/crm/v3/objects/deals/batch/update"
    )
    with pytest.raises(Retryable):
        create_invoice_for_deal(world.context(), PORTAL, deal, "webhook")
    row = world.store.get_ledger(PORTAL, deal)
    assert (row.state, row.claim_token, dict(row.written)) == (LedgerState.CREATED, None, {})
    world.hubspot_box.faults.reset()
    again = create_invoice_for_deal(world.context(), PORTAL, deal, "webhook")
    assert again.result is Result.ALREADY_INVOICED
    assert world.deal_props(deal)["freee_invoice_id"] == str(world.invoices()[0]["id"])
    assert len(world.invoices()) == 1


def test_dry_run_plan_of_an_invalid_deal_lists_the_write_it_would_make(world: World):
    deal = world.deal(company=None, line_items=[], amount="5")
    plan = plan_invoice_for_deal(world.context(), PORTAL, deal)
    assert [p.code for p in plan.problems] == ["deal.company_missing"]
    assert plan.deal_write["freee_sync_status"] == "invalid"
    assert world.store.get_ledger(PORTAL, deal) is None
