"""Hostile inputs at ``POST /custom-code/create-invoice`` and ``/custom-code/payment-status``: the snippets' endpoints."""

from __future__ import annotations

from tests.badinput.corpus.model import CI, CS, OTHER_PORTAL, PORTAL, Case, DealSpec, Http

CASES: tuple[Case, ...] = (
    # ------------------------------------------------------------------------------------- custom code
    Case(
        "custom-invoice-foreign-portal",
        CI,
        Http({"portalId": OTHER_PORTAL, "dealId": "{deal}"}, sign="custom", deal=DealSpec()),
        403,
        error="foreign_portal",
        message=str(OTHER_PORTAL),
    ),
    Case(
        "custom-invoice-deal-id-as-bool",
        CI,
        Http({"portalId": PORTAL, "dealId": True}, sign="custom"),
        400,
        error="invalid_request",
        message="dealId",
    ),
    Case(
        "custom-status-foreign-portal",
        CS,
        Http({"portalId": OTHER_PORTAL, "dealId": "{deal}"}, sign="custom", deal=DealSpec()),
        403,
        error="foreign_portal",
        message=str(OTHER_PORTAL),
    ),
    Case(
        "custom-invoice-unsigned",
        CI,
        Http({"portalId": PORTAL, "dealId": "{deal}"}, sign="none", deal=DealSpec()),
        401,
        error="invalid_signature",
        message="missing X-HubSpot-Freee-Signature",
    ),
    Case(
        "custom-invoice-signed-with-hubspot-v3",
        CI,
        Http({"portalId": PORTAL, "dealId": "{deal}"}, sign="v3", deal=DealSpec()),
        401,
        error="invalid_signature",
    ),
    Case(
        "custom-invoice-replayed-old-timestamp",
        CI,
        Http({"portalId": PORTAL, "dealId": "{deal}"}, sign="custom", skew_seconds=-86400, deal=DealSpec()),
        401,
        error="invalid_signature",
        message="more than 5 minutes old",
    ),
    Case(
        "custom-invoice-not-json", CI, Http(b"portalId=1&dealId=2", sign="custom"), 400, error="invalid_json"
    ),
    Case(
        "custom-invoice-deeply-nested",
        CI,
        Http(b"[" * 100_000 + b"]" * 100_000, sign="custom"),
        400,
        error="invalid_json",
    ),
    Case("custom-invoice-array", CI, Http([PORTAL, 1], sign="custom"), 400, error="invalid_request"),
    Case(
        "custom-invoice-deal-id-path-traversal",
        CI,
        Http({"portalId": PORTAL, "dealId": "../../etc/passwd"}, sign="custom"),
        400,
        error="invalid_request",
    ),
    Case(
        "custom-invoice-portal-as-bool",
        CI,
        Http({"portalId": True, "dealId": "1"}, sign="custom"),
        400,
        error="invalid_request",
    ),
    Case(
        "custom-invoice-portal-over-int64",
        CI,
        Http({"portalId": 10**40, "dealId": "{deal}"}, sign="custom", deal=DealSpec()),
        400,
        error="invalid_request",
    ),
    Case(
        "custom-invoice-fullwidth-digits",
        CI,
        Http({"portalId": PORTAL, "dealId": "１２３"}, sign="custom"),
        400,
        error="invalid_request",
    ),
    Case(
        "custom-invoice-deal-does-not-exist",
        CI,
        Http({"portalId": PORTAL, "dealId": "987654321987"}, sign="custom"),
        200,
        error="failed",
        message="987654321987",
    ),
    Case(
        "custom-status-lone-surrogate",
        CS,
        Http(b'{"portalId": 24681357, "dealId": "\\ud800"}', sign="custom"),
        400,
        error="invalid_request",
    ),
    Case(
        "custom-status-nan-portal",
        CS,
        Http(b'{"portalId": NaN, "dealId": "1"}', sign="custom"),
        400,
        error="invalid_request",
    ),
    Case(
        "custom-status-body-over-1mb",
        CS,
        Http(b'{"portalId": 1, "dealId": "' + b"1" * 1_000_001 + b'"}', sign="custom"),
        413,
        error="body_too_large",
    ),
    Case(
        "custom-status-deal-id-40-digits",
        CS,
        Http({"portalId": PORTAL, "dealId": "9" * 40}, sign="custom"),
        400,
        error="invalid_request",
    ),
)
