"""Every benchmark, each in a fresh process, then ``benchmarks/results.json`` and ``benchmarks/results.md``.

The benchmarks (each prints its figures and writes ``benchmarks/<name>.json``): ``import_time``,
``lambda_import`` (from the artifact ``make package-check`` built), ``freee_rate_limit``, ``dynamodb_rate_limit``
(moto), ``webhook_ack``, ``won_to_invoice``, ``payment_sync`` (10,000 invoices on a real-time clock: 3–4 minutes),
``burst``, ``sweep`` (10,000 won deals on a real-time clock: 3–4 minutes of freee's list limit), ``billing_run`` (a
month-end billing pass of 2,000 invoices, its work at real speed and its waits skipped: about 5 minutes), ``card`` (the
balance card at 1,000 and 100,000 ledger rows on SQLite, 1,000 on DynamoDB under moto: about 4 minutes).
``--quick`` passes smaller sizes (and says so in both files); the default is the sizes of the issues.
``--only NAME`` (repeatable) runs a subset and keeps the other benchmarks' records from the last
``results.json`` of the same kind (quick or not), e.g. to measure a timing again at a lower load.

``results.json`` holds the date, the machine (CPU count and model, Python), the load average before and after
each benchmark, and every benchmark's own JSON. ``results.md`` is a Markdown table with each figure beside its
target (issue 8); a run at the issues' sizes also puts that table into the README, between the
``<!-- bench:results -->`` markers (``tests/deploy/test_docs.py`` fails when the two differ). A benchmark that
fails (non-zero exit) is recorded as failed and the script exits 1 at the end; a figure that misses its target
is shown as missed, nothing more: benchmarks measure, they do not gate.
Usage: ``python benchmarks/run_all.py [--quick] [--only NAME ...]`` (``make bench``).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
README = HERE.parent / "README.md"
README_START = "<!-- bench:results (written by benchmarks/run_all.py) -->"
README_END = "<!-- /bench:results -->"

#: name → (arguments at the issues' sizes, arguments with --quick)
BENCHMARKS: dict[str, tuple[list[str], list[str]]] = {
    "import_time": ([], ["--runs", "3"]),
    "lambda_import": ([], ["--runs", "3"]),
    "freee_rate_limit": ([], ["--calls", "91"]),
    "dynamodb_rate_limit": ([], ["--calls", "300"]),
    "webhook_ack": ([], ["--batches", "50"]),
    "won_to_invoice": ([], ["--deals", "6", "--new-every", "3"]),
    "payment_sync": (["--speed", "1"], ["--invoices", "3100", "--companies", "50", "--speed", "4"]),
    "burst": ([], ["--deals", "100", "--companies", "20"]),
    "sweep": (["--speed", "1"], ["--deals", "1000", "--companies", "50"]),
    "billing_run": ([], ["--per-deal", "190", "--companies", "50", "--consolidated", "10"]),
    "card": ([], ["--sqlite", "1000", "--dynamodb", "200", "--reads", "100"]),
}


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text(encoding="utf-8").splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def load() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


def run(name: str, args: list[str]) -> dict[str, Any]:
    output = HERE / f"{name}.json"
    command = [sys.executable, str(HERE / f"{name}.py"), *args]
    print(f"\n=== {name} {' '.join(args)}", flush=True)
    before, started = load(), time.time()
    process = subprocess.run(command, cwd=HERE.parent, capture_output=True, text=True, check=False)
    seconds = time.time() - started
    sys.stdout.write(process.stdout[-4000:])
    if process.returncode:
        sys.stdout.write(process.stderr[-4000:])
    fresh = output.exists() and output.stat().st_mtime >= started
    record: dict[str, Any] = {
        "command": " ".join(["python", f"benchmarks/{name}.py", *args]),
        "exit_code": process.returncode,
        "seconds": round(seconds, 1),
        "load_average_before": before,
        "load_average_after": load(),
        "result": json.loads(output.read_text(encoding="utf-8")) if fresh else None,
    }
    if process.returncode:
        record["stderr_tail"] = process.stderr[-2000:]
    print(f"=== {name}: exit {process.returncode} in {seconds:.0f}s", flush=True)
    return record


# ------------------------------------------------------------------------------------------------- the table


def _ms(value: float | None) -> str:
    return "—" if value is None else f"{value:.1f} ms"


def _s(value: float | None) -> str:
    return "—" if value is None else f"{value:.2f} s"


def _met(ok: bool | None) -> str:
    return {True: "met", False: "**missed**", None: ""}[ok]


def rows(records: dict[str, dict[str, Any]]) -> list[tuple[str, str, str, str]]:
    """(figure, measured, target, met) for every figure the benchmarks gave."""
    out: list[tuple[str, str, str, str]] = []

    def failed(name: str) -> bool:
        record = records.get(name)
        if record is None:
            return True
        if record["result"] is None or record["exit_code"]:
            out.append((f"`{name}`", f"failed (exit {record['exit_code']})", "", "**failed**"))
        return record["result"] is None

    if not failed("import_time"):
        result = records["import_time"]["result"]
        for row in result["results"]:
            if row.get("target_ms") is None:
                continue
            kind = "handler module" if row.get("handler") else "module"
            out.append(
                (
                    f"cold import of {kind} `{row['module']}` (median of {result['runs']}, fresh process)",
                    _ms(row["median_ms"]),
                    f"≤ {row['target_ms']:.0f} ms",
                    _met(row["median_ms"] <= row["target_ms"]),
                )
            )
    if not failed("lambda_import"):
        result = records["lambda_import"]["result"]
        for row in result["results"]:
            out.append(
                (
                    f"cold import of handler module `{row['module']}` from the Lambda zip ({result['python']},"
                    f" read-only, median of {result['runs']}): as shipped (without bytecode)",
                    f"{_ms(row['shipped_median_ms'])} ({_ms(row['no_bytecode_median_ms'])})",
                    f"≤ {result['target_ms']:.0f} ms",
                    _met(row["shipped_median_ms"] <= result["target_ms"]),
                )
            )
    if not failed("webhook_ack"):
        result = records["webhook_ack"]["result"]
        inproc, loop = result["in_process"], result["loopback_http"]
        out.append(
            (
                "webhook ack, signed 100-event batch, in-process: p99 (p50)",
                f"{_ms(inproc['p99_ms'])} ({_ms(inproc['p50_ms'])})",
                "p99 ≤ 25 ms",
                _met(inproc["p99_ms"] <= 25),
            )
        )
        out.append(
            (
                "webhook ack, same, over loopback HTTP: p99 (p50)",
                f"{_ms(loop['p99_ms'])} ({_ms(loop['p50_ms'])})",
                "—",
                "",
            )
        )
    if not failed("won_to_invoice"):
        result = records["won_to_invoice"]["result"]
        latency = result["won_to_invoice"]
        out.append(
            (
                f"won → invoice number on the deal, {result['deals']} deals, loopback, real clock: p50",
                _s(latency["p50_s"]),
                "≤ 2 s",
                _met(latency["p50_s"] <= 2.0),
            )
        )
        out.append(("won → invoice: p99 (largest of the deals)", _s(latency["p99_s"]), "—", ""))
        split = list(result["split"].items())
        out.append(
            (
                "won → invoice, p50 of each part: delivery / queue wait / work",
                " / ".join(_s(part["p50_s"]) for _, part in split),
                "—",
                "",
            )
        )
        for kind, budget in (("known", (3, 1, 1)), ("new", (4, 2, 3))):
            calls = result["api_calls_per_won_deal"].get(kind, {})
            if not calls.get("deals"):
                continue
            measured = (calls["hubspot_reads"], calls["hubspot_writes"], calls["freee_calls"])
            out.append(
                (
                    f"API calls per won deal, {kind} partner ({calls['deals']} deals): HubSpot reads + writes, freee",
                    f"{measured[0]:g} + {measured[1]:g}, {measured[2]:g}",
                    f"{budget[0]} + {budget[1]}, {budget[2]}",
                    _met(all(m <= b for m, b in zip(measured, budget, strict=True))),
                )
            )
    if not failed("freee_rate_limit"):
        result = records["freee_rate_limit"]["result"]
        out.append(
            (
                f"freee client, {result['calls']} calls under 30/min: elapsed / bound (429 answers)",
                f"{result['elapsed_scaled_s']:.0f} s / {result['bound_s']:.0f} s = {result['ratio']:.2f}"
                f" ({result['responses_429']})",
                "≤ 1.15",
                _met(result["ratio"] <= 1.15),
            )
        )
    if not failed("dynamodb_rate_limit"):
        result = records["dynamodb_rate_limit"]["result"]
        before, after = result["before"], result["after"]
        out.append(
            (
                f"DynamoDB rate-limit item per freee call ({result['calls']} calls at 30/min, 1,500/h): write units"
                " before → after (largest item), read units",
                f"{before['write_units_per_call_max']} → {after['write_units_per_call_max']} WCU"
                f" ({before['item_bytes_max'] / 1024:.1f} KB → {after['item_bytes_max'] / 1024:.1f} KB),"
                f" {after['read_units_per_call_mean']:g} RCU",
                "1 WCU",
                _met(after["write_units_per_call_max"] <= 1),
            )
        )
    if not failed("burst"):
        result = records["burst"]["result"]
        out.append(
            (
                f"burst of {result['deals']} won deals, {result['workers']} workers, ×{result['speed']:g}: "
                f"{result['freee_calls']} freee calls, elapsed / bound",
                f"{result['elapsed_scaled_s']:.0f} s / {result['rate_limit_bound_s']:.0f} s = {result['ratio']:.2f}",
                "≤ 1.2",
                _met(result["ratio"] is not None and result["ratio"] <= 1.2),
            )
        )
        out.append(
            (
                "burst: 429 answers from freee / DLQ depth at the end",
                f"{result['freee_429']} / {result['dlq_depth']}",
                "few / 0",
                _met(result["dlq_depth"] == 0),
            )
        )
        out.append(
            (
                "burst: every deal exactly one invoice",
                "yes" if result["ok"] else "; ".join(result["problems"]),
                "yes",
                _met(result["ok"]),
            )
        )
    if not failed("payment_sync"):
        result = records["payment_sync"]["result"]
        ratio = result.get("ratio")
        out.append(
            (
                f"payment sync of {result['checked']} invoices: {result['freee_calls']} freee calls "
                f"(budget {result['freee_call_budget']}), elapsed / bound",
                f"{result['elapsed_sandbox_s']:.0f} s / {result['rate_limit_bound_s']:.0f} s"
                + (f" = {ratio:.2f}" if ratio is not None else ""),
                "≤ 1.2",
                _met(None if ratio is None else ratio <= 1.2),
            )
        )
        out.append(
            (
                "payment sync: peak traced Python memory during the sync",
                f"{result['peak_python_memory_mb']:.0f} MB",
                "≤ 200 MB",
                _met(result["peak_python_memory_mb"] <= 200),
            )
        )
        out.append(
            (
                "payment sync: max RSS of the whole benchmark process (sandboxes and seeding included)",
                f"{result['max_rss_mb']:.0f} MB",
                "—",
                "",
            )
        )
    if not failed("sweep"):
        result = records["sweep"]["result"]
        ratio = result.get("ratio")
        out.append(
            (
                f"reconciliation sweep of {result['won_deals']} won deals ({result['missing']} never invoiced): "
                f"HubSpot calls / budget, freee calls / budget",
                f"{result['hubspot_calls_total']} / {result['hubspot_call_budget']}, "
                f"{result['freee_calls']} / {result['freee_call_budget']}",
                "within budget",
                _met(result["within_budget"]),
            )
        )
        out.append(
            (
                "reconciliation sweep: elapsed / rate-limit bound (HubSpot search 4/s, freee 30/min); queued exactly "
                "the missing deals",
                f"{result['elapsed_sandbox_s']:.0f} s / {result['rate_limit_bound_s']:.0f} s"
                + (f" = {ratio:.2f}" if ratio is not None else "")
                + ("; yes" if result["queued_exactly_the_missing"] else "; NO"),
                "≤ 1.2; yes",
                _met(ratio is not None and ratio <= 1.2 and result["queued_exactly_the_missing"]),
            )
        )

    if not failed("billing_run"):
        result = records["billing_run"]["result"]
        limits = result["freee_limits"]
        out.append(
            (
                f"month-end billing pass of {result['due_invoices']} invoices ({result['per_deal_subscriptions']}"
                f" subscriptions per deal, {result['consolidated_companies']} consolidated companies ×"
                f" {result['deals_per_consolidated_company']} deals): {result['freee_calls']} freee calls under"
                f" {limits['per_minute']}/min and {limits['per_hour']:,}/h, elapsed / bound (429 answers)",
                f"{result['elapsed_clock_s']:.0f} s / {result['rate_limit_bound_s']:.0f} s = {result['ratio']:.2f}"
                f" ({result['freee_429']})",
                "≤ 1.1",
                _met(result["ratio"] is not None and result["ratio"] <= 1.1),
            )
        )
        out.append(
            (
                f"billing pass: peak resident memory of {result['peak_rss_of']} (sandboxes and seeded world included)",
                f"{result['peak_rss_mb']:.0f} MB",
                "≤ 200 MB",
                _met(result["peak_rss_mb"] <= 200),
            )
        )
        hubspot = result["hubspot_calls"]
        out.append(
            (
                "billing pass: HubSpot calls (retries after a 429); every due invoice issued exactly once",
                f"{result['hubspot_calls_total']} ({hubspot.get('http.retry', 0)}); "
                + ("yes" if result["ok"] else "; ".join(result["problems"])),
                "—; yes",
                _met(result["ok"]),
            )
        )

    if not failed("card"):
        for run in records["card"]["result"]["runs"]:
            deal, company = run["deal_card"], run["company_card"]
            out.append(
                (
                    f"balance card, {run['store']}, {run['rows']:,} ledger rows: deal / company view, p99 (p50)",
                    f"{_ms(deal['p99_ms'])} ({_ms(deal['p50_ms'])}) / {_ms(company['p99_ms'])}"
                    f" ({_ms(company['p50_ms'])})",
                    "—",
                    "",
                )
            )
    return out


def markdown(summary: dict[str, Any]) -> str:
    machine = summary["machine"]
    lines = [
        "# Benchmark results",
        "",
        f"{summary['date']} — {machine['cpu_count']} × {machine['cpu_model']}, Python {machine['python']}"
        f" — load average {summary['load_average_start']} at the start, {summary['load_average_end']} at the end"
        f" (each benchmark's own below)"
        + (" — **quick sizes** (`--quick`), not the issues' sizes" if summary["quick"] else ""),
        "",
        "| figure | measured | target | |",
        "| --- | --- | --- | --- |",
    ]
    lines += [f"| {a} | {b} | {c} | {d} |" for a, b, c, d in rows(summary["benchmarks"])]
    each = ", ".join(
        f"`{name}` {record['load_average_before'][0]}"
        + (f" (exit {record['exit_code']})" if record["exit_code"] else "")
        for name, record in summary["benchmarks"].items()
    )
    lines += ["", f"Load average (1 min) before each benchmark: {each}."]
    return "\n".join(lines) + "\n"


def readme_block(table: str) -> str:
    """``results.md`` as the README shows it: without its heading."""
    return table.removeprefix("# Benchmark results\n").strip("\n")


def with_results(readme: str, table: str) -> str:
    """``readme`` with the text between the benchmark markers replaced by ``table``."""
    head, start, rest = readme.partition(README_START)
    _, end, tail = rest.partition(README_END)
    if not start or not end:
        raise SystemExit(f"{README} has no {README_START} … {README_END} block")
    return f"{head}{start}\n{readme_block(table)}\n{end}{tail}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="smaller sizes: a few minutes in all")
    parser.add_argument("--only", action="append", choices=sorted(BENCHMARKS), help="run only these")
    args = parser.parse_args()
    summary: dict[str, Any] = {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {
            "cpu_count": os.cpu_count(),
            "cpu_model": cpu_model(),
            "python": platform.python_version(),
            "platform": platform.platform(),
        },
        "quick": args.quick,
        "load_average_start": load(),
        "benchmarks": {},
    }
    previous = HERE / "results.json"
    if args.only and previous.exists():  # a partial run updates the named benchmarks and keeps the others
        earlier = json.loads(previous.read_text(encoding="utf-8"))
        if earlier.get("quick") == args.quick:
            summary["benchmarks"] = earlier.get("benchmarks", {})
            summary["date"] = f"{earlier.get('date', '?')} … {summary['date']}"
            summary["load_average_start"] = earlier.get("load_average_start", summary["load_average_start"])
    for name, (full, quick) in BENCHMARKS.items():
        if args.only and name not in args.only:
            continue
        summary["benchmarks"][name] = run(name, quick if args.quick else full)
    summary["benchmarks"] = {n: summary["benchmarks"][n] for n in BENCHMARKS if n in summary["benchmarks"]}
    summary["load_average_end"] = load()
    (HERE / "results.json").write_text(
        json.dumps(summary, indent=2, ensure_ascii=False) + "\n", encoding="utf-8"
    )
    table = markdown(summary)
    (HERE / "results.md").write_text(table, encoding="utf-8")
    print("\n" + table)
    print(f"written to {HERE / 'results.json'} and {HERE / 'results.md'}")
    if not args.quick:
        README.write_text(with_results(README.read_text(encoding="utf-8"), table), encoding="utf-8")
        print(f"and the table into {README}")
    if any(record["exit_code"] for record in summary["benchmarks"].values()):
        sys.exit(1)


if __name__ == "__main__":
    main()
