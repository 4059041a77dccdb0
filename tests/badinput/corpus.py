"""The hostile-input corpus: one small record per case, for every entry point a caller (or an operator) reaches.

Each case says what is sent and what must come back: the HTTP status and the JSON ``error`` code, or the
workflow output fields, or the CLI exit code, or what the deal shows (``freee_sync_error``) after the real worker
path ran. ``tests/badinput/test_corpus.py`` runs them all against both sandboxes with canary secrets and checks,
besides the expectation, that nothing was half written and that no secret appears anywhere.

Placeholders filled in when a case runs: ``{deal}`` (the id of the deal the case builds), ``{file}`` (the path
of the case's input file), ``{portal}`` (the sandbox portal id).

The tenant boundary has its cases at every entry point: a validly signed request (or a queue message, or a CLI
``--portal``) naming :data:`OTHER_PORTAL` is refused before any read or write, and a boolean is never an id.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Literal


class Entry(StrEnum):
    WEBHOOK = "POST /webhooks/hubspot"
    ACTION = "POST /actions/create-invoice"
    CUSTOM_INVOICE = "POST /custom-code/create-invoice"
    CUSTOM_STATUS = "POST /custom-code/payment-status"
    CARD = "GET /cards/balance"
    CLI = "hubspot-freee (CLI)"
    WORKER = "deal → worker → sandboxes"


Sign = Literal["v3", "v2", "custom", "none"]


@dataclass(frozen=True)
class DealSpec:
    """A deal to build in the HubSpot sandbox before the case runs (``{deal}`` is its id)."""

    props: dict[str, str] = field(default_factory=dict)
    line_items: tuple[dict[str, Any], ...] | int = ({"name": "導入支援", "quantity": "1", "price": "100000"},)
    company: dict[str, str] | None = field(default_factory=lambda: {"name": "株式会社サンプル商事"})


@dataclass(frozen=True)
class Http:
    """One request. ``body`` is sent as is (bytes), or as JSON; it is signed unless ``sign`` is ``none``.

    ``headers`` replace the signed ones afterwards (forgeries); ``drop`` removes headers; ``skew_seconds`` moves
    the signed time stamp; ``sign_body`` signs other bytes than those sent."""

    body: bytes | str | dict[str, Any] | list[Any] | None = None
    sign: Sign = "v3"
    headers: dict[str, str] = field(default_factory=dict)
    drop: tuple[str, ...] = ()
    skew_seconds: float = 0.0
    sign_body: bytes | None = None
    query: str = ""
    method: str = "POST"
    deal: DealSpec | None = None


@dataclass(frozen=True)
class Cli:
    """A command line; ``file`` (bytes) is written to ``{file}`` first; ``deal`` is built first."""

    args: tuple[str, ...]
    file: bytes | None = None
    deal: DealSpec | None = None
    env: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Job:
    """A message put straight on the invoice queue (``{deal}`` filled in): the worker must dead-letter it at once,
    with ``error`` its result (``refused``, ``malformed``) and no HubSpot or freee call."""

    body: dict[str, Any]
    deal: DealSpec | None = field(default_factory=DealSpec)


@dataclass(frozen=True)
class Case:
    id: str
    entry: Entry
    input: Http | Cli | DealSpec | Job
    status: int | None = None  # HTTP status
    exit_code: int | None = None  # CLI exit code
    error: str | None = None  # the JSON body's "error", an output field "result", or a problem code
    message: str | None = None  # a fragment of the message / error_message / freee_sync_error / CLI output
    invoiced: bool = False  # hostile but legitimate: exactly one invoice must be made, with the text intact
    max_line_item_reads: int | None = (
        None  # HubSpot line-item batch reads the worker may make (cheap refusals)
    )


def _json(value: Any) -> bytes:
    return json.dumps(value, ensure_ascii=False).encode("utf-8")


PORTAL = 24681357
OTHER_PORTAL = 13572468  # another portal that installed the same app: its requests are validly signed


def event(**overrides: Any) -> dict[str, Any]:
    return {
        "eventId": 1,
        "subscriptionId": 77,
        "portalId": PORTAL,
        "appId": 4242,
        "occurredAt": 1795600000000,
        "subscriptionType": "deal.propertyChange",
        "attemptNumber": 0,
        "objectId": 101,
        "propertyName": "dealstage",
        "propertyValue": "closedwon",
        "changeSource": "CRM_UI",
    } | overrides


def action(**overrides: Any) -> dict[str, Any]:
    return {
        "callbackId": "cb-hostile",
        "origin": {"portalId": PORTAL, "actionDefinitionId": 9, "actionDefinitionVersion": 1},
        "context": {"source": "WORKFLOWS", "workflowId": 55},
        "object": {"objectId": "{deal_int}", "objectType": "DEAL"},
        "inputFields": {},
    } | overrides


def item(**overrides: Any) -> dict[str, Any]:
    return {"name": "導入支援", "quantity": "1", "price": "100000"} | overrides


def deal_file(*, deal: dict[str, str] | None = None, items: list[dict[str, str]] | None = None) -> bytes:
    """A ``preview --file`` input of one deal."""
    record = {
        "portalId": PORTAL,
        "deal": {
            "id": "9001",
            "properties": {"dealname": "【受注】導入支援", "closedate": "2026-11-20T03:00:00Z"}
            | (deal or {}),
        },
        "lineItems": [
            {"id": str(7000 + n), "properties": props}
            for n, props in enumerate(items if items is not None else [item()])
        ],
        "company": {"id": "5001", "properties": {"name": "株式会社サンプル商事"}},
    }
    return _json([record])


W, A, CI, CS, CD, CL, WK = (
    Entry.WEBHOOK,
    Entry.ACTION,
    Entry.CUSTOM_INVOICE,
    Entry.CUSTOM_STATUS,
    Entry.CARD,
    Entry.CLI,
    Entry.WORKER,
)
HOSTILE_DEAL = DealSpec(props={"dealname": "x\x00y"})

CASES: tuple[Case, ...] = (
    # ------------------------------------------------------------------------------------- webhook (signatures)
    Case(
        "webhook-unsigned",
        W,
        Http([event()], sign="none"),
        401,
        error="invalid_signature",
        message="missing X-HubSpot-Signature-v3",
    ),
    Case(
        "webhook-forged-signature",
        W,
        Http([event()], headers={"X-HubSpot-Signature-v3": "A" * 44}),
        401,
        error="invalid_signature",
        message="does not match",
    ),
    Case(
        "webhook-v2-only",
        W,
        Http([event()], sign="v2"),
        401,
        error="invalid_signature",
        message="missing X-HubSpot-Signature-v3",
    ),
    Case(
        "webhook-stale-timestamp",
        W,
        Http([event()], skew_seconds=-301),
        401,
        error="invalid_signature",
        message="more than 5 minutes old",
    ),
    Case(
        "webhook-future-timestamp",
        W,
        Http([event()], skew_seconds=3600),
        401,
        error="invalid_signature",
        message="in the future",
    ),
    Case(
        "webhook-timestamp-not-a-number",
        W,
        Http([event()], headers={"X-HubSpot-Request-Timestamp": "1e309"}),
        401,
        error="invalid_signature",
        message="not epoch milliseconds",
    ),
    Case(
        "webhook-body-swapped-after-signing",
        W,
        Http([event(objectId=666)], sign_body=_json([event()])),
        401,
        error="invalid_signature",
        message="does not match",
    ),
    # ------------------------------------------------------------------------------------- webhook (bodies)
    Case(
        "webhook-body-over-1mb",
        W,
        Http(b"[" + b" " * 1_000_001 + b"]", sign="none"),
        413,
        error="body_too_large",
    ),
    Case(
        "webhook-binary-body",
        W,
        Http(b"\xff\xfe\x00\x01\x89PNG", sign="none"),
        401,
        error="invalid_signature",
        message="not UTF-8",
    ),
    Case("webhook-not-json", W, Http(b"eventId=1&portalId=2"), 400, error="invalid_batch"),
    Case("webhook-empty-batch", W, Http([]), 400, error="invalid_batch"),
    Case("webhook-object-not-array", W, Http(event()), 400, error="invalid_batch"),
    Case(
        "webhook-deeply-nested",
        W,
        Http(b"[" * 100_000 + b"]" * 100_000),
        400,
        error="invalid_batch",
        message="not a HubSpot webhook batch",
    ),
    Case("webhook-object-id-over-int64", W, Http([event(objectId=2**70)]), 400, error="invalid_batch"),
    Case("webhook-object-id-as-string", W, Http([event(objectId="101 OR 1=1")]), 400, error="invalid_batch"),
    Case("webhook-1001-events", W, Http([event(eventId=n) for n in range(1001)]), 400, error="invalid_batch"),
    Case("webhook-nan-event-id", W, Http(b'[{"eventId": NaN}]'), 400, error="invalid_batch"),
    Case(
        "webhook-foreign-portal",
        W,
        Http([event(portalId=OTHER_PORTAL, objectId="{deal_int}")], deal=DealSpec()),
        403,
        error="foreign_portal",
        message=str(OTHER_PORTAL),
    ),
    Case(
        "webhook-portal-id-as-bool",
        W,
        Http([event(portalId=True)]),
        400,
        error="invalid_batch",
        message="0/portalId",
    ),
    Case(
        "webhook-object-id-as-bool",
        W,
        Http([event(objectId=True)]),
        400,
        error="invalid_batch",
        message="0/objectId",
    ),
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
    # ------------------------------------------------------------------------------------- CLI
    Case(
        "cli-preview-missing-file",
        CL,
        Cli(("preview", "--file", "{file}.missing")),
        exit_code=2,
        message="no such file",
    ),
    Case(
        "cli-preview-not-json",
        CL,
        Cli(("preview", "--file", "{file}"), file=b"dealname,amount\nA,1\n"),
        exit_code=2,
        message="not valid JSON at line 1",
    ),
    Case(
        "cli-preview-binary",
        CL,
        Cli(("preview", "--file", "{file}"), file=b"\x89PNG\r\n\x1a\n\xff\x00"),
        exit_code=2,
        message="cannot be read as UTF-8",
    ),
    Case(
        "cli-preview-wrong-shape",
        CL,
        Cli(("preview", "--file", "{file}"), file=b'{"deals": 3}'),
        exit_code=2,
        message="not a list of deals",
    ),
    Case(
        "cli-preview-deeply-nested",
        CL,
        Cli(("preview", "--file", "{file}"), file=b"[" * 100_000),
        exit_code=2,
        message="nested",
    ),
    Case(
        "cli-preview-50mb-file",
        CL,
        Cli(("preview", "--file", "{file}"), file=b"[" + b" " * 50_000_000 + b"]"),
        exit_code=2,
        message="too large",
    ),
    Case(
        "cli-preview-dev-zero", CL, Cli(("preview", "--file", "/dev/zero")), exit_code=2, message="too large"
    ),
    Case("cli-preview-directory", CL, Cli(("preview", "--file", ".")), exit_code=2, message="cannot be read"),
    Case(
        "cli-preview-lone-surrogate",
        CL,
        Cli(
            ("preview", "--file", "{file}"),
            file=deal_file(deal={"dealname": "x"}).replace(b'"x"', b'"a\\ud800b"'),
        ),
        exit_code=2,
        message="surrogate",
    ),
    Case(
        "cli-preview-bad-today",
        CL,
        Cli(("preview", "--file", "{file}", "--today", "2026-02-30"), file=deal_file()),
        exit_code=2,
        message="--today '2026-02-30' is not a date",
    ),
    Case(
        "cli-preview-strict-nan-quantity",
        CL,
        Cli(
            ("preview", "--file", "{file}", "--strict", "--json"),
            file=deal_file(items=[item(quantity="NaN")]),
        ),
        exit_code=1,
        message="line_item.quantity_invalid",
    ),
    Case(
        "cli-preview-strict-unknown-tax-rate",
        CL,
        Cli(("preview", "--file", "{file}", "--strict"), file=deal_file(items=[item(freee_tax_rate="8")])),
        exit_code=1,
        message="line_item.tax_rate_unknown",
    ),
    Case(
        "cli-preview-strict-feb-30",
        CL,
        Cli(("preview", "--file", "{file}", "--strict"), file=deal_file(deal={"closedate": "2026-02-30"})),
        exit_code=1,
        message="deal.close_date_invalid",
    ),
    Case(
        "cli-preview-strict-hex-price",
        CL,
        Cli(
            ("preview", "--file", "{file}", "--strict", "--json"), file=deal_file(items=[item(price="0x10")])
        ),
        exit_code=1,
        message="line_item.price_invalid",
    ),
    Case(
        "cli-invoice-create-deal-not-digits",
        CL,
        Cli(("invoice", "create", "--deal", "1;rm -rf /")),
        exit_code=2,
        message="is not a HubSpot deal id",
    ),
    Case(
        "cli-invoice-create-deal-not-found",
        CL,
        Cli(("invoice", "create", "--deal", "987654321987")),
        exit_code=2,
        message="not found in HubSpot",
    ),
    Case(
        "cli-invoice-create-portal-not-int",
        CL,
        Cli(("invoice", "create", "--deal", "1", "--portal", "1e3")),
        exit_code=2,
        message="Invalid value for '--portal'",
    ),
    Case(
        "cli-invoice-create-foreign-portal",
        CL,
        Cli(("invoice", "create", "--deal", "{deal}", "--portal", str(OTHER_PORTAL)), deal=DealSpec()),
        exit_code=2,
        message="is not this installation's portal",
    ),
    Case(
        "cli-invoice-show-foreign-portal",
        CL,
        Cli(("invoice", "show", "--deal", "1", "--portal", str(OTHER_PORTAL))),
        exit_code=2,
        message="is not this installation's portal",
    ),
    Case(
        "cli-invoice-create-hostile-deal",
        CL,
        Cli(("invoice", "create", "--deal", "{deal}", "--json"), deal=HOSTILE_DEAL),
        exit_code=1,
        message="text.control_characters",
    ),
    Case(
        "cli-invoice-show-sql",
        CL,
        Cli(("invoice", "show", "--deal", "1' OR '1'='1")),
        exit_code=2,
        message="is not a HubSpot deal id",
    ),
    Case(
        "cli-sync-since-bad-date",
        CL,
        Cli(("sync", "payments", "--since", "2026-13-01")),
        exit_code=2,
        message="--since must be a date",
    ),
    Case(
        "cli-sync-since-epoch",
        CL,
        Cli(("sync", "payments", "--since", "1795600000000")),
        exit_code=2,
        message="--since must be a date",
    ),
    Case(
        "cli-dlq-redrive-nothing-said",
        CL,
        Cli(
            (
                "dlq",
                "redrive",
            )
        ),
        exit_code=2,
        message="--id ID",
    ),
    Case(
        "cli-dlq-redrive-unknown-id",
        CL,
        Cli(("dlq", "redrive", "--id", "'; DROP TABLE messages;--")),
        exit_code=1,
        message="not in the dead-letter queue",
    ),
    Case(
        "cli-actions-register-broken-definition",
        CL,
        Cli(
            (
                "actions",
                "register",
                "--app-id",
                "4242",
                "--base-url",
                "https://x.example",
                "--definitions",
                "{file}.dir",
            ),
            file=b"{not json",
        ),
        exit_code=2,
        message="create-invoice.json",
    ),
    # ------------------------------------------------------------------------------------- worker path
    Case(
        "job-foreign-portal",
        WK,
        Job({"type": "create_invoice", "portal_id": OTHER_PORTAL, "deal_id": "{deal}", "trigger": "webhook"}),
        error="refused",
        message=str(OTHER_PORTAL),
    ),
    Case(
        "job-portal-id-as-bool",
        WK,
        Job({"type": "create_invoice", "portal_id": True, "deal_id": "{deal}", "trigger": "webhook"}),
        error="malformed",
        message="portal_id",
    ),
    Case(
        "job-deal-id-as-bool",
        WK,
        Job({"type": "create_invoice", "portal_id": PORTAL, "deal_id": True, "trigger": "webhook"}),
        error="malformed",
        message="deal_id",
    ),
    Case(
        "deal-negative-quantity",
        WK,
        DealSpec(line_items=(item(quantity="-3"),)),
        error="line_item.quantity_invalid",
        message="マイナス",
    ),
    Case("deal-zero-price", WK, DealSpec(line_items=(item(price="0"),)), error="invoice.total_zero"),
    Case(
        "deal-negative-price",
        WK,
        DealSpec(line_items=(item(price="-100000"),)),
        error="line_item.price_negative",
    ),
    Case(
        "deal-10000-line-items",
        WK,
        DealSpec(line_items=10_000),
        error="invoice.too_many_lines",
        message="10000",
        max_line_item_reads=0,
    ),
    Case(
        "deal-amount-over-a-trillion",
        WK,
        DealSpec(props={"amount": "1000000000001"}, line_items=()),
        error="invoice.total_too_large",
        message="¥999,999,999,999",
    ),
    Case(
        "deal-line-total-over-a-trillion",
        WK,
        DealSpec(line_items=(item(quantity="1000", price="1000000000"),)),
        error="invoice.total_too_large",
    ),
    Case(
        "deal-nan-price",
        WK,
        DealSpec(line_items=(item(price="NaN"),)),
        error="line_item.price_invalid",
        message="is not a number",
    ),
    Case(
        "deal-infinite-quantity",
        WK,
        DealSpec(line_items=(item(quantity="Infinity"),)),
        error="line_item.quantity_invalid",
    ),
    Case(
        "deal-price-1e309",
        WK,
        DealSpec(line_items=(item(price="1e309"),)),
        error="line_item.price_invalid",
        message="exceeds freee's limit",
    ),
    Case(
        "deal-amount-1e999999999",
        WK,
        DealSpec(props={"amount": "1e999999999"}, line_items=()),
        error="deal.amount_invalid",
    ),
    Case(
        "deal-quantity-four-decimals",
        WK,
        DealSpec(line_items=(item(quantity="0.0001"),)),
        error="line_item.quantity_invalid",
        message="decimal places",
    ),
    Case(
        "deal-close-date-year-9999",
        WK,
        DealSpec(props={"closedate": "9999-12-31"}),
        error="deal.close_date_invalid",
    ),
    Case(
        "deal-close-date-epoch-overflow",
        WK,
        DealSpec(props={"closedate": "99999999999999999999"}),
        error="deal.close_date_invalid",
    ),
    Case("deal-name-nul", WK, DealSpec(props={"dealname": "受注\x00案件"}), error="text.control_characters"),
    Case(
        "deal-name-ansi-escape",
        WK,
        DealSpec(props={"dealname": "\x1b[2J\x1b[31mPWNED\x1b[0m"}),
        error="text.control_characters",
    ),
    Case(
        "line-item-name-rtl-override",
        WK,
        DealSpec(line_items=(item(name="請求書\u202egpj.exe"),)),
        error="text.control_characters",
    ),
    Case(
        "company-name-newline",
        WK,
        DealSpec(company={"name": "株式会社サンプル\n商事"}),
        error="text.control_characters",
    ),
    Case(
        "line-item-name-1mb",
        WK,
        DealSpec(line_items=(item(name="あ" * 1_000_000),)),
        error="text.too_long",
        message="1000000",
    ),
    Case(
        "line-item-quantity-1mb-digits",
        WK,
        DealSpec(line_items=(item(quantity="9" * 1_000_000),)),
        error="line_item.quantity_invalid",
    ),
    Case(
        "line-item-1mb-name-and-bad-price",
        WK,
        DealSpec(line_items=(item(name="い" * 1_000_000, price="-1"),)),
        error="line_item.price_negative",
    ),
    Case(
        "deal-amount-fraction-of-a-yen",
        WK,
        DealSpec(props={"amount": "1000.5"}, line_items=()),
        error="deal.amount_not_integer",
    ),
    Case(
        "company-registration-number-sql",
        WK,
        DealSpec(company={"name": "x", "freee_invoice_registration_number": "T1' OR 1=1--"}),
        error="company.registration_number_invalid",
    ),
    Case(
        "company-payment-terms-huge",
        WK,
        DealSpec(company={"name": "x", "freee_payment_terms": "net_" + "9" * 10_000}),
        error="company.payment_terms_invalid",
    ),
    Case(
        "deal-currency-usd", WK, DealSpec(props={"deal_currency_code": "USD"}), error="deal.currency_not_jpy"
    ),
    Case(
        "line-item-discount-over-100-percent",
        WK,
        DealSpec(line_items=(item(hs_discount_percentage="150"),)),
        error="line_item.discount_invalid",
    ),
    Case(
        "deal-emoji-names",
        WK,
        DealSpec(
            props={"dealname": "🍣寿司🍺 family 👨\u200d👩\u200d👧"},
            line_items=(item(name="🎉 初期費用"),),
            company={"name": "株式会社😀"},
        ),
        invoiced=True,
    ),
    Case(
        "deal-sql-looking-names",
        WK,
        DealSpec(
            props={"dealname": "Robert'); DROP TABLE ledger;--"},
            line_items=(item(name="1 OR 1=1; --"),),
            company={"name": "'; DELETE FROM partners; --"},
        ),
        invoiced=True,
    ),
)

MIN_CASES = 60
