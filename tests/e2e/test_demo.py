"""``make demo`` (``hubspot-freee demo``): the whole loop against the sandboxes, checked by its own plan."""

from __future__ import annotations

import dataclasses
import io
import re

import pytest
from rich.console import Console
from typer.testing import CliRunner

import local.demo as demo
from cli.app import app


@pytest.fixture(scope="module")
def ran() -> tuple[demo.DemoRun, str]:
    """One run of the demo (several seconds), read by the tests below: the run and what it printed."""
    out = io.StringIO()
    run = demo.run_demo(Console(file=out, width=160))
    return run, out.getvalue()


def test_the_demo_runs_the_whole_loop_and_every_value_matches_its_plan(ran: tuple[demo.DemoRun, str]):
    run, text = ran
    assert run.problems == []
    assert len(run.deals) == len(demo.DEALS) and len(run.companies) == len(demo.COMPANIES)
    assert {status for d in demo.DEALS if (status := d.expect_status)} == {
        "paid",
        "partially_paid",
        "unpaid",
        "overdue",
    }  # every payment state shows up in the story
    assert "still 7 invoices" in text  # replayed webhooks made no second invoice
    assert "0 HubSpot batch writes" in text  # the second sync wrote nothing
    assert "株式会社サンプル商事" in text and "overdue" in text


def test_the_demo_bills_a_subscription_for_three_months_and_one_consolidated_invoice(
    ran: tuple[demo.DemoRun, str],
):
    run, text = ran
    assert run.problems == []
    story = run.billing
    assert story is not None and story.closing is not None
    # three periods, three invoices, each its own; the won trigger billed the first, the pass the next two
    assert sorted(story.invoices) == [1, 2, 3] and len(set(story.invoices.values())) == 3
    first, *later = story.billing_dates
    assert first == story.start and [d.day for d in later] == [1, 1] and later[0] > first
    for day in later:  # each pass billed once; the same pass again that day billed nothing
        assert f"billing pass {day.isoformat()}: deals due 1 → invoices 1; the same pass again → 0" in text
    assert [s.shown["freee_invoice_count"] for s in story.snapshots] == ["1", "2", "3"]
    assert [s.shown["freee_amount_invoiced"] for s in story.snapshots] == ["165000", "220000", "275000"]
    for number, invoice in story.invoices.items():  # the schedule (billing show) lists each with its invoice
        assert re.search(rf"│ {number} .*invoiced .*{invoice}", text)
    assert text.count("upcoming") == 9  # the other nine months of the 12-month term
    # one consolidated invoice for the company's three deals, a heading per deal, tax per rate once
    assert story.consolidated and story.consolidated not in story.invoices.values()
    assert f"billing pass {story.closing.isoformat()}: deals due 3 → invoices 1" in text
    assert text.count(story.consolidated) == 4  # its title and the three deals it bills
    assert "【導入研修】" in text and "税 tax ¥19,800" in text and "¥219,800" in text


def test_the_cli_says_which_value_differs_and_exits_non_zero(monkeypatch: pytest.MonkeyPatch):
    wrong = tuple(dataclasses.replace(d, expect_status="paid") if d.key == "m1" else d for d in demo.DEALS)
    monkeypatch.setattr(demo, "DEALS", wrong)
    result = CliRunner().invoke(app, ["demo"])
    assert result.exit_code != 0
    assert "freee_payment_status = 'overdue', expected 'paid'" in result.output


def test_a_step_that_fails_stops_the_demo_with_its_reason(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(demo, "WAIT_SECONDS", 0.0)
    monkeypatch.setattr(demo._World, "win_all", lambda self, run: None)  # no deal is ever won
    result = CliRunner().invoke(app, ["demo"])
    assert result.exit_code != 0
    assert "some deals have no invoice yet" in result.output
