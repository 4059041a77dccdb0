"""``GET /healthz``: the liveness answer, for the local Flask app and for Lambda.

Its own module so the Lambda artifact serving it needs neither Flask nor settings (``functions.app`` imports Flask).
"""

from __future__ import annotations

from typing import Any

from sdk.http import HttpResponse, to_api_gateway


def healthz() -> HttpResponse:
    return HttpResponse(200, {"status": "ok"})


def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """API Gateway HTTP API → ``{"status": "ok"}``. Reads no settings and no secret."""
    return to_api_gateway(healthz())
