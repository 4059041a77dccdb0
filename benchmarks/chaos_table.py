"""The README's chaos table from the storms' reports (``benchmarks/chaos-*seed-N.json``, written by ``make chaos``).

Usage: ``python benchmarks/chaos_table.py [REPORT ...]`` — without arguments, every report in ``benchmarks/``.
Prints the Markdown table and writes it into README.md between the ``<!-- chaos:issue14 -->`` markers.
A report whose storm was not clean is shown as it is (the table says what happened, it does not filter).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
README = HERE.parent / "README.md"
START, END = "<!-- chaos:issue14 -->", "<!-- /chaos:issue14 -->"

COLUMNS = (
    "seed",
    "store",
    "time",
    "invoices",
    "duplicates",
    "lost deals",
    "wrong write-backs",
    "orphans",
    "failed-while-invoiced / backwards",
    "workers killed / stalled past lease",
    "faults injected",
    "crowd answers lost",
    "cross-portal 403",
    "dead-lettered for the disconnection",
)


def row(report: dict[str, Any]) -> list[str]:
    c = report.get
    faults = sum(v for k, v in report.items() if k.startswith(("freee faults", "hubspot faults")))
    for_disconnection = c("dead letters for the disconnection while disconnected", 0) + c(
        "dead letters for the disconnection after the storm", 0
    )
    seed = f"{report['seed']}" + ("" if report.get("fixed_seed") else " (fresh)")
    return [
        seed,
        str(report["store"]),
        f"{round(report['seconds'])} s",
        str(c("invoices", 0)),
        str(c("duplicate invoices", 0)),
        str(c("lost deals", 0)),
        str(c("wrong write-backs", 0)),
        str(c("orphans", 0)),
        f"{c('deals failed/invalid with an invoice', 0)} / {c('statuses gone backwards', 0)}",
        f"{c('workers killed', 0)} / {c('workers stalled past their lease', 0)}",
        str(faults),
        str(c("crowd answers lost", 0)),
        f"{c('cross-portal requests refused', 0)}/{c('cross-portal requests', 0)}",
        str(for_disconnection),
    ]


def table(reports: list[dict[str, Any]]) -> str:
    reports = sorted(reports, key=lambda r: (not r.get("fixed_seed"), r["store"], int(r["seed"])))
    lines = ["| " + " | ".join(COLUMNS) + " |", "| " + " | ".join("---" for _ in COLUMNS) + " |"]
    lines += ["| " + " | ".join(row(r)) + " |" for r in reports]
    return "\n".join(lines)


def main(argv: list[str]) -> int:
    paths = [Path(a) for a in argv] or sorted(HERE.glob("chaos-*seed-*.json"))
    if not paths:
        print("no chaos reports: run `make chaos` first", file=sys.stderr)
        return 1
    text = table([json.loads(p.read_text(encoding="utf-8")) for p in paths])
    print(text)
    readme = README.read_text(encoding="utf-8")
    head, rest = readme.split(START, 1)
    _, tail = rest.split(END, 1)
    README.write_text(f"{head}{START}\n{text}\n{END}{tail}", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
