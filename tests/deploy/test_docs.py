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
