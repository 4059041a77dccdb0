"""The corpus's vocabulary: the entry points, what a case sends (:class:`Http`, :class:`Cli`, :class:`Job`, a
:class:`DealSpec`) and expects (:class:`Case`), and the small builders the cases share."""

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


def as_json(value: Any) -> bytes:
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
    return as_json([record])


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
