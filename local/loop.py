"""The whole loop on one machine: both sandboxes served on loopback, settings pointing at them, the local server
(``functions.app.create_app``, the same Flask app as ``hubspot-freee serve``) receiving the HubSpot sandbox's
signed webhooks, and worker threads (``functions.worker.run_worker``) over a SQLite queue.

One :class:`Loop` is what the demo (:mod:`local.demo`), the loopback benchmarks and the chaos storm run. Each
adds its own hooks: a context factory (counted clients, a session with a response hook, stand-ins that die), a
queue factory, a WSGI middleware in front of the server, a callback for each message a worker finished, the
exceptions after which a worker is replaced (a supervisor), and the clock (real or scaled) everything shares.
``close()`` (or leaving the ``with`` block) stops everything it started.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any, Self

from local.sandboxes import install, sandbox_settings
from sandbox import PORTAL_ID
from sandbox.freee import create_freee_sandbox
from sandbox.hubspot import create_hubspot_sandbox
from sandbox.transport import ServedApp, serve

if TYPE_CHECKING:
    import requests
    from flask import Flask

    from functions.worker import WorkerResult
    from sdk.clock import Clock
    from sdk.freee.tokens import TokenStore
    from sdk.hubspot import CallCounter, HubSpotClient
    from sdk.queue import Queue
    from sdk.store import Store
    from sdk.usecases.context import Context
    from sdk.usecases.setup_hubspot import PropertySetup


class Loop:
    """Both sandboxes on loopback (``freee`` and ``hubspot``: arguments of ``create_freee_sandbox`` and
    ``create_hubspot_sandbox``; the HubSpot portal is :data:`sandbox.PORTAL_ID`), served with
    ``timeout_hold_seconds``, and the settings pointing at them: the store and the queue in SQLite files in
    ``workdir`` unless ``settings`` (overrides, as ``load_settings``) say otherwise."""

    def __init__(
        self,
        clock: Clock,
        workdir: Path,
        *,
        freee: Mapping[str, Any] | None = None,
        hubspot: Mapping[str, Any] | None = None,
        timeout_hold_seconds: float = 5.0,
        **settings: Any,
    ) -> None:
        self.clock = clock
        self.freee_box = create_freee_sandbox(clock=clock, **(freee or {}))
        self.hubspot_box = create_hubspot_sandbox(
            clock=clock, **({"portal_id": PORTAL_ID} | dict(hubspot or {}))
        )
        self.served: list[ServedApp] = []
        self.stop = threading.Event()
        self.threads: list[threading.Thread] = []
        self.app: Flask | None = None
        self.server_url = ""
        try:
            freee_url = self._serve(self.freee_box.app, timeout_hold_seconds).url
            hubspot_url = self._serve(self.hubspot_box.app, timeout_hold_seconds).url
            files = {
                "storage_url": f"sqlite:///{workdir / 'store.sqlite'}",
                "queue_url": f"sqlite:///{workdir / 'queue.sqlite'}",
            }
            self.settings = sandbox_settings(freee_url, hubspot_url, **(files | settings))
        except BaseException:
            self.close()
            raise

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.close()

    def _serve(self, app: Any, timeout_hold_seconds: float = 5.0) -> ServedApp:
        served = serve(app, timeout_hold_seconds=timeout_hold_seconds)
        self.served.append(served)
        return served

    # ---------------------------------------------------------------------------------------------- wiring

    def hubspot_client(self, metrics: CallCounter | None = None) -> HubSpotClient:
        from sdk.hubspot import HubSpotClient

        return HubSpotClient.from_settings(self.settings, metrics=metrics, clock=self.clock)

    def context(
        self,
        *,
        store: Store | None = None,
        freee_store: Store | None = None,
        metrics: CallCounter | None = None,
        session: requests.Session | None = None,
    ) -> Context:
        """A component's own wiring, like a process of its own: its HubSpot client (counted by ``metrics``), its
        freee client (over ``session``, its tokens and the shared rate log in ``freee_store``, by default
        ``store``), over ``store`` (by default its own handle on the settings' store)."""
        from sdk.freee.client import FreeeClient
        from sdk.store import open_store
        from sdk.usecases.context import Context

        store = store if store is not None else open_store(self.settings.storage_url)
        own = freee_store if freee_store is not None else store
        freee = FreeeClient.from_settings(
            self.settings,
            token_store=own.tokens,
            rate_store=own.rate_limits,
            clock=self.clock,
            session=session,
        )
        return Context(self.settings, store, self.hubspot_client(metrics), freee, self.clock)

    def queue(self) -> Queue:
        from sdk.queue import queue_from_settings

        return queue_from_settings(self.settings, clock=self.clock)

    def install(self, tokens: TokenStore) -> PropertySetup:
        """``setup hubspot`` and ``setup freee`` against the sandboxes (the freee token pair into ``tokens``)."""
        return install(self.freee_box, self.hubspot_client(), self.settings, tokens, self.clock)

    def start_server(
        self,
        context: Context,
        queue: Queue | None = None,
        *,
        middleware: Callable[[Flask], Any] | None = None,
    ) -> ServedApp:
        """The local server over ``context`` and ``queue`` (by default a queue of its own), served on loopback
        (behind ``middleware``, a WSGI wrapper, when given); the HubSpot sandbox delivers its webhooks there."""
        from functions.app import Services, create_app

        self.app = create_app(Services(context, queue or self.queue()))
        server = self._serve(middleware(self.app) if middleware else self.app)
        self.server_url = server.url
        self.hubspot_box.set_webhook_target(f"{server.url}/webhooks/hubspot")
        return server

    def spawn_workers(
        self,
        n: int,
        context: Callable[[], Context],
        *,
        queue: Callable[[], Queue] | None = None,
        poll_interval: float,
        on_result: Callable[[WorkerResult], None] | None = None,
        restart_on: tuple[type[BaseException], ...] = (),
        name: str = "worker",
    ) -> list[threading.Thread]:
        """``n`` worker threads, each running ``run_worker`` over ``context()`` and ``queue()`` (by default a queue
        of its own) until :meth:`stop_workers`. A worker that raises one of ``restart_on`` is replaced by a new
        one, with a new context and queue (a supervisor); anything else ends its thread."""
        from functions.worker import run_worker

        make_queue = queue or self.queue

        def life() -> None:
            while not self.stop.is_set():
                try:
                    run_worker(
                        context(),
                        make_queue(),
                        stop=self.stop,
                        poll_interval=poll_interval,
                        on_result=on_result,
                    )
                    return
                except restart_on:
                    continue

        started = []
        for _ in range(n):
            thread = threading.Thread(target=life, name=f"{name}-{len(self.threads)}", daemon=True)
            thread.start()
            self.threads.append(thread)
            started.append(thread)
        return started

    def stop_workers(self, timeout: float = 10.0) -> None:
        self.stop.set()
        for thread in self.threads:
            thread.join(timeout=timeout)

    def close(self, timeout: float = 10.0) -> None:
        """Stop the workers (waiting ``timeout`` seconds for each), the servers and the HubSpot sandbox."""
        self.stop_workers(timeout)
        for served in reversed(self.served):
            served.stop()
        self.hubspot_box.close()
