"""A clone tests on its own: no tracked file refers to a path outside the repository (issue 15).

Three ways a file could reach outside, each checked over every tracked text file:

* a relative path (``../x``, ``../../elsewhere/specs``) that, resolved from the file's own folder, leaves the root;
* an absolute path into the folder the repository happens to sit in (``/work/shared/…``, this clone's parent);
* Python walking up past the root from ``__file__`` (``Path(__file__).parents[3]``, ``.parent.parent.parent``).

Hostile test inputs that only look like paths (``"../../etc/passwd"`` sent as a deal id) carry the marker
``not-a-path`` on their line.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
MARKER = "not-a-path"
RELATIVE = re.compile(r"(?<![\w./-])((?:\.\./)+)([\w.-]*)")
PARENTS_INDEX = re.compile(r"__file__\)?(?:\.resolve\(\))?\.parents\[(\d+)\]((?:\.parent)*)")
PARENT_CHAIN = re.compile(r"__file__\)?(?:\.resolve\(\))?((?:\.parent)+)\b")
TEXT = {".py", ".md", ".toml", ".yml", ".yaml", ".json", ".js", ".jsx", ".cfg", ".ini", ".txt", ".sh", ""}
BIG = 1_000_000  # the vendors' documents are data, not references


def tracked_files() -> list[Path]:
    try:
        listed = subprocess.run(
            ["git", "ls-files", "-z"],  # noqa: S607
            cwd=ROOT,
            capture_output=True,
            check=True,
            timeout=30,
        ).stdout.decode()
        files = [ROOT / name for name in listed.split("\0") if name]
    except (OSError, subprocess.CalledProcessError):  # pragma: no cover - an export without git
        files = [
            p for p in ROOT.rglob("*") if p.is_file() and ".venv" not in p.parts and ".git" not in p.parts
        ]
    return [
        f
        for f in files
        if f.is_file()
        and (f.suffix in TEXT or f.name in {"Makefile", "run"})
        and "node_modules" not in f.parts
        and f.stat().st_size < BIG
    ]


def outside_references(path: Path, text: str) -> list[str]:
    """Every place in ``text`` (the content of ``path``) that refers to something outside the repository."""
    found: list[str] = []
    here = path.parent
    depth = len(path.relative_to(ROOT).parts) - 1  # folders between the root and the file
    outer = str(ROOT.parent).rstrip("/") + "/"
    for number, line in enumerate(text.splitlines(), 1):
        if MARKER in line:
            continue
        where = f"{path.relative_to(ROOT)}:{number}"
        for match in RELATIVE.finditer(line):
            target = (here / match.group(1)).resolve()
            if target != ROOT and ROOT not in target.parents:
                found.append(f"{where}: {match.group(0)!r} leaves the repository")
        if outer in line or "/shared/specs" in line or "shared/DESIGN" in line:
            found.append(f"{where}: names a folder outside the repository")
        if path.suffix == ".py":
            for match in PARENTS_INDEX.finditer(line):
                up = int(match.group(1)) + match.group(2).count(".parent")  # parents[depth] is the root
                if up > depth:
                    found.append(f"{where}: {match.group(0)!r} climbs above the repository")
            for match in PARENT_CHAIN.finditer(line):
                if match.group(1).count(".parent") - 1 > depth:
                    found.append(f"{where}: {match.group(0)!r} climbs above the repository")
    return found


def test_no_tracked_file_refers_outside_the_repository():
    files = [f for f in tracked_files() if f != Path(__file__).resolve()]  # its examples reach out on purpose
    assert len(files) > 100, "the file list is wrong: too few tracked files found"
    found = [
        hit for f in files for hit in outside_references(f, f.read_text(encoding="utf-8", errors="replace"))
    ]
    assert found == [], "\n".join(found)


@pytest.mark.parametrize(
    ("relative", "text"),
    [
        (
            "tests/contract/conftest.py",
            'SPECS = Path(__file__).resolve().parents[2].parent / "elsewhere" / "specs"',
        ),
        ("tests/contract/conftest.py", "SPECS = Path(__file__).parent.parent.parent.parent / 'specs'"),
        ("README.md", "See [the design](../elsewhere/DESIGN.md)."),
        ("benchmarks/x.py", 'open("../../elsewhere/data.json")'),
        ("sdk/models/freee.py", "documents in /work/shared/specs/freee"),
        ("Makefile", f"\tcp {Path('/').joinpath(*ROOT.parent.parts[1:], 'x')} ."),
    ],
)
def test_the_check_sees_each_way_out(relative: str, text: str):
    assert outside_references(ROOT / relative, text), f"not seen: {text}"


@pytest.mark.parametrize(
    ("relative", "text"),
    [
        ("tests/contract/conftest.py", 'SPECS = Path(__file__).resolve().parents[2] / "specs" / "freee"'),
        (
            "workflows/app_card/tests/BalanceCard.test.jsx",
            "import { View } from '../src/app/cards/View.jsx';",
        ),
        ("tests/unit/test_x.py", 'deal_id = "../1"  # not-a-path: hostile input'),
        ("README.md", "the shared SDK and a shared secret"),
    ],
)
def test_the_check_lets_inside_references_be(relative: str, text: str):
    assert outside_references(ROOT / relative, text) == []


def test_the_specs_are_in_the_repository():
    for name in ("invoice-api.yml", "accounting-api.json", "LICENSE"):
        assert (ROOT / "specs" / "freee" / name).is_file(), name
    readme = (ROOT / "specs" / "README.md").read_text(encoding="utf-8")
    assert "freee/freee-api-schema" in readme and "MIT" in readme
