"""``GET /cards/balance``: the data the HubSpot app card (``workflows/app_card``) shows on a deal or company.

verify (v3 only: ``hubspot.fetch`` requests are signed by HubSpot with v3) → parse the query → ``balance_card``
from the ledger → JSON. The portal comes from the ``portalId`` HubSpot adds to the query, else the configured
``hubspot_portal_id``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sdk.http import HttpRequest, HttpResponse, error
from sdk.signatures import SignatureRejected, verify_hubspot_request
from sdk.terms import tokyo_today
from sdk.usecases.balance import balance_card, parse_object_type

if TYPE_CHECKING:
    from sdk.usecases.context import Context

MAX_ID_DIGITS = 32
USAGE = "send ?objectType=deal|company&objectId=<digits>&portalId=<digits>"


@dataclass
class CardDeps:
    context: Context


def _digits(raw: str | None) -> str | None:
    value = (raw or "").strip()
    ascii_digits = value.isascii() and value.isdigit()  # str.isdigit alone takes "１２３" and "²"
    return value if ascii_digits and len(value) <= MAX_ID_DIGITS and int(value) > 0 else None


def handle_balance_card(request: HttpRequest, deps: CardDeps) -> HttpResponse:
    ctx = deps.context
    settings = ctx.settings
    secret = settings.hubspot_client_secret
    if secret is None or not secret.get_secret_value():
        return error(503, "not_configured", "the app's client secret is not configured on this server")
    try:
        verify_hubspot_request(request, secret=secret.get_secret_value(), now=ctx.now(), allow_v2=False)
    except SignatureRejected as rejected:
        return error(401, "invalid_signature", str(rejected))
    object_type = parse_object_type(request.query.get("objectType"))
    if object_type is None:
        return error(400, "invalid_object_type", f"objectType must be deal or company; {USAGE}")
    object_id = _digits(request.query.get("objectId"))
    if object_id is None:
        return error(400, "invalid_object_id", f"objectId must be a record id (digits); {USAGE}")
    raw_portal = request.query.get("portalId")
    portal = _digits(raw_portal) if raw_portal else None
    if raw_portal and portal is None:
        return error(400, "invalid_portal_id", f"portalId must be a HubSpot account id (digits); {USAGE}")
    portal_id = int(portal) if portal is not None else settings.hubspot_portal_id
    if portal_id is None:
        return error(400, "missing_portal_id", f"no portalId in the query and none configured; {USAGE}")
    card = balance_card(
        ctx.store,
        settings,
        portal_id=portal_id,
        object_type=object_type,
        object_id=object_id,
        today=tokyo_today(ctx.now()),
    )
    return HttpResponse(200, card)


_deps: CardDeps | None = None


def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """API Gateway HTTP API → the balance card handler. The context (store, clients) is built once."""
    from sdk.http import from_api_gateway, to_api_gateway

    global _deps
    if _deps is None:
        from sdk.settings import load_settings
        from sdk.usecases.context import Context

        _deps = CardDeps(Context.from_settings(load_settings()))
    incoming = from_api_gateway(event, _deps.context.settings.public_base_url)
    if incoming.path != "/cards/balance":
        return to_api_gateway(error(404, "not_found", f"no route {incoming.path}"))
    return to_api_gateway(handle_balance_card(incoming, _deps))
