"""``hubspot-freee sandbox`` serves both sandboxes on loopback and stops cleanly."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import requests


def test_sandbox_command_serves_both_and_stops_on_sigterm():
    env = {k: v for k, v in os.environ.items() if k != "PYTHONWARNINGS"} | {"COLUMNS": "200"}
    process = subprocess.Popen(
        [sys.executable, "-m", "cli", "sandbox", "--speed", "60"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
    )
    try:
        exports: dict[str, str] = {}
        deadline = time.monotonic() + 30
        assert process.stdout is not None
        while time.monotonic() < deadline and "HUBSPOT_CLIENT_SECRET" not in exports:
            line = process.stdout.readline()
            if not line:
                break
            if line.startswith("export "):
                name, _, value = line.removeprefix("export ").strip().partition("=")
                exports[name] = value
        assert exports["FREEE_API_BASE"].startswith("http://127.0.0.1:")
        assert exports["HUBSPOT_API_BASE"].startswith("http://127.0.0.1:")
        freee_state = requests.get(f"{exports['FREEE_API_BASE']}/_sandbox/state", timeout=5)
        hubspot_state = requests.get(f"{exports['HUBSPOT_API_BASE']}/_sandbox/state", timeout=5)
        assert freee_state.status_code == 200
        assert hubspot_state.status_code == 200
        unauthorised = requests.get(
            f"{exports['FREEE_API_BASE']}/iv/invoices", params={"company_id": 1}, timeout=5
        )
        assert unauthorised.status_code == 401
    finally:
        process.send_signal(signal.SIGTERM)
        code = process.wait(timeout=15)
    assert code == 0
