"""``hubspot-freee sandbox`` serves both sandboxes on loopback and stops cleanly."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests


def _next_steps_work_with_only_what_was_printed(exports: dict[str, str], tmp_path: Path) -> None:
    """``setup hubspot`` and ``actions register`` (which needs the app id and the developer key) run with the
    printed settings and nothing else."""
    from typer.testing import CliRunner

    from cli.app import app

    for name in (
        "HUBSPOT_APP_ID",
        "HUBSPOT_DEVELOPER_ACCESS_TOKEN",
        "CUSTOM_CODE_SECRET",
        "HUBSPOT_PORTAL_ID",
    ):
        assert exports.get(name), f"{name} was not printed"
    env = exports | {"STORAGE_URL": f"sqlite:///{tmp_path / 'store.sqlite'}", "LOG_LEVEL": "ERROR"}
    runner = CliRunner()
    setup = runner.invoke(app, ["setup", "hubspot"], env=env)
    assert setup.exit_code == 0, setup.output
    register = runner.invoke(app, ["actions", "register", "--base-url", "http://127.0.0.1:8080"], env=env)
    assert register.exit_code == 0, register.output


def test_sandbox_command_serves_both_and_stops_on_sigterm(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    for name in [n for n in os.environ if n.startswith(("HUBSPOT_", "FREEE_", "CUSTOM_CODE"))]:
        monkeypatch.delenv(name)
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
        while time.monotonic() < deadline:
            line = process.stdout.readline()
            if not line or line.startswith("next, in another terminal"):
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
        _next_steps_work_with_only_what_was_printed(exports, tmp_path)
    finally:
        process.send_signal(signal.SIGTERM)
        code = process.wait(timeout=15)
    assert code == 0
