"""Hostile inputs at ``POST /actions/create-invoice``: the custom workflow action."""

from __future__ import annotations

from tests.badinput.corpus.model import HOSTILE_DEAL, OTHER_PORTAL, PORTAL, A, Case, DealSpec, Http, action

CASES: tuple[Case, ...] = (
    # ------------------------------------------------------------------------------------- workflow action
    Case("action-unsigned", A, Http(action(), sign="none", deal=DealSpec()), 401, error="invalid_signature"),
    Case(
        "action-v1-signature",
        A,
        Http(action(), sign="v2", headers={"X-HubSpot-Signature-Version": "v1"}, deal=DealSpec()),
        401,
        error="invalid_signature",
        message="v1 is not accepted",
    ),
    Case("action-not-json", A, Http(b"<xml>deal</xml>", sign="v2"), 400, error="invalid_request"),
    Case(
        "action-missing-object",
        A,
        Http({"callbackId": "x", "origin": {"portalId": PORTAL}}, sign="v2"),
        400,
        error="invalid_request",
    ),
    Case(
        "action-object-id-sql",
        A,
        Http(action(object={"objectId": "1; DROP TABLE ledger", "objectType": "DEAL"}), sign="v2"),
        400,
        error="invalid_request",
    ),
    Case(
        "action-negative-object-id",
        A,
        Http(action(object={"objectId": -1, "objectType": "DEAL"}), sign="v2"),
        400,
        error="invalid_request",
    ),
    Case(
        "action-portal-id-over-int64",
        A,
        Http(action(origin={"portalId": 10**40}), sign="v2", deal=DealSpec()),
        400,
        error="invalid_request",
    ),
    Case(
        "action-deal-does-not-exist",
        A,
        Http(action(object={"objectId": 987654321987, "objectType": "DEAL"}), sign="v2"),
        200,
        error="failed",
        message="987654321987",
    ),
    Case(
        "action-deal-with-nul-in-name",
        A,
        Http(action(), sign="v2", deal=HOSTILE_DEAL),
        200,
        error="invalid",
        message="text.control_characters",
    ),
    Case(
        "action-body-over-1mb",
        A,
        Http(b"{" + b" " * 1_000_001 + b"}", sign="none"),
        413,
        error="body_too_large",
    ),
    Case(
        "action-foreign-portal-v2",
        A,
        Http(action(origin={"portalId": OTHER_PORTAL}), sign="v2", deal=DealSpec()),
        403,
        error="foreign_portal",
        message=str(OTHER_PORTAL),
    ),
    Case(
        "action-foreign-portal-v3",
        A,
        Http(action(origin={"portalId": OTHER_PORTAL}), sign="v3", deal=DealSpec()),
        403,
        error="foreign_portal",
        message="ポータル",
    ),
    Case(
        "action-portal-id-as-bool",
        A,
        Http(action(origin={"portalId": True}), sign="v2", deal=DealSpec()),
        400,
        error="invalid_request",
        message="origin/portalId",
    ),
    Case(
        "action-object-id-as-bool",
        A,
        Http(action(object={"objectId": True, "objectType": "DEAL"}), sign="v2"),
        400,
        error="invalid_request",
        message="object/objectId",
    ),
)
