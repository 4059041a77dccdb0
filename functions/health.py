"""``GET /healthz``: 200 ``{"status": "ok"}`` when the installation can work, else 503 with the reasons
(:func:`sdk.usecases.health.check_health`), for the local Flask app and for Lambda.

Its own module so the Lambda artifact serving it needs neither Flask nor secrets (``functions.app`` imports Flask):
on Lambda it reads the settings from the environment (no ``SECRETS_ID``) and the token row of the store.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sdk.http import HttpResponse, to_api_gateway
from sdk.runtime import LambdaRuntime
from sdk.usecases.health import (
    HealthCheck,
    HealthNotes,
    HealthProblem,
    HealthReport,
    check_health,
    freee_connection,
)

if TYPE_CHECKING:
    from sdk.store import Store


@dataclass(frozen=True)
class HealthDeps:
    store: Store
    #: more checks (e.g. the local server's worker supervision), run after the store's
    checks: Sequence[HealthCheck] = ()
    #: what the answer also tells without being unhealthy (e.g. worker restarts)
    notes: Sequence[HealthNotes] = ()


def healthz(deps: HealthDeps | None = None) -> HttpResponse:
    if deps is None:
        return _answer(check_health([]))
    return _answer(check_health([freee_connection(deps.store.tokens), *deps.checks], deps.notes))


def _answer(report: HealthReport) -> HttpResponse:
    return HttpResponse(200 if report.ok else 503, report.as_dict())


RUNTIME = LambdaRuntime()


def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """API Gateway HTTP API → ``healthz``. Reads no secret; settings or a store that cannot be opened are a 503
    saying so."""
    try:
        deps = HealthDeps(RUNTIME.store)  # the settings (environment only) and the store they name
    except Exception as exc:
        problem = HealthProblem(
            "store_unavailable",
            f"設定またはストアを開けません（{type(exc).__name__}）",
            f"the settings or the store cannot be opened ({type(exc).__name__})",
        )
        return to_api_gateway(_answer(HealthReport((problem,))))
    return to_api_gateway(healthz(deps))
