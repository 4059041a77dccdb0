"""Where every benchmark leaves its figures: printed as JSON, and written to ``benchmarks/<name>.json``, which
``run_all.py`` reads into the results table; and the stamp of when and where they were measured."""

from __future__ import annotations

import json
import os
import platform
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent


def record(name: str, result: Mapping[str, Any], *, shown: Mapping[str, Any] | None = None) -> Path:
    """Write ``result`` to ``benchmarks/<name>.json`` and print it (or ``shown``, a shorter view of it)."""
    print(json.dumps(result if shown is None else shown, indent=2, ensure_ascii=False))
    out = HERE / f"{name}.json"
    out.write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return out


def machine() -> str:
    return f"{platform.machine()} {os.cpu_count()} cores, python {platform.python_version()}"


def load() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


def stamp(load_before: list[float]) -> dict[str, Any]:
    """When and where a benchmark ran: the date, the machine, the load average before it (``load_before``,
    from :func:`load`) and now, after it."""
    return {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": machine(),
        "load_average_before": load_before,
        "load_average_after": load(),
    }
