"""What both sandboxes wire the same way: fault injection (:mod:`sandbox.faults`) around every call, and the
shared part of the ``/_sandbox`` admin API (no auth, no rate limit, no faults).

Shared admin endpoints: ``POST reset`` (204), ``POST seed`` and ``GET state`` (each sandbox answers its own), and
``POST faults`` (rules, a script, a seed), ``DELETE faults``, ``GET faults`` (what was injected). Each sandbox adds
its own admin endpoints under the same prefix.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

from flask import Flask, Response, g, request

from sandbox.faults import FAULT_HEADER, FaultInjector, FaultKind, FaultRule
from sdk.clock import Clock

ADMIN_PREFIX = "/_sandbox"


class Administered(Protocol):
    """A sandbox as the shared admin API sees it."""

    faults: FaultInjector
    clock: Clock

    def reset(self) -> None: ...


def install_faults(
    app: Flask, injector: FaultInjector, clock: Clock, error: Callable[[int, str], Response]
) -> None:
    """Wire an injector into a sandbox app; ``error(status, kind)`` builds that service's error response.

    Registers a ``before_request`` and an ``after_request`` hook: call it where the faults belong among the
    app's own hooks (HubSpot checks the token first, freee injects first)."""

    @app.before_request
    def _inject() -> Response | None:
        if request.path.startswith(ADMIN_PREFIX):
            return None
        fault = injector.decide(request.method, request.path)
        if fault is None:
            return None
        if fault.kind is FaultKind.LATENCY:
            clock.sleep(fault.latency_seconds)
            return None
        if fault.kind is FaultKind.RATE_LIMIT:
            return error(429, "injected")
        if fault.kind is FaultKind.SERVER_ERROR:
            return error(fault.status, "injected")
        if fault.kind is FaultKind.RESET:
            response = Response(b"", status=500)
            response.headers[FAULT_HEADER] = "reset"
            return response
        g.sandbox_fault = "timeout"
        return None

    @app.after_request
    def _mark(response: Response) -> Response:
        if getattr(g, "sandbox_fault", None) == "timeout":
            response.headers[FAULT_HEADER] = "timeout"
        return response


def install_admin(
    app: Flask,
    sandbox: Administered,
    *,
    seed: Callable[[], Response],
    state: Callable[[], Response],
) -> None:
    """The shared ``/_sandbox`` endpoints: reset, ``seed`` and ``state`` (the sandbox's own views), faults."""
    injector = sandbox.faults

    @app.post(f"{ADMIN_PREFIX}/reset")
    def admin_reset() -> Response:
        sandbox.reset()
        return Response(status=204)

    app.add_url_rule(f"{ADMIN_PREFIX}/seed", "admin_seed", seed, methods=["POST"])
    app.add_url_rule(f"{ADMIN_PREFIX}/state", "admin_state", state, methods=["GET"])

    @app.post(f"{ADMIN_PREFIX}/faults")
    def _set_faults() -> Response:
        data = request.get_json(force=True) or {}
        injector.reset(seed=data.get("seed"))
        for rule in data.get("rules", []):
            injector.add(FaultRule.from_json(rule))
        script = data.get("script", [])
        if script:
            injector.script(*script, path_prefix=data.get("script_path_prefix"))
        return Response(status=204)

    @app.delete(f"{ADMIN_PREFIX}/faults")
    def _clear_faults() -> Response:
        injector.reset()
        return Response(status=204)

    @app.get(f"{ADMIN_PREFIX}/faults")
    def _fault_history() -> dict[str, Any]:
        return {"history": [{"method": m, "path": p, "kind": k} for m, p, k in injector.history]}
