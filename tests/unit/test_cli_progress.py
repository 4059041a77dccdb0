"""The CLI's progress for long passes: a bar on a terminal, at most eleven plain lines per phase in a pipe."""

from __future__ import annotations

import io

import pytest
from rich.console import Console

import cli.common as common


def test_in_a_pipe_a_long_pass_prints_a_few_plain_lines(monkeypatch: pytest.MonkeyPatch) -> None:
    out = io.StringIO()
    monkeypatch.setattr(common, "err", Console(file=out, force_terminal=False, width=80))
    with common.progress_bar({"hubspot": "won deals / 受注取引"}) as report:
        for done in range(1, 1001):
            report("hubspot", done, 1000)
        report("freee", 3, 3)
    lines = out.getvalue().splitlines()
    hubspot = [line for line in lines if line.startswith("won deals / 受注取引: ")]
    assert 2 <= len(hubspot) <= 11
    assert hubspot[-1] == "won deals / 受注取引: 1000/1000"
    assert lines[-1] == "freee: 3/3"  # a phase without a label is named as it is
    assert "\x1b[" not in out.getvalue()  # no escape codes in a pipe


def test_with_json_nothing_is_printed(monkeypatch: pytest.MonkeyPatch) -> None:
    out = io.StringIO()
    monkeypatch.setattr(common, "err", Console(file=out, force_terminal=False))
    with common.progress_bar({"x": "x"}, quiet=True) as report:
        report("x", 1, 1)
    assert out.getvalue() == ""


def test_on_a_terminal_a_bar_is_drawn(monkeypatch: pytest.MonkeyPatch) -> None:
    out = io.StringIO()
    monkeypatch.setattr(common, "err", Console(file=out, force_terminal=True, width=80))
    with common.progress_bar({"x": "deals / 取引"}) as report:
        report("x", 5, 10)
    assert "deals / 取引" in out.getvalue() and "\x1b[" in out.getvalue()
