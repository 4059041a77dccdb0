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
        if (
            deal["billing"]["mode"] == "consolidated"
        ):  # no invoice of its own: the company's closing issues it
            assert request is None
            continue
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


# ----------------------------------------------------------------------------- schedules and consolidation


def _contract(example: dict) -> int:
    """The contract's net from the example's own line items: price × quantity × payments (one-off lines once)."""
    total = 0
    for item in example["lineItems"]:
        props = item["properties"]
        total += (
            int(props["quantity"])
            * int(props["price"])
            * int(props.get("hs_recurring_billing_number_of_payments") or 1)
        )
    return total


def test_preview_json_shows_every_period_of_each_schedule():
    examples = {e["deal"]["id"]: e for e in json.loads(EXAMPLES.read_text(encoding="utf-8"))}
    result = run("preview", "--file", str(EXAMPLES), "--json", "--company-id", "77")
    assert result.exit_code == 0, result.output
    shown = {d["deal_id"]: d for d in json.loads(result.stdout)}

    def schedule(deal_id: str) -> tuple[dict, list[dict]]:
        deal = shown[deal_id]
        assert deal["status"] == "ok", deal.get("problems")
        return deal["schedule_plan"], deal["schedule"]

    monthly, periods = schedule("38120457741")  # P12M monthly + a one-off setup fee
    assert (monthly["frequency"], monthly["count"], len(periods)) == ("monthly", 12, 12)
    assert monthly["net"] == sum(p["net"] for p in periods) == _contract(examples["38120457741"])
    assert periods[0]["lines"] == 2 and all(p["lines"] == 1 for p in periods[1:])
    assert periods[0]["subject"].startswith("2026年12月分 ")

    annual, periods = schedule("38120457778")  # P36M billed annually
    assert (annual["frequency"], annual["count"]) == ("annually", 3)
    assert [p["billing_date"] for p in periods] == ["2026-11-10", "2027-11-10", "2028-11-10"]
    assert annual["net"] == _contract(examples["38120457778"])

    instalments, periods = schedule("38120457815")  # freee_billing_plan = 3
    contract = _contract(examples["38120457815"])
    assert instalments["kind"] == "instalments" and instalments["net"] == contract
    assert [p["label"] for p in periods] == ["分割 1/3回目", "分割 2/3回目", "分割 3/3回目"]
    assert periods[1]["net"] == periods[2]["net"] < periods[0]["net"]
    request = shown["38120457815"]["freee_request"]  # what winning sends at once: the first instalment
    assert request["billing_date"] == periods[0]["billing_date"]
    assert sum(int(line["unit_price"]) * line["quantity"] for line in request["lines"]) == periods[0]["net"]
    assert request["memo"].endswith("deal=38120457815 period=1]")

    delayed, periods = schedule("38120457852")  # starts a month after the close date (2026-11-16)
    assert (delayed["start"], periods[0]["billing_date"], len(periods)) == ("2026-12-16", "2026-12-16", 6)
    assert shown["38120457852"]["freee_request"]["billing_date"] == "2026-12-16"

    open_ended, periods = schedule("38120457889")
    assert (open_ended["count"], open_ended["continues"], len(periods)) == (None, True, 12)

    for deal_id, deal in shown.items():  # a fixed term's total is the contract's, for every example
        plan = deal.get("schedule_plan")
        if plan is not None and not plan["continues"]:
            assert plan["net"] == _contract(examples[deal_id]), deal_id
        if deal["status"] == "ok" and plan is None:
            assert deal["schedule"] == []


def test_a_consolidated_companys_deals_show_their_closing_windows():
    result = run("preview", "--file", str(EXAMPLES), "--json")
    shown = {d["deal_id"]: d for d in json.loads(result.stdout)}
    subscription, once = (
        shown["38120457926"],
        shown["38120457963"],
    )  # one company, freee_billing_mode=consolidated
    assert subscription["billing"]["mode"] == once["billing"]["mode"] == "consolidated"
    assert subscription["billing"]["closing_day"] == "month_end"
    first, second = subscription["schedule"][0], subscription["schedule"][1]
    assert first["billing_date"] == "2026-11-10" and second["billing_date"] == "2026-12-10"
    november = {
        "window_start": "2026-11-01",
        "window_end": "2026-11-30",
        "window_label": "2026年11月分",
        "closing_date": "2026-11-30",
        "due_date": "2026-12-31",
    }
    assert first["consolidated"] == once["billing"]["consolidated"] == november  # both on one invoice
    assert second["consolidated"]["closing_date"] == "2026-12-31"
    assert all(
        p["consolidated"] is None
        for d in shown.values()
        for p in d.get("schedule", [])
        if d is not subscription
    )
    human = run("preview", "--file", str(EXAMPLES), env={"COLUMNS": "200"})
    assert "合算 2026年11月分（締め日 2026-11-30・期日 2026-12-31）" in human.output
    assert "→ 2026年11月分 合算請求書 · 締め日 / closing 2026-11-30 · 期日 / due 2026-12-31" in human.output
    assert "continues until cancelled" in human.output


def _with_changes(tmp_path: Path, cases: list[tuple[str, dict, dict]]) -> Path:
    """Copies of the monthly subscription example, each with line item and company properties changed."""
    base = next(
        e for e in json.loads(EXAMPLES.read_text(encoding="utf-8")) if e["deal"]["id"] == "38120457741"
    )
    bundles = []
    for index, (name, item_props, company_props) in enumerate(cases):
        deal = json.loads(json.dumps(base))
        deal["deal"]["id"] = str(900 + index)
        deal["deal"]["properties"]["dealname"] = name
        deal["lineItems"][0]["properties"].update(item_props)
        deal["company"]["properties"].update(company_props)
        bundles.append(deal)
    path = tmp_path / "schedules.json"
    path.write_text(json.dumps(bundles, ensure_ascii=False), encoding="utf-8")
    return path


def test_bad_schedules_and_companies_are_problems_in_both_languages(tmp_path: Path):
    cases = [
        ("frequency", {"recurringbillingfrequency": "fortnightly"}, {}),
        ("term", {"hs_recurring_billing_period": "12 months"}, {}),
        (
            "delay",
            {
                "hs_billing_start_delay_type": "hs_billing_start_delay_days",
                "hs_billing_start_delay_days": "-3",
            },
            {},
        ),
        (
            "periods",
            {
                "recurringbillingfrequency": "weekly",
                "hs_recurring_billing_period": "P121W",
                "hs_recurring_billing_number_of_payments": "",
            },
            {},
        ),
        ("terms", {}, {"freee_billing_mode": "consolidated", "freee_payment_terms": ""}),
    ]
    path = _with_changes(tmp_path, cases)
    result = run("preview", "--file", str(path), "--json")
    assert result.exit_code == 0, result.output
    found = {d["deal_name"]: d for d in json.loads(result.stdout)}
    expected = {
        "frequency": "line_item.frequency_unknown",
        "term": "line_item.term_invalid",
        "delay": "line_item.delay_negative",
        "periods": "schedule.too_many_periods",
        "terms": "company.consolidated_without_terms",
    }
    for name, code in expected.items():
        assert found[name]["status"] == "invalid", name
        problems = found[name]["problems"]
        assert [p["code"] for p in problems] == [code], name
        assert all(p["ja"] and p["en"] and p["ja"] != p["en"] for p in problems)
    human = run("preview", "--file", str(path), "--strict")
    assert human.exit_code == 1
    for code in expected.values():
        assert code in human.output
    assert "月締め合算請求の会社には支払条件" in human.output
