"""A just-started ``hubspot-freee serve`` survives a burst of first requests and still invoices the next won deal.

The first requests at a new server used to build the logger twice at once; the worker thread then died on its
first message and every won deal after it was acknowledged, retried and dead-lettered without a mark.
"""

from __future__ import annotations

import os
import signal
import socket
import threading
import time
from pathlib import Path

from local.world import build_world, cli_env
from sandbox.transport import serve
from sdk.clock import SystemClock
from sdk.store.sqlite import SQLiteStore
from tests.signing import SECRET
from tests.world import start_serve


def _burst(base: str, count: int) -> list[int]:
    """``count`` requests (unsigned webhooks and health checks) on connections opened first, then sent at the
    same instant, so the server's request threads all start their work together."""
    host, port = base.removeprefix("http://").split(":")
    sockets = [socket.create_connection((host, int(port)), timeout=10) for _ in range(count)]
    gate = threading.Barrier(count)
    statuses: list[int] = []

    def one(n: int, sock: socket.socket) -> None:
        if n % 2:
            raw = f"GET /healthz HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n"
        else:
            raw = (
                f"POST /webhooks/hubspot HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n"
                "Content-Length: 2\r\nConnection: close\r\n\r\n[]"
            )
        gate.wait()
        sock.sendall(raw.encode())
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
        sock.close()
        statuses.append(int(answer.split(b" ", 2)[1]))

    threads = [threading.Thread(target=one, args=(n, s)) for n, s in enumerate(sockets)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(15)
    return statuses


def test_eight_concurrent_first_requests_then_a_won_deal_is_invoiced(tmp_path: Path):
    store_path = tmp_path / "store.sqlite"
    world = build_world(SQLiteStore(store_path), clock=SystemClock(), hubspot_client_secret=SECRET)
    freee = serve(world.freee_box.app)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HUBSPOT_", "FREEE_"))} | cli_env(
        world,
        freee.url,
        store_path,
        HUBSPOT_CLIENT_SECRET=SECRET,
        QUEUE_URL=f"sqlite:///{tmp_path / 'queue.sqlite'}",
        LOG_LEVEL="INFO",  # the logger is used on every request, as in production
        COLUMNS="200",
    )
    process, base = start_serve(env)
    try:
        statuses = _burst(base, 8)
        assert statuses.count(401) == 4  # the unsigned webhooks: refused, not a crash
        assert len(statuses) == 8
        world.hubspot_box.set_webhook_target(f"{base}/webhooks/hubspot")
        deal = world.deal(
            company=world.company(),
            stage="appointmentscheduled",
            line_items=[{"name": "導入支援", "quantity": 1, "price": 50000}],
        )
        world.hubspot_box.move_deal_to_stage(deal, "closedwon")
        assert world.hubspot_box.wait_idle(10)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and world.deal_props(deal).get("freee_sync_status") != "created":
            time.sleep(0.1)
        assert world.deal_props(deal).get("freee_sync_status") == "created"
        assert len(world.invoices()) == 1
    finally:
        process.send_signal(signal.SIGTERM)
        output = process.communicate(timeout=20)[0]
        freee.stop()
        world.close()
    assert "append_context_keys" not in output, output[-3000:]
