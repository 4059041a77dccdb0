"""``GET /cards/balance``: the data the HubSpot app card (``workflows/app_card``) shows on a deal or company.

verify (v3 only: ``hubspot.fetch`` requests are signed by HubSpot with v3) → parse the query → this installation's
portal only → ``balance_card`` from the ledger → JSON. The ``portalId`` HubSpot adds to the query must be the
configured ``hubspot_portal_id`` (403 ``foreign_portal`` otherwise, :mod:`sdk.tenant`); without one, the configured
portal is meant. Ids follow :mod:`sdk.models.ids`; a parameter given twice (``?portalId=1&portalId=2``) is a 400,
never "the first one wins".
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pydantic import TypeAdapter, ValidationError

from sdk.admission import CARD, admit
from sdk.http import HttpRequest, HttpResponse, error
from sdk.models.ids import HubSpotId, HubSpotIdText
from sdk.runtime import LambdaRuntime
from sdk.tenant import own_portal
from sdk.terms import tokyo_today
from sdk.usecases.balance import balance_card, parse_object_type

if TYPE_CHECKING:
    from sdk.usecases.context import Context

USAGE = "send ?objectType=deal|company&objectId=<digits>&portalId=<digits>"
PARAMETERS = ("objectType", "objectId", "portalId")
_OBJECT_ID: TypeAdapter[str] = TypeAdapter(HubSpotIdText)
_PORTAL_ID: TypeAdapter[int] = TypeAdapter(HubSpotId)


@dataclass
class CardDeps:
    context: Context


def _invalid(code: str, name: str, invalid: ValidationError, what: str) -> HttpResponse:
    problems = [
        {"at": name, "problem": e["msg"]} for e in invalid.errors(include_url=False, include_input=False)
    ]
    return error(400, code, f"{name} must be {what}; {USAGE}", details=problems[:1])


def handle_balance_card(request: HttpRequest, deps: CardDeps) -> HttpResponse:
    ctx = deps.context
    settings = ctx.settings
    if (refused := admit(request, CARD, settings, ctx.clock)) is not None:
        return refused
    values = {name: request.query_values(name) for name in PARAMETERS}
    repeated = [name for name, given in values.items() if len(given) > 1]
    if repeated:
        return error(
            400,
            "duplicate_query_parameter",
            f"{', '.join(repeated)} given more than once; send each once. {USAGE}",
            details=[{"at": name, "problem": "given more than once"} for name in repeated],
        )
    object_type = parse_object_type(next(iter(values["objectType"]), None))
    if object_type is None:
        return error(400, "invalid_object_type", f"objectType must be deal or company; {USAGE}")
    try:
        object_id = _OBJECT_ID.validate_python(next(iter(values["objectId"]), None))
    except ValidationError as invalid:
        return _invalid("invalid_object_id", "objectId", invalid, "a record id (digits)")
    portal_id = own_portal(settings)
    if values["portalId"]:
        try:
            given = _PORTAL_ID.validate_python(values["portalId"][0])
        except ValidationError as invalid:
            return _invalid("invalid_portal_id", "portalId", invalid, "a HubSpot account id (digits)")
        refused = CARD.refusal(settings, given)
        if refused is not None:
            return refused
    card = balance_card(
        ctx.store,
        settings,
        portal_id=portal_id,
        object_type=object_type,
        object_id=object_id,
        today=tokyo_today(ctx.now()),
    )
    return HttpResponse(200, card)


RUNTIME = LambdaRuntime()


def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """API Gateway HTTP API → the balance card handler. The context (store, clients) is built once."""
    from sdk.http import from_api_gateway, to_api_gateway

    deps = CardDeps(RUNTIME.context)
    incoming = from_api_gateway(event, deps.context.settings.public_base_url)
    if incoming.path != "/cards/balance":
        return to_api_gateway(error(404, "not_found", f"no route {incoming.path}"))
    return to_api_gateway(handle_balance_card(incoming, deps))
