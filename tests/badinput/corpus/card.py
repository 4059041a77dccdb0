"""Hostile inputs at ``GET /cards/balance``: the CRM card."""

from __future__ import annotations

from tests.badinput.corpus.model import CD, OTHER_PORTAL, PORTAL, Case, Http

CASES: tuple[Case, ...] = (
    # ------------------------------------------------------------------------------------- CRM card
    Case(
        "card-foreign-portal",
        CD,
        Http(method="GET", query=f"objectType=deal&objectId=1&portalId={OTHER_PORTAL}"),
        403,
        error="foreign_portal",
        message=str(OTHER_PORTAL),
    ),
    Case(
        "card-portal-id-twice",
        CD,
        Http(method="GET", query=f"objectType=deal&objectId=1&portalId={PORTAL}&portalId={OTHER_PORTAL}"),
        400,
        error="duplicate_query_parameter",
        message="portalId",
    ),
    Case(
        "card-portal-id-true",
        CD,
        Http(method="GET", query="objectType=deal&objectId=1&portalId=true"),
        400,
        error="invalid_portal_id",
    ),
    Case(
        "card-unsigned",
        CD,
        Http(method="GET", sign="none", query="objectType=deal&objectId=1"),
        401,
        error="invalid_signature",
    ),
    Case(
        "card-v2-signature",
        CD,
        Http(method="GET", sign="v2", query="objectType=deal&objectId=1"),
        401,
        error="invalid_signature",
    ),
    Case(
        "card-object-type-sql",
        CD,
        Http(method="GET", query="objectType=deal'--&objectId=1"),
        400,
        error="invalid_object_type",
    ),
    Case(
        "card-object-id-negative",
        CD,
        Http(method="GET", query="objectType=deal&objectId=-5"),
        400,
        error="invalid_object_id",
    ),
    Case(
        "card-object-id-exponent",
        CD,
        Http(method="GET", query="objectType=company&objectId=1e309"),
        400,
        error="invalid_object_id",
    ),
    Case(
        "card-portal-id-nul",
        CD,
        Http(method="GET", query="objectType=deal&objectId=1&portalId=%00"),
        400,
        error="invalid_portal_id",
    ),
    Case(
        "card-object-id-huge",
        CD,
        Http(method="GET", query="objectType=deal&objectId=" + "9" * 5000),
        400,
        error="invalid_object_id",
    ),
    Case(
        "card-object-id-fullwidth-digits",
        CD,
        Http(method="GET", query="objectType=deal&objectId=%EF%BC%91%EF%BC%92%EF%BC%93"),
        400,
        error="invalid_object_id",
    ),
)
