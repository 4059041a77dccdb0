"""``make demo`` (``hubspot-freee demo``): the whole loop against the sandboxes, checked by its own plan."""

from __future__ import annotations

import dataclasses
import io

import pytest
from rich.console import Console
from typer.testing import CliRunner

import local.demo as demo
from cli.app import app


def test_the_demo_runs_the_whole_loop_and_every_value_matches_its_plan():
    out = io.StringIO()
    run = demo.run_demo(Console(file=out, width=160))
    assert run.problems == []
    assert len(run.deals) == len(demo.DEALS) and len(run.companies) == len(demo.COMPANIES)
    assert {status for d in demo.DEALS if (status := d.expect_status)} == {
        "paid",
        "partially_paid",
        "unpaid",
        "overdue",
    }  # every payment state shows up in the story
    text = out.getvalue()
    assert "still 7 invoices" in text  # replayed webhooks made no second invoice
    assert "0 HubSpot batch writes" in text  # the second sync wrote nothing
    assert "株式会社サンプル商事" in text and "overdue" in text


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
