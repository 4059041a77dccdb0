"""The loopback stand shared by ``won_to_invoice.py`` and ``burst.py``: both sandboxes served on loopback, the
local server (``functions.app.create_app``) receiving the HubSpot sandbox's signed webhooks, SQLite store and
queue files, and workers (``functions.worker.run_worker``), each with its own Context (own clients, own store
handle on the one SQLite file, like separate processes), counted:

* HubSpot calls through each client's :class:`sdk.hubspot.CallCounter`;
* freee requests through a response hook on each worker's ``requests`` session (method, path, status, time);
* when each deal's webhook was answered by the server and when a worker received its queue message.

Nothing here asserts a timing; the scripts print and record what they measure.
"""

from __future__ import annotations

import io
import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests

from functions.app import Services, create_app
from functions.worker import WorkerResult, run_worker
from sandbox import install, sandbox_settings
from sandbox.freee import create_freee_sandbox
from sandbox.hubspot import create_hubspot_sandbox
from sandbox.transport import ServedApp, serve
from sdk.clock import Clock
from sdk.freee.client import FreeeClient
from sdk.hubspot import CallCounter, HubSpotClient
from sdk.queue import Message, Queue, open_queue
from sdk.store import open_store
from sdk.usecases.context import Context

PORTAL = 24681357


@dataclass
class FreeeCall:
    at: float  # clock.monotonic() when the answer came
    method: str
    path: str
    status: int


@dataclass
class Worker:
    ctx: Context
    counter: CallCounter
    freee_calls: list[FreeeCall]
    limiter_waits: list[float]
    thread: threading.Thread | None = None


@dataclass
class Timeline:
    """Per deal, in ``time.perf_counter()`` seconds (first occurrence only)."""

    webhook_answered: dict[str, float] = field(default_factory=dict)
    received: dict[str, float] = field(default_factory=dict)
    done: dict[str, float] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def note(self, table: dict[str, float], deal: str, at: float) -> None:
        with self.lock:
            table.setdefault(deal, at)


class _WebhookTimer:
    """WSGI middleware in front of the local server: when each deal's first webhook delivery was answered."""

    def __init__(self, app: Any, timeline: Timeline) -> None:
        self.app, self.timeline = app, timeline

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        if environ.get("PATH_INFO") != "/webhooks/hubspot":
            return self.app(environ, start_response)
        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = environ["wsgi.input"].read(length)
        environ["wsgi.input"] = io.BytesIO(body)
        result = self.app(environ, start_response)  # Flask has handled the request when this returns
        answered = time.perf_counter()
        try:
            deals = {str(e["objectId"]) for e in json.loads(body)}
        except (ValueError, KeyError, TypeError):
            deals = set()
        for deal in deals:
            self.timeline.note(self.timeline.webhook_answered, deal, answered)
        return result


class _TimedQueue:
    """A worker's queue handle that notes when each deal's message is first received."""

    def __init__(self, inner: Queue, timeline: Timeline) -> None:
        self._inner, self._timeline = inner, timeline

    def receive(self, max_messages: int = 10, visibility_timeout: float = 60) -> list[Message]:
        messages = self._inner.receive(max_messages, visibility_timeout)
        now = time.perf_counter()
        for message in messages:
            deal = message.body.get("deal_id")
            if deal is not None:
                self._timeline.note(self._timeline.received, str(deal), now)
        return messages

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


class Stand:
    """Sandboxes, local server and workers on loopback. ``close()`` stops everything it started."""

    def __init__(
        self,
        workdir: Path,
        clock: Clock,
        *,
        freee_per_minute: int = 30,
        freee_per_hour: int = 1500,
        hubspot_per_10s: int = 100,
    ) -> None:
        self.clock = clock
        self.timeline = Timeline()
        self.freee_box = create_freee_sandbox(
            clock=clock, rate_limit_per_minute=freee_per_minute, rate_limit_per_hour=freee_per_hour
        )
        self.hubspot_box = create_hubspot_sandbox(
            clock=clock,
            portal_id=PORTAL,
            rate_limit_per_10s=hubspot_per_10s,
        )
        self.served: list[ServedApp] = [serve(self.freee_box.app), serve(self.hubspot_box.app)]
        database = workdir / "bench.sqlite"
        self.settings = sandbox_settings(
            self.served[0].url,
            self.served[1].url,
            freee_rate_limit_per_minute=freee_per_minute,
            freee_rate_limit_per_hour=freee_per_hour,
            storage_url=f"sqlite:///{database}",
            queue_url=f"sqlite:///{workdir / 'queue.sqlite'}",
        )
        self.store = open_store(self.settings.storage_url)
        self.stop = threading.Event()
        self.workers: list[Worker] = []
        self.results: list[WorkerResult] = []
        self._results_lock = threading.Lock()
        self.on_result: Callable[[WorkerResult], None] | None = None
        self.server_counter = CallCounter()

    # ------------------------------------------------------------------------------------------- wiring

    def start_server(self) -> None:
        admin = HubSpotClient.from_settings(self.settings, clock=self.clock)
        install(self.freee_box, admin, self.settings, self.store.tokens, self.clock)
        hubspot = HubSpotClient.from_settings(self.settings, metrics=self.server_counter, clock=self.clock)
        hubspot.won_stages()  # pipelines cached before the first webhook, as in a warm server
        server_ctx = Context(
            self.settings,
            open_store(self.settings.storage_url),
            hubspot,
            None,
            self.clock,  # type: ignore[arg-type]
        )
        app = create_app(Services(server_ctx, self.queue()))
        server = serve(_WebhookTimer(app, self.timeline))
        self.served.append(server)
        self.hubspot_box.set_webhook_target(f"{server.url}/webhooks/hubspot")

    def queue(self) -> Queue:
        return open_queue(
            self.settings.queue_url, max_receives=self.settings.queue_max_receives, clock=self.clock
        )

    def worker_context(self) -> Worker:
        """A worker's own wiring: its HubSpot client (counted), its freee client (its session hooked), its
        store handle on the shared file (so the freee rate limiter is shared through the store)."""
        counter = CallCounter()
        calls: list[FreeeCall] = []
        session = requests.Session()
        session.hooks["response"].append(
            lambda r, *a, **k: calls.append(
                FreeeCall(
                    self.clock.monotonic(), r.request.method, r.request.path_url.split("?")[0], r.status_code
                )
            )
        )
        store = open_store(self.settings.storage_url)
        freee = FreeeClient.from_settings(
            self.settings,
            token_store=store.tokens,
            rate_store=store.rate_limits,
            clock=self.clock,
            session=session,
        )
        waits: list[float] = []
        acquire = freee.limiter.acquire

        def timed_acquire(**kwargs: Any) -> float:
            waited = acquire(**kwargs)
            waits.append(waited)
            return waited

        freee.limiter.acquire = timed_acquire  # type: ignore[method-assign]
        hubspot = HubSpotClient.from_settings(self.settings, metrics=counter, clock=self.clock)
        hubspot.won_stages()  # a warm worker: pipelines already cached (read once per five minutes)
        counter.reset()
        return Worker(Context(self.settings, store, hubspot, freee, self.clock), counter, calls, waits)

    def start_workers(self, n: int, *, poll_interval: float) -> None:
        for index in range(n):
            worker = self.worker_context()
            queue = _TimedQueue(self.queue(), self.timeline)
            worker.thread = threading.Thread(
                target=run_worker,
                args=(worker.ctx, queue),
                kwargs={"stop": self.stop, "poll_interval": poll_interval, "on_result": self._result},
                name=f"bench-worker-{index}",
                daemon=True,
            )
            self.workers.append(worker)
        for worker in self.workers:
            assert worker.thread is not None
            worker.thread.start()

    def _result(self, result: WorkerResult) -> None:
        now = time.perf_counter()
        if result.deal_id is not None and result.outcome is not None:
            self.timeline.note(self.timeline.done, result.deal_id, now)
        with self._results_lock:
            self.results.append(result)
        if self.on_result is not None:
            self.on_result(result)

    def close(self) -> None:
        self.stop.set()
        for worker in self.workers:
            if worker.thread is not None:
                worker.thread.join(timeout=30)
        for served in reversed(self.served):
            served.stop()
        self.hubspot_box.close()

    # -------------------------------------------------------------------------------------------- seeding

    def contact(self) -> str:
        return self.hubspot_box.create_contact(lastname="山田", firstname="太郎", email="taro@example.co.jp")

    def company(self, n: int, *, linked: bool) -> str:
        """A company; ``linked``: already a freee partner, its id on the company and the link in the store."""
        name = f"株式会社ベンチ{n:04d}"
        company = self.hubspot_box.create_company(
            name=name, state="東京都", city="千代田区", address="丸の内1-1-1"
        )
        if linked:
            partner = self.freee_box.add_partner(name, code=f"HS-{company}")
            self.hubspot_box.update("companies", company, freee_partner_id=str(partner["id"]))
            self.store.link_partner(PORTAL, company, int(partner["id"]))
        return company

    def deal(self, n: int, company: str, contact: str, close_date: str) -> str:
        return self.hubspot_box.create_deal(
            company=company,
            contacts=[contact],
            line_items=[
                {"name": f"導入支援{n}", "quantity": "1", "price": str(100_000 + 1_000 * (n % 50))},
                {"name": "研修用お弁当", "quantity": "10", "price": "1080", "freee_tax_rate": "8_reduced"},
            ],
            dealname=f"ベンチ案件{n}",
            closedate=f"{close_date}T03:00:00Z",
            pipeline="default",
            dealstage="appointmentscheduled",
        )


def path_pattern(path: str) -> str:
    """``/api/1/partners/code/HS-123`` → ``/api/1/partners/code/{code}``; numeric segments → ``{id}``."""
    parts = path.split("/")
    for i, part in enumerate(parts):
        if part.isdigit() and i > 0 and parts[i - 1] != "api":
            parts[i] = "{id}"
        elif i > 0 and parts[i - 1] == "code":
            parts[i] = "{code}"
    return "/".join(parts)


def percentile(samples: list[float], q: float) -> float:
    """Nearest-rank percentile (with 20 samples, p99 is the largest)."""
    ordered = sorted(samples)
    rank = max(1, -(-int(q * 100) * len(ordered) // 100))
    return ordered[min(len(ordered), rank) - 1]


def machine() -> str:
    import os
    import platform

    return f"{platform.machine()} {os.cpu_count()} cores, python {platform.python_version()}"


def load() -> list[float]:
    import os

    return [round(x, 2) for x in os.getloadavg()]
