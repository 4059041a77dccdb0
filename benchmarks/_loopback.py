"""The loopback stand shared by ``won_to_invoice.py`` and ``burst.py``: the loop on loopback (:class:`local.loop.Loop`:
both sandboxes, the local server receiving the HubSpot sandbox's signed webhooks, SQLite store and queue files,
and workers), each worker with its own Context (own clients, own store handle on the one SQLite file, like
separate processes), counted:

* HubSpot calls through each client's :class:`sdk.hubspot.CallCounter`;
* freee requests through a response hook on each worker's ``requests`` session (method, path, status, time);
* when each deal's webhook was answered by the server and when a worker received its queue message.

Nothing here asserts a timing; the scripts print and record what they measure.
"""

from __future__ import annotations

import io
import json
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests

from functions.worker import WorkerResult
from local.loop import Loop
from sandbox import PORTAL_ID
from sdk.clock import Clock
from sdk.hubspot import CallCounter
from sdk.queue import Message, Queue
from sdk.store import open_store
from sdk.usecases.context import Context


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
    """The loop on loopback, its server and workers measured. ``close()`` stops everything it started."""

    def __init__(
        self,
        workdir: Path,
        clock: Clock,
        *,
        freee_per_minute: int = 30,
        freee_per_hour: int = 1500,
        hubspot_per_10s: int = 100,
    ) -> None:
        self.loop = Loop(
            clock,
            workdir,
            freee={"rate_limit_per_minute": freee_per_minute, "rate_limit_per_hour": freee_per_hour},
            hubspot={"rate_limit_per_10s": hubspot_per_10s},
            freee_rate_limit_per_minute=freee_per_minute,
            freee_rate_limit_per_hour=freee_per_hour,
        )
        self.clock, self.settings = clock, self.loop.settings
        self.freee_box, self.hubspot_box = self.loop.freee_box, self.loop.hubspot_box
        self.timeline = Timeline()
        self.store = open_store(self.settings.storage_url)
        self.workers: list[Worker] = []
        self.results: list[WorkerResult] = []
        self._results_lock = threading.Lock()
        self.on_result: Callable[[WorkerResult], None] | None = None
        self.server_counter = CallCounter()

    # ------------------------------------------------------------------------------------------- wiring

    def start_server(self) -> None:
        self.loop.install(self.store.tokens)
        server = self.loop.context(metrics=self.server_counter)
        server.hubspot.won_stages()  # pipelines cached before the first webhook, as in a warm server
        self.loop.start_server(server, middleware=lambda app: _WebhookTimer(app, self.timeline))

    def queue(self) -> Queue:
        return self.loop.queue()

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
        ctx = self.loop.context(metrics=counter, session=session)
        waits: list[float] = []
        acquire = ctx.freee.limiter.acquire

        def timed_acquire(**kwargs: Any) -> float:
            waited = acquire(**kwargs)
            waits.append(waited)
            return waited

        ctx.freee.limiter.acquire = timed_acquire  # type: ignore[method-assign]
        ctx.hubspot.won_stages()  # a warm worker: pipelines already cached (read once per five minutes)
        counter.reset()
        return Worker(ctx, counter, calls, waits)

    def start_workers(self, n: int, *, poll_interval: float) -> None:
        workers = [self.worker_context() for _ in range(n)]
        for worker in workers:
            [worker.thread] = self.loop.spawn_workers(
                1,
                lambda w=worker: w.ctx,
                queue=lambda: _TimedQueue(self.queue(), self.timeline),
                poll_interval=poll_interval,
                on_result=self._result,
                name="bench-worker",
            )
        self.workers += workers

    def _result(self, result: WorkerResult) -> None:
        now = time.perf_counter()
        if result.deal_id is not None and result.outcome is not None:
            self.timeline.note(self.timeline.done, result.deal_id, now)
        with self._results_lock:
            self.results.append(result)
        if self.on_result is not None:
            self.on_result(result)

    def close(self) -> None:
        self.loop.close(timeout=30)

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
            self.store.link_partner(PORTAL_ID, company, int(partner["id"]))
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


@contextmanager
def loopback_stand(clock: Clock) -> Iterator[Stand]:
    """A :class:`Stand` in a temporary folder with its server started, closed (workers, server) after the block."""
    with tempfile.TemporaryDirectory() as tmp:
        stand = Stand(Path(tmp), clock)
        try:
            stand.start_server()
            yield stand
        finally:
            stand.close()


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
