"""``hubspot-freee serve``: the server (waitress) answers its routes, logs each request as one JSON line and stops
cleanly on SIGTERM, letting a request in flight finish."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

import requests

from tests.world import start_serve

ROOT = Path(__file__).resolve().parents[2]


def _env(tmp_path: Path, **extra: str) -> dict[str, str]:
    return (
        {k: v for k, v in os.environ.items() if not k.startswith(("HUBSPOT_", "FREEE_"))}
        | {
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
        | extra
    )


def test_serve_answers_healthz_and_refuses_unsigned_webhooks(tmp_path):
    process, base = start_serve(_env(tmp_path))
    try:
        assert requests.get(f"{base}/healthz", timeout=5).json() == {"status": "ok"}
        refused = requests.post(f"{base}/webhooks/hubspot", data=b"[]", timeout=5)
        assert refused.status_code == 401
        assert refused.json()["error"] == "invalid_signature"
    finally:
        process.send_signal(signal.SIGTERM)
        code = process.wait(timeout=20)
    assert code == 0


def test_each_request_is_one_json_log_line_without_its_query_or_colour(tmp_path):
    process, base = start_serve(_env(tmp_path, LOG_LEVEL="INFO"))
    try:
        answer = requests.get(f"{base}/healthz?token=secret-123", timeout=5)
    finally:
        process.send_signal(signal.SIGTERM)
        code = process.wait(timeout=20)
    assert code == 0
    assert process.stdout is not None
    output = process.stdout.read()
    assert "secret-123" not in output
    assert "\x1b[" not in output
    lines = [json.loads(line) for line in output.splitlines() if '"http_request"' in line]
    (logged,) = [line["message"] for line in lines]
    assert {k: logged[k] for k in ("event", "method", "path", "status", "bytes")} == {
        "event": "http_request",
        "method": "GET",
        "path": "/healthz",
        "status": 200,
        "bytes": len(answer.content),
    }
    assert isinstance(logged["duration_ms"], float) and logged["duration_ms"] >= 0


# The server and stop of ``serve`` around an app whose answer waits until the stop has begun (SIGTERM sets
# ``stop``): the request is in flight when the signal comes.
SLOW_SERVER = """
import sys, threading
from cli.web import HttpServer, serve_until_signalled

stop = threading.Event()

def app(environ, start_response):
    print("in flight", flush=True)
    stop.wait()
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", "8")])
    return [b"finished"]

server = HttpServer(app, "127.0.0.1", 0)
print(f"port {server.port}", flush=True)
drained = serve_until_signalled(server, stop, grace=20)
sys.exit(0 if drained else 3)
"""


def test_sigterm_lets_the_request_in_flight_finish_then_exits_0():
    process = subprocess.Popen(  # noqa: S603 (our own interpreter and code)
        [sys.executable, "-c", SLOW_SERVER],
        stdout=subprocess.PIPE,
        text=True,
        cwd=ROOT,
        env={**os.environ, "LOG_LEVEL": "ERROR"},
    )
    assert process.stdout is not None
    try:
        port = int(process.stdout.readline().split()[1])
        answers: list[requests.Response] = []
        asking = threading.Thread(
            target=lambda: answers.append(requests.get(f"http://127.0.0.1:{port}/slow", timeout=30))
        )
        asking.start()
        assert process.stdout.readline().strip() == "in flight"
        process.send_signal(signal.SIGTERM)
        asking.join(30)
        code = process.wait(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
    assert code == 0
    assert [(a.status_code, a.text) for a in answers] == [(200, "finished")]
