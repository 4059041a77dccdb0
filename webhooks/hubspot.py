"""``POST /webhooks/hubspot``: verify → parse → keep this portal's won-stage events → queue → 204.

The same :func:`handle` serves the local Flask app and Lambda (:func:`lambda_handler`). Anything the caller sent
wrong is a 4xx with a JSON body; a failure on our side is a 503 so HubSpot delivers again. Nothing is lost: events
are marked seen only after their deal is queued.

The tenant boundary (:mod:`sdk.tenant`): without ``HUBSPOT_PORTAL_ID`` every delivery is 503 ``not_configured``.
HubSpot may batch events of several portals that installed the app into one delivery, all validly signed. A
delivery with no event of this installation's portal is refused, 403 ``foreign_portal`` (naming the first other
portal). A mixed delivery is accepted (204) for this portal's events only: the others are dropped, neither queued
nor marked seen, and counted (``foreign_events``, with their portals) in the ``webhook_accepted`` log line.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from sdk.admission import WEBHOOK, admit
from sdk.http import HttpRequest, HttpResponse, error, validation_details
from sdk.log import get_logger
from sdk.models.hubspot import parse_webhook_batch
from sdk.runtime import LambdaRuntime
from sdk.tenant import own_portal
from sdk.usecases.accept_webhook import MessageSink, accept_webhook_batch

if TYPE_CHECKING:
    from sdk.clock import Clock
    from sdk.settings import Settings
    from sdk.store import Store


@dataclass
class WebhookDeps:
    settings: Settings
    store: Store
    queue: MessageSink
    clock: Clock
    won_stages: Callable[[], frozenset[tuple[str, str]]]


def handle(request: HttpRequest, deps: WebhookDeps) -> HttpResponse:
    log = get_logger()
    if request.method != "POST":
        return error(405, "method_not_allowed", "use POST")
    if (refused := admit(request, WEBHOOK, deps.settings, deps.clock)) is not None:
        return refused
    try:
        events = parse_webhook_batch(request.body)
    except ValidationError as invalid:
        return error(
            400,
            "invalid_batch",
            "the body is not a HubSpot webhook batch",
            details=validation_details(invalid),
        )
    portal = own_portal(deps.settings)
    portals = {e.portal_id for e in events}
    foreign = sorted(portals - {portal})
    if portal not in portals:  # nothing of ours: refuse the delivery (a mixed one goes on with ours only)
        refused = WEBHOOK.refusal(deps.settings, foreign[0])
        if refused is not None:
            return refused
    try:
        accepted = accept_webhook_batch(
            events,
            won=deps.won_stages(),
            store=deps.store,
            queue=deps.queue,
            clock=deps.clock,
            portal_id=portal,
        )
    except Exception as failure:
        log.exception({"event": "webhook_not_queued", "error": failure.__class__.__name__})
        return error(503, "unavailable", "could not queue the events; HubSpot will deliver them again")
    log.info(
        {
            "event": "webhook_accepted",
            "events": len(events),
            "queued_deals": accepted.queued,
            "duplicates": accepted.duplicates,
            "ignored": accepted.ignored,
            "foreign_events": accepted.foreign,
            "foreign_portals": foreign[:10],
        }
    )
    return HttpResponse(204)


RUNTIME = LambdaRuntime()


def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """API Gateway HTTP API → :func:`handle`. Dependencies are built once per container (no freee client)."""
    from sdk.http import from_api_gateway, to_api_gateway

    rt = RUNTIME
    deps = WebhookDeps(rt.settings, rt.store, rt.queue, rt.clock, rt.hubspot.won_stages)
    return to_api_gateway(handle(from_api_gateway(event, rt.settings.public_base_url), deps))
