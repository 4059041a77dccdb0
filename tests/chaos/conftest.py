"""Print every chaos storm's seed and outcome at the end of the session, passed or failed, so any run can be
replayed (``CHAOS_SEED=<seed> CHAOS_STORES=<store> make chaos``)."""

from __future__ import annotations

import sys
from typing import Any


def pytest_terminal_summary(terminalreporter: Any) -> None:
    module = sys.modules.get("tests.chaos.test_chaos")  # only when the chaos tests were collected
    lines = getattr(module, "SUMMARIES", [])
    if lines:
        terminalreporter.section("chaos storms (seed, store, outcome)")
        for line in lines:
            terminalreporter.write_line(line)
