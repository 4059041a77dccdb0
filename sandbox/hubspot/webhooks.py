"""App webhooks: signed batches POSTed from a background thread, retried on the sandbox clock."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import random
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import requests

from sandbox.hubspot.facts import WEBHOOK_BATCH_SIZE, WEBHOOK_MAX_RETRIES, WEBHOOK_RETRY_DELAYS, _iso, _ms
from sdk.clock import Clock


@dataclass(frozen=True)
class WebhookRequest:
    """What a callable webhook target receives: exactly what would go over the wire."""

    method: str
    url: str
    headers: dict[str, str]
    body: str


WebhookTarget = Callable[[WebhookRequest], int]


@dataclass(frozen=True)
class WebhookDelivery:
    """One delivery attempt: what was sent and how the receiver answered (``status`` None: no answer)."""

    url: str
    body: str
    headers: dict[str, str]
    status: int | None
    attempt: int
    event_ids: tuple[int, ...]
    at: str
    error: str | None = None
    duplicate: bool = False

    def as_dict(self) -> dict[str, Any]:
        return {
            "url": self.url,
            "body": self.body,
            "headers": self.headers,
            "status": self.status,
            "attempt": self.attempt,
            "eventIds": list(self.event_ids),
            "at": self.at,
            "error": self.error,
            "duplicate": self.duplicate,
        }


def sign_v3(client_secret: str, method: str, uri: str, body: str, timestamp: str) -> str:
    """``X-HubSpot-Signature-v3``: base64 of HMAC-SHA256 over method + URI + body + timestamp."""
    digest = hmac.new(
        client_secret.encode("utf-8"), f"{method}{uri}{body}{timestamp}".encode(), hashlib.sha256
    ).digest()
    return base64.b64encode(digest).decode()


@dataclass
class _Batch:
    events: list[dict[str, Any]]
    attempt: int
    due: float
    duplicate: bool = False


class WebhookDispatcher:
    """Delivers queued events in batches from a background thread; retries wait on the sandbox clock."""

    def __init__(
        self,
        clock: Clock,
        rng: random.Random,
        *,
        client_secret: str,
        target: str | WebhookTarget | None,
        target_uri: str = "https://webhooks.sandbox.invalid/hubspot",
        retry_delays: Sequence[float] = WEBHOOK_RETRY_DELAYS,
        max_retries: int = WEBHOOK_MAX_RETRIES,
        duplicate_probability: float = 0.0,
        timeout_seconds: float = 5.0,
        poll_seconds: float = 1.0,
    ) -> None:
        self.clock = clock
        self.rng = rng
        self.client_secret = client_secret
        self.target = target
        self.target_uri = target_uri
        self.retry_delays = tuple(retry_delays)
        self.max_retries = max_retries
        self.duplicate_probability = duplicate_probability
        self.timeout_seconds = timeout_seconds
        self.poll_seconds = poll_seconds
        self.deliveries: list[WebhookDelivery] = []
        self._fresh: deque[dict[str, Any]] = deque()
        self._retries: list[_Batch] = []
        self._busy = 0
        self._held = 0
        self._closed = False
        self._cond = threading.Condition()
        self._thread: threading.Thread | None = None
        self._session = requests.Session()

    # -- control -----------------------------------------------------------------------------------------------

    def configure(self, target: str | WebhookTarget | None, target_uri: str | None = None) -> None:
        with self._cond:
            self.target = target
            if target_uri is not None:
                self.target_uri = target_uri

    def enqueue(self, events: list[dict[str, Any]]) -> None:
        with self._cond:
            if self.target is None or self._closed:
                return
            self._fresh.extend(dict(e) for e in events)
            self._start()
            self._cond.notify_all()

    @contextmanager
    def held(self) -> Iterator[None]:
        """Queue events without sending them until the block ends (then they go out in batches of 100)."""
        with self._cond:
            self._held += 1
        try:
            yield
        finally:
            with self._cond:
                self._held -= 1
                self._cond.notify_all()

    def pending(self) -> int:
        with self._cond:
            return len(self._fresh) + sum(len(b.events) for b in self._retries) + self._busy

    def wait_idle(self, timeout: float = 5.0) -> bool:
        """Wait (real seconds) until nothing is queued, waiting for a retry or being sent. True when idle."""
        deadline = time.monotonic() + timeout  # real time on purpose: a test's patience, not sandbox time
        with self._cond:
            while self._fresh or self._retries or self._busy:
                if time.monotonic() >= deadline:
                    return False
                self._cond.wait(0.01)
            return True

    def clear(self) -> None:
        with self._cond:
            self._fresh.clear()
            self._retries.clear()
            self.deliveries.clear()

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._cond.notify_all()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._session.close()

    def _start(self) -> None:
        if self._thread is None or not self._thread.is_alive():
            self._thread = threading.Thread(target=self._run, name="hubspot-sandbox-webhooks", daemon=True)
            self._thread.start()

    # -- the loop ----------------------------------------------------------------------------------------------

    def _next(self) -> _Batch | None:
        """The next batch to send, waiting (on the sandbox clock) for a retry that is not due yet."""
        while True:
            with self._cond:
                if self._closed:
                    return None
                if self._fresh and not self._held:
                    events = [self._fresh.popleft() for _ in range(min(WEBHOOK_BATCH_SIZE, len(self._fresh)))]
                    self._busy += 1
                    return _Batch(events, 0, self.clock.monotonic())
                if not self._retries or self._held:
                    self._cond.wait(0.05)
                    continue
                self._retries.sort(key=lambda b: b.due)
                wait = self._retries[0].due - self.clock.monotonic()
                if wait <= 0:
                    self._busy += 1
                    return self._retries.pop(0)
            self.clock.sleep(min(wait, self.poll_seconds))

    def _run(self) -> None:
        while True:
            batch = self._next()
            if batch is None:
                return
            status: int | None = None
            try:
                status = self._send(batch)
            finally:
                with self._cond:  # scheduled before it stops counting as busy: wait_idle never sees a gap
                    self._schedule(batch, status)
                    self._busy -= 1
                    self._cond.notify_all()

    def _schedule(self, batch: _Batch, status: int | None) -> None:
        """After an attempt: maybe a duplicate (2xx), a retry (no answer, 429, 5xx), or nothing (other 4xx)."""
        with self._cond:
            if status is not None and 200 <= status < 300:
                if (
                    not batch.duplicate
                    and self.duplicate_probability > 0
                    and self.rng.random() < self.duplicate_probability
                ):
                    self._retries.append(_Batch(batch.events, batch.attempt, self.clock.monotonic(), True))
            elif (status is None or status == 429 or status >= 500) and batch.attempt < self.max_retries:
                index = min(batch.attempt, len(self.retry_delays) - 1)
                delay = self.retry_delays[index] if self.retry_delays else 0.0
                self._retries.append(_Batch(batch.events, batch.attempt + 1, self.clock.monotonic() + delay))
            self._cond.notify_all()

    def _send(self, batch: _Batch) -> int | None:
        target, uri = self.target, self.target_uri
        if target is None:
            return None
        url = target if isinstance(target, str) else uri
        events = [{**e, "attemptNumber": batch.attempt} for e in batch.events]
        body = json.dumps(events, ensure_ascii=False, separators=(",", ":"))
        timestamp = str(_ms(self.clock.now()))
        headers = {
            "Content-Type": "application/json",
            "User-Agent": "HubSpot Connect 2.0 (http://dev.hubspot.com/) (namespace: webhooks-nio) (sandbox)",
            "X-HubSpot-Signature-v3": sign_v3(self.client_secret, "POST", url, body, timestamp),
            "X-HubSpot-Signature-Version": "v3",
            "X-HubSpot-Request-Timestamp": timestamp,
        }
        status: int | None = None
        error: str | None = None
        try:
            if isinstance(target, str):
                response = self._session.post(
                    url, data=body.encode("utf-8"), headers=headers, timeout=self.timeout_seconds
                )
                status = response.status_code
            else:
                status = int(target(WebhookRequest("POST", url, dict(headers), body)))
        except requests.Timeout as exc:
            error = f"timeout: {exc}"
        except Exception as exc:  # a receiver that cannot be reached or raises is retried like a time-out
            error = f"{type(exc).__name__}: {exc}"
        with self._cond:
            self.deliveries.append(
                WebhookDelivery(
                    url=url,
                    body=body,
                    headers=headers,
                    status=status,
                    attempt=batch.attempt,
                    event_ids=tuple(int(e["eventId"]) for e in events),
                    at=_iso(self.clock.now()),
                    error=error,
                    duplicate=batch.duplicate,
                )
            )
        return status
