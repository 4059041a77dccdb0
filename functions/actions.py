"""``POST /actions/create-invoice`` (custom workflow action) and the custom-code endpoints.

verify → parse → this installation's portal only (403 ``foreign_portal`` otherwise, :mod:`sdk.tenant`) → run (or
queue) → ``outputFields``. The invoice is made inline when freee has room within
``action_inline_seconds``; otherwise (rate limit, another worker on the deal, a transient failure) the deal is
queued and HubSpot is told ``BLOCK``: the action leaves a waiter on the deal, and whoever reaches the deal's
outcome first (the busy worker, or the queued message) completes the callback (:mod:`sdk.usecases.waiters`).
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from sdk.admission import CUSTOM_CODE, WORKFLOW_ACTION, admit
from sdk.errors import Retryable
from sdk.freee.errors import FreeeDisconnected
from sdk.http import HttpRequest, HttpResponse, error, validation_details
from sdk.log import get_logger
from sdk.models.hubspot import CustomCodeRequest, WorkflowActionRequest
from sdk.queue import InvoiceJob
from sdk.runtime import LambdaRuntime
from sdk.usecases.accept_webhook import MessageSink
from sdk.usecases.action_outputs import (
    action_output_fields,
    custom_code_output_fields,
    pending_output_fields,
)
from sdk.usecases.create_invoice import create_invoice_for_deal
from sdk.usecases.payment_status_outputs import read_payment_status
from sdk.usecases.waiters import wait_for_deal

if TYPE_CHECKING:
    from sdk.usecases.context import Context

CUSTOM_USAGE = 'send {"portalId": <number>, "dealId": "<digits>"}'


@dataclass
class ActionDeps:
    context: Context
    queue: MessageSink


def _inline(deps: ActionDeps) -> Context:
    """The context for inline work: freee calls that would wait past the budget fail fast instead."""
    freee = deps.context.freee
    budget = deps.context.settings.action_inline_seconds
    hurried = freee.with_deadline(budget) if hasattr(freee, "with_deadline") else freee
    return dataclasses.replace(deps.context, freee=hurried)


def _run_or_queue(
    deps: ActionDeps, portal_id: int, deal_id: str, trigger: str, callback_id: str | None
) -> dict[str, str]:
    try:
        outcome = create_invoice_for_deal(_inline(deps), portal_id, deal_id, trigger)
    except (
        Retryable,
        FreeeDisconnected,
    ) as busy:  # the worker invoices it (held while freee is disconnected)
        if callback_id is not None:
            settled = wait_for_deal(deps.context, portal_id, deal_id, callback_id)
            if settled is not None:  # invoiced meanwhile: answer now instead of BLOCK
                return action_output_fields(settled, None)
        job = InvoiceJob(
            portal_id=portal_id,
            deal_id=deal_id,
            trigger=trigger,
            callback_id=callback_id,
            waiter=callback_id is not None,
        )
        deps.queue.send(job.body(), delay=min(float(getattr(busy, "retry_after", None) or 0), 900.0))
        get_logger().info({"event": "action_queued", "deal_id": deal_id, "reason": busy.__class__.__name__})
        return pending_output_fields()
    return action_output_fields(outcome, None)


def handle_workflow_action(request: HttpRequest, deps: ActionDeps) -> HttpResponse:
    settings, clock = deps.context.settings, deps.context.clock
    if (refused := admit(request, WORKFLOW_ACTION, settings, clock)) is not None:
        return refused
    try:
        action = WorkflowActionRequest.model_validate_json(request.body)
    except ValidationError as invalid:
        return error(
            400,
            "invalid_request",
            "the body is not a workflow action request",
            details=validation_details(invalid),
        )
    refused = WORKFLOW_ACTION.refusal(settings, action.origin.portal_id)
    if refused is not None:
        return refused
    if action.object.object_type.upper() != "DEAL":
        fields = action_output_fields(
            None, "このアクションは取引でのみ使えます / this action works on deals only"
        )
        return HttpResponse(200, {"outputFields": fields})
    fields = _run_or_queue(
        deps, action.origin.portal_id, str(action.object.object_id), "workflow_action", action.callback_id
    )
    return HttpResponse(200, {"outputFields": fields})


def _custom_body(request: HttpRequest, deps: ActionDeps) -> CustomCodeRequest | HttpResponse:
    settings, clock = deps.context.settings, deps.context.clock
    if (refused := admit(request, CUSTOM_CODE, settings, clock)) is not None:
        return refused
    try:
        data = json.loads(request.body)
    except (ValueError, RecursionError):  # RecursionError: nested deeper than the parser goes
        return error(400, "invalid_json", "the body is not JSON")
    try:
        body = CustomCodeRequest.model_validate(data)
    except ValidationError as invalid:
        return error(400, "invalid_request", CUSTOM_USAGE, details=validation_details(invalid))
    return CUSTOM_CODE.refusal(settings, body.portal_id) or body


def handle_custom_code_invoice(request: HttpRequest, deps: ActionDeps) -> HttpResponse:
    body = _custom_body(request, deps)
    if isinstance(body, HttpResponse):
        return body
    fields = _run_or_queue(deps, body.portal_id, body.deal_id, "custom_code", None)
    return HttpResponse(200, {"outputFields": custom_code_output_fields(fields)})


def handle_custom_code_payment_status(request: HttpRequest, deps: ActionDeps) -> HttpResponse:
    body = _custom_body(request, deps)
    if isinstance(body, HttpResponse):
        return body
    ctx = deps.context
    fields = read_payment_status(ctx.store, ctx.settings.properties, body.portal_id, body.deal_id)
    return HttpResponse(200, {"outputFields": fields})


RUNTIME = LambdaRuntime()
_ROUTES = {
    "/actions/create-invoice": handle_workflow_action,
    "/custom-code/create-invoice": handle_custom_code_invoice,
    "/custom-code/payment-status": handle_custom_code_payment_status,
}


def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """API Gateway HTTP API → the action or custom-code handler for the path. Clients are built once."""
    from sdk.http import from_api_gateway, to_api_gateway

    deps = ActionDeps(RUNTIME.context, RUNTIME.queue)
    incoming = from_api_gateway(event, deps.context.settings.public_base_url)
    handler = _ROUTES.get(incoming.path)
    if handler is None:
        return to_api_gateway(error(404, "not_found", f"no route {incoming.path}"))
    return to_api_gateway(handler(incoming, deps))
