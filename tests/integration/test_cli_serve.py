"""``hubspot-freee serve``: the local server answers its routes and stops cleanly on SIGTERM."""

from __future__ import annotations

import os
import signal

import requests

from tests.world import start_serve


def test_serve_answers_healthz_and_refuses_unsigned_webhooks(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HUBSPOT_", "FREEE_"))} | {
        "COLUMNS": "200",
        "HUBSPOT_ACCESS_TOKEN": "t",
        "HUBSPOT_CLIENT_SECRET": "s",
        "HUBSPOT_PORTAL_ID": "24681357",
        "FREEE_CLIENT_ID": "c",
        "FREEE_CLIENT_SECRET": "s",
        "FREEE_COMPANY_ID": "1",
        "STORAGE_URL": f"sqlite:///{tmp_path / 'store.sqlite'}",
        "QUEUE_URL": f"sqlite:///{tmp_path / 'queue.sqlite'}",
        "LOG_LEVEL": "ERROR",
    }
    process, base = start_serve(env)
    try:
        assert requests.get(f"{base}/healthz", timeout=5).json() == {"status": "ok"}
        refused = requests.post(f"{base}/webhooks/hubspot", data=b"[]", timeout=5)
        assert refused.status_code == 401
        assert refused.json()["error"] == "invalid_signature"
    finally:
        process.send_signal(signal.SIGTERM)
        code = process.wait(timeout=20)
    assert code == 0
