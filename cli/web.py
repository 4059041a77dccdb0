"""The HTTP server ``hubspot-freee serve`` runs: waitress (a pure-Python production WSGI server), one JSON access
log line per request through the project logger, and a graceful stop.

Stopping (:meth:`HttpServer.stop`, on SIGTERM or Ctrl-C) closes the listening socket first, so no new connection
is taken, lets the requests already received run to their end and their answers reach the client, then closes
the remaining connections. All socket work happens in the server's own thread, between two turns of its loop.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from waitress import create_server, wasyncore
from waitress.server import BaseWSGIServer

from cli.common import stopped_by_signals
from sdk.log import get_logger

#: request threads; a request waits for one when all are busy (waitress logs "Task queue depth")
THREADS = 8
#: how long a stop waits for the requests in flight before it closes their connections anyway
GRACE_SECONDS = 30.0
_TURN_SECONDS = 0.2  # one turn of the loop when nothing happens: how soon a stop is noticed at the latest

StartResponse = Callable[..., Any]
WsgiApp = Callable[[dict[str, Any], StartResponse], Iterable[bytes]]


class AccessLog:
    """WSGI middleware: one ``http_request`` log line per request once its answer is sent: method, path (never
    the query string, which may carry a token), status, duration in milliseconds, bytes of the body."""

    def __init__(self, app: WsgiApp) -> None:
        self.app = app

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        started = time.perf_counter()
        status: list[int] = []

        def recording(status_line: str, headers: Any, exc_info: Any = None) -> Any:
            status[:] = [int(status_line.split(" ", 1)[0])]
            return start_response(status_line, headers, exc_info)

        def done(sent: int) -> None:
            line = {
                "event": "http_request",
                "method": environ.get("REQUEST_METHOD", ""),
                "path": environ.get("SCRIPT_NAME", "") + environ.get("PATH_INFO", ""),
                "status": status[0] if status else 500,
                "duration_ms": round((time.perf_counter() - started) * 1000, 1),
                "bytes": sent,
            }
            get_logger().info(line)

        try:
            body = self.app(environ, recording)
        except BaseException:
            done(0)
            raise
        return _CountedBody(body, done)


class _CountedBody:
    """The answer's body, passed through as it is; counts its bytes and reports when the server closes it."""

    def __init__(self, body: Iterable[bytes], done: Callable[[int], None]) -> None:
        self.body, self.done, self.sent = body, done, 0

    def __iter__(self) -> Iterator[bytes]:
        for chunk in self.body:
            self.sent += len(chunk)
            yield chunk

    def close(self) -> None:
        try:
            close = getattr(self.body, "close", None)
            if close is not None:
                close()
        finally:
            self.done(self.sent)


class HttpServer:
    """``app`` under waitress on ``host:port`` (0: any free port), in a thread of its own until :meth:`stop`.

    Raises ``OSError`` when it cannot listen there."""

    def __init__(self, app: WsgiApp, host: str, port: int, *, threads: int = THREADS) -> None:
        #: every socket of the server: the listening ones (two when ``host`` names IPv4 and IPv6), the
        #: connections and the trigger that wakes the loop
        self._sockets: dict[int, Any] = {}
        create_server(
            AccessLog(app), map=self._sockets, host=host, port=port, threads=threads, ident="hubspot-freee"
        )
        self._listening: list[Any] = [s for s in self._sockets.values() if isinstance(s, BaseWSGIServer)]
        self._tasks = self._listening[0].task_dispatcher  # shared by them
        self.port: int = self._listening[0].effective_port
        self._stopping = threading.Event()
        self._deadline = 0.0
        self._drained = False
        self._thread = threading.Thread(target=self._run, name="http-server", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self, grace: float = GRACE_SECONDS) -> bool:
        """Stop taking connections, let the requests in flight finish (at most ``grace`` seconds), close the rest.
        True when every request in flight finished in time."""
        self._deadline = time.monotonic() + grace
        self._stopping.set()
        self._listening[0].pull_trigger()  # wake the loop now rather than at the end of its turn
        self._thread.join(grace + 5)
        return self._drained

    def _run(self) -> None:
        while True:
            wasyncore.loop(timeout=_TURN_SECONDS, use_poll=True, map=self._sockets, count=1)
            if not self._stopping.is_set():
                continue
            for listening in self._listening:
                if listening.accepting:
                    wasyncore.dispatcher.close(listening)  # the listening socket only: connections go on
            self._drained = self._idle()
            if self._drained or time.monotonic() >= self._deadline:
                break
        self._tasks.shutdown(timeout=1)
        wasyncore.close_all(self._sockets)

    def _idle(self) -> bool:
        """No request queued or running, and every answer sent."""
        channels = [c for listening in self._listening for c in list(listening.active_channels.values())]
        return (
            not self._tasks.queue
            and self._tasks.active_count == 0
            and all(not c.requests and not c.total_outbufs_len for c in channels)
        )


def serve_until_signalled(
    server: HttpServer,
    stop: threading.Event,
    on_turn: Callable[[], object] | None = None,
    grace: float = GRACE_SECONDS,
) -> bool:
    """Serve until SIGINT or SIGTERM (or anything else) sets ``stop``, calling ``on_turn`` every half second,
    then stop gracefully (:meth:`HttpServer.stop`). True when every request in flight finished."""
    with stopped_by_signals(stop):
        server.start()
        while not stop.wait(0.5):
            if on_turn is not None:
                on_turn()
        return server.stop(grace)
