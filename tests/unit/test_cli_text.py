"""The CLI prints data as text: its consoles read no markup, and no module writes rich markup tags (which, with
markup off, would print literally; with it on, would let a deal name or an error code in brackets restyle or
vanish)."""

from __future__ import annotations

import re
from pathlib import Path

import cli.common as common

ROOT = Path(__file__).resolve().parents[2]
TAG = re.compile(r"\[(?:/|bold|dim|italic|red|green|yellow|magenta|blue|cyan|white|link)[^\]]*\]")


def test_the_consoles_read_no_markup():
    assert common.console._markup is False
    assert common.err._markup is False


def test_no_cli_or_local_module_writes_markup_tags():
    found = [
        f"{path.relative_to(ROOT)}:{number}: {line.strip()}"
        for folder in ("cli", "local")
        for path in sorted((ROOT / folder).rglob("*.py"))
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1)
        if TAG.search(line)
    ]
    assert found == []
