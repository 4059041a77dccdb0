"""Test helpers around the tests' world (:mod:`local.world`): a swappable WSGI app, and the CLI's server in a
process of its own."""

from __future__ import annotations

from typing import Any


class Switch:
    """A WSGI app whose target each test swaps, so one loopback server serves a whole test module."""

    def __init__(self) -> None:
        self.app: Any = None

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        return self.app(environ, start_response)


def start_serve(env: dict[str, str], timeout: float = 30.0) -> tuple[Any, str]:
    """``hubspot-freee serve --port 0`` in a process of its own with ``env``; the process and the URL it said it
    listens on (its output stays readable on ``process.stdout``)."""
    import re
    import subprocess
    import sys
    import time

    process = subprocess.Popen(
        [sys.executable, "-m", "cli", "serve", "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
    )
    assert process.stdout is not None
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line:
            break
        found = re.search(r"hubspot-freee on (http://127\.0\.0\.1:\d+)", line)
        if found:
            return process, found.group(1)
    process.kill()
    raise AssertionError("the server did not say where it listens")
