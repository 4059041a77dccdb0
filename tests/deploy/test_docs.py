"""The README shows the figures ``make bench`` last measured, not a hand-copied table that drifts from them; and
what the READMEs say the HubSpot dropdowns accept (and what each payment terms form means) is what the code does."""

from __future__ import annotations

import importlib.util
import re
from datetime import date
from pathlib import Path
from types import ModuleType

import pytest

from sdk.properties import property_definitions
from sdk.settings import PropertyNames
from sdk.tax import TaxRate
from sdk.terms import parse_terms

ROOT = Path(__file__).resolve().parents[2]


def run_all() -> ModuleType:
    spec = importlib.util.spec_from_file_location("run_all", ROOT / "benchmarks" / "run_all.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_readme_shows_the_last_benchmark_table():
    bench = run_all()
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    table = (ROOT / "benchmarks" / "results.md").read_text(encoding="utf-8")
    assert "quick sizes" not in table, "results.md holds a --quick run; run `make bench` at the issues' sizes"
    shown = readme.split(bench.README_START, 1)[1].split(bench.README_END, 1)[0]
    assert shown.strip("\n") == bench.readme_block(table)


def test_the_table_is_put_between_the_markers_and_nowhere_else():
    bench = run_all()
    readme = f"intro\n{bench.README_START}\nold table\n{bench.README_END}\nrest\n"
    table = "# Benchmark results\n\ndate — machine\n\n| figure | measured | target | |\n"
    written = bench.with_results(readme, table)
    assert written == (
        f"intro\n{bench.README_START}\ndate — machine\n\n| figure | measured | target | |\n{bench.README_END}\nrest\n"
    )
    assert bench.with_results(written, table) == written  # a second run changes nothing
    with pytest.raises(SystemExit, match="no <!-- bench:results"):
        bench.with_results("a README without the markers", table)


# ------------------------------------------------------------------------------- the settings table


def _readme_settings() -> set[str]:
    """The setting names in the first column of the README's configuration table (``a`` / ``b`` rows and
    ``prefix.a`` / ``b`` rows expanded; ``properties.*`` stands for every property name)."""
    import re

    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Configuration", 1)[1].split("\n## ", 1)[0]
    names: set[str] = set()
    table = section.split("| setting (TOML key)", 1)[1].split("\n\n", 1)[0]
    for line in table.splitlines():
        if not line.startswith("| `"):
            continue
        first = line.split("|")[1]
        prefix = ""
        for name in re.findall(r"`([^`]+)`", first):
            if "." in name:
                prefix = name.rsplit(".", 1)[0] + "."
                names.add(name)
            else:
                names.add(prefix + name)
    return names


def _settings_names() -> set[str]:
    from pydantic import BaseModel

    from sdk.settings import Settings

    names: set[str] = set()
    for name, info in Settings.model_fields.items():
        kind = info.annotation
        if name == "properties":
            names.add("properties.*")
        elif isinstance(kind, type) and issubclass(kind, BaseModel):
            names |= {f"{name}.{inner}" for inner in kind.model_fields}
        else:
            names.add(name)
    return names


def test_every_setting_is_in_the_readme_table_and_the_table_names_no_other():
    shown, real = _readme_settings(), _settings_names()
    assert not real - shown, f"settings missing from the README's table: {sorted(real - shown)}"
    assert not shown - real, f"the README's table names settings that do not exist: {sorted(shown - real)}"


def test_the_readme_commands_table_is_one_table():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Commands", 1)[1].split("\n## ", 1)[0].split("\n### ", 1)[0]
    lines = section.strip().splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("| command"))
    rows = []
    for line in lines[start:]:
        if not line.startswith("|"):
            break
        rows.append(line)
    commands = rows[2:]
    assert rows[1].startswith("| ---"), "the header row is not followed by its separator"
    assert all(line.startswith("| `hubspot-freee ") for line in commands), commands
    import typer.main

    from cli.app import app

    registered = set(typer.main.get_command(app).commands)  # type: ignore[attr-defined]
    documented = {line.split("`hubspot-freee ", 1)[1].split()[0].rstrip("`") for line in commands}
    assert registered <= documented, (
        f"commands missing from the README's table: {sorted(registered - documented)}"
    )


# --- the dropdowns: what the READMEs say HubSpot accepts is what setup hubspot defines -----------------------------

README_EN = (ROOT / "README.md").read_text(encoding="utf-8")
README_JA = (ROOT / "README.ja.md").read_text(encoding="utf-8")
BILLED = (date(2026, 11, 20), date(2026, 11, 21))


def table(readme: str, header_start: str) -> list[list[str]]:
    """The body rows (cells stripped) of the markdown table whose header row starts with ``header_start``."""
    lines = readme.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(header_start))
    rows = []
    for line in lines[start + 2 :]:
        if not line.startswith("|"):
            break
        rows.append([cell.strip() for cell in line.strip("|").split(" | ")])
    return rows


def codes(cell: str) -> list[str]:
    return re.findall(r"`([^`]+)`", cell)


def dropdown_options(name: str) -> list[tuple[str, str]]:
    [definition] = [
        d for ds in property_definitions(PropertyNames()).values() for d in ds if d["name"] == name
    ]
    assert definition["type"] == "enumeration"
    return [(o["value"], o["label"]) for o in definition["options"]]


@pytest.mark.parametrize(
    ("readme", "header"), [(README_EN, "| dropdown value |"), (README_JA, "| 値（コード） |")]
)
def test_the_readmes_list_exactly_the_payment_terms_dropdown_with_true_due_dates(readme, header):
    rows = table(readme, header)
    assert [(codes(r[0])[0], r[1]) for r in rows] == dropdown_options("freee_payment_terms")
    for value, _, *due in rows:
        terms = parse_terms(codes(value)[0])
        assert due == [terms.due_date(billed).isoformat() for billed in BILLED], value


@pytest.mark.parametrize(
    ("readme", "header"), [(README_EN, "| written as (any of) |"), (README_JA, "| 書き方（いずれも可） |")]
)
def test_every_written_form_in_the_readmes_means_its_code_and_due_dates(readme, header):
    rows = table(readme, header)
    assert len(rows) >= 10
    for forms, code, meaning, *due in rows:
        [canonical] = codes(code)
        for form in codes(forms):
            assert parse_terms(form).code == canonical, form
        terms = parse_terms(canonical)
        assert due == [terms.due_date(billed).isoformat() for billed in BILLED], forms
        if readme is README_EN and "day 31" not in meaning:
            assert meaning == terms.label_en
    written = {form for row in rows for form in codes(row[0])}
    for asked in (
        "月末締め翌月末払い",
        "末締め翌月末",
        "翌月末",
        "翌々月末",
        "20日締め翌月10日払い",
        "翌月10日",
    ):
        assert asked in written
    for asked in (
        "納品後30日",
        "請求後30日以内",
        "請求日から30日",
        "請求日から30日後",
        "30日後",
        "NET30",
        "net 30",
    ):
        assert asked in written


def test_the_readmes_list_exactly_the_tax_rate_dropdown():
    expected = [(rate.value, rate.label_ja) for rate in TaxRate]
    options = dropdown_options("freee_tax_rate")
    assert [value for value, _ in options] == [value for value, _ in expected]
    assert all(label.startswith(ja) for (_, label), (_, ja) in zip(options, expected, strict=True))
    [row] = [line for line in README_EN.splitlines() if line.startswith("| `freee_tax_rate`")]
    listed = row.split(" | ")[2].split(":")[0]
    assert re.findall(r"`([^`]+)` \(([^)]+)\)", listed) == expected
    [line] = [line for line in README_JA.splitlines() if line.startswith("ドロップダウン：")]
    assert re.findall(r"`([^`]+)`（(.+?)）(?:、|。)", line) == expected


@pytest.mark.parametrize("name", ["freee_billing_status", "freee_billing_mode", "freee_closing_day"])
def test_the_readmes_list_exactly_each_billing_dropdown(name):
    """The property tables (English: "`value` (ja)", Japanese: "`value`（ja）") name every option, in order,
    with the Japanese half of its label."""
    expected = [(value, label.split(" / ")[0]) for value, label in dropdown_options(name)]
    [en] = [line for line in README_EN.splitlines() if line.startswith(f"| `{name}`")]
    assert re.findall(r"`([^`]+)` \(([^)]+)\)", en) == expected
    [ja] = [line for line in README_JA.splitlines() if line.startswith(f"| `{name}`")]
    assert re.findall(r"`([^`]+)`（([^）]+)）", ja) == expected
