"""``hubspot-freee serve``: the local server answers its routes and stops cleanly on SIGTERM."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time

import requests


def test_serve_answers_healthz_and_refuses_unsigned_webhooks(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HUBSPOT_", "FREEE_"))} | {
        "COLUMNS": "200",
        "HUBSPOT_ACCESS_TOKEN": "t",
        "HUBSPOT_CLIENT_SECRET": "s",
        "FREEE_CLIENT_ID": "c",
        "FREEE_CLIENT_SECRET": "s",
        "FREEE_COMPANY_ID": "1",
        "STORAGE_URL": f"sqlite:///{tmp_path / 'store.sqlite'}",
        "QUEUE_URL": f"sqlite:///{tmp_path / 'queue.sqlite'}",
        "LOG_LEVEL": "ERROR",
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "functions.cli", "serve", "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
    )
    try:
        base = None
        deadline = time.monotonic() + 30
        assert process.stdout is not None
        while time.monotonic() < deadline and base is None:
            line = process.stdout.readline()
            if not line:
                break
            found = re.search(r"hubspot-freee on (http://127\.0\.0\.1:\d+)", line)
            base = found.group(1) if found else None
        assert base, "the server did not say where it listens"
        assert requests.get(f"{base}/healthz", timeout=5).json() == {"status": "ok"}
        refused = requests.post(f"{base}/webhooks/hubspot", data=b"[]", timeout=5)
        assert refused.status_code == 401
        assert refused.json()["error"] == "invalid_signature"
    finally:
        process.send_signal(signal.SIGTERM)
        code = process.wait(timeout=20)
    assert code == 0
