"""Cold import time of the SDK and its modules, each in a fresh Python process.

Prints a table and writes ``benchmarks/import_time.json``. Target (issue 2): ``import sdk`` ≤ 150 ms; the
modules a handler needs are reported beside it so a regression in any of them shows.
Usage: ``python benchmarks/import_time.py [--runs N]``
"""

from __future__ import annotations

import argparse
import json
import platform
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
    "functions.cli",
]
TARGET_MS = {"sdk": 150.0}
PROBE = "import time; t = time.perf_counter(); import {module}; print((time.perf_counter() - t) * 1000)"


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
    rows = []
    print(f"{'module':<16} {'median ms':>10} {'p90 ms':>8} {'target':>8}")
    for module in MODULES:
        samples = sorted(measure(module, args.runs))
        median = statistics.median(samples)
        p90 = samples[min(len(samples) - 1, round(0.9 * (len(samples) - 1)))]
        target = TARGET_MS.get(module)
        status = "" if target is None else ("ok" if median <= target else "MISSED")
        print(f"{module:<16} {median:>10.1f} {p90:>8.1f} {target or '':>8} {status}")
        rows.append(
            {"module": module, "median_ms": round(median, 1), "p90_ms": round(p90, 1), "target_ms": target}
        )
    result = {
        "benchmark": "cold import time, fresh process each run",
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": f"{platform.machine()} {platform.processor() or ''} python {platform.python_version()}".strip(),
        "runs": args.runs,
        "results": rows,
    }
    out = Path(__file__).with_name("import_time.json")
    out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(f"written to {out}")


if __name__ == "__main__":
    main()
