"""Cold import time of the SDK and its modules, each in a fresh Python process.

Prints a table and writes ``benchmarks/import_time.json``. Targets: ``import sdk`` ≤ 150 ms (issue 2); every
handler module ≤ 300 ms (issue 8) — each module named by a ``handler:`` in ``serverless.yml`` (when present) or by a
route's Lambda handler in ``functions.app.ROUTES``, found when the script runs so a new handler is measured too.
The SDK modules a handler needs are reported beside them so a regression in any of them shows.
Usage: ``python benchmarks/import_time.py [--runs N]``
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import statistics
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

MODULES = [
    "sdk",
    "sdk.money",
    "sdk.tax",
    "sdk.terms",
    "sdk.errors",
    "sdk.models",
    "sdk.validation",
    "sdk.mapping",
    "sdk.settings",
    "webhooks.hubspot",
    "functions.actions",
    "functions.worker",
    "functions.app",
    "cli.app",
]
TARGET_MS = {"sdk": 150.0}
HANDLER_TARGET_MS = 300.0
ROOT = Path(__file__).resolve().parents[1]
PROBE = "import time; t = time.perf_counter(); import {module}; print((time.perf_counter() - t) * 1000)"


def handler_modules() -> list[str]:
    """Modules that serve a deployed function: ``serverless.yml``'s handlers and ``ROUTES``' Lambda handlers."""
    found: set[str] = set()
    serverless = ROOT / "serverless.yml"
    if serverless.exists():
        text = serverless.read_text(encoding="utf-8")
        found |= {m.group(1) for m in re.finditer(r"^\s*handler:\s*([\w.]+)\.\w+\s*$", text, re.MULTILINE)}
    out = subprocess.run(  # the route table, read in a process of its own (it imports Flask)
        [
            sys.executable,
            "-c",
            "from functions.app import ROUTES; print(*(r.lambda_handler for r in ROUTES))",
        ],
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
    )
    found |= {handler.rsplit(".", 1)[0] for handler in out.stdout.split()}
    return sorted(found)


def measure(module: str, runs: int) -> list[float]:
    samples = []
    for _ in range(runs):
        out = subprocess.run(
            [sys.executable, "-c", PROBE.format(module=module)], capture_output=True, text=True, check=True
        )
        samples.append(float(out.stdout.strip()))
    return samples


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=9)
    args = parser.parse_args()
    load_before = os.getloadavg()
    handlers = handler_modules()
    targets = dict.fromkeys(handlers, HANDLER_TARGET_MS) | TARGET_MS
    rows = []
    print(f"{'module':<20} {'median ms':>10} {'p90 ms':>8} {'target':>8}")
    for module in MODULES + [m for m in handlers if m not in MODULES]:
        samples = sorted(measure(module, args.runs))
        median = statistics.median(samples)
        p90 = samples[min(len(samples) - 1, round(0.9 * (len(samples) - 1)))]
        target = targets.get(module)
        status = "" if target is None else ("ok" if median <= target else "MISSED")
        print(f"{module:<20} {median:>10.1f} {p90:>8.1f} {target or '':>8} {status}")
        rows.append(
            {
                "module": module,
                "handler": module in handlers,
                "median_ms": round(median, 1),
                "p90_ms": round(p90, 1),
                "target_ms": target,
                "met": None if target is None else median <= target,
            }
        )
    result = {
        "benchmark": "cold import time, fresh process each run",
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": f"{platform.machine()} {os.cpu_count()} cores, python {platform.python_version()}",
        "load_average_before": [round(x, 2) for x in load_before],
        "load_average_after": [round(x, 2) for x in os.getloadavg()],
        "runs": args.runs,
        "handler_modules": handlers,
        "results": rows,
    }
    out = Path(__file__).with_name("import_time.json")
    out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(f"written to {out}")


if __name__ == "__main__":
    main()
