"""Cold import of each handler module as Lambda runs it: from the built artifact, on CPython 3.12, read-only.

``import_time.py`` measures the development virtualenv, whose ``__pycache__`` Python fills on the first run. On
Lambda the code folder is read-only and the zip brings its own bytecode or none: this benchmark unpacks the zip
``osls package`` built (``make package-check``; ``.serverless/hubspot-freee.zip`` by default) into a temporary
folder and imports each handler module in a fresh ``python3.12 -I -B`` (isolated, writing no bytecode) with only
that folder in front of the standard library, twice over: as shipped (with the bytecode
``deploy/compile_bytecode.py`` adds) and with every ``__pycache__`` removed (what a zip without bytecode costs at
every cold start). Target (issue 8): each handler ≤ 300 ms as shipped.
Prints a table and writes ``benchmarks/lambda_import.json``.
Usage: ``python benchmarks/lambda_import.py [--artifact ZIP] [--runs N]``
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import tempfile
import zipfile
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TARGET_MS = 300.0
PROBE = (
    "import sys, time; sys.path.insert(0, sys.argv[1]); t = time.perf_counter(); "
    "import {module}; print((time.perf_counter() - t) * 1000)"
)


def python312() -> str:
    """PYTHON312_BIN, else python3.12 on PATH, else the newest pyenv 3.12 (as deploy/bytecode-plugin.js)."""
    pyenv = Path(os.environ.get("PYENV_ROOT", Path.home() / ".pyenv")) / "versions"
    found = sorted(
        pyenv.glob("3.12.*/bin/python3.12"), key=lambda p: int(p.parts[-3].split(".")[2]), reverse=True
    )
    for candidate in [os.environ.get("PYTHON312_BIN"), shutil.which("python3.12"), *map(str, found)]:
        if not candidate:
            continue
        check = subprocess.run(
            [candidate, "-c", "import sys; print(sys.version_info[:2] == (3, 12))"],
            capture_output=True,
            text=True,
            check=False,
        )
        if check.stdout.strip() == "True":
            return candidate
    raise SystemExit("no CPython 3.12 found (Lambda's runtime): install one or set PYTHON312_BIN")


def handler_modules(artifact: Path) -> list[str]:
    """The handler modules of the template beside the artifact."""
    template = json.loads((artifact.parent / "cloudformation-template-update-stack.json").read_text("utf-8"))
    handlers = {
        resource["Properties"]["Handler"].rsplit(".", 1)[0]
        for resource in template["Resources"].values()
        if resource.get("Type") == "AWS::Lambda::Function"
    }
    return sorted(handlers)


def measure(python: str, folder: Path, module: str, runs: int) -> list[float]:
    samples = []
    for _ in range(runs):
        out = subprocess.run(
            [python, "-I", "-B", "-c", PROBE.format(module=module), str(folder)],
            capture_output=True,
            text=True,
            check=True,
        )
        samples.append(float(out.stdout.strip()))
    return sorted(samples)


def without_bytecode(folder: Path) -> None:
    for cache in list(folder.rglob("__pycache__")):
        shutil.rmtree(cache)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--artifact", type=Path, default=ROOT / ".serverless" / "hubspot-freee.zip")
    parser.add_argument("--runs", type=int, default=9)
    args = parser.parse_args()
    if not args.artifact.is_file():
        raise SystemExit(f"{args.artifact} not found: run `make package-check` first")
    python = python312()
    version = subprocess.run([python, "-V"], capture_output=True, text=True, check=True).stdout.strip()
    modules = handler_modules(args.artifact)
    load_before = os.getloadavg()
    rows: dict[str, dict[str, float]] = {m: {} for m in modules}
    with tempfile.TemporaryDirectory(prefix="lambda-task-") as task:
        folder = Path(task)
        with zipfile.ZipFile(args.artifact) as archive:
            archive.extractall(folder)
        for variant in ("shipped", "no_bytecode"):
            if variant == "no_bytecode":
                without_bytecode(folder)
            for module in modules:
                samples = measure(python, folder, module, args.runs)
                rows[module][f"{variant}_median_ms"] = round(statistics.median(samples), 1)
                rows[module][f"{variant}_p90_ms"] = round(samples[round(0.9 * (len(samples) - 1))], 1)
    print(f"{'handler module':<20} {'shipped ms':>11} {'no bytecode ms':>15} {'target':>7}")
    for module, row in rows.items():
        ok = "ok" if row["shipped_median_ms"] <= TARGET_MS else "MISSED"
        print(
            f"{module:<20} {row['shipped_median_ms']:>11.1f} {row['no_bytecode_median_ms']:>15.1f} "
            f"{TARGET_MS:>7.0f} {ok}"
        )
    result = {
        "benchmark": "cold import of each handler module from the Lambda artifact, fresh python3.12 -I -B",
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "python": version,
        "artifact": str(
            args.artifact.relative_to(ROOT) if args.artifact.is_relative_to(ROOT) else args.artifact
        ),
        "artifact_mb": round(args.artifact.stat().st_size / 1024 / 1024, 2),
        "load_average_before": [round(x, 2) for x in load_before],
        "load_average_after": [round(x, 2) for x in os.getloadavg()],
        "runs": args.runs,
        "target_ms": TARGET_MS,
        "results": [
            {"module": m, **row, "met": row["shipped_median_ms"] <= TARGET_MS} for m, row in rows.items()
        ],
    }
    out = Path(__file__).with_name("lambda_import.json")
    out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(f"written to {out}")


if __name__ == "__main__":
    main()
