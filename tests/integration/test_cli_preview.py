"""``hubspot-freee preview`` as an operator runs it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cli.app import app

EXAMPLES = Path(__file__).resolve().parents[2] / "cli" / "examples" / "deals.json"
runner = CliRunner()


def run(*args: str, env: dict[str, str] | None = None):
    return runner.invoke(app, list(args), env=env)


def test_preview_of_the_examples_shows_invoices_and_reasons():
    result = run("preview", "--file", str(EXAMPLES), "--today", "2026-11-25")
    assert result.exit_code == 0, result.output
    assert "ready to invoice" in result.output
    assert "8%（軽減税率）" in result.output
    assert "deal.company_missing" in result.output
    assert "請求書を作成できません" in result.output


def test_the_examples_payment_terms_written_in_japanese_are_read():
    examples = json.loads(EXAMPLES.read_text(encoding="utf-8"))
    terms = {
        e["deal"]["id"]: ((e.get("company") or {}).get("properties") or {}).get("freee_payment_terms")
        for e in examples
    }
    result = run("preview", "--file", str(EXAMPLES), "--json")
    shown = {d["deal_id"]: d for d in json.loads(result.stdout)}
    due = {
        terms[deal_id]: (d["draft"]["due_date"], d["draft"]["payment_terms"], d["draft"]["payment_terms_ja"])
        for deal_id, d in shown.items()
        if d["status"] == "ok" and terms[deal_id] and not terms[deal_id].isascii()
    }
    assert due == {
        "20日締め翌月10日払い": (
            "2026-12-10",
            "close_20_next_month_day_10",
            "20日締め翌月10日払い",
        ),  # billed 11-16
        "末締め翌月末払い": ("2026-11-30", "month_end_next_month_end", "月末締め翌月末払い"),  # billed 10-09
        "請求日から30日": ("2026-12-05", "net_30", "請求日から30日後"),  # billed 11-05
    }
    unreadable = [d for deal_id, d in shown.items() if terms[deal_id] == "手形120日"]  # a promissory note
    assert [p["code"] for p in unreadable[0]["problems"]].count("company.payment_terms_invalid") == 1
    human = run("preview", "--file", str(EXAMPLES), "--today", "2026-11-25")
    assert "(20日締め翌月10日払い)" in human.output


def test_preview_json_is_machine_readable_and_complete():
    result = run("preview", "--file", str(EXAMPLES), "--json", "--company-id", "77")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    examples = json.loads(EXAMPLES.read_text(encoding="utf-8"))
    assert len(data) == len(examples) >= 14
    ok = [d for d in data if d["status"] == "ok"]
    invalid = [d for d in data if d["status"] == "invalid"]
    assert len(ok) >= 10
    assert len(invalid) >= 4
    for deal in ok:
        request = deal["freee_request"]
        assert request["company_id"] == 77
        assert deal["draft"]["net"] + deal["draft"]["tax_total"] == deal["draft"]["total"]
        assert request["payment_date"] >= request["billing_date"]
    assert any(t["rate"] == "8_reduced" for d in ok for t in d["draft"]["tax"])
    assert all(p["ja"] and p["en"] and p["code"] for d in invalid for p in d["problems"])


def test_without_a_company_id_the_request_is_not_shown():
    result = run("preview", "--file", str(EXAMPLES), "--json")
    assert result.exit_code == 0
    assert all(d.get("freee_request") is None for d in json.loads(result.stdout))


def test_strict_exits_1_when_a_deal_cannot_be_invoiced():
    assert run("preview", "--file", str(EXAMPLES), "--strict").exit_code == 1


def test_strict_exits_0_when_every_deal_is_valid(tmp_path):
    examples = json.loads(EXAMPLES.read_text(encoding="utf-8"))
    valid = [e for e in examples if not e["deal"]["properties"]["dealname"].startswith("【不備】")]
    path = tmp_path / "valid.json"
    path.write_text(json.dumps(valid, ensure_ascii=False), encoding="utf-8")
    result = run("preview", "--file", str(path), "--strict")
    assert result.exit_code == 0, result.output


def test_a_single_deal_object_is_accepted(tmp_path):
    one = json.loads(EXAMPLES.read_text(encoding="utf-8"))[0]
    path = tmp_path / "one.json"
    path.write_text(json.dumps(one, ensure_ascii=False), encoding="utf-8")
    result = run("preview", "--file", str(path), "--json")
    assert result.exit_code == 0
    assert len(json.loads(result.stdout)) == 1


@pytest.mark.parametrize(
    ("content", "fragment"),
    [
        (None, "no such file"),
        (b"[{", "not valid JSON at line 1"),
        (b"\xff\xfe\x00", "UTF-8"),
        (b'[{"deal": {"id": "abc"}}]', "0/deal/id"),
        (b'"just a string"', "not a list of deals"),
    ],
)
def test_bad_files_are_clear_errors_with_exit_2(tmp_path, content, fragment):
    path = tmp_path / "deals.json"
    if content is not None:
        path.write_bytes(content)
    result = run("preview", "--file", str(path))
    assert result.exit_code == 2
    assert fragment in result.output
    assert "Traceback" not in result.output


def test_bad_settings_are_named_with_exit_2():
    result = run("preview", "--file", str(EXAMPLES), env={"TAX__ROUNDING": "bankers"})
    assert result.exit_code == 2
    assert "TAX__ROUNDING" in result.output


def test_bad_today_is_a_clear_error():
    result = run("preview", "--file", str(EXAMPLES), "--today", "tomorrow")
    assert result.exit_code == 2
    assert "--today" in result.output


def test_settings_change_the_preview():
    result = run("preview", "--file", str(EXAMPLES), "--json", env={"TAX__ENTRY_METHOD": "in"})
    data = [d for d in json.loads(result.stdout) if d["status"] == "ok"]
    assert all(d["draft"]["entry_method"] == "in" for d in data)
    assert all(d["draft"]["net"] + d["draft"]["tax_total"] == d["draft"]["total"] for d in data)


def test_the_bundled_examples_are_found_from_any_directory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.chdir(tmp_path)  # no examples/ folder here: the package's own copy is read
    result = run("preview", "--example", "--json", "--company-id", "77")
    assert result.exit_code == 0, result.output
    assert len(json.loads(result.stdout)) == len(json.loads(EXAMPLES.read_text(encoding="utf-8")))


@pytest.mark.parametrize("args", [[], ["--example", "--file", "x.json"]])
def test_preview_needs_exactly_one_source(args: list[str]):
    result = run("preview", *args)
    assert result.exit_code == 2
    assert "--example" in result.output


def test_the_examples_are_package_data():
    import tomllib

    project = tomllib.loads((EXAMPLES.parents[2] / "pyproject.toml").read_text(encoding="utf-8"))
    patterns = project["tool"]["setuptools"]["package-data"]["cli"]
    assert any(EXAMPLES.relative_to(EXAMPLES.parents[1]).match(p) for p in patterns)
