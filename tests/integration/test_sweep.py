"""The reconciliation sweep (issue 16): won deals that never sent a webhook are queued and invoiced once; invoiced
deals that disagree with HubSpot or freee are repaired or listed; ``hubspot-freee invoice sweep`` as an operator
runs it. Both sandboxes, a SQLite store and queue, the fake clock."""

from __future__ import annotations

import itertools
import json
import threading
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from cli.app import app
from functions.worker import drain, handle_message
from local.world import World, build_world, cli_env
from sdk.clock import FakeClock
from sdk.queue import InvoiceJob
from sdk.queue.sqlite import SQLiteQueue
from sdk.store import LedgerState
from sdk.store.sqlite import SQLiteStore
from sdk.usecases.sweep import Action, Finding, SweepReport, same_value, sweep

PORTAL = 24681357
_companies = itertools.count(1)


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    w = build_world(SQLiteStore(tmp_path / "store.sqlite"))
    yield w
    w.close()


@pytest.fixture
def queue(world: World, tmp_path: Path) -> SQLiteQueue:
    return SQLiteQueue(tmp_path / "queue.sqlite", max_receives=5, clock=world.clock)


def won_deal(world: World, **props: Any) -> str:
    """A deal created directly in a won stage (as an import or an API write would): no webhook is sent."""
    company = world.company(f"株式会社スイープ商事 第{next(_companies)}支店")
    return world.deal(
        company=company, line_items=[{"name": "導入支援", "quantity": 1, "price": 50000}], **props
    )


def run(world: World, queue: SQLiteQueue, **options: Any) -> SweepReport:
    return sweep(world.context(), queue, **options)


def by_deal(report: SweepReport) -> dict[str, tuple[Finding, Action]]:
    return {i.deal_id: (i.finding, i.action) for i in report.items}


def advance(world: World, seconds: float) -> None:
    assert isinstance(world.clock, FakeClock)
    world.clock.advance(seconds)


# -------------------------------------------------------------------------------- won deals without invoice


def test_a_deal_created_in_a_won_stage_is_queued_and_invoiced_once(world: World, queue: SQLiteQueue) -> None:
    deal = won_deal(world)
    open_deal = won_deal(world, stage="appointmentscheduled")

    report = run(world, queue)

    assert by_deal(report) == {deal: (Finding.NOT_INVOICED, Action.QUEUED)}
    assert report.won_deals == 1 and report.queued == [deal]
    [message] = queue.receive(visibility_timeout=1)
    assert message.body == InvoiceJob(portal_id=PORTAL, deal_id=deal, trigger="sweep").body()
    advance(world, 2)
    drain(world.context(), queue)
    [invoice] = world.invoices()
    assert world.deal_props(deal)["freee_invoice_number"] == invoice["invoice_number"]
    assert world.deal_props(open_deal).get("freee_invoice_number") is None

    again = run(world, queue)
    assert again.items == [] and again.in_order == 1 and again.ok
    assert "sweep_queued" in [e.event for e in world.store.history(PORTAL, deal)]


def test_the_sweep_and_a_webhook_racing_for_one_deal_make_one_invoice(
    world: World, queue: SQLiteQueue
) -> None:
    deal = won_deal(world)
    queue.send(InvoiceJob(portal_id=PORTAL, deal_id=deal, trigger="webhook", event_ids=(7,)).body())
    run(world, queue)
    messages = queue.receive(max_messages=10, visibility_timeout=60)
    assert sorted(m.body["trigger"] for m in messages) == ["sweep", "webhook"]

    barrier = threading.Barrier(len(messages))
    results: list[Any] = []

    def work(message: Any) -> None:
        ctx = world.context(freee=world.freee_client())  # a worker of its own
        barrier.wait()
        results.append(handle_message(ctx, message, max_receives=5))

    threads = [threading.Thread(target=work, args=(m,)) for m in messages]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert len(results) == len(messages)  # each worker ran its message (a thread that raised adds nothing)
    advance(world, 600)
    drain(world.context(), queue)

    assert len(world.invoices()) == 1
    row = world.store.get_ledger(PORTAL, deal)
    assert row is not None and row.state is LedgerState.CREATED


def test_a_queued_deal_is_not_queued_again_until_the_requeue_time(world: World, queue: SQLiteQueue) -> None:
    deal = won_deal(world)
    run(world, queue)

    second = run(world, queue)
    assert by_deal(second) == {deal: (Finding.NOT_INVOICED, Action.RECENTLY_QUEUED)}
    assert queue.depth().visible == 1

    advance(world, world.settings.sweep_requeue_hours * 3600 + 1)
    third = run(world, queue)
    assert by_deal(third) == {deal: (Finding.NOT_INVOICED, Action.QUEUED)}
    assert queue.depth().visible == 2


def test_dry_run_queues_and_writes_nothing(world: World, queue: SQLiteQueue) -> None:
    deal = won_deal(world)
    report = run(world, queue, dry_run=True)
    assert by_deal(report) == {deal: (Finding.NOT_INVOICED, Action.WOULD_QUEUE)}
    assert queue.depth().visible == 0
    assert run(world, queue).queued == [deal]  # a dry run remembers nothing either


def test_failed_and_stalled_rows_are_queued_again_and_a_live_attempt_is_left_alone(
    world: World, queue: SQLiteQueue
) -> None:
    from sdk.store import Failure

    failed, busy, stalled = won_deal(world), won_deal(world), won_deal(world)
    now = world.clock.now()
    from datetime import timedelta

    store = world.store
    store.claim(PORTAL, failed, "t1", now, now + timedelta(seconds=90))
    store.record_failure(PORTAL, failed, "t1", Failure(LedgerState.FAILED, "freee 503"), now)
    store.claim(PORTAL, busy, "t2", now, now + timedelta(hours=1))
    store.claim(PORTAL, stalled, "t3", now - timedelta(hours=2), now - timedelta(hours=1))

    report = run(world, queue)

    assert by_deal(report) == {
        failed: (Finding.FAILED, Action.QUEUED),
        stalled: (Finding.STALLED, Action.QUEUED),
    }
    assert next(i for i in report.items if i.deal_id == failed).detail == "freee 503"


def test_only_won_deals_closed_since_the_date_or_with_no_close_date_are_read(
    world: World, queue: SQLiteQueue
) -> None:
    old = won_deal(world, closedate="2025-01-10T03:00:00Z")
    undated = won_deal(world, closedate=None)
    recent = won_deal(world, closedate="2026-11-20T03:00:00Z")

    from datetime import date

    report = run(world, queue, since=date(2026, 11, 1), dry_run=True)

    assert set(by_deal(report)) == {undated, recent}
    assert old not in by_deal(report)


def test_pages_of_200_and_the_search_rate(world: World, queue: SQLiteQueue) -> None:
    company = world.company("株式会社たくさん商事")
    deals = [
        world.hubspot_box.create_deal(
            company=company, dealname=f"d{n}", pipeline="default", dealstage="closedwon"
        )
        for n in range(430)
    ]
    start = world.clock.monotonic()
    world.hubspot_box.state.api_calls.clear()

    report = run(world, queue, dry_run=True)

    assert report.won_deals == 430 and report.hubspot_searches == 3
    assert {i.deal_id for i in report.items} == set(deals)
    searches = [c for c in world.hubspot_box.api_calls if c.path.endswith("/deals/search")]
    assert len(searches) == 3
    assert world.clock.monotonic() - start >= 2 / world.settings.hubspot_search_per_second


# ------------------------------------------------------------------------------- invoiced deals that disagree


def invoiced(world: World, queue: SQLiteQueue) -> str:
    deal = won_deal(world)
    queue.send(InvoiceJob(portal_id=PORTAL, deal_id=deal, trigger="webhook").body())
    drain(world.context(), queue)
    advance(world, 1)
    assert world.deal_props(deal)["freee_invoice_number"]
    return deal


def test_properties_cleared_or_edited_in_hubspot_are_written_again(world: World, queue: SQLiteQueue) -> None:
    deal = invoiced(world, queue)
    number = world.deal_props(deal)["freee_invoice_number"]
    world.hubspot_box.update(
        "deals", deal, freee_invoice_number="", freee_invoice_url="https://example.com/x"
    )

    dry = run(world, queue, dry_run=True)
    assert by_deal(dry) == {deal: (Finding.PROPERTIES_DIFFER, Action.WOULD_REPAIR)}
    assert world.deal_props(deal).get("freee_invoice_number") in (None, "")

    report = run(world, queue)
    assert by_deal(report) == {deal: (Finding.PROPERTIES_DIFFER, Action.REPAIRED)}
    assert report.items[0].detail == "freee_invoice_number, freee_invoice_url"
    assert world.deal_props(deal)["freee_invoice_number"] == number
    assert run(world, queue).items == []


def test_a_value_written_under_a_property_name_no_longer_set_is_not_repaired_forever(
    world: World, queue: SQLiteQueue
) -> None:
    deal = invoiced(world, queue)
    world.store.record_written(PORTAL, deal, {"old_freee_invoice_no": "INV-1"}, world.clock.now())
    assert run(world, queue).items == []


def test_an_invoice_cancelled_in_freee_is_shown_on_the_deal(world: World, queue: SQLiteQueue) -> None:
    deal = invoiced(world, queue)
    [invoice] = world.invoices()
    world.freee_box.state.cancel_invoice(invoice["id"])

    report = run(world, queue)

    assert by_deal(report) == {deal: (Finding.CANCELLED_IN_FREEE, Action.REPAIRED)}
    assert world.deal_props(deal)["freee_sync_status"] == "cancelled"
    row = world.store.get_ledger(PORTAL, deal)
    assert row is not None and row.state is LedgerState.CANCELLED
    assert run(world, queue).items == []


def test_an_invoice_freee_no_longer_has_is_listed_for_a_person(world: World, queue: SQLiteQueue) -> None:
    deal = invoiced(world, queue)
    row = world.store.get_ledger(PORTAL, deal)
    assert row is not None and row.invoice is not None
    lost = replace(row.invoice, invoice_id=row.invoice.invoice_id + 999_999)
    world.store.record_written(PORTAL, deal, {}, world.clock.now(), invoice=lost)

    report = run(world, queue)

    assert by_deal(report) == {deal: (Finding.MISSING_IN_FREEE, Action.LISTED)}
    assert not report.ok
    assert "freee" in report.items[0].message and report.items[0].detail == lost.invoice_number


def test_the_hourly_pass_leaves_freee_alone(world: World, queue: SQLiteQueue) -> None:
    deal = invoiced(world, queue)
    [invoice] = world.invoices()
    world.freee_box.state.cancel_invoice(invoice["id"])
    world.freee_calls.clear()

    report = run(world, queue, check_freee=False)

    assert report.items == [] and world.freee_calls == []
    assert run(world, queue).items[0].deal_id == deal  # the daily pass finds it


def test_without_a_portal_id_the_sweep_says_so_and_reads_nothing(world: World, queue: SQLiteQueue) -> None:
    settings = world.settings.model_copy(update={"hubspot_portal_id": None})
    report = sweep(world.context(settings=settings), queue)
    assert not report.ok and "HUBSPOT_PORTAL_ID" in report.errors[0]
    assert report.hubspot_searches == 0


@pytest.mark.parametrize(
    ("written", "shown", "same"),
    [
        ("165000", "165000.0", True),
        ("", None, True),
        ("2026-12-31", "2026-12-31", True),
        ("2026-12-01T00:00:00.000Z", "2026-12-01T09:00:00+09:00", True),
        ("2026-12-01T00:00:00.000Z", "1796083200000", True),
        ("165000", "", False),
        ("INV-1", "INV-2", False),
        ("2026-12-01", "2026-12-02", False),
    ],
)
def test_values_compare_as_hubspot_normalises_them(written: str, shown: str | None, same: bool) -> None:
    assert same_value(written, shown) is same


# ------------------------------------------------------------------------------------------------ the CLI


def test_cli_sweep_queues_prints_and_answers_json(world: World, tmp_path: Path) -> None:
    from sandbox.transport import serve

    deal = won_deal(world)
    freee = serve(world.freee_box.app)
    try:
        env = cli_env(
            world, freee.url, tmp_path / "store.sqlite", QUEUE_URL=f"sqlite:///{tmp_path / 'q.sqlite'}"
        )
        runner = CliRunner()
        dry = runner.invoke(app, ["invoice", "sweep", "--dry-run", "--json"], env=env)
        assert dry.exit_code == 0, dry.output
        data = json.loads(dry.stdout)
        assert data["counts"] == {"would_queue": 1} and data["items"][0]["deal_id"] == deal

        plain = runner.invoke(app, ["invoice", "sweep"], env=env)
        assert plain.exit_code == 0, plain.output
        assert "queued / 投入 1" in plain.stdout and deal in plain.stdout
        assert "受注済みですが請求書がありません" in plain.stdout

        bad = runner.invoke(app, ["invoice", "sweep", "--since", "yesterday"], env=env)
        assert bad.exit_code == 2 and "YYYY-MM-DD" in bad.output
    finally:
        freee.stop()


# ------------------------------------------------------------------------------------------- the Lambda


def test_the_scheduled_lambda_queues_and_logs_each_item(
    world: World, queue: SQLiteQueue, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import functions.sweep as handler
    from sdk.runtime import LambdaRuntime

    deal = won_deal(world)
    monkeypatch.setattr(handler, "RUNTIME", LambdaRuntime(context=world.context(), queue=queue))

    result = handler.lambda_handler({"since": "2026-11-01"}, None)

    assert result["counts"] == {"queued": 1} and result["ok"] and "items" not in result
    assert queue.receive()[0].body["deal_id"] == deal
    logged = [json.loads(line) for line in capsys.readouterr().err.splitlines() if line.startswith("{")]
    assert any(e["message"].get("event") == "sweep_item" and e["message"]["deal_id"] == deal for e in logged)
