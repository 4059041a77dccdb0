"""The README shows the figures ``make bench`` last measured, not a hand-copied table that drifts from them."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

import pytest

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
