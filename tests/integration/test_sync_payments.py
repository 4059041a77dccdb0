"""freee payments → deals and company rollups in HubSpot (issue 6), end to end against both sandboxes."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from cli.app import app
from local.world import World, build_world, cli_env
from sandbox.transport import serve
from sdk.clock import SystemClock
from sdk.freee.errors import FreeeUnavailable
from sdk.runtime import LambdaRuntime
from sdk.store import LedgerState, Store
from sdk.store.sqlite import SQLiteStore
from sdk.usecases.create_invoice import Result, create_invoice_for_deal
from sdk.usecases.sync_payments import LEASE_NAME, sync_payments
from tests.billing_clock import PORTAL
from tests.billing_clock import advance_to as go_to

TOTAL = 110_000  # one line of 100,000 yen + 10 % tax
DUE = date(2026, 12, 20)  # billed 2026-11-20, net_30


@pytest.fixture
def world(store: Store) -> Iterator[World]:
    w = build_world(store, auto_register_deals=False)
    yield w
    w.close()


def items() -> list[dict[str, Any]]:
    return [{"name": "導入支援", "quantity": 1, "price": 100000}]


def invoiced(world: World, company: str) -> tuple[str, int]:
    deal = world.deal(company=company, line_items=items())
    outcome = create_invoice_for_deal(world.context(), PORTAL, deal, "test")
    assert outcome.result is Result.CREATED
    assert outcome.invoice is not None
    assert outcome.invoice.amount_total == TOTAL
    return deal, outcome.invoice.invoice_id


@dataclass
class Book:
    a: str
    b: str
    c: str
    deals: dict[str, str]


def a_book_of_invoices(world: World) -> Book:
    """Three companies' invoices in every payment situation, as freee has them on 2026-12-22."""
    a = world.company("株式会社エー", freee_payment_terms="net_30")
    b = world.company("株式会社ビー", freee_payment_terms="net_30")
    c = world.company("株式会社シー", freee_payment_terms="net_90")
    made = {
        name: invoiced(world, company)
        for name, company in [
            ("full", a),
            ("part", a),
            ("twice", a),
            ("none", a),
            ("cancelled", b),
            ("unregistered", b),
            ("later", c),
            ("later_part", c),
        ]
    }
    box = world.freee_box
    box.pay(made["full"][1], TOTAL, date(2026, 12, 1))
    box.pay(made["part"][1], 40_000, date(2026, 12, 1))
    box.pay(made["twice"][1], 50_000, date(2026, 12, 1))
    box.pay(made["twice"][1], 60_000, date(2026, 12, 10))
    box.register_deal(made["none"][1])
    box.register_deal(made["later"][1])
    box.pay(made["later_part"][1], 10_000, date(2026, 12, 5))
    world.freee.cancel_invoice(made["cancelled"][1])
    go_to(world, date(2026, 12, 22))
    return Book(a, b, c, {name: deal for name, (deal, _) in made.items()})


def payment(world: World, deal: str) -> tuple[Any, ...]:
    p = world.deal_props(deal)
    return (
        p.get("freee_payment_status") or "",
        p.get("freee_amount_paid"),
        p.get("freee_amount_outstanding"),
        p.get("freee_paid_date") or "",
        p.get("freee_days_overdue"),
    )


def rollup(world: World, company: str) -> tuple[Any, ...]:
    p = world.company_props(company)
    return (
        p.get("freee_outstanding_total"),
        p.get("freee_overdue_total"),
        p.get("freee_overdue_invoice_count"),
        p.get("freee_oldest_overdue_days"),
        p.get("freee_last_payment_date") or "",
        p.get("freee_payment_risk"),
    )


def writes(world: World) -> tuple[int, int]:
    return world.counter.count("deals.batch_update"), world.counter.count("companies.batch_update")


def api_calls(world: World) -> list[str]:
    return [c for c in world.freee_calls if "/token" not in c]


def test_every_payment_situation_shows_on_deals_and_companies(world: World):
    book = a_book_of_invoices(world)
    world.counter.reset()
    world.freee_calls.clear()

    summary = sync_payments(world.context())

    assert summary.ok, summary.errors
    assert summary.checked == 8
    assert (summary.changed_deals, summary.changed_companies) == (8, 3)
    d = book.deals
    assert payment(world, d["full"]) == ("paid", "110000", "0", "2026-12-01", "0")
    assert payment(world, d["part"]) == ("overdue", "40000", "70000", "", "2")
    assert payment(world, d["twice"]) == ("paid", "110000", "0", "2026-12-10", "0")
    assert payment(world, d["none"]) == ("overdue", "0", "110000", "", "2")
    assert payment(world, d["cancelled"]) == ("", "0", "0", "", "0")
    assert payment(world, d["unregistered"]) == ("overdue", "0", "110000", "", "2")
    assert payment(world, d["later"]) == ("unpaid", "0", "110000", "", "0")
    assert payment(world, d["later_part"]) == ("partially_paid", "10000", "100000", "", "0")
    cancelled = world.deal_props(d["cancelled"])
    assert cancelled["freee_sync_status"] == "cancelled"
    assert "cancelled" in (cancelled["freee_sync_error"] or "")
    assert world.store.get_ledger(PORTAL, d["cancelled"]).state is LedgerState.CANCELLED
    assert world.deal_props(d["full"])["freee_synced_at"]
    assert rollup(world, book.a) == ("180000", "180000", "2", "2", "2026-12-10", "overdue")
    assert rollup(world, book.b) == ("110000", "110000", "1", "2", "", "overdue")
    assert rollup(world, book.c) == ("210000", "0", "0", "0", "2026-12-05", "watch")
    # freee: list calls only: cancelled invoices, the invoices whose accounting deal is not known yet, and the
    # accounting deals with their payments
    assert api_calls(world) == ["GET /iv/invoices", "GET /iv/invoices", "GET /api/1/deals"]
    assert writes(world) == (1, 1)
    assert summary.written_calls == 2


def test_a_deal_and_a_company_deleted_in_hubspot_are_skipped_reported_and_block_nothing(
    world: World, caplog: pytest.LogCaptureFixture
):
    book = a_book_of_invoices(world)
    gone_deal, gone_company = book.deals["none"], book.c
    world.hubspot_box.delete("deals", gone_deal)
    world.hubspot_box.delete("companies", gone_company)
    world.counter.reset()

    with caplog.at_level("WARNING", logger="hubspot-freee"):
        summary = sync_payments(world.context())

    assert summary.ok, summary.errors  # not a failure of the sync: the records are gone
    assert (summary.gone_deals, summary.gone_companies) == ([gone_deal], [gone_company])
    assert writes(world) == (2, 2)  # each batch refused whole for the gone record, then sent without it
    d = book.deals
    assert payment(world, d["full"]) == ("paid", "110000", "0", "2026-12-01", "0")
    assert payment(world, d["later_part"]) == ("partially_paid", "10000", "100000", "", "0")
    assert rollup(world, book.a) == ("180000", "180000", "2", "2", "2026-12-10", "overdue")
    assert caplog.text.count("'event': 'hubspot_record_gone'") == 2
    assert f"'deal_id': '{gone_deal}'" in caplog.text
    assert f"'company_id': '{gone_company}'" in caplog.text
    assert summary.as_dict()["gone_deals"] == [gone_deal]
    world.counter.reset()

    again = sync_payments(world.context())  # nothing was remembered as written for them: reported again

    assert (again.gone_deals, again.gone_companies) == ([gone_deal], [gone_company])
    assert (again.changed_deals, again.changed_companies) == (1, 1)


class Listings:
    """The freee client, noting each listing the sync asks for (and its filters)."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.asked: list[tuple[str, dict[str, Any]]] = []

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def iter_invoices(self, **filters: Any) -> Any:
        self.asked.append(("invoices", filters))
        return self.inner.iter_invoices(**filters)

    def iter_deals(self, **filters: Any) -> Any:
        self.asked.append(("deals", filters))
        return self.inner.iter_deals(**filters)


def test_once_the_accounting_deals_are_known_invoices_are_only_listed_for_cancellations(world: World):
    book = a_book_of_invoices(world)
    first = Listings(world.freee)
    sync_payments(world.context(freee=first))
    assert [(kind, f.get("cancel_status")) for kind, f in first.asked] == [
        ("invoices", "canceled"),
        ("invoices", None),
        ("deals", None),
    ]
    learned = world.store.get_ledger(PORTAL, book.deals["later_part"]).invoice
    assert learned.accounting_deal_id is not None  # remembered although HubSpot needed no new write for it
    unregistered = world.store.get_ledger(PORTAL, book.deals["unregistered"]).invoice
    assert unregistered.accounting_deal_id is None
    invoice_id = world.store.get_ledger(PORTAL, book.deals["part"]).invoice.invoice_id
    world.freee_box.pay(invoice_id, 70_000, date(2026, 12, 22))
    world.freee_calls.clear()

    second = Listings(world.freee)
    summary = sync_payments(world.context(freee=second))

    assert summary.ok, summary.errors
    assert payment(world, book.deals["part"]) == ("paid", "110000", "0", "2026-12-22", "0")
    # only the invoice still without an accounting deal is listed again, next to the cancelled listing
    assert [(kind, f.get("cancel_status")) for kind, f in second.asked] == [
        ("invoices", "canceled"),
        ("invoices", None),
        ("deals", None),
    ]
    assert api_calls(world) == ["GET /iv/invoices", "GET /iv/invoices", "GET /api/1/deals"]
    world.freee_box.register_deal(unregistered.invoice_id)
    sync_payments(world.context())
    world.freee_calls.clear()
    third = Listings(world.freee)
    sync_payments(world.context(freee=third))
    assert [(kind, f.get("cancel_status")) for kind, f in third.asked] == [
        ("invoices", "canceled"),
        ("deals", None),
    ]
    assert api_calls(world) == ["GET /iv/invoices", "GET /api/1/deals"]


def test_an_accounting_deal_gone_from_freee_is_judged_from_its_invoice(world: World):
    book = a_book_of_invoices(world)
    sync_payments(world.context())
    row = world.store.get_ledger(PORTAL, book.deals["later_part"])
    known = row.invoice.accounting_deal_id
    assert known is not None
    with world.freee_box.state.lock:  # the deal is deleted and the invoice registered again in freee
        del world.freee_box.state.deals[known]
        record = world.freee_box.state.invoices[row.invoice.invoice_id]
        record.update(deal_status="unregistered", deal_id=None)
    world.freee_box.register_deal(row.invoice.invoice_id)

    summary = sync_payments(world.context())

    assert summary.ok, summary.errors
    renewed = world.store.get_ledger(PORTAL, book.deals["later_part"]).invoice.accounting_deal_id
    assert renewed not in (None, known)
    assert payment(world, book.deals["later_part"])[0] == "unpaid"  # the new deal has no payment yet


def test_second_sync_with_nothing_changed_writes_nothing(world: World):
    a_book_of_invoices(world)
    sync_payments(world.context())
    world.counter.reset()
    world.freee_calls.clear()

    again = sync_payments(world.context())

    assert again.ok
    assert (again.changed_deals, again.changed_companies, again.written_calls) == (0, 0, 0)
    assert writes(world) == (0, 0)
    assert all(c.startswith("GET ") for c in api_calls(world))
    assert again.checked == 5  # the two paid and the cancelled invoice are not read again


def test_days_overdue_move_with_the_calendar_without_any_freee_change(world: World):
    book = a_book_of_invoices(world)
    sync_payments(world.context())
    world.counter.reset()
    go_to(world, date(2026, 12, 25))

    sync_payments(world.context())

    assert payment(world, book.deals["part"]) == ("overdue", "40000", "70000", "", "5")
    assert payment(world, book.deals["unregistered"]) == ("overdue", "0", "110000", "", "5")
    assert rollup(world, book.a)[3] == "5"
    assert writes(world) == (1, 1)


def test_company_rollups_move_with_the_calendar_even_for_invoices_not_read_again(world: World):
    """``--since`` after every billing date reads no invoice; the companies still show today's lateness."""
    book = a_book_of_invoices(world)
    sync_payments(world.context())
    assert rollup(world, book.a)[3] == "2"
    go_to(world, date(2026, 12, 25))
    world.freee_calls.clear()

    summary = sync_payments(world.context(), since=date(2026, 12, 1))

    assert (summary.checked, api_calls(world)) == (0, [])
    assert rollup(world, book.a)[3] == "5"  # oldest overdue, 3 days later
    assert rollup(world, book.b)[3] == "5"


def test_a_payment_after_the_last_sync_is_written_to_that_deal_and_its_company_only(world: World):
    book = a_book_of_invoices(world)
    sync_payments(world.context())
    world.counter.reset()
    invoice_id = world.store.get_ledger(PORTAL, book.deals["part"]).invoice.invoice_id
    world.freee_box.pay(invoice_id, 70_000, date(2026, 12, 22))

    summary = sync_payments(world.context())

    assert (summary.changed_deals, summary.changed_companies) == (1, 1)
    assert payment(world, book.deals["part"]) == ("paid", "110000", "0", "2026-12-22", "0")
    assert rollup(world, book.a) == ("110000", "110000", "1", "2", "2026-12-22", "overdue")


def test_dry_run_reports_the_changes_and_writes_nothing(world: World):
    book = a_book_of_invoices(world)
    world.counter.reset()

    summary = sync_payments(world.context(), dry_run=True)

    assert (summary.changed_deals, summary.changed_companies, summary.written_calls) == (8, 3, 0)
    assert summary.deal_changes[book.deals["full"]]["freee_payment_status"] == "paid"
    assert writes(world) == (0, 0)
    assert world.store.get_ledger(PORTAL, book.deals["cancelled"]).state is LedgerState.CREATED


def test_a_quiet_installation_stays_connected_to_freee(world: World):
    """Four months with no won deal and no open invoice: the daily syncs have nothing to read in freee, yet
    they renew the refresh token before freee's 90 days run out, so the next won deal is still invoiced."""
    company = world.company()
    for _ in range(120):
        world.clock.advance(24 * 3600)  # type: ignore[attr-defined]
        summary = sync_payments(world.context())
        assert summary.ok, summary.errors
        assert summary.checked == 0
    assert world.freee_calls.count("POST /public_api/token") == 4  # days 30, 60, 90 and 120
    invoiced(world, company)


def test_a_dry_run_leaves_the_token_alone(world: World):
    world.clock.advance(31 * 24 * 3600)  # type: ignore[attr-defined]
    assert sync_payments(world.context(), dry_run=True).ok
    assert "POST /public_api/token" not in world.freee_calls


def test_a_refused_renewal_fails_the_sync_with_what_to_do(world: World):
    world.freee_box.expire_access_tokens(refresh_tokens=True)  # revoked in freee, say
    world.clock.advance(31 * 24 * 3600)  # type: ignore[attr-defined]
    summary = sync_payments(world.context())
    assert not summary.ok
    assert "freee連携を更新できませんでした" in summary.errors[0] and "setup freee" in summary.errors[0]


def test_a_disconnection_met_mid_sync_stops_it_with_what_to_do_and_writes_nothing(world: World):
    book = a_book_of_invoices(world)
    world.freee_box.expire_access_tokens(refresh_tokens=True)  # the refresh token is gone in freee
    world.counter.reset()
    summary = sync_payments(world.context())  # no exception: the summary says it
    assert not summary.ok
    [error] = summary.errors
    assert "入金同期を中止しました" in error and "freee接続が切れています" in error
    assert "hubspot-freee setup freee" in error
    assert writes(world) == (0, 0)
    assert payment(world, book.deals["full"])[0] == "unpaid"
    assert world.store.tokens.load_token().disconnected  # type: ignore[union-attr]


def test_a_sync_while_disconnected_asks_freee_nothing(world: World):
    a_book_of_invoices(world)
    row = world.store.tokens.load_token()
    assert row is not None
    world.store.tokens.mark_disconnected(row.version, "freee refused the refresh token", world.clock.now())
    world.freee_calls.clear()
    summary = sync_payments(world.context())
    assert not summary.ok
    assert len(summary.errors) == 1 and "freee接続が切れています" in summary.errors[0]
    assert world.freee_calls == []


def test_freee_unreachable_for_the_renewal_leaves_it_to_the_next_sync(
    world: World, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
):
    a_book_of_invoices(world)

    def unreachable() -> bool:
        raise FreeeUnavailable("freee token endpoint unreachable: ConnectionError")

    monkeypatch.setattr(world.freee, "keep_connected", unreachable)
    with caplog.at_level("WARNING", logger="hubspot-freee"):
        summary = sync_payments(world.context())
    assert summary.ok and summary.checked == 8  # the payments were still read and written
    assert "freee_token_renewal_deferred" in caplog.text


def test_since_reads_only_invoices_billed_from_that_date(world: World):
    book = a_book_of_invoices(world)
    world.freee_calls.clear()
    later = sync_payments(world.context(), since=date(2026, 11, 21))
    assert (later.checked, api_calls(world)) == (0, [])
    assert later.changed_companies == 3  # still rolled up from the ledger
    on_the_day = sync_payments(world.context(), since=date(2026, 11, 20))
    assert on_the_day.checked == 8
    assert payment(world, book.deals["part"]) == ("overdue", "40000", "70000", "", "2")


def test_a_sync_while_another_runs_does_nothing_and_says_so(world: World):
    a_book_of_invoices(world)
    now = world.clock.now()
    assert world.store.acquire_lease(LEASE_NAME, "the-other-sync", now, now + timedelta(minutes=15))
    world.counter.reset()
    world.freee_calls.clear()

    summary = sync_payments(world.context())

    assert summary.already_running
    assert not summary.ok
    assert writes(world) == (0, 0)
    assert world.freee_calls == []
    world.store.release_lease(LEASE_NAME, "the-other-sync")
    assert sync_payments(world.context()).ok  # and once it is done, the next one runs


def test_a_sync_longer_than_its_lease_keeps_renewing_it(world: World):
    a_book_of_invoices(world)
    settings = world.settings.model_copy(update={"sync_lease_seconds": 60.0})
    others: list[bool] = []

    def slow(phase: str, done: int, total: int) -> None:
        world.clock.advance(50)  # each step takes most of the lease
        now = world.clock.now()
        others.append(world.store.acquire_lease(LEASE_NAME, "another-sync", now, now + timedelta(minutes=1)))

    summary = sync_payments(world.context(settings=settings), progress=slow)

    assert summary.ok, summary.errors
    assert len(others) >= 3 and not any(others)  # three lease lengths later, still nobody else could start


def test_a_sync_whose_lease_ran_out_and_was_taken_stops_and_says_so(world: World):
    a_book_of_invoices(world)
    settings = world.settings.model_copy(update={"sync_lease_seconds": 60.0})
    world.counter.reset()

    def stalled(phase: str, done: int, total: int) -> None:
        world.clock.advance(120)  # stalled past the lease: another sync starts meanwhile
        now = world.clock.now()
        world.store.acquire_lease(LEASE_NAME, "another-sync", now, now + timedelta(minutes=15))

    summary = sync_payments(world.context(settings=settings), progress=stalled)

    assert not summary.ok
    assert any("another sync took over" in e for e in summary.errors)
    assert writes(world) == (0, 0)  # it stopped before writing anything
    now = world.clock.now()
    assert not world.store.acquire_lease(LEASE_NAME, "a-third-sync", now, now)  # the other keeps its lease


class CompaniesDown:
    """A HubSpot client whose company writes fail: the sync stops half way (deals written, companies not)."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def update_companies(self, updates: Any) -> Any:
        raise ConnectionError("HubSpot is down")


def test_a_sync_that_failed_half_way_resumes_without_rewriting_what_was_done(world: World):
    book = a_book_of_invoices(world)
    world.counter.reset()
    failed = sync_payments(world.context(hubspot=CompaniesDown(world.hubspot)))
    assert not failed.ok
    assert writes(world)[0] == 1
    world.counter.reset()

    resumed = sync_payments(world.context())

    assert resumed.ok
    assert (resumed.changed_deals, resumed.changed_companies) == (0, 3)
    assert writes(world) == (0, 1)
    assert rollup(world, book.c)[5] == "watch"


# ----------------------------------------------------------------------------------------------------- CLI


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[World, dict[str, str]]]:
    path = tmp_path / "store.sqlite"
    world = build_world(SQLiteStore(path), clock=SystemClock())
    freee = serve(world.freee_box.app)
    env = cli_env(world, freee.url, path)
    yield world, env
    freee.stop()
    world.close()


def test_cli_sync_payments_prints_the_summary_and_a_second_run_writes_nothing(served):
    world, env = served
    deal, invoice_id = invoiced(world, world.company(freee_payment_terms="net_30"))
    world.freee_box.pay(invoice_id, 30_000, world.freee_box.state.today())
    runner = CliRunner()

    dry = runner.invoke(app, ["sync", "payments", "--dry-run", "--json"], env=env)
    assert dry.exit_code == 0, dry.output
    assert json.loads(dry.stdout)["changed_deals"] == 1
    assert world.deal_props(deal).get("freee_amount_paid") in (None, "")

    first = runner.invoke(app, ["sync", "payments"], env=env)
    assert first.exit_code == 0, first.output
    assert "payment sync" in first.stdout
    assert world.deal_props(deal)["freee_amount_paid"] == "30000"

    second = runner.invoke(app, ["sync", "payments", "--json"], env=env)
    data = json.loads(second.stdout)
    assert (data["changed_deals"], data["changed_companies"], data["written_calls"]) == (0, 0, 0)

    bad = runner.invoke(app, ["sync", "payments", "--since", "yesterday"], env=env)
    assert bad.exit_code == 2


def test_cli_sync_payments_while_disconnected_says_what_to_run_and_exits_non_zero(served):
    world, env = served
    invoiced(world, world.company(freee_payment_terms="net_30"))
    row = world.store.tokens.load_token()
    assert row is not None
    world.store.tokens.mark_disconnected(row.version, "freee refused the refresh token", world.clock.now())
    done = CliRunner().invoke(app, ["sync", "payments"], env=env)
    assert done.exit_code != 0
    assert "freee接続が切れています" in done.output and "hubspot-freee setup freee" in done.output
    assert "Traceback" not in done.output
    assert done.exception is None or isinstance(done.exception, SystemExit)  # an exit code, not a crash


def test_scheduled_handler_returns_the_summary(world: World, monkeypatch: pytest.MonkeyPatch):
    import functions.sync

    a_book_of_invoices(world)
    monkeypatch.setattr(functions.sync, "RUNTIME", LambdaRuntime(context=world.context()))
    first = functions.sync.lambda_handler({}, None)
    again = functions.sync.lambda_handler({"since": "2026-11-20"}, None)
    assert (first["ok"], first["changed_deals"], first["changed_companies"]) == (True, 8, 3)
    assert (again["ok"], again["written_calls"]) == (True, 0)
    assert "deal_changes" not in again
