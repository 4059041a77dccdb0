"""The local server: a small Flask app factory over the same handlers Lambda runs.

:data:`ROUTES` is the one route table: the Flask app is built from it, and ``tests/deploy`` checks that
``serverless.yml`` declares exactly these routes with these handlers. A Lambda handler named here must live in a
module that does not import Flask (the Lambda artifact carries no Flask).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from flask import Flask, Response, request

from functions.actions import (
    ActionDeps,
    handle_custom_code_invoice,
    handle_custom_code_payment_status,
    handle_workflow_action,
)
from functions.cards import CardDeps, handle_balance_card
from functions.health import HealthDeps, healthz
from sdk.admission import CARD, CUSTOM_CODE, WEBHOOK, WORKFLOW_ACTION, Scheme
from sdk.http import MAX_BODY_BYTES, Headers, HttpRequest, HttpResponse, error, public_uri
from webhooks.hubspot import WebhookDeps
from webhooks.hubspot import handle as handle_webhook

if TYPE_CHECKING:
    from sdk.usecases.accept_webhook import MessageSink
    from sdk.usecases.context import Context
    from sdk.usecases.health import HealthCheck, HealthNotes


@dataclass(frozen=True)
class Route:
    method: str
    path: str
    name: str
    lambda_handler: str  # "module.function" that serves this route on AWS (serverless.yml's handler)
    #: how the handler admits a request (:mod:`sdk.admission`): the secret it needs, besides HUBSPOT_PORTAL_ID
    #: (None: open, no setting needed). ``doctor`` names the routes a missing setting leaves answering 503;
    #: tests/integration/test_route_settings.py holds each handler to it
    admission: Scheme | None = None


ROUTES: tuple[Route, ...] = (
    Route("POST", "/webhooks/hubspot", "hubspot_webhook", "webhooks.hubspot.lambda_handler", WEBHOOK),
    Route(
        "POST",
        "/actions/create-invoice",
        "workflow_action",
        "functions.actions.lambda_handler",
        WORKFLOW_ACTION,
    ),
    Route(
        "POST",
        "/custom-code/create-invoice",
        "custom_code_invoice",
        "functions.actions.lambda_handler",
        CUSTOM_CODE,
    ),
    Route(
        "POST",
        "/custom-code/payment-status",
        "custom_code_payment_status",
        "functions.actions.lambda_handler",
        CUSTOM_CODE,
    ),
    Route("GET", "/cards/balance", "balance_card", "functions.cards.lambda_handler", CARD),
    Route("GET", "/healthz", "healthz", "functions.health.lambda_handler"),
)


@dataclass
class Services:
    context: Context
    queue: MessageSink
    #: checks /healthz runs besides the freee connection (e.g. the server's worker supervision)
    health_checks: Sequence[HealthCheck] = ()
    health_notes: Sequence[HealthNotes] = ()

    def webhook_deps(self) -> WebhookDeps:
        ctx = self.context
        return WebhookDeps(ctx.settings, ctx.store, self.queue, ctx.clock, ctx.hubspot.won_stages)

    def action_deps(self) -> ActionDeps:
        return ActionDeps(self.context, self.queue)

    def card_deps(self) -> CardDeps:
        return CardDeps(self.context)

    def health_deps(self) -> HealthDeps:
        return HealthDeps(self.context.store, self.health_checks, self.health_notes)


def create_app(services: Services) -> Flask:
    from sdk.log import get_logger

    get_logger()  # once, before the first requests' threads could all ask for it at the same instant
    app = Flask("hubspot-freee")
    app.config["MAX_CONTENT_LENGTH"] = MAX_BODY_BYTES
    webhook_deps = services.webhook_deps()
    action_deps = services.action_deps()
    card_deps = services.card_deps()
    health_deps = services.health_deps()
    handlers: dict[str, Callable[[HttpRequest], HttpResponse]] = {
        "hubspot_webhook": lambda r: handle_webhook(r, webhook_deps),
        "workflow_action": lambda r: handle_workflow_action(r, action_deps),
        "custom_code_invoice": lambda r: handle_custom_code_invoice(r, action_deps),
        "custom_code_payment_status": lambda r: handle_custom_code_payment_status(r, action_deps),
        "balance_card": lambda r: handle_balance_card(r, card_deps),
        "healthz": lambda r: healthz(health_deps),
    }
    base_url = services.context.settings.public_base_url
    for route in ROUTES:
        app.add_url_rule(
            route.path, route.name, _view(handlers[route.name], base_url), methods=[route.method]
        )

    for status, code in ((404, "not_found"), (405, "method_not_allowed"), (413, "body_too_large")):
        app.register_error_handler(status, _json_error(status, code))

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception) -> Response:
        from sdk.log import get_logger

        get_logger().exception({"event": "unhandled", "error": exc.__class__.__name__})
        return _respond(error(503, "unavailable", "something failed on our side; try again"))

    return app


def _view(handler: Callable[[HttpRequest], HttpResponse], base_url: str | None) -> Callable[[], Response]:
    def view() -> Response:
        body = request.get_data(cache=False)
        raw_uri = request.environ.get("RAW_URI") or request.environ.get("REQUEST_URI") or request.full_path
        host_uri = f"{request.scheme}://{request.host}{raw_uri}".rstrip("?")
        incoming = HttpRequest(
            method=request.method,
            uri=public_uri(base_url, request.path, request.query_string.decode("latin-1"), host_uri),
            path=request.path,
            headers=Headers(dict(request.headers)),
            body=body,
            query=dict(request.args),
            query_string=request.query_string.decode("latin-1"),
        )
        return _respond(handler(incoming))

    return view


def _respond(response: HttpResponse) -> Response:
    payload = response.payload()
    flask_response = Response(payload or None, status=response.status, headers=dict(response.headers))
    if payload:
        flask_response.content_type = "application/json; charset=utf-8"
    return flask_response


def _json_error(status: int, code: str) -> Callable[[Exception], Response]:
    def handler(exc: Exception) -> Response:
        return _respond(error(status, code, getattr(exc, "description", code)))

    return handler
