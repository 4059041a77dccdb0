"""The house's rules, read off the code: which folder may import which (issue 15; README "Architecture").

Every ``import`` and ``from … import`` of every Python file is read with :mod:`ast` — at module level, inside
functions and under ``TYPE_CHECKING`` alike — and held to the table below. The same table is drawn in the
README; change both together.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

#: our top-level packages and folders of Python code
OURS = (
    "sdk",
    "functions",
    "webhooks",
    "workflows",
    "sandbox",
    "local",
    "cli",
    "benchmarks",
    "tests",
    "deploy",
)

#: folder → the modules of ours it may import (a name allows the name and everything below it)
ALLOWED: dict[str, tuple[str, ...]] = {
    "sdk": ("sdk",),
    "sandbox": ("sandbox", "sdk.models", "sdk.clock"),
    "webhooks": ("webhooks", "sdk"),
    "functions": ("functions", "webhooks", "sdk"),
    "workflows": ("workflows", "sdk"),  # the snippets' runner; the snippets themselves: see below
    "local": ("local", "functions", "webhooks", "sandbox", "sdk"),
    "cli": ("cli", "local", "functions", "webhooks", "sandbox", "sdk"),
    "benchmarks": ("benchmarks", "local", "functions", "webhooks", "sandbox", "sdk", "deploy"),
    "deploy": ("deploy",),
}


def imported_modules(source: str, module: str) -> set[str]:
    """Every module ``source`` (the text of ``module``, dotted) imports, relative imports resolved."""
    found: set[str] = set()
    package = module.rsplit(".", 1)[0] if "." in module else ""
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".") if package else []
                base = base[: len(base) - (node.level - 1)] if node.level > 1 else base
                stem = ".".join([*base, node.module] if node.module else base)
            else:
                stem = node.module or ""
            found.add(stem)
            found.update(f"{stem}.{alias.name}" for alias in node.names if alias.name != "*")
    return found


def _allowed(target: str, rules: tuple[str, ...]) -> bool:
    return any(target == rule or target.startswith(rule + ".") for rule in rules)


def violations(folder: str, module: str, source: str) -> list[str]:
    rules = ALLOWED[folder]
    bad = []
    for target in sorted(imported_modules(source, module)):
        top = target.split(".", 1)[0]
        if top not in OURS:
            continue  # the standard library and third-party packages
        if _allowed(target, rules):
            continue
        if any(rule.startswith(target + ".") for rule in rules):
            continue  # the package of an allowed module (``from sdk import clock`` names sdk and sdk.clock)
        bad.append(target)
    return bad


def python_files(folder: str) -> list[Path]:
    return sorted(p for p in (ROOT / folder).rglob("*.py") if "node_modules" not in p.parts)


@pytest.mark.parametrize("folder", sorted(ALLOWED))
def test_each_folder_imports_only_what_the_architecture_allows(folder: str):
    files = python_files(folder)
    if folder in {"local", "cli"} and not files:
        pytest.fail(f"{folder}/ is missing: the one-machine wiring and the CLI have their own packages")
    found = []
    for path in files:
        module = ".".join(path.relative_to(ROOT).with_suffix("").parts)
        for target in violations(folder, module, path.read_text(encoding="utf-8")):
            found.append(f"{path.relative_to(ROOT)} imports {target}")
    assert found == [], f"{folder}/ may import only {ALLOWED[folder]} of ours:\n" + "\n".join(found)


def test_the_custom_code_snippets_import_nothing_of_ours():
    """Each snippet is pasted alone into HubSpot's Python 3.9 runtime: an import of ours would fail there."""
    snippets = python_files("workflows/custom_code")
    assert len(snippets) >= 2
    for path in snippets:
        ours = [
            m
            for m in imported_modules(path.read_text(encoding="utf-8"), path.stem)
            if m.split(".")[0] in OURS
        ]
        assert ours == [], f"{path.relative_to(ROOT)} imports {ours}"


def test_benchmarks_import_nothing_from_tests():
    assert "tests" not in ALLOWED["benchmarks"]


@pytest.mark.parametrize(
    ("folder", "module", "source"),
    [
        ("sdk", "sdk.usecases.x", "from functions.worker import run_worker"),
        ("sdk", "sdk.usecases.x", "def f():\n    from sandbox.freee import create_freee_sandbox\n"),
        ("sdk", "sdk.x", "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from cli import app\n"),
        ("sdk", "sdk.x", "import local.stack"),
        ("sandbox", "sandbox.freee.state", "from sdk.settings import Settings"),
        ("sandbox", "sandbox.freee.state", "from sdk import settings"),
        ("sandbox", "sandbox.hubspot.routes", "from ...sdk.usecases import doctor"),
        ("benchmarks", "benchmarks.burst", "from tests.world import build_world"),
        ("functions", "functions.worker", "from cli.invoice import app"),
    ],
)
def test_the_rules_catch_a_forbidden_import(folder: str, module: str, source: str):
    assert violations(folder, module, source), source


@pytest.mark.parametrize(
    ("folder", "module", "source"),
    [
        ("sandbox", "sandbox.freee.state", "from sdk.clock import Clock, SystemClock"),
        ("sandbox", "sandbox.freee.state", "from sdk.models.freee import InvoiceRequest"),
        ("sandbox", "sandbox.freee.state", "from sdk import clock"),
        ("sandbox", "sandbox.freee.state", "from .rules import totals\nfrom sandbox import PORTAL_ID"),
        (
            "sdk",
            "sdk.usecases.x",
            "import requests\nfrom sdk.errors import Retryable\nfrom ..store import Store",
        ),
        (
            "local",
            "local.stack",
            "from functions.app import create_app\nfrom sandbox.freee import create_freee_sandbox",
        ),
    ],
)
def test_the_rules_let_an_allowed_import_be(folder: str, module: str, source: str):
    assert violations(folder, module, source) == []
