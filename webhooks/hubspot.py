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

from sdk.errors import SignatureRejected
from sdk.http import MAX_BODY_BYTES, HttpRequest, HttpResponse, error, validation_details
from sdk.log import get_logger
from sdk.models.hubspot import parse_webhook_batch
from sdk.signatures import verify_hubspot_request
from sdk.tenant import http_refusal, own_portal
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
    if len(request.body) > MAX_BODY_BYTES:
        return error(413, "body_too_large", f"the body is over {MAX_BODY_BYTES} bytes")
    secret = deps.settings.hubspot_client_secret
    if secret is None or not secret.get_secret_value():
        log.error({"event": "webhook_not_configured", "missing": "HUBSPOT_CLIENT_SECRET"})
        return error(503, "not_configured", "the app's client secret is not configured on this server")
    unconfigured = http_refusal(deps.settings, None, entry="webhook")
    if unconfigured is not None:
        return unconfigured
    try:
        verify_hubspot_request(
            request, secret=secret.get_secret_value(), now=deps.clock.now(), allow_v2=False
        )
    except SignatureRejected as rejected:
        log.warning({"event": "webhook_rejected", "reason": str(rejected), "uri": request.uri})
        return error(401, "invalid_signature", str(rejected))
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
        refused = http_refusal(deps.settings, foreign[0], entry="webhook")
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


_deps: WebhookDeps | None = None


def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """API Gateway HTTP API → :func:`handle`. Dependencies are built once per container."""
    from sdk.http import from_api_gateway, to_api_gateway

    global _deps
    if _deps is None:
        _deps = _build_deps()
    return to_api_gateway(handle(from_api_gateway(event, _deps.settings.public_base_url), _deps))


def _build_deps() -> WebhookDeps:
    from sdk.clock import SystemClock
    from sdk.hubspot import HubSpotClient
    from sdk.queue import open_queue
    from sdk.settings import load_settings
    from sdk.store import open_store

    settings = load_settings()
    clock = SystemClock()
    hubspot = HubSpotClient.from_settings(settings, clock=clock)
    return WebhookDeps(
        settings, open_store(settings.storage_url), open_queue(settings.queue_url), clock, hubspot.won_stages
    )
