"""Acknowledgement latency of a signed 100-event HubSpot webhook batch: in-process (the Flask app's test client)
and over loopback HTTP. Every batch carries new event ids for won deals, so each one does the full work: verify,
parse, dedupe against the store, queue one message per deal, mark the events seen.

Target (issue 5): p99 ≤ 25 ms in-process. Writes ``benchmarks/webhook_ack.json``.
Usage: ``python benchmarks/webhook_ack.py [--batches 200] [--events 100]``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import requests
from _record import machine, record

from local.loop import Loop
from sandbox import PORTAL_ID
from sdk.clock import SystemClock

SECRET = "bench-secret"


def signed(uri: str, body: bytes) -> dict[str, str]:
    from hubspot.utils.signature import Signature

    stamp = str(int(time.time() * 1000))
    signature = Signature.get_signature(
        SECRET, body.decode(), "v3", http_uri=uri, http_method="POST", timestamp=stamp
    )
    return {
        "X-HubSpot-Signature-v3": signature,
        "X-HubSpot-Request-Timestamp": stamp,
        "Content-Type": "application/json",
    }


def batch(start: int, events: int) -> bytes:
    return json.dumps(
        [
            {
                "eventId": start + i,
                "subscriptionId": 1,
                "portalId": PORTAL_ID,  # the installation's own portal
                "appId": 1,
                "occurredAt": 1795600000000,
                "subscriptionType": "deal.propertyChange",
                "attemptNumber": 0,
                "objectId": start + i,
                "propertyName": "dealstage",
                "propertyValue": "closedwon",
                "changeSource": "CRM_UI",
            }
            for i in range(events)
        ]
    ).encode()


def percentiles(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)
    pick = lambda q: ordered[min(len(ordered) - 1, int(q * len(ordered)))]  # noqa: E731
    return {
        "p50_ms": round(statistics.median(ordered), 2),
        "p99_ms": round(pick(0.99), 2),
        "max_ms": round(ordered[-1], 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--batches", type=int, default=200)
    parser.add_argument("--events", type=int, default=100)
    args = parser.parse_args()
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    with (
        tempfile.TemporaryDirectory() as tmp,
        Loop(SystemClock(), Path(tmp), hubspot_client_secret=SECRET) as loop,
    ):
        context = loop.context()
        context.hubspot.won_stages()  # the pipelines are cached before the first acknowledgement, as in a warm worker
        queue = loop.queue()
        loop.start_server(context, queue)
        assert loop.app is not None
        client = loop.app.test_client()
        in_process: list[float] = []
        for n in range(args.batches):
            body = batch(1_000_000 + n * args.events, args.events)
            headers = signed("http://localhost/webhooks/hubspot", body)
            started = time.perf_counter()
            response = client.post("/webhooks/hubspot", data=body, headers=headers)
            in_process.append((time.perf_counter() - started) * 1000)
            assert response.status_code == 204, response.data
        loopback: list[float] = []
        session = requests.Session()
        for n in range(args.batches):
            body = batch(5_000_000 + n * args.events, args.events)
            headers = signed(f"{loop.server_url}/webhooks/hubspot", body)
            started = time.perf_counter()
            response = session.post(
                f"{loop.server_url}/webhooks/hubspot", data=body, headers=headers, timeout=10
            )
            loopback.append((time.perf_counter() - started) * 1000)
            assert response.status_code == 204, response.text
        queued = queue.depth().visible
    result = {
        "benchmark": f"webhook acknowledgement, signed batch of {args.events} won-stage events, SQLite store and queue",
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": machine(),
        "batches": args.batches,
        "in_process": percentiles(in_process),
        "loopback_http": percentiles(loopback),
        "target_in_process_p99_ms": 25,
        "messages_queued": queued,
    }
    record("webhook_ack", result)


if __name__ == "__main__":
    main()
