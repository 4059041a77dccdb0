"""Where every benchmark leaves its figures: printed as JSON, and written to ``benchmarks/<name>.json``, which
``run_all.py`` reads into the results table."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent


def record(name: str, result: Mapping[str, Any], *, shown: Mapping[str, Any] | None = None) -> Path:
    """Write ``result`` to ``benchmarks/<name>.json`` and print it (or ``shown``, a shorter view of it)."""
    print(json.dumps(result if shown is None else shown, indent=2, ensure_ascii=False))
    out = HERE / f"{name}.json"
    out.write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return out
