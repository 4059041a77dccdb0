"""Two ways to reach a sandbox app: mounted into a ``requests`` session (in-process, no socket) or served on
loopback (for clients that do not use ``requests``, such as the official HubSpot client over urllib3).

Both carry out the faults the app marks with ``X-Sandbox-Fault`` (see :mod:`sandbox.faults`).
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import requests
from requests.adapters import BaseAdapter
from requests.structures import CaseInsensitiveDict
from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server
from werkzeug.test import EnvironBuilder, run_wsgi_app

from sandbox.faults import FAULT_HEADER


class WSGIAdapter(BaseAdapter):
    """A ``requests`` transport adapter that hands each request to a WSGI app in-process.

    ``session.mount("http://freee.sandbox", WSGIAdapter(app))`` makes every call to that prefix hit the app.
    """

    def __init__(self, app: Any) -> None:
        super().__init__()
        self.app = app

    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:  # type: ignore[override]
        parts = urlsplit(request.url or "")
        body = request.body
        if isinstance(body, str):
            body = body.encode("utf-8")
        builder = EnvironBuilder(
            path=parts.path,
            query_string=parts.query,
            method=request.method or "GET",
            headers=list(request.headers.items()),
            data=body or b"",
            base_url=f"{parts.scheme}://{parts.netloc}",
        )
        try:
            environ = builder.get_environ()
        finally:
            builder.close()
        app_iter, status, headers = run_wsgi_app(self.app, environ)
        try:
            content = b"".join(app_iter)
        finally:
            close = getattr(app_iter, "close", None)
            if close is not None:
                close()
        fault = headers.get(FAULT_HEADER)
        if fault == "reset":
            raise requests.ConnectionError(
                ConnectionResetError(104, "Connection reset by peer (sandbox)"), request=request
            )
        if fault == "timeout":
            raise requests.ReadTimeout("Read timed out (sandbox: the request was processed)", request=request)
        response = requests.Response()
        response.status_code = int(status.split(" ", 1)[0])
        response.reason = status.split(" ", 1)[1] if " " in status else ""
        response.headers = CaseInsensitiveDict(dict(headers.items()))
        response._content = content
        response.url = request.url or ""
        response.request = request
        # the declared charset, else UTF-8 (what both services send); guessing would cost more than the call
        response.encoding = requests.utils.get_encoding_from_headers(response.headers) or "utf-8"
        return response

    def close(self) -> None:
        return None


class _QuietHandler(WSGIRequestHandler):
    """No access log on stderr: the sandboxes' calls would drown the demo's output."""

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        return None


class _FaultMiddleware:
    """On a real socket: drop the connection for a reset; hold the answer for a time-out-after-commit."""

    def __init__(self, app: Any, timeout_hold_seconds: float) -> None:
        self.app = app
        self.timeout_hold_seconds = timeout_hold_seconds

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        captured: dict[str, Any] = {}

        def capture(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            captured["status"], captured["headers"] = status, headers
            return lambda data: None

        body = b"".join(self.app(environ, capture))
        fault = dict(captured["headers"]).get(FAULT_HEADER)
        if fault in ("reset", "timeout"):
            if fault == "timeout":
                time.sleep(self.timeout_hold_seconds)
            sock = environ.get("werkzeug.socket")
            if sock is not None:
                try:
                    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
                    sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
            start_response("500 Connection dropped", [])  # written to a closed socket: werkzeug ignores it
            return []
        start_response(captured["status"], captured["headers"])
        return [body]


@dataclass
class ServedApp:
    """A sandbox app on a loopback port, in a daemon thread. Use as a context manager or call ``stop()``."""

    url: str
    server: BaseWSGIServer
    thread: threading.Thread
    faults: _FaultMiddleware

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)

    def __enter__(self) -> ServedApp:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def serve(
    app: Any, host: str = "127.0.0.1", port: int = 0, *, timeout_hold_seconds: float = 5.0
) -> ServedApp:
    """Serve ``app`` on ``host:port`` (port 0: a free one) until ``stop()``; loopback only by default.

    A time-out-after-commit holds the answer ``timeout_hold_seconds`` (``served.faults.timeout_hold_seconds``)
    and then drops the connection: set it above the client's read timeout.
    """
    middleware = _FaultMiddleware(app, timeout_hold_seconds)
    server = make_server(host, port, middleware, threaded=True, request_handler=_QuietHandler)
    thread = threading.Thread(
        target=lambda: server.serve_forever(poll_interval=0.05), name=f"sandbox:{server.port}", daemon=True
    )
    thread.start()
    return ServedApp(f"http://{host}:{server.port}", server, thread, middleware)
