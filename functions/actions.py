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

from sdk.errors import Retryable, SignatureRejected
from sdk.freee.errors import FreeeDisconnected
from sdk.http import MAX_BODY_BYTES, HttpRequest, HttpResponse, error, validation_details
from sdk.log import get_logger
from sdk.models.hubspot import CustomCodeRequest, WorkflowActionRequest
from sdk.signatures import (
    CUSTOM_SIGNATURE_HEADER,
    CUSTOM_TIMESTAMP_HEADER,
    verify_custom,
    verify_hubspot_request,
)
from sdk.tenant import http_refusal
from sdk.usecases.accept_webhook import MessageSink
from sdk.usecases.action_outputs import action_output_fields
from sdk.usecases.create_invoice import create_invoice_for_deal
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
        deps.queue.send(
            {
                "type": "create_invoice",
                "portal_id": portal_id,
                "deal_id": deal_id,
                "trigger": trigger,
                "callback_id": callback_id,
                "waiter": callback_id is not None,
            },
            delay=min(float(getattr(busy, "retry_after", None) or 0), 900.0),
        )
        get_logger().info({"event": "action_queued", "deal_id": deal_id, "reason": busy.__class__.__name__})
        fields = action_output_fields(None, None)
        fields["result"] = "pending"
        fields["hs_execution_state"] = "BLOCK"
        return fields
    return action_output_fields(outcome, None)


def handle_workflow_action(request: HttpRequest, deps: ActionDeps) -> HttpResponse:
    settings = deps.context.settings
    if len(request.body) > MAX_BODY_BYTES:
        return error(413, "body_too_large", f"the body is over {MAX_BODY_BYTES} bytes")
    secret = settings.hubspot_client_secret
    if secret is None or not secret.get_secret_value():
        return error(503, "not_configured", "the app's client secret is not configured on this server")
    unconfigured = http_refusal(settings, None, entry="workflow_action")
    if unconfigured is not None:
        return unconfigured
    try:
        verify_hubspot_request(
            request, secret=secret.get_secret_value(), now=deps.context.now(), allow_v2=True
        )
    except SignatureRejected as rejected:
        return error(401, "invalid_signature", str(rejected))
    try:
        action = WorkflowActionRequest.model_validate_json(request.body)
    except ValidationError as invalid:
        return error(
            400,
            "invalid_request",
            "the body is not a workflow action request",
            details=validation_details(invalid),
        )
    refused = http_refusal(settings, action.origin.portal_id, entry="workflow_action")
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


def _custom_body(request: HttpRequest, deps: ActionDeps) -> tuple[int, str] | HttpResponse:
    settings = deps.context.settings
    secret = settings.custom_code_secret
    if secret is None or not secret.get_secret_value():
        return error(503, "not_configured", "CUSTOM_CODE_SECRET is not configured on this server")
    unconfigured = http_refusal(settings, None, entry="custom_code")
    if unconfigured is not None:
        return unconfigured
    if len(request.body) > MAX_BODY_BYTES:
        return error(413, "body_too_large", f"the body is over {MAX_BODY_BYTES} bytes")
    try:
        verify_custom(
            secret=secret.get_secret_value(),
            body=request.body,
            signature=request.headers.get(CUSTOM_SIGNATURE_HEADER),
            timestamp=request.headers.get(CUSTOM_TIMESTAMP_HEADER),
            now=deps.context.now(),
        )
    except SignatureRejected as rejected:
        return error(401, "invalid_signature", str(rejected))
    try:
        data = json.loads(request.body)
    except (ValueError, RecursionError):  # RecursionError: nested deeper than the parser goes
        return error(400, "invalid_json", "the body is not JSON")
    try:
        body = CustomCodeRequest.model_validate(data)
    except ValidationError as invalid:
        return error(400, "invalid_request", CUSTOM_USAGE, details=validation_details(invalid))
    refused = http_refusal(settings, body.portal_id, entry="custom_code")
    if refused is not None:
        return refused
    return body.portal_id, body.deal_id


def handle_custom_code_invoice(request: HttpRequest, deps: ActionDeps) -> HttpResponse:
    parsed = _custom_body(request, deps)
    if isinstance(parsed, HttpResponse):
        return parsed
    portal, deal = parsed
    fields = _run_or_queue(deps, portal, deal, "custom_code", None)
    fields.pop("hs_execution_state", None)  # a custom-code action branches on `result` instead
    return HttpResponse(200, {"outputFields": fields})


def handle_custom_code_payment_status(request: HttpRequest, deps: ActionDeps) -> HttpResponse:
    parsed = _custom_body(request, deps)
    if isinstance(parsed, HttpResponse):
        return parsed
    portal, deal = parsed
    names = deps.context.settings.properties
    row = deps.context.store.get_ledger(portal, deal)
    if row is None or row.invoice is None:
        fields = {
            "result": "not_invoiced",
            "freee_invoice_number": "",
            "freee_payment_status": "",
            "freee_amount_outstanding": "",
            "freee_due_date": "",
        }
        return HttpResponse(200, {"outputFields": fields})
    written = dict(row.written)
    fields = {
        "result": row.state.value,
        "freee_invoice_number": row.invoice.invoice_number,
        "freee_payment_status": written.get(names.deal_payment_status, "unpaid"),
        "freee_amount_outstanding": written.get(names.deal_amount_outstanding, str(row.invoice.amount_total)),
        "freee_due_date": row.invoice.due_date.isoformat() if row.invoice.due_date else "",
    }
    return HttpResponse(200, {"outputFields": fields})


_deps: ActionDeps | None = None
_ROUTES = {
    "/actions/create-invoice": handle_workflow_action,
    "/custom-code/create-invoice": handle_custom_code_invoice,
    "/custom-code/payment-status": handle_custom_code_payment_status,
}


def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """API Gateway HTTP API → the action or custom-code handler for the path. Clients are built once."""
    from sdk.http import from_api_gateway, to_api_gateway

    global _deps
    if _deps is None:
        from sdk.queue import open_queue
        from sdk.settings import load_settings
        from sdk.usecases.context import Context

        settings = load_settings()
        _deps = ActionDeps(Context.from_settings(settings), open_queue(settings.queue_url))
    incoming = from_api_gateway(event, _deps.context.settings.public_base_url)
    handler = _ROUTES.get(incoming.path)
    if handler is None:
        return to_api_gateway(error(404, "not_found", f"no route {incoming.path}"))
    return to_api_gateway(handler(incoming, _deps))
