"""A stateful, in-memory HubSpot portal as a Flask WSGI app, for tests, benchmarks and the demo.

It answers the parts of HubSpot's public API this project uses, in HubSpot's JSON shapes, so the official
``hubspot-api-client`` deserializes its answers into its own models (checked in
``tests/contract/test_hubspot_sandbox_contract.py``):

* CRM objects v3 (deals, companies, contacts, line_items): get, list, create, update, archive, batch
  read/update/create (≤ 100 inputs), search (filter groups, sorts, ``after`` paging, ``total``).
* Associations v4 (read one, batch read, create default) with HubSpot's type ids (deal → company primary 5,
  unlabeled 341; deal → contact 3; deal → line item 19), also shown in the v3 ``?associations=`` answer.
* Deal pipelines, properties and property groups (HubSpot's standard properties are seeded; writing an unknown
  property is refused with ``PROPERTY_DOESNT_EXIST`` as HubSpot does), workflow action callbacks.
* Custom workflow action definitions v4 (list, create, read, patch) for the app, authenticated with the
  developer account's API key (``?hapikey=``) as HubSpot's v4 endpoints are, every required field checked.
* Account information (``GET /account-info/v3/details`` and its date-versioned twin): the portal the token
  belongs to (``portal_id`` of :func:`create_hubspot_sandbox`), in HubSpot's documented shape.
* Bearer auth, the ten-secondly rolling rate limit on the sandbox clock (429 body and ``X-HubSpot-RateLimit-*``
  headers), fault injection (:mod:`sandbox.faults`).
* App webhooks: a deal's ``dealstage`` change enqueues a ``deal.propertyChange`` event; a dispatcher thread
  POSTs batches signed with ``X-HubSpot-Signature-v3`` and retries on time-outs, 429 and 5xx with growing delays
  on the sandbox clock (never after another 4xx), optionally delivering a batch twice.
* An admin API under ``/_sandbox`` (no auth) and the same operations as Python methods on
  :class:`HubSpotSandbox`.

Served on loopback (``sandbox.transport.serve(sandbox.app)``) for the official client, which speaks urllib3.
"""

from __future__ import annotations

import base64
import copy
import hashlib
import hmac
import json
import random
import re
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

import requests
from flask import Flask, Response, g, request

from sandbox import PORTAL_ID
from sandbox.faults import ADMIN_PREFIX, FaultInjector, install_faults
from sdk.clock import Clock, SystemClock

# --------------------------------------------------------------------------------------------------------------
# HubSpot facts the sandbox answers by
# --------------------------------------------------------------------------------------------------------------

OBJECT_TYPES = ("deals", "companies", "contacts", "line_items")
_TYPE_ALIASES = {
    "deal": "deals",
    "deals": "deals",
    "0-3": "deals",
    "company": "companies",
    "companies": "companies",
    "0-2": "companies",
    "contact": "contacts",
    "contacts": "contacts",
    "0-1": "contacts",
    "line_item": "line_items",
    "line_items": "line_items",
    "lineitem": "line_items",
    "lineitems": "line_items",
    "line-items": "line_items",
    "0-8": "line_items",
}
_OBJECT_NAME = {"deals": "DEAL", "companies": "COMPANY", "contacts": "CONTACT", "line_items": "LINE_ITEM"}
#: the key of an association list in the v3 object answer (HubSpot writes "line items" with a space)
_V3_ASSOCIATION_KEY = {
    "deals": "deals",
    "companies": "companies",
    "contacts": "contacts",
    "line_items": "line items",
}

#: (from, to) → (default type id, primary type id or None); HUBSPOT_DEFINED
_ASSOCIATION_TYPES: dict[tuple[str, str], tuple[int, int | None]] = {
    ("deals", "companies"): (341, 5),
    ("companies", "deals"): (342, 6),
    ("deals", "contacts"): (3, None),
    ("contacts", "deals"): (4, None),
    ("deals", "line_items"): (19, None),
    ("line_items", "deals"): (20, None),
    ("contacts", "companies"): (279, 1),
    ("companies", "contacts"): (280, 2),
}
_REVERSE_TYPE = {5: 6, 6: 5, 341: 342, 342: 341, 3: 4, 4: 3, 19: 20, 20: 19, 1: 2, 2: 1, 279: 280, 280: 279}
_PRIMARY_TYPES = frozenset({1, 2, 5, 6})
_V3_TYPE_NAME = {
    5: "deal_to_company",
    341: "deal_to_company_unlabeled",
    6: "company_to_deal",
    342: "company_to_deal_unlabeled",
    3: "deal_to_contact",
    4: "contact_to_deal",
    19: "deal_to_line_item",
    20: "line_item_to_deal",
    1: "contact_to_company",
    279: "contact_to_company_unlabeled",
    2: "company_to_contact",
    280: "company_to_contact_unlabeled",
}

#: properties HubSpot returns on every object read, whatever was asked for
_ALWAYS = {
    "deals": ("createdate", "hs_lastmodifieddate", "hs_object_id"),
    "companies": ("createdate", "hs_lastmodifieddate", "hs_object_id"),
    "contacts": ("createdate", "lastmodifieddate", "hs_object_id"),
    "line_items": ("createdate", "hs_lastmodifieddate", "hs_object_id"),
}
#: properties returned when the request names none
_DEFAULTS = {
    "deals": ("dealname", "amount", "closedate", "dealstage", "pipeline"),
    "companies": ("name", "domain"),
    "contacts": ("firstname", "lastname", "email"),
    "line_items": ("name", "price", "quantity"),
}
_LAST_MODIFIED = {t: _ALWAYS[t][1] for t in OBJECT_TYPES}

MAX_BATCH_INPUTS = 100
MAX_SEARCH_LIMIT = 200
MAX_SEARCH_RESULTS = 10_000
MAX_FILTER_GROUPS = 5
MAX_FILTERS_PER_GROUP = 6
MAX_PAGE_LIMIT = 100
DEAL_STAGE_SUBSCRIPTION_ID = 1_740_001
WEBHOOK_MAX_RETRIES = 10
#: delays (sandbox-clock seconds) before retry 1, 2, …, 10: growing, about a day in all, like HubSpot's
WEBHOOK_RETRY_DELAYS = (60.0, 120.0, 300.0, 600.0, 1800.0, 3600.0, 7200.0, 14400.0, 21600.0, 28800.0)
WEBHOOK_BATCH_SIZE = 100
_PROPERTY_TYPES = frozenset({"string", "number", "date", "datetime", "enumeration", "bool", "phone_number"})
_FIELD_TYPES = frozenset(
    {
        "textarea",
        "text",
        "date",
        "file",
        "number",
        "select",
        "radio",
        "checkbox",
        "booleancheckbox",
        "calculation_equation",
        "html",
        "phonenumber",
    }
)
_NAME_PATTERN = re.compile(r"^[a-z][a-z0-9_]{0,99}$")
#: custom workflow action definitions: ``/automation/v4/actions/{appId}[/{definitionId}]`` (not ``callbacks``)
_ACTION_DEFINITIONS_PATH = re.compile(r"^/automation/v4/actions/(\d+)(?:/([^/]+))?/?$")
#: what the official client's models accept (``FieldTypeDefinition.type``, ``supportedValueTypes``, ...)
_ACTION_FIELD_TYPES = frozenset(
    {
        "string",
        "number",
        "bool",
        "datetime",
        "enumeration",
        "date",
        "phone_number",
        "currency_number",
        "json",
        "object_coordinates",
    }
)
_ACTION_VALUE_TYPES = frozenset(
    {"STATIC_VALUE", "OBJECT_PROPERTY", "FIELD_DATA", "FETCHED_OBJECT_PROPERTY", "ENROLLMENT_EVENT_PROPERTY"}
)
_ACTION_FUNCTION_TYPES = frozenset(
    {"PRE_ACTION_EXECUTION", "PRE_FETCH_OPTIONS", "POST_FETCH_OPTIONS", "POST_ACTION_EXECUTION"}
)
_ACTION_OBJECT_TYPES = frozenset({"CONTACT", "COMPANY", "DEAL", "TICKET", "QUOTE", "LINE_ITEM", "PRODUCT"})
#: the fields a PATCH may carry (``PublicActionDefinitionPatch``)
_ACTION_PATCH_FIELDS = frozenset(
    {
        "actionUrl",
        "published",
        "labels",
        "inputFields",
        "outputFields",
        "inputFieldDependencies",
        "executionRules",
        "objectTypes",
        "objectRequestOptions",
    }
)
_ACTION_CREATE_FIELDS = _ACTION_PATCH_FIELDS | {"functions", "archivedAt"}
_INVALID_API_KEY = (
    "The API key provided is invalid. View or manage your API key here: https://app.hubspot.com/l/api-key/"
)
_AUTH_MESSAGE = (
    "Authentication credentials not found. This API supports OAuth 2.0 authentication and you can find more "
    "details at https://developers.hubspot.com/docs/methods/auth/oauth-overview"
)


def _iso(moment: datetime) -> str:
    moment = moment.astimezone(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def _ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


def normalize_type(name: str) -> str:
    """``deal``, ``0-3`` and ``deals`` all mean deals; an unknown type is a 400 like HubSpot's."""
    try:
        return _TYPE_ALIASES[name.lower()]
    except KeyError:
        raise HubSpotApiError(
            400,
            f"Unable to infer object type from: {name}",
            "VALIDATION_ERROR",
            context={"objectType": [name]},
        ) from None


# --------------------------------------------------------------------------------------------------------------
# errors in HubSpot's shape
# --------------------------------------------------------------------------------------------------------------


class HubSpotApiError(Exception):
    """An error answer: ``{"status": "error", "message", "correlationId", "category", ...}``."""

    def __init__(
        self,
        status: int,
        message: str,
        category: str,
        *,
        errors: list[dict[str, Any]] | None = None,
        context: dict[str, list[str]] | None = None,
        sub_category: str | None = None,
        extra: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.category = category
        self.errors = errors
        self.context = context
        self.sub_category = sub_category
        self.extra = extra or {}
        self.headers = headers or {}

    def body(self, correlation_id: str) -> dict[str, Any]:
        body: dict[str, Any] = {"status": "error", "message": self.message, "correlationId": correlation_id}
        if self.category:
            body["category"] = self.category
        if self.sub_category:
            body["subCategory"] = self.sub_category
        if self.context:
            body["context"] = self.context
        if self.errors:
            body["errors"] = self.errors
        body.update(self.extra)
        return body


def _json_response(data: Any, status: int = 200, headers: Mapping[str, str] | None = None) -> Response:
    response = Response(
        json.dumps(data, ensure_ascii=False), status=status, content_type="application/json;charset=utf-8"
    )
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


def _not_found(object_type: str, object_id: str) -> HubSpotApiError:
    return HubSpotApiError(
        404, "resource not found", "OBJECT_NOT_FOUND", context={"id": [object_id], "type": [object_type]}
    )


# --------------------------------------------------------------------------------------------------------------
# standard properties and pipelines
# --------------------------------------------------------------------------------------------------------------

_GROUPS = {
    "deals": ("dealinformation", "Deal information"),
    "companies": ("companyinformation", "Company information"),
    "contacts": ("contactinformation", "Contact information"),
    "line_items": ("lineiteminformation", "Line item information"),
}

# name, label, type, fieldType, options, read-only value
_StandardProperty = tuple[str, str, str, str, tuple[str, ...], bool]
_CURRENCIES = ("JPY", "USD", "EUR", "GBP", "CNY", "KRW")
_COMMON: tuple[_StandardProperty, ...] = (
    ("createdate", "Create Date", "datetime", "date", (), False),
    ("hs_object_id", "Record ID", "number", "number", (), True),
)
_STANDARD_PROPERTIES: dict[str, tuple[_StandardProperty, ...]] = {
    "deals": (
        *_COMMON,
        ("hs_lastmodifieddate", "Last Modified Date", "datetime", "date", (), True),
        ("dealname", "Deal Name", "string", "text", (), False),
        ("amount", "Amount", "number", "number", (), False),
        ("closedate", "Close Date", "datetime", "date", (), False),
        ("dealstage", "Deal Stage", "enumeration", "radio", (), False),
        ("pipeline", "Pipeline", "enumeration", "select", (), False),
        ("deal_currency_code", "Currency", "enumeration", "select", _CURRENCIES, False),
        ("dealtype", "Deal Type", "enumeration", "radio", ("newbusiness", "existingbusiness"), False),
        ("description", "Deal Description", "string", "textarea", (), False),
        ("hubspot_owner_id", "Deal owner", "enumeration", "select", (), False),
        ("closed_lost_reason", "Closed Lost Reason", "string", "textarea", (), False),
        ("hs_is_closed_won", "Is Closed Won", "bool", "booleancheckbox", ("true", "false"), True),
    ),
    "companies": (
        *_COMMON,
        ("hs_lastmodifieddate", "Last Modified Date", "datetime", "date", (), True),
        ("name", "Company name", "string", "text", (), False),
        ("domain", "Company Domain Name", "string", "text", (), False),
        ("phone", "Phone Number", "string", "phonenumber", (), False),
        ("address", "Street Address", "string", "text", (), False),
        ("address2", "Street Address 2", "string", "text", (), False),
        ("city", "City", "string", "text", (), False),
        ("state", "State/Region", "string", "text", (), False),
        ("zip", "Postal Code", "string", "text", (), False),
        ("country", "Country/Region", "string", "text", (), False),
        ("industry", "Industry", "enumeration", "select", (), False),
        ("website", "Website URL", "string", "text", (), False),
        ("description", "Description", "string", "textarea", (), False),
        ("hubspot_owner_id", "Company owner", "enumeration", "select", (), False),
    ),
    "contacts": (
        *_COMMON,
        ("lastmodifieddate", "Last Modified Date", "datetime", "date", (), True),
        ("firstname", "First Name", "string", "text", (), False),
        ("lastname", "Last Name", "string", "text", (), False),
        ("email", "Email", "string", "text", (), False),
        ("phone", "Phone Number", "string", "phonenumber", (), False),
        ("company", "Company Name", "string", "text", (), False),
        ("jobtitle", "Job Title", "string", "text", (), False),
        ("hubspot_owner_id", "Contact owner", "enumeration", "select", (), False),
    ),
    "line_items": (
        *_COMMON,
        ("hs_lastmodifieddate", "Last Modified Date", "datetime", "date", (), True),
        ("name", "Name", "string", "text", (), False),
        ("description", "Description", "string", "textarea", (), False),
        ("quantity", "Quantity", "number", "number", (), False),
        ("price", "Unit price", "number", "number", (), False),
        ("amount", "Net price", "number", "calculation_equation", (), True),
        ("hs_discount_percentage", "Discount percentage", "number", "number", (), False),
        ("discount", "Unit discount", "number", "number", (), False),
        ("hs_line_item_currency_code", "Currency", "enumeration", "select", _CURRENCIES, False),
        ("hs_sku", "SKU", "string", "text", (), False),
        ("hs_product_id", "Product ID", "number", "number", (), False),
        ("hs_position_on_quote", "Position on quote", "number", "number", (), False),
        ("hs_recurring_billing_period", "Term", "string", "text", (), False),
    ),
}


def _property_json(
    name: str,
    label: str,
    type_: str,
    field_type: str,
    group: str,
    *,
    options: Iterable[Mapping[str, Any]] = (),
    read_only: bool = False,
    hubspot_defined: bool = True,
    description: str = "",
    display_order: int = -1,
    has_unique_value: bool = False,
    now: str,
) -> dict[str, Any]:
    data: dict[str, Any] = {
        "updatedAt": now,
        "createdAt": now,
        "name": name,
        "label": label,
        "type": type_,
        "fieldType": field_type,
        "description": description,
        "groupName": group,
        "options": [dict(o) for o in options],
        "displayOrder": display_order,
        "calculated": field_type == "calculation_equation",
        "externalOptions": False,
        "hasUniqueValue": has_unique_value,
        "hidden": False,
        "modificationMetadata": {
            "archivable": not hubspot_defined,
            "readOnlyDefinition": hubspot_defined,
            "readOnlyValue": read_only,
        },
        "formField": not read_only,
        "archived": False,
    }
    if hubspot_defined:
        data["hubspotDefined"] = True
    return data


def _option(value: str, label: str | None = None, order: int = 0) -> dict[str, Any]:
    return {
        "label": label or value,
        "value": value,
        "displayOrder": order,
        "hidden": False,
        "description": "",
    }


def _stage(stage_id: str, label: str, order: int, probability: str, closed: bool, now: str) -> dict[str, Any]:
    return {
        "label": label,
        "displayOrder": order,
        "metadata": {"isClosed": "true" if closed else "false", "probability": probability},
        "id": stage_id,
        "createdAt": now,
        "updatedAt": now,
        "archived": False,
        "writePermissions": "CRM_PERMISSIONS_ENFORCEMENT",
    }


def default_pipelines(now: str) -> list[dict[str, Any]]:
    """HubSpot's default sales pipeline (stage ids such as ``closedwon``) and a custom one with numeric ids."""
    default = {
        "label": "Sales Pipeline",
        "displayOrder": 0,
        "id": "default",
        "stages": [
            _stage("appointmentscheduled", "Appointment Scheduled", 0, "0.2", False, now),
            _stage("qualifiedtobuy", "Qualified To Buy", 1, "0.4", False, now),
            _stage("presentationscheduled", "Presentation Scheduled", 2, "0.6", False, now),
            _stage("decisionmakerboughtin", "Decision Maker Bought-In", 3, "0.8", False, now),
            _stage("contractsent", "Contract Sent", 4, "0.9", False, now),
            _stage("closedwon", "Closed Won", 5, "1.0", True, now),
            _stage("closedlost", "Closed Lost", 6, "0.0", True, now),
        ],
        "createdAt": "1970-01-01T00:00:00Z",
        "updatedAt": now,
        "archived": False,
    }
    custom = {
        "label": "法人営業 / Enterprise",
        "displayOrder": 1,
        "id": "87654321",
        "stages": [
            _stage("87654322", "初回商談 / First meeting", 0, "0.1", False, now),
            _stage("87654323", "見積提示 / Quote sent", 1, "0.5", False, now),
            _stage("87654324", "受注 / Won", 2, "1.0", True, now),
            _stage("87654325", "失注 / Lost", 3, "0.0", True, now),
        ],
        "createdAt": now,
        "updatedAt": now,
        "archived": False,
    }
    return [default, custom]


# --------------------------------------------------------------------------------------------------------------
# state
# --------------------------------------------------------------------------------------------------------------


@dataclass
class StoredObject:
    id: str
    properties: dict[str, str | None]
    created_at: datetime
    updated_at: datetime
    archived: bool = False
    archived_at: datetime | None = None


@dataclass(frozen=True)
class ApiCall:
    method: str
    path: str
    status: int
    at: str


@dataclass(frozen=True)
class CallbackCompletion:
    callback_id: str
    output_fields: dict[str, Any]
    at: str


def _to_value(raw: Any) -> str:
    """HubSpot keeps every property value as a string."""
    if raw is None:
        return ""
    if isinstance(raw, bool):
        return "true" if raw else "false"
    if isinstance(raw, float) and raw.is_integer():
        return str(int(raw))
    return str(raw)


def _number(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None


def _epoch_ms(text: str) -> float | None:
    """A date or datetime value (ISO text or epoch milliseconds) as epoch milliseconds."""
    text = text.strip()
    if re.fullmatch(r"-?\d+", text):
        return float(text)
    try:
        if len(text) == 10:
            parsed = datetime.combine(date.fromisoformat(text), datetime.min.time(), tzinfo=UTC)
        else:
            parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
            if parsed.tzinfo is None:
                parsed = parsed.replace(tzinfo=UTC)
    except ValueError:
        return None
    return parsed.timestamp() * 1000


def _problem(name: str, code: str, message: str) -> dict[str, Any]:
    return {
        "isValid": False,
        "message": message,
        "error": code,
        "name": name,
        "localizedErrorMessage": message,
    }


def _validation_error(problems: list[dict[str, Any]]) -> HubSpotApiError:
    return HubSpotApiError(
        400,
        "Property values were not valid: " + json.dumps(problems, ensure_ascii=False, separators=(",", ":")),
        "VALIDATION_ERROR",
        errors=[
            {"message": p["message"], "code": p["error"], "context": {"propertyName": [p["name"]]}}
            for p in problems
        ],
    )


def _format_number(value: float) -> str:
    return str(int(value)) if value.is_integer() else repr(round(value, 6))


class HubSpotState:
    """Everything the portal holds. Every public method takes the lock: the app is served multi-threaded."""

    def __init__(self, clock: Clock, *, portal_id: int, app_id: int, rng: random.Random) -> None:
        self.clock = clock
        self.portal_id = portal_id
        self.app_id = app_id
        self.rng = rng
        self.lock = threading.RLock()
        self.on_events: Callable[[list[dict[str, Any]]], None] = lambda events: None
        #: page the v3 ``?associations=`` lists after this many entries (None: never), to exercise clients'
        #: paging; HubSpot's own cut-off is not documented
        self.v3_association_limit: int | None = None
        self.reset()

    # -- lifecycle ---------------------------------------------------------------------------------------------

    def reset(self) -> None:
        with self.lock:
            now = _iso(self.clock.now())
            self.objects: dict[str, dict[str, StoredObject]] = {t: {} for t in OBJECT_TYPES}
            self.associations: dict[tuple[str, str], dict[str, dict[str, set[int]]]] = {}
            self.pipelines: dict[str, list[dict[str, Any]]] = {"deals": default_pipelines(now)}
            self.groups: dict[str, dict[str, dict[str, Any]]] = {}
            self.properties: dict[str, dict[str, dict[str, Any]]] = {}
            for object_type in OBJECT_TYPES:
                group, label = _GROUPS[object_type]
                self.groups[object_type] = {
                    group: {"name": group, "label": label, "displayOrder": -1, "archived": False}
                }
                self.properties[object_type] = {}
                for order, (name, plabel, type_, field_type, options, read_only) in enumerate(
                    _STANDARD_PROPERTIES[object_type]
                ):
                    self.properties[object_type][name] = _property_json(
                        name,
                        plabel,
                        type_,
                        field_type,
                        group,
                        options=[_option(value, order=i) for i, value in enumerate(options)],
                        read_only=read_only,
                        display_order=order,
                        now=now,
                    )
            self.callbacks: list[CallbackCompletion] = []
            #: app id → definition id → the definition as HubSpot answers it
            self.action_definitions: dict[int, dict[str, dict[str, Any]]] = {}
            self._next_definition_id = 10_860_200
            self.api_calls: deque[ApiCall] = deque(maxlen=200_000)
            self.events: list[dict[str, Any]] = []
            self._next_id = 10_000_000_001 + self.rng.randrange(0, 1_000) * 1_000
            self._next_event_id = 100 + self.rng.randrange(0, 1_000_000)

    def correlation_id(self) -> str:
        with self.lock:
            return str(uuid.UUID(int=self.rng.getrandbits(128), version=4))

    def new_id(self) -> str:
        with self.lock:
            self._next_id += self.rng.randrange(1, 40)
            return str(self._next_id)

    # -- properties --------------------------------------------------------------------------------------------

    def _options(self, object_type: str, name: str, current: Mapping[str, str | None]) -> list[str] | None:
        """Allowed values of an enumeration (``None``: any value)."""
        if object_type == "deals" and name == "pipeline":
            return [p["id"] for p in self.pipelines["deals"]]
        if object_type == "deals" and name == "dealstage":
            pipeline = self._pipeline(current.get("pipeline") or "default")
            return [s["id"] for s in pipeline["stages"]] if pipeline else []
        options = self.properties[object_type][name]["options"]
        return [o["value"] for o in options] or None

    def _pipeline(self, pipeline_id: str) -> dict[str, Any] | None:
        return next((p for p in self.pipelines["deals"] if p["id"] == pipeline_id), None)

    def check_values(
        self,
        object_type: str,
        values: Mapping[str, Any],
        current: Mapping[str, str | None] | None = None,
        *,
        internal: bool = False,
    ) -> dict[str, str]:
        """The values as HubSpot would store them; every invalid one reported at once, as HubSpot does."""
        defs = self.properties[object_type]
        problems: list[dict[str, Any]] = []
        out: dict[str, str] = {}
        merged: dict[str, str | None] = dict(current or {})
        merged.update({k: _to_value(v) for k, v in values.items()})
        for name, raw in values.items():
            definition = defs.get(name)
            if definition is None:
                problems.append(_problem(name, "PROPERTY_DOESNT_EXIST", f'Property "{name}" does not exist'))
                continue
            value = _to_value(raw)
            if definition["modificationMetadata"]["readOnlyValue"] and not internal:
                problems.append(
                    _problem(
                        name, "READ_ONLY_VALUE", f'"{name}" is a read only property; its value cannot be set.'
                    )
                )
                continue
            if value != "":
                kind = definition["type"]
                if kind == "number" and _number(value) is None:
                    problems.append(_problem(name, "INVALID_FLOAT", f"{value} was not a valid number."))
                    continue
                if kind == "bool" and value.lower() not in ("true", "false"):
                    problems.append(_problem(name, "INVALID_BOOLEAN", f"{value} was not a valid boolean."))
                    continue
                if kind in ("date", "datetime") and _epoch_ms(value) is None:
                    code = "INVALID_DATE" if kind == "date" else "INVALID_DATETIME"
                    problems.append(_problem(name, code, f"{value} was not a valid {kind}."))
                    continue
                if kind == "enumeration":
                    allowed = self._options(object_type, name, merged)
                    chosen = value.split(";") if definition["fieldType"] == "checkbox" else [value]
                    if allowed is not None and any(v not in allowed for v in chosen):
                        problems.append(
                            _problem(
                                name,
                                "INVALID_OPTION",
                                f"{value} was not one of the allowed options: {allowed}",
                            )
                        )
                        continue
            out[name] = value
        if problems:
            raise _validation_error(problems)
        return out

    def define_property(self, object_type: str, body: Mapping[str, Any]) -> dict[str, Any]:
        with self.lock:
            object_type = normalize_type(object_type)
            missing = [k for k in ("name", "label", "type", "fieldType", "groupName") if not body.get(k)]
            if missing:
                raise HubSpotApiError(
                    400,
                    "Invalid input JSON: missing required fields " + ", ".join(missing),
                    "VALIDATION_ERROR",
                    context={"missing": missing},
                )
            name = str(body["name"])
            if not _NAME_PATTERN.match(name):
                raise HubSpotApiError(
                    400,
                    f"Property name '{name}' is invalid: use lower case letters, digits and underscores, "
                    "starting with a letter.",
                    "VALIDATION_ERROR",
                )
            if body["type"] not in _PROPERTY_TYPES or body["fieldType"] not in _FIELD_TYPES:
                raise HubSpotApiError(
                    400,
                    f"Invalid type/fieldType combination: {body['type']}/{body['fieldType']}",
                    "VALIDATION_ERROR",
                )
            if body["groupName"] not in self.groups[object_type]:
                raise HubSpotApiError(
                    400,
                    f"No property group named '{body['groupName']}' exists for {object_type}.",
                    "VALIDATION_ERROR",
                )
            if name in self.properties[object_type]:
                raise HubSpotApiError(
                    409,
                    f"Property named '{name}' already exists.",
                    "OBJECT_ALREADY_EXISTS",
                    context={"name": [name]},
                )
            options = [
                {
                    "label": str(o.get("label", o.get("value", ""))),
                    "value": str(o.get("value", "")),
                    "displayOrder": int(o.get("displayOrder", i)),
                    "hidden": bool(o.get("hidden", False)),
                    "description": str(o.get("description", "")),
                }
                for i, o in enumerate(body.get("options") or [])
            ]
            prop = _property_json(
                name,
                str(body["label"]),
                str(body["type"]),
                str(body["fieldType"]),
                str(body["groupName"]),
                options=options,
                hubspot_defined=False,
                description=str(body.get("description") or ""),
                display_order=int(body.get("displayOrder", -1)),
                has_unique_value=bool(body.get("hasUniqueValue", False)),
                now=_iso(self.clock.now()),
            )
            prop["createdUserId"] = prop["updatedUserId"] = "1"
            self.properties[object_type][name] = prop
            return prop

    def define_group(self, object_type: str, body: Mapping[str, Any]) -> dict[str, Any]:
        with self.lock:
            object_type = normalize_type(object_type)
            name, label = body.get("name"), body.get("label")
            if not name or not label:
                raise HubSpotApiError(
                    400, "Invalid input JSON: name and label are required", "VALIDATION_ERROR"
                )
            if not _NAME_PATTERN.match(str(name)):
                raise HubSpotApiError(400, f"Property group name '{name}' is invalid.", "VALIDATION_ERROR")
            if name in self.groups[object_type]:
                raise HubSpotApiError(
                    409,
                    f"A property group named '{name}' already exists.",
                    "OBJECT_ALREADY_EXISTS",
                    context={"name": [str(name)]},
                )
            group = {
                "name": str(name),
                "label": str(label),
                "displayOrder": int(body.get("displayOrder", -1)),
                "archived": False,
            }
            self.groups[object_type][str(name)] = group
            return group

    # -- workflow action definitions --------------------------------------------------------------------------

    def _app_definitions(self, app_id: int) -> dict[str, dict[str, Any]]:
        if app_id != self.app_id:
            raise HubSpotApiError(
                404,
                f"App {app_id} was not found in this developer account.",
                "OBJECT_NOT_FOUND",
                context={"appId": [str(app_id)]},
            )
        return self.action_definitions.setdefault(app_id, {})

    def list_action_definitions(self, app_id: int, *, archived: bool = False) -> list[dict[str, Any]]:
        with self.lock:
            found = self._app_definitions(app_id).values()
            chosen = [d for d in found if ("archivedAt" in d) == archived]
            return [copy.deepcopy(d) for d in sorted(chosen, key=lambda d: int(d["id"]))]

    def action_definition(self, app_id: int, definition_id: str) -> dict[str, Any]:
        with self.lock:
            found = self._app_definitions(app_id).get(definition_id)
            if found is None:
                raise HubSpotApiError(
                    404,
                    f"Action definition {definition_id} was not found for app {app_id}.",
                    "OBJECT_NOT_FOUND",
                    context={"definitionId": [definition_id]},
                )
            return copy.deepcopy(found)

    def define_action(self, app_id: int, body: Mapping[str, Any]) -> dict[str, Any]:
        """Create a definition: every required field checked (all problems at once), defaults filled in."""
        with self.lock:
            definitions = self._app_definitions(app_id)
            _refuse_unknown(body, _ACTION_CREATE_FIELDS)
            problems = _action_problems(body)
            if problems:
                raise _action_validation_error(problems)
            self._next_definition_id += 1
            definition_id = str(self._next_definition_id)
            functions = [
                {"functionType": str(f["functionType"]), "id": f.get("id") or f"{definition_id}-{index}"}
                for index, f in enumerate(body.get("functions") or [])
            ]
            stored = _action_json(body, definition_id=definition_id, revision=1, functions=functions)
            definitions[definition_id] = stored
            return copy.deepcopy(stored)

    def patch_action(self, app_id: int, definition_id: str, body: Mapping[str, Any]) -> dict[str, Any]:
        """Change the fields given (each replaced whole); the revision goes up by one."""
        with self.lock:
            current = self.action_definition(app_id, definition_id)
            _refuse_unknown(body, _ACTION_PATCH_FIELDS)
            merged = {k: v for k, v in current.items() if k in _ACTION_CREATE_FIELDS} | dict(body)
            problems = _action_problems(merged)
            if problems:
                raise _action_validation_error(problems)
            stored = _action_json(
                merged,
                definition_id=definition_id,
                revision=int(current["revisionId"]) + 1,
                functions=current["functions"],
            )
            self._app_definitions(app_id)[definition_id] = stored
            return copy.deepcopy(stored)

    # -- objects -----------------------------------------------------------------------------------------------

    def get(self, object_type: str, object_id: str, *, archived: bool = False) -> StoredObject:
        with self.lock:
            obj = self.objects[object_type].get(str(object_id))
            if obj is None or obj.archived != archived:
                raise _not_found(object_type, str(object_id))
            return obj

    def find(self, object_type: str, id_property: str | None, value: str) -> StoredObject | None:
        with self.lock:
            if not id_property or id_property == "hs_object_id":
                obj = self.objects[object_type].get(value)
                return obj if obj is not None and not obj.archived else None
            if id_property not in self.properties[object_type]:
                raise _validation_error(
                    [
                        _problem(
                            id_property, "PROPERTY_DOESNT_EXIST", f'Property "{id_property}" does not exist'
                        )
                    ]
                )
            return next(
                (
                    o
                    for o in self.objects[object_type].values()
                    if not o.archived and o.properties.get(id_property) == value
                ),
                None,
            )

    def create(
        self, object_type: str, properties: Mapping[str, Any], *, internal: bool = False
    ) -> StoredObject:
        with self.lock:
            values = dict(properties)
            if object_type == "deals":
                values.setdefault("pipeline", "default")
                if not values.get("dealstage"):
                    pipeline = self._pipeline(str(values["pipeline"]))
                    if pipeline is not None:
                        values["dealstage"] = pipeline["stages"][0]["id"]
            checked = self.check_values(object_type, values, internal=internal)
            now = self.clock.now()
            object_id = self.new_id()
            props: dict[str, str | None] = dict(checked)
            props["hs_object_id"] = object_id
            props.setdefault("createdate", _iso(now))
            props[_LAST_MODIFIED[object_type]] = _iso(now)
            obj = StoredObject(object_id, props, now, now)
            self._derive(object_type, obj)
            self.objects[object_type][object_id] = obj
            return obj

    def update(
        self,
        object_type: str,
        object_id: str,
        properties: Mapping[str, Any],
        *,
        change_source: str = "INTEGRATION",
        source_id: str | None = None,
        internal: bool = False,
    ) -> StoredObject:
        with self.lock:
            obj = self.get(object_type, object_id)
            checked = self.check_values(object_type, properties, obj.properties, internal=internal)
            self._apply(object_type, obj, checked, change_source, source_id)
            return obj

    def batch_update(
        self, object_type: str, inputs: Sequence[Mapping[str, Any]], id_property: str | None = None
    ) -> tuple[list[StoredObject], list[str]]:
        """Every input is checked before any is written (a bad value fails the whole batch, as in HubSpot)."""
        with self.lock:
            found: list[tuple[StoredObject, dict[str, str]]] = []
            missing: list[str] = []
            for item in inputs:
                key = str(item.get("id", ""))
                obj = self.find(object_type, item.get("idProperty") or id_property, key)
                if obj is None:
                    missing.append(key)
                    continue
                found.append(
                    (obj, self.check_values(object_type, item.get("properties") or {}, obj.properties))
                )
            for obj, checked in found:
                self._apply(object_type, obj, checked, "INTEGRATION", str(self.app_id))
            return [obj for obj, _ in found], missing

    def archive(self, object_type: str, object_id: str) -> None:
        with self.lock:
            obj = self.get(object_type, object_id)
            obj.archived = True
            obj.archived_at = self.clock.now()

    def _apply(
        self,
        object_type: str,
        obj: StoredObject,
        values: Mapping[str, str],
        change_source: str,
        source_id: str | None,
    ) -> None:
        now = self.clock.now()
        old_stage = obj.properties.get("dealstage")
        obj.properties.update(values)
        obj.properties[_LAST_MODIFIED[object_type]] = _iso(now)
        obj.updated_at = now
        self._derive(object_type, obj)
        new_stage = obj.properties.get("dealstage")
        if object_type == "deals" and "dealstage" in values and new_stage != old_stage:
            self._emit_stage_change(obj, str(new_stage or ""), change_source, source_id, now)

    def _derive(self, object_type: str, obj: StoredObject) -> None:
        """Calculated properties: a line item's net ``amount``, a deal's ``hs_is_closed_won``."""
        props = obj.properties
        if object_type == "line_items":
            quantity, price = _number(props.get("quantity") or ""), _number(props.get("price") or "")
            if quantity is not None and price is not None:
                percent = _number(props.get("hs_discount_percentage") or "") or 0.0
                discount = _number(props.get("discount") or "") or 0.0
                props["amount"] = _format_number(quantity * (price * (1 - percent / 100) - discount))
        elif object_type == "deals":
            pipeline = self._pipeline(props.get("pipeline") or "default")
            stage = next(
                (s for s in (pipeline or {}).get("stages", []) if s["id"] == props.get("dealstage")), None
            )
            won = (
                stage is not None
                and stage["metadata"]["isClosed"] == "true"
                and stage["metadata"]["probability"] in ("1.0", "1")
            )
            props["hs_is_closed_won"] = "true" if won else "false"

    def _emit_stage_change(
        self, obj: StoredObject, stage: str, change_source: str, source_id: str | None, now: datetime
    ) -> None:
        self._next_event_id += 1
        event = {
            "eventId": self._next_event_id,
            "subscriptionId": DEAL_STAGE_SUBSCRIPTION_ID,
            "portalId": self.portal_id,
            "appId": self.app_id,
            "occurredAt": _ms(now),
            "subscriptionType": "deal.propertyChange",
            "attemptNumber": 0,
            "objectId": int(obj.id),
            "propertyName": "dealstage",
            "propertyValue": stage,
            "changeSource": change_source,
            "sourceId": source_id if source_id is not None else str(self.app_id),
        }
        self.events.append(event)
        self.on_events([event])

    # -- associations ------------------------------------------------------------------------------------------

    def associate(
        self, from_type: str, from_id: str, to_type: str, to_id: str, type_id: int | None = None
    ) -> list[tuple[str, str, str, str, int]]:
        """Add an association (and its reverse). A primary one moves the primary label and implies the default.

        Returns the ``(from type, from id, to type, to id, type id)`` pairs written."""
        with self.lock:
            from_type, to_type = normalize_type(from_type), normalize_type(to_type)
            pair = _ASSOCIATION_TYPES.get((from_type, to_type))
            if pair is None:
                raise HubSpotApiError(
                    400, f"No association between {from_type} and {to_type}", "VALIDATION_ERROR"
                )
            self.get(from_type, from_id)
            self.get(to_type, to_id)
            default_type, primary_type = pair
            chosen = default_type if type_id is None else int(type_id)
            if chosen not in (default_type, primary_type):
                raise HubSpotApiError(
                    400,
                    f"Association type {chosen} is not valid between {from_type} and {to_type}",
                    "VALIDATION_ERROR",
                )
            written: list[tuple[str, str, str, str, int]] = []
            if chosen in _PRIMARY_TYPES:
                # one primary per record: the previous primary keeps only its default association
                for other_id, types in self._edges(from_type, from_id, to_type).items():
                    if chosen in types and other_id != to_id:
                        types.discard(chosen)
                        self._edges(to_type, other_id, from_type).get(from_id, set()).discard(
                            _REVERSE_TYPE[chosen]
                        )
                written += self._link(from_type, from_id, to_type, to_id, default_type)
            written += self._link(from_type, from_id, to_type, to_id, chosen)
            return written

    def _link(self, from_type: str, from_id: str, to_type: str, to_id: str, type_id: int) -> list[Any]:
        self._edges(from_type, from_id, to_type).setdefault(to_id, set()).add(type_id)
        self._edges(to_type, to_id, from_type).setdefault(from_id, set()).add(_REVERSE_TYPE[type_id])
        return [
            (from_type, from_id, to_type, to_id, type_id),
            (to_type, to_id, from_type, from_id, _REVERSE_TYPE[type_id]),
        ]

    def _edges(self, from_type: str, from_id: str, to_type: str) -> dict[str, set[int]]:
        return self.associations.setdefault((from_type, from_id), {}).setdefault(to_type, {})

    def associated(self, from_type: str, from_id: str, to_type: str) -> list[tuple[str, list[int]]]:
        """``(to id, sorted type ids)`` in id order, archived records left out."""
        with self.lock:
            edges = self.associations.get((from_type, from_id), {}).get(to_type, {})
            live = [
                (to_id, sorted(types))
                for to_id, types in edges.items()
                if types and to_id in self.objects[to_type] and not self.objects[to_type][to_id].archived
            ]
            return sorted(live, key=lambda item: int(item[0]))

    # -- answers -----------------------------------------------------------------------------------------------

    def object_json(
        self,
        object_type: str,
        obj: StoredObject,
        properties: Sequence[str] | None = None,
        associations: Sequence[str] = (),
    ) -> dict[str, Any]:
        with self.lock:
            defined = self.properties[object_type]
            names = (
                list(_DEFAULTS[object_type])
                if properties is None
                else [p for p in properties if p in defined]
            )
            names += [n for n in _ALWAYS[object_type] if n not in names]
            data: dict[str, Any] = {
                "id": obj.id,
                "properties": {n: obj.properties.get(n) for n in sorted(names)},
                "createdAt": _iso(obj.created_at),
                "updatedAt": _iso(obj.updated_at),
                "archived": obj.archived,
            }
            if obj.archived and obj.archived_at is not None:
                data["archivedAt"] = _iso(obj.archived_at)
            found: dict[str, Any] = {}
            for name in associations:
                to_type = _TYPE_ALIASES.get(name.lower())
                if to_type is None:
                    continue
                results = [
                    {"id": to_id, "type": _V3_TYPE_NAME[type_id]}
                    for to_id, types in self.associated(object_type, obj.id, to_type)
                    for type_id in types
                ]
                if not results:
                    continue
                entry: dict[str, Any] = {"results": results}
                limit = self.v3_association_limit
                if limit is not None and len(results) > limit:
                    entry = {"results": results[:limit], "paging": {"next": {"after": str(limit)}}}
                found[_V3_ASSOCIATION_KEY[to_type]] = entry
            if found:
                data["associations"] = found
            return data

    def search(self, object_type: str, body: Mapping[str, Any]) -> dict[str, Any]:
        with self.lock:
            limit = int(body.get("limit") or 10)
            if limit > MAX_SEARCH_LIMIT or limit < 0:
                raise HubSpotApiError(
                    400,
                    f"Invalid input JSON: limit must be between 0 and {MAX_SEARCH_LIMIT}, got {limit}",
                    "VALIDATION_ERROR",
                )
            after = int(body.get("after") or 0)
            if after + limit > MAX_SEARCH_RESULTS:
                raise HubSpotApiError(
                    400,
                    f"Search results are limited to {MAX_SEARCH_RESULTS} per query: narrow the filters.",
                    "VALIDATION_ERROR",
                )
            groups = body.get("filterGroups") or []
            if len(groups) > MAX_FILTER_GROUPS or any(
                len(g.get("filters") or []) > MAX_FILTERS_PER_GROUP for g in groups
            ):
                raise HubSpotApiError(
                    400,
                    f"Too many filters: at most {MAX_FILTER_GROUPS} filterGroups of {MAX_FILTERS_PER_GROUP} "
                    "filters each.",
                    "VALIDATION_ERROR",
                )
            matches = [
                o
                for o in self.objects[object_type].values()
                if not o.archived
                and (not groups or any(self._matches(object_type, o, g.get("filters") or []) for g in groups))
                and self._query_matches(o, body.get("query"))
            ]
            matches.sort(key=lambda o: int(o.id))
            for sort in reversed(body.get("sorts") or []):
                name, descending = self._sort_key(sort)

                def by(o: StoredObject, n: str = name) -> tuple[int, float, str]:
                    return self._sortable(object_type, n, o)

                matches.sort(key=by, reverse=descending)
            page = matches[after : after + limit]
            answer: dict[str, Any] = {
                "total": len(matches),
                "results": [self.object_json(object_type, o, body.get("properties") or None) for o in page],
            }
            if after + limit < len(matches):
                answer["paging"] = {"next": {"after": str(after + limit)}}
            return answer

    @staticmethod
    def _sort_key(sort: Any) -> tuple[str, bool]:
        if isinstance(sort, str):
            return sort.lstrip("-"), sort.startswith("-")
        return str(sort.get("propertyName", "")), str(
            sort.get("direction", "ASCENDING")
        ).upper() == "DESCENDING"

    def _sortable(self, object_type: str, name: str, obj: StoredObject) -> tuple[int, float, str]:
        raw = obj.properties.get(name)
        if raw in (None, ""):
            return (1, 0.0, "")
        kind = self.properties[object_type].get(name, {}).get("type")
        if kind == "number" and _number(str(raw)) is not None:
            return (0, float(str(raw)), "")
        if kind in ("date", "datetime") and _epoch_ms(str(raw)) is not None:
            return (0, float(_epoch_ms(str(raw)) or 0.0), "")
        return (0, 0.0, str(raw).lower())

    def _query_matches(self, obj: StoredObject, query: Any) -> bool:
        if not query:
            return True
        needle = str(query).lower()
        return any(needle in str(v).lower() for v in obj.properties.values() if v)

    def _matches(self, object_type: str, obj: StoredObject, filters: Sequence[Mapping[str, Any]]) -> bool:
        return all(self._filter(object_type, obj, f) for f in filters)

    def _filter(self, object_type: str, obj: StoredObject, spec: Mapping[str, Any]) -> bool:
        name = str(spec.get("propertyName", ""))
        operator = str(spec.get("operator", "EQ")).upper()
        raw = obj.properties.get(name)
        has = raw not in (None, "")
        if operator == "HAS_PROPERTY":
            return has
        if operator == "NOT_HAS_PROPERTY":
            return not has
        kind = self.properties[object_type].get(name, {}).get("type", "string")

        def comparable(text: Any) -> Any:
            text = str(text)
            if kind == "number":
                return _number(text)
            if kind in ("date", "datetime"):
                return _epoch_ms(text)
            return text.lower()

        values = [comparable(v) for v in spec.get("values") or []]
        if operator in ("IN", "NOT_IN"):
            inside = has and comparable(raw) in values
            return inside if operator == "IN" else not inside
        if operator == "NEQ":
            return not has or comparable(raw) != comparable(spec.get("value", ""))
        if not has:
            return False
        mine, other = comparable(raw), comparable(spec.get("value", ""))
        if operator == "EQ":
            return bool(mine == other)
        if operator == "CONTAINS_TOKEN":
            return str(other).strip("*") in str(mine)
        if operator == "NOT_CONTAINS_TOKEN":
            return str(other).strip("*") not in str(mine)
        if mine is None or other is None:
            return False
        if operator == "BETWEEN":
            high = comparable(spec.get("highValue", ""))
            return high is not None and bool(other <= mine <= high)
        comparisons: dict[str, Callable[[Any, Any], bool]] = {
            "GT": lambda a, b: a > b,
            "GTE": lambda a, b: a >= b,
            "LT": lambda a, b: a < b,
            "LTE": lambda a, b: a <= b,
        }
        if operator not in comparisons:
            raise HubSpotApiError(400, f"Unknown filter operator {operator}", "VALIDATION_ERROR")
        return comparisons[operator](mine, other)

    def dump(self) -> dict[str, Any]:
        with self.lock:
            standard = {t: {p[0] for p in _STANDARD_PROPERTIES[t]} for t in OBJECT_TYPES}
            return {
                "portalId": self.portal_id,
                "appId": self.app_id,
                "objects": {
                    t: [
                        {
                            **self.object_json(t, o, list(self.properties[t])),
                            "associations": {
                                to: [{"id": i, "typeIds": ty} for i, ty in self.associated(t, o.id, to)]
                                for to in OBJECT_TYPES
                                if self.associated(t, o.id, to)
                            },
                        }
                        for o in self.objects[t].values()
                    ]
                    for t in OBJECT_TYPES
                },
                "customProperties": {
                    t: sorted(n for n in self.properties[t] if n not in standard[t]) for t in OBJECT_TYPES
                },
                "propertyGroups": {t: sorted(self.groups[t]) for t in OBJECT_TYPES},
                "pipelines": self.pipelines,
                "callbacks": [
                    {"callbackId": c.callback_id, "outputFields": c.output_fields, "at": c.at}
                    for c in self.callbacks
                ],
                "events": list(self.events),
                "apiCalls": len(self.api_calls),
            }


# --------------------------------------------------------------------------------------------------------------
# webhooks
# --------------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class WebhookRequest:
    """What a callable webhook target receives: exactly what would go over the wire."""

    method: str
    url: str
    headers: dict[str, str]
    body: str


WebhookTarget = Callable[[WebhookRequest], int]


@dataclass(frozen=True)
class WebhookDelivery:
    """One delivery attempt: what was sent and how the receiver answered (``status`` None: no answer)."""

    url: str
    body: str
    headers: dict[str, str]
    status: int | None
    attempt: int
    event_ids: tuple[int, ...]
    at: str
    error: str | None = None
    duplicate: bool = False

    def as_dict(self) -> dict[str, Any]:
        return {
            "url": self.url,
            "body": self.body,
            "headers": self.headers,
            "status": self.status,
            "attempt": self.attempt,
            "eventIds": list(self.event_ids),
            "at": self.at,
            "error": self.error,
            "duplicate": self.duplicate,
        }


def sign_v3(client_secret: str, method: str, uri: str, body: str, timestamp: str) -> str:
    """``X-HubSpot-Signature-v3``: base64 of HMAC-SHA256 over method + URI + body + timestamp."""
    digest = hmac.new(
        client_secret.encode("utf-8"), f"{method}{uri}{body}{timestamp}".encode(), hashlib.sha256
    ).digest()
    return base64.b64encode(digest).decode()


@dataclass
class _Batch:
    events: list[dict[str, Any]]
    attempt: int
    due: float
    duplicate: bool = False


class WebhookDispatcher:
    """Delivers queued events in batches from a background thread; retries wait on the sandbox clock."""

    def __init__(
        self,
        clock: Clock,
        rng: random.Random,
        *,
        client_secret: str,
        target: str | WebhookTarget | None,
        target_uri: str = "https://webhooks.sandbox.invalid/hubspot",
        retry_delays: Sequence[float] = WEBHOOK_RETRY_DELAYS,
        max_retries: int = WEBHOOK_MAX_RETRIES,
        duplicate_probability: float = 0.0,
        timeout_seconds: float = 5.0,
        poll_seconds: float = 1.0,
    ) -> None:
        self.clock = clock
        self.rng = rng
        self.client_secret = client_secret
        self.target = target
        self.target_uri = target_uri
        self.retry_delays = tuple(retry_delays)
        self.max_retries = max_retries
        self.duplicate_probability = duplicate_probability
        self.timeout_seconds = timeout_seconds
        self.poll_seconds = poll_seconds
        self.deliveries: list[WebhookDelivery] = []
        self._fresh: deque[dict[str, Any]] = deque()
        self._retries: list[_Batch] = []
        self._busy = 0
        self._held = 0
        self._closed = False
        self._cond = threading.Condition()
        self._thread: threading.Thread | None = None
        self._session = requests.Session()

    # -- control -----------------------------------------------------------------------------------------------

    def configure(self, target: str | WebhookTarget | None, target_uri: str | None = None) -> None:
        with self._cond:
            self.target = target
            if target_uri is not None:
                self.target_uri = target_uri

    def enqueue(self, events: list[dict[str, Any]]) -> None:
        with self._cond:
            if self.target is None or self._closed:
                return
            self._fresh.extend(dict(e) for e in events)
            self._start()
            self._cond.notify_all()

    @contextmanager
    def held(self) -> Iterator[None]:
        """Queue events without sending them until the block ends (then they go out in batches of 100)."""
        with self._cond:
            self._held += 1
        try:
            yield
        finally:
            with self._cond:
                self._held -= 1
                self._cond.notify_all()

    def pending(self) -> int:
        with self._cond:
            return len(self._fresh) + sum(len(b.events) for b in self._retries) + self._busy

    def wait_idle(self, timeout: float = 5.0) -> bool:
        """Wait (real seconds) until nothing is queued, waiting for a retry or being sent. True when idle."""
        deadline = time.monotonic() + timeout  # real time on purpose: a test's patience, not sandbox time
        with self._cond:
            while self._fresh or self._retries or self._busy:
                if time.monotonic() >= deadline:
                    return False
                self._cond.wait(0.01)
            return True

    def clear(self) -> None:
        with self._cond:
            self._fresh.clear()
            self._retries.clear()
            self.deliveries.clear()

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._cond.notify_all()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._session.close()

    def _start(self) -> None:
        if self._thread is None or not self._thread.is_alive():
            self._thread = threading.Thread(target=self._run, name="hubspot-sandbox-webhooks", daemon=True)
            self._thread.start()

    # -- the loop ----------------------------------------------------------------------------------------------

    def _next(self) -> _Batch | None:
        """The next batch to send, waiting (on the sandbox clock) for a retry that is not due yet."""
        while True:
            with self._cond:
                if self._closed:
                    return None
                if self._fresh and not self._held:
                    events = [self._fresh.popleft() for _ in range(min(WEBHOOK_BATCH_SIZE, len(self._fresh)))]
                    self._busy += 1
                    return _Batch(events, 0, self.clock.monotonic())
                if not self._retries or self._held:
                    self._cond.wait(0.05)
                    continue
                self._retries.sort(key=lambda b: b.due)
                wait = self._retries[0].due - self.clock.monotonic()
                if wait <= 0:
                    self._busy += 1
                    return self._retries.pop(0)
            self.clock.sleep(min(wait, self.poll_seconds))

    def _run(self) -> None:
        while True:
            batch = self._next()
            if batch is None:
                return
            status: int | None = None
            try:
                status = self._send(batch)
            finally:
                with self._cond:  # scheduled before it stops counting as busy: wait_idle never sees a gap
                    self._schedule(batch, status)
                    self._busy -= 1
                    self._cond.notify_all()

    def _schedule(self, batch: _Batch, status: int | None) -> None:
        """After an attempt: maybe a duplicate (2xx), a retry (no answer, 429, 5xx), or nothing (other 4xx)."""
        with self._cond:
            if status is not None and 200 <= status < 300:
                if (
                    not batch.duplicate
                    and self.duplicate_probability > 0
                    and self.rng.random() < self.duplicate_probability
                ):
                    self._retries.append(_Batch(batch.events, batch.attempt, self.clock.monotonic(), True))
            elif (status is None or status == 429 or status >= 500) and batch.attempt < self.max_retries:
                index = min(batch.attempt, len(self.retry_delays) - 1)
                delay = self.retry_delays[index] if self.retry_delays else 0.0
                self._retries.append(_Batch(batch.events, batch.attempt + 1, self.clock.monotonic() + delay))
            self._cond.notify_all()

    def _send(self, batch: _Batch) -> int | None:
        target, uri = self.target, self.target_uri
        if target is None:
            return None
        url = target if isinstance(target, str) else uri
        events = [{**e, "attemptNumber": batch.attempt} for e in batch.events]
        body = json.dumps(events, ensure_ascii=False, separators=(",", ":"))
        timestamp = str(_ms(self.clock.now()))
        headers = {
            "Content-Type": "application/json",
            "User-Agent": "HubSpot Connect 2.0 (http://dev.hubspot.com/) (namespace: webhooks-nio) (sandbox)",
            "X-HubSpot-Signature-v3": sign_v3(self.client_secret, "POST", url, body, timestamp),
            "X-HubSpot-Signature-Version": "v3",
            "X-HubSpot-Request-Timestamp": timestamp,
        }
        status: int | None = None
        error: str | None = None
        try:
            if isinstance(target, str):
                response = self._session.post(
                    url, data=body.encode("utf-8"), headers=headers, timeout=self.timeout_seconds
                )
                status = response.status_code
            else:
                status = int(target(WebhookRequest("POST", url, dict(headers), body)))
        except requests.Timeout as exc:
            error = f"timeout: {exc}"
        except Exception as exc:  # a receiver that cannot be reached or raises is retried like a time-out
            error = f"{type(exc).__name__}: {exc}"
        with self._cond:
            self.deliveries.append(
                WebhookDelivery(
                    url=url,
                    body=body,
                    headers=headers,
                    status=status,
                    attempt=batch.attempt,
                    event_ids=tuple(int(e["eventId"]) for e in events),
                    at=_iso(self.clock.now()),
                    error=error,
                    duplicate=batch.duplicate,
                )
            )
        return status


# --------------------------------------------------------------------------------------------------------------
# the sandbox
# --------------------------------------------------------------------------------------------------------------


@dataclass
class RateLimiter:
    """HubSpot's ten-secondly rolling window (and a daily cap), on the sandbox clock."""

    clock: Clock
    per_10s: int
    daily: int = 250_000
    window_seconds: float = 10.0
    _calls: deque[float] = field(default_factory=deque)
    _day: date | None = None
    _day_count: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def take(self) -> tuple[str | None, int, int]:
        """``(policy refused or None, remaining in window, remaining today)``; counts the call when allowed."""
        with self._lock:
            now = self.clock.monotonic()
            today = self.clock.now().date()
            if today != self._day:
                self._day, self._day_count = today, 0
            while self._calls and self._calls[0] <= now - self.window_seconds:
                self._calls.popleft()
            if self._day_count >= self.daily:
                return "DAILY", max(0, self.per_10s - len(self._calls)), 0
            if len(self._calls) >= self.per_10s:
                return "TEN_SECONDLY_ROLLING", 0, self.daily - self._day_count
            self._calls.append(now)
            self._day_count += 1
            return None, self.per_10s - len(self._calls), self.daily - self._day_count

    def reset(self) -> None:
        with self._lock:
            self._calls.clear()
            self._day, self._day_count = None, 0


class HubSpotSandbox:
    """The app plus Python helpers that mirror its ``/_sandbox`` admin API."""

    def __init__(
        self,
        *,
        app: Flask,
        state: HubSpotState,
        clock: Clock,
        faults: FaultInjector,
        dispatcher: WebhookDispatcher,
        limiter: RateLimiter,
        access_token: str,
        client_secret: str,
    ) -> None:
        self.app = app
        self.state = state
        self.clock = clock
        self.faults = faults
        self.dispatcher = dispatcher
        self.limiter = limiter
        self.access_token = access_token
        self.client_secret = client_secret
        #: the developer account's API key: action definitions authenticate with ``?hapikey=`` instead of a token
        self.developer_api_key = "sandbox-hubspot-developer-api-key"

    @property
    def portal_id(self) -> int:
        return self.state.portal_id

    @property
    def app_id(self) -> int:
        return self.state.app_id

    # -- lifecycle ---------------------------------------------------------------------------------------------

    def reset(self) -> None:
        """Back to an empty portal: standard properties and pipelines only; logs and rate window cleared."""
        self.state.reset()
        self.dispatcher.clear()
        self.limiter.reset()

    def close(self) -> None:
        self.dispatcher.close()

    # -- building a world --------------------------------------------------------------------------------------

    def define_property(
        self,
        object_type: str,
        name: str,
        *,
        type: str = "string",
        field_type: str = "text",
        label: str | None = None,
        group: str | None = None,
        options: Sequence[str] = (),
    ) -> None:
        """Create a custom property, as the project's setup does (e.g. to seed ``freee_*`` values)."""
        object_type = normalize_type(object_type)
        with self.state.lock:
            group_name = group or _GROUPS[object_type][0]
            if group_name not in self.state.groups[object_type]:
                self.state.define_group(object_type, {"name": group_name, "label": group_name})
            if name in self.state.properties[object_type]:
                return
            self.state.define_property(
                object_type,
                {
                    "name": name,
                    "label": label or name,
                    "type": type,
                    "fieldType": field_type,
                    "groupName": group_name,
                    "options": [{"label": o, "value": o} for o in options],
                },
            )

    def create_company(self, **properties: Any) -> str:
        return self.state.create("companies", properties).id

    def create_contact(self, **properties: Any) -> str:
        return self.state.create("contacts", properties).id

    def create_line_item(self, **properties: Any) -> str:
        return self.state.create("line_items", properties).id

    def create_deal(
        self,
        *,
        company: str | None = None,
        companies: Sequence[str] = (),
        contacts: Sequence[str] = (),
        line_items: Sequence[Mapping[str, Any] | str] = (),
        **properties: Any,
    ) -> str:
        """A deal with its primary ``company``, other (unlabeled) ``companies``, ``contacts`` and line items
        (ids of existing ones, or property dicts to create)."""
        with self.state.lock:
            deal_id = self.state.create("deals", properties).id
            for other in companies:
                self.associate("deals", deal_id, "companies", other)
            if company is not None:
                self.associate("deals", deal_id, "companies", company, primary=True)
            for contact_id in contacts:
                self.associate("deals", deal_id, "contacts", contact_id)
            for item in line_items:
                item_id = item if isinstance(item, str) else self.create_line_item(**item)
                self.associate("deals", deal_id, "line_items", item_id)
            return deal_id

    def associate(
        self,
        from_type: str,
        from_id: str,
        to_type: str,
        to_id: str,
        *,
        primary: bool = False,
        type_id: int | None = None,
    ) -> None:
        """Associate two records (and the reverse); ``primary`` uses the primary type (deal → company: 5)."""
        if primary and type_id is None:
            pair = _ASSOCIATION_TYPES.get((normalize_type(from_type), normalize_type(to_type)))
            type_id = pair[1] if pair else None
            if type_id is None:
                raise ValueError(f"{from_type} → {to_type} has no primary association")
        self.state.associate(from_type, str(from_id), to_type, str(to_id), type_id)

    def move_deal_to_stage(self, deal_id: str, stage_id: str, *, user_id: int = 2_468_135) -> None:
        """A rep drags the deal in the board: the stage changes and the webhook event is emitted."""
        self.state.update(
            "deals",
            str(deal_id),
            {"dealstage": stage_id},
            change_source="CRM_UI",
            source_id=f"userId:{user_id}",
        )

    def update(self, object_type: str, object_id: str, **properties: Any) -> None:
        self.state.update(normalize_type(object_type), str(object_id), properties)

    def properties_of(self, object_type: str, object_id: str) -> dict[str, str | None]:
        """Every stored property of a record (a copy)."""
        with self.state.lock:
            return dict(self.state.get(normalize_type(object_type), str(object_id)).properties)

    def seed(self, data: Mapping[str, Any] | None = None) -> dict[str, str]:
        """Create a world and return ``{key: id}``.

        ``data`` has ``companies`` and ``contacts`` (``{"key", "properties"}``) and ``deals`` (``{"key",
        "properties", "company": key-or-id (primary), "companies": [...], "contacts": [...], "line_items":
        [{"key"?, "properties"}]}``). Without ``data``: a small Japanese demo world.
        """
        data = demo_world() if data is None else data
        ids: dict[str, str] = {}

        def resolve(ref: Any) -> str:
            return ids.get(str(ref), str(ref))

        with self.state.lock:
            for kind in ("companies", "contacts"):
                for index, entry in enumerate(data.get(kind) or []):
                    created = self.state.create(kind, entry.get("properties") or {}).id
                    ids[str(entry.get("key", f"{kind}:{index}"))] = created
            for index, entry in enumerate(data.get("deals") or []):
                items = []
                for line_index, item in enumerate(entry.get("line_items") or []):
                    item_id = self.create_line_item(**(item.get("properties") or {}))
                    ids[str(item.get("key", f"deals:{index}:line_items:{line_index}"))] = item_id
                    items.append(item_id)
                deal_id = self.create_deal(
                    company=resolve(entry["company"]) if entry.get("company") else None,
                    companies=[resolve(c) for c in entry.get("companies") or []],
                    contacts=[resolve(c) for c in entry.get("contacts") or []],
                    line_items=items,
                    **(entry.get("properties") or {}),
                )
                ids[str(entry.get("key", f"deals:{index}"))] = deal_id
        return ids

    # -- what happened -----------------------------------------------------------------------------------------

    @property
    def deliveries(self) -> list[WebhookDelivery]:
        with self.dispatcher._cond:
            return list(self.dispatcher.deliveries)

    @property
    def api_calls(self) -> list[ApiCall]:
        with self.state.lock:
            return list(self.state.api_calls)

    @property
    def callbacks(self) -> list[CallbackCompletion]:
        with self.state.lock:
            return list(self.state.callbacks)

    @property
    def events(self) -> list[dict[str, Any]]:
        with self.state.lock:
            return list(self.state.events)

    def action_definitions(self, *, archived: bool = False) -> list[dict[str, Any]]:
        """The app's custom workflow action definitions, as ``GET /automation/v4/actions/{appId}`` lists them."""
        return self.state.list_action_definitions(self.state.app_id, archived=archived)

    def set_webhook_target(self, target: str | WebhookTarget | None, *, uri: str | None = None) -> None:
        """Where webhook batches go: a URL, or a callable (then ``uri`` is the URL signed, as if served there)."""
        self.dispatcher.configure(target, uri)

    def wait_idle(self, timeout: float = 5.0) -> bool:
        """Wait (real seconds) until every queued webhook is delivered or given up. True when idle."""
        return self.dispatcher.wait_idle(timeout)

    def flush(self, timeout: float = 5.0) -> list[WebhookDelivery]:
        """Wait for the webhook queue to drain and return the delivery log."""
        self.wait_idle(timeout)
        return self.deliveries


def demo_world() -> dict[str, Any]:
    """Two companies, two contacts and three deals with line items (one in the custom pipeline)."""
    return {
        "companies": [
            {
                "key": "sample",
                "properties": {
                    "name": "株式会社サンプル商事",
                    "domain": "sample-shoji.example.jp",
                    "zip": "100-0005",
                    "state": "東京都",
                    "city": "千代田区",
                    "address": "丸の内1-1-1",
                    "phone": "03-1234-5678",
                    "country": "Japan",
                },
            },
            {
                "key": "kaisha",
                "properties": {
                    "name": "合同会社テスト工房",
                    "zip": "530-0001",
                    "state": "大阪府",
                    "city": "大阪市北区",
                },
            },
        ],
        "contacts": [
            {
                "key": "yamada",
                "properties": {"lastname": "山田", "firstname": "太郎", "email": "taro@example.co.jp"},
            },
            {
                "key": "sato",
                "properties": {"lastname": "佐藤", "firstname": "花子", "email": "hanako@example.co.jp"},
            },
        ],
        "deals": [
            {
                "key": "deal-accounting",
                "properties": {
                    "dealname": "【受注】会計導入支援",
                    "amount": "330000",
                    "closedate": "2026-11-20T03:00:00.000Z",
                    "pipeline": "default",
                    "dealstage": "contractsent",
                    "deal_currency_code": "JPY",
                },
                "company": "sample",
                "contacts": ["yamada"],
                "line_items": [
                    {
                        "properties": {
                            "name": "導入支援",
                            "quantity": "1",
                            "price": "200000",
                            "hs_position_on_quote": "0",
                        }
                    },
                    {
                        "properties": {
                            "name": "クラウド会計ライセンス",
                            "quantity": "10",
                            "price": "10000",
                            "hs_position_on_quote": "1",
                        }
                    },
                ],
            },
            {
                "key": "deal-training",
                "properties": {
                    "dealname": "操作研修",
                    "amount": "55000",
                    "closedate": "2026-11-21T03:00:00.000Z",
                    "pipeline": "87654321",
                    "dealstage": "87654323",
                    "deal_currency_code": "JPY",
                },
                "company": "kaisha",
                "contacts": ["sato"],
                "line_items": [
                    {"properties": {"name": "操作研修（半日）", "quantity": "1", "price": "50000"}}
                ],
            },
            {
                "key": "deal-no-company",
                "properties": {
                    "dealname": "会社未設定の商談",
                    "amount": "10000",
                    "dealstage": "qualifiedtobuy",
                },
                "line_items": [{"properties": {"name": "スポット相談", "quantity": "1", "price": "10000"}}],
            },
        ],
    }


# --------------------------------------------------------------------------------------------------------------
# the app
# --------------------------------------------------------------------------------------------------------------


def _list_param(name: str) -> list[str] | None:
    """``?properties=a,b`` and ``?properties=a&properties=b`` (the official client sends the second)."""
    if name not in request.args:
        return None
    return [p.strip() for raw in request.args.getlist(name) for p in raw.split(",") if p.strip()]


def _flag(name: str) -> bool:
    return request.args.get(name, "false").lower() == "true"


def _body() -> dict[str, Any]:
    data = request.get_json(silent=True)
    if not isinstance(data, dict):
        raise HubSpotApiError(
            400, "Invalid input JSON on line 1, column 1: expected an object", "VALIDATION_ERROR"
        )
    return data


def _inputs(body: Mapping[str, Any]) -> list[dict[str, Any]]:
    inputs = body.get("inputs")
    if not isinstance(inputs, list):
        raise HubSpotApiError(400, "Invalid input JSON: inputs is required", "VALIDATION_ERROR")
    if len(inputs) > MAX_BATCH_INPUTS:
        raise HubSpotApiError(
            400,
            f"Batch input exceeds the maximum of {MAX_BATCH_INPUTS} inputs (got {len(inputs)}). "
            "Split the request into smaller batches.",
            "VALIDATION_ERROR",
            context={"maxInputs": [str(MAX_BATCH_INPUTS)], "inputs": [str(len(inputs))]},
        )
    return [i if isinstance(i, dict) else {"id": i} for i in inputs]


def create_hubspot_sandbox(
    *,
    clock: Clock | None = None,
    faults: FaultInjector | None = None,
    portal_id: int = PORTAL_ID,
    app_id: int = 4242,
    client_secret: str = "sandbox-hubspot-client-secret",  # noqa: S107 - a sandbox's well-known value
    access_token: str = "sandbox-hubspot-token",  # noqa: S107 - a sandbox's well-known value
    webhook_url: str | WebhookTarget | None = None,
    rate_limit_per_10s: int = 100,
    duplicate_delivery_probability: float = 0.0,
    seed: int | None = None,
    daily_limit: int = 250_000,
    webhook_uri: str = "https://webhooks.sandbox.invalid/hubspot",
    webhook_retry_delays: Sequence[float] = WEBHOOK_RETRY_DELAYS,
    webhook_timeout_seconds: float = 5.0,
    developer_api_key: str = "sandbox-hubspot-developer-api-key",
) -> HubSpotSandbox:
    """A fresh portal. ``webhook_url`` may be a URL or a callable taking a :class:`WebhookRequest` and returning
    the HTTP status (then ``webhook_uri`` is the URL that is signed)."""
    clock = clock if clock is not None else SystemClock()
    faults = faults if faults is not None else FaultInjector(seed=seed)
    rng = random.Random(seed)
    state = HubSpotState(clock, portal_id=portal_id, app_id=app_id, rng=rng)
    dispatcher = WebhookDispatcher(
        clock,
        random.Random(None if seed is None else seed + 1),
        client_secret=client_secret,
        target=webhook_url,
        target_uri=webhook_uri,
        retry_delays=webhook_retry_delays,
        duplicate_probability=duplicate_delivery_probability,
        timeout_seconds=webhook_timeout_seconds,
    )
    state.on_events = dispatcher.enqueue
    limiter = RateLimiter(clock, rate_limit_per_10s, daily_limit)
    app = Flask("sandbox.hubspot")
    sandbox = HubSpotSandbox(
        app=app,
        state=state,
        clock=clock,
        faults=faults,
        dispatcher=dispatcher,
        limiter=limiter,
        access_token=access_token,
        client_secret=client_secret,
    )
    sandbox.developer_api_key = developer_api_key
    _install_routes(app, sandbox)
    return sandbox


def _rate_limit_error(sandbox: HubSpotSandbox, policy: str, remaining_daily: int) -> Response:
    state = sandbox.state
    body = {
        "status": "error",
        "message": f"You have reached your {policy.lower()} limit.",
        "errorType": "RATE_LIMIT",
        "correlationId": state.correlation_id(),
        "policyName": policy,
        "groupName": f"publicapi:private-app-api-calls-{'ten-secondly' if policy != 'DAILY' else 'daily'}:"
        f"{state.app_id}:{state.portal_id}",
    }
    return _json_response(body, 429, _limit_headers(sandbox, 0, remaining_daily))


def _limit_headers(sandbox: HubSpotSandbox, remaining: int, remaining_daily: int) -> dict[str, str]:
    limiter = sandbox.limiter
    return {
        "X-HubSpot-RateLimit-Interval-Milliseconds": str(int(limiter.window_seconds * 1000)),
        "X-HubSpot-RateLimit-Max": str(limiter.per_10s),
        "X-HubSpot-RateLimit-Remaining": str(max(0, remaining)),
        "X-HubSpot-RateLimit-Daily": str(limiter.daily),
        "X-HubSpot-RateLimit-Daily-Remaining": str(max(0, remaining_daily)),
    }


def _install_routes(app: Flask, sandbox: HubSpotSandbox) -> None:
    state = sandbox.state

    def error_response(exc: HubSpotApiError) -> Response:
        return _json_response(exc.body(state.correlation_id()), exc.status, exc.headers)

    def fault_error(status: int, kind: str) -> Response:
        if status == 429:
            return _rate_limit_error(sandbox, "TEN_SECONDLY_ROLLING", sandbox.limiter.daily)
        return error_response(
            HubSpotApiError(
                status,
                "Internal error (injected by the sandbox: " + kind + ")",
                "INTERNAL_ERROR" if status == 500 else "SERVICE_UNAVAILABLE",
            )
        )

    @app.before_request
    def _auth_and_limits() -> Response | None:
        if request.path.startswith(ADMIN_PREFIX):
            return None
        if _ACTION_DEFINITIONS_PATH.match(request.path):  # the developer API key, not a portal's token
            key = request.args.get("hapikey", "")
            if not key or not hmac.compare_digest(key.encode(), sandbox.developer_api_key.encode()):
                return error_response(HubSpotApiError(401, _INVALID_API_KEY, "INVALID_AUTHENTICATION"))
            return _take_limit()
        header = request.headers.get("Authorization", "")
        if not header.startswith("Bearer ") or not hmac.compare_digest(
            header.removeprefix("Bearer ").strip().encode(), sandbox.access_token.encode()
        ):
            return error_response(HubSpotApiError(401, _AUTH_MESSAGE, "INVALID_AUTHENTICATION"))
        return _take_limit()

    def _take_limit() -> Response | None:
        refused, remaining, remaining_daily = sandbox.limiter.take()
        if refused is not None:
            return _rate_limit_error(sandbox, refused, remaining_daily)
        g.hubspot_rate_limit = (remaining, remaining_daily)
        return None

    install_faults(app, sandbox.faults, sandbox.clock, error=fault_error)

    @app.after_request
    def _record(response: Response) -> Response:
        if request.path.startswith(ADMIN_PREFIX):
            return response
        taken = getattr(g, "hubspot_rate_limit", None)
        if taken is not None:
            for name, value in _limit_headers(sandbox, *taken).items():
                response.headers.setdefault(name, value)
        with state.lock:
            state.api_calls.append(
                ApiCall(request.method, request.path, response.status_code, _iso(sandbox.clock.now()))
            )
        return response

    @app.errorhandler(HubSpotApiError)
    def _api_error(exc: HubSpotApiError) -> Response:
        return error_response(exc)

    @app.errorhandler(404)
    def _no_route(exc: Exception) -> Response:
        return error_response(
            HubSpotApiError(404, f"No route for {request.method} {request.path}", "NOT_FOUND")
        )

    @app.errorhandler(405)
    def _no_method(exc: Exception) -> Response:
        return error_response(
            HubSpotApiError(
                405, f"Method {request.method} not allowed on {request.path}", "METHOD_NOT_ALLOWED"
            )
        )

    def batch_answer(
        results: list[dict[str, Any]], errors: list[dict[str, Any]], status: int = 200
    ) -> Response:
        now = _iso(sandbox.clock.now())
        body: dict[str, Any] = {
            "status": "COMPLETE",
            "results": results,
            "startedAt": now,
            "completedAt": now,
        }
        if errors:
            body["numErrors"] = len(errors)
            body["errors"] = errors
            return _json_response(body, 207)
        return _json_response(body, status)

    def not_found_error(object_type: str, ids: list[str]) -> dict[str, Any]:
        return {
            "status": "error",
            "category": "OBJECT_NOT_FOUND",
            "message": f"Could not get some {_OBJECT_NAME[object_type]} objects, they may be deleted or not exist. "
            "Check that ids are valid.",
            "context": {"ids": ids},
            "links": {},
            "errors": [],
        }

    # -- CRM objects v3 ----------------------------------------------------------------------------------------

    @app.get("/crm/v3/objects/<object_type>/<object_id>")
    def get_object(object_type: str, object_id: str) -> Response:
        object_type = normalize_type(object_type)
        with state.lock:
            id_property = request.args.get("idProperty")
            if id_property:
                obj = state.find(object_type, id_property, object_id)
                if obj is None:
                    raise _not_found(object_type, object_id)
            else:
                obj = state.get(object_type, object_id, archived=_flag("archived"))
            return _json_response(
                state.object_json(
                    object_type, obj, _list_param("properties"), _list_param("associations") or ()
                )
            )

    @app.patch("/crm/v3/objects/<object_type>/<object_id>")
    def update_object(object_type: str, object_id: str) -> Response:
        object_type = normalize_type(object_type)
        body = _body()
        with state.lock:
            obj = state.update(
                object_type, object_id, body.get("properties") or {}, source_id=str(state.app_id)
            )
            asked = list(_DEFAULTS[object_type]) + list((body.get("properties") or {}).keys())
            return _json_response(state.object_json(object_type, obj, asked))

    @app.delete("/crm/v3/objects/<object_type>/<object_id>")
    def archive_object(object_type: str, object_id: str) -> Response:
        state.archive(normalize_type(object_type), object_id)
        return Response(status=204)

    @app.post("/crm/v3/objects/<object_type>")
    def create_object(object_type: str) -> Response:
        object_type = normalize_type(object_type)
        body = _body()
        with state.lock:
            obj = state.create(object_type, body.get("properties") or {})
            for association in body.get("associations") or []:
                to_id = str((association.get("to") or {}).get("id", ""))
                for spec in association.get("types") or []:
                    to_type = _type_for_association(object_type, int(spec.get("associationTypeId", 0)))
                    state.associate(object_type, obj.id, to_type, to_id, int(spec["associationTypeId"]))
            asked = list(_DEFAULTS[object_type]) + list((body.get("properties") or {}).keys())
            return _json_response(state.object_json(object_type, obj, asked), 201)

    @app.get("/crm/v3/objects/<object_type>")
    def list_objects(object_type: str) -> Response:
        object_type = normalize_type(object_type)
        limit = min(int(request.args.get("limit", 10)), MAX_PAGE_LIMIT)
        after = int(request.args.get("after", 0) or 0)
        archived = _flag("archived")
        with state.lock:
            chosen = sorted(
                (o for o in state.objects[object_type].values() if o.archived == archived),
                key=lambda o: int(o.id),
            )
            page = chosen[after : after + limit]
            body: dict[str, Any] = {
                "results": [
                    state.object_json(
                        object_type, o, _list_param("properties"), _list_param("associations") or ()
                    )
                    for o in page
                ]
            }
            if after + limit < len(chosen):
                link = f"{request.base_url}?after={after + limit}&limit={limit}"
                body["paging"] = {"next": {"after": str(after + limit), "link": link}}
            return _json_response(body)

    @app.post("/crm/v3/objects/<object_type>/batch/read")
    def batch_read(object_type: str) -> Response:
        object_type = normalize_type(object_type)
        body = _body()
        inputs = _inputs(body)
        properties = body.get("properties")
        with state.lock:
            results, missing = [], []
            for item in inputs:
                key = str(item.get("id", ""))
                obj = state.find(object_type, body.get("idProperty"), key)
                if obj is None:
                    missing.append(key)
                else:
                    results.append(state.object_json(object_type, obj, properties if properties else None))
            return batch_answer(results, [not_found_error(object_type, missing)] if missing else [])

    @app.post("/crm/v3/objects/<object_type>/batch/update")
    def batch_update(object_type: str) -> Response:
        object_type = normalize_type(object_type)
        body = _body()
        inputs = _inputs(body)
        with state.lock:
            updated, missing = state.batch_update(object_type, inputs)
            written = {str(i.get("id")): list((i.get("properties") or {}).keys()) for i in inputs}
            results = [
                state.object_json(object_type, o, list(_DEFAULTS[object_type]) + written.get(o.id, []))
                for o in updated
            ]
            return batch_answer(results, [not_found_error(object_type, missing)] if missing else [])

    @app.post("/crm/v3/objects/<object_type>/batch/create")
    def batch_create(object_type: str) -> Response:
        object_type = normalize_type(object_type)
        body = _body()
        inputs = _inputs(body)
        with state.lock:
            for item in inputs:  # validate every input before creating any
                state.check_values(object_type, item.get("properties") or {})
            created = [state.create(object_type, item.get("properties") or {}) for item in inputs]
            results = [
                state.object_json(
                    object_type, o, list(_DEFAULTS[object_type]) + list(i.get("properties") or {})
                )
                for o, i in zip(created, inputs, strict=True)
            ]
            return batch_answer(results, [], 201)

    @app.post("/crm/v3/objects/<object_type>/search")
    def search(object_type: str) -> Response:
        return _json_response(state.search(normalize_type(object_type), _body()))

    # -- associations v4 ---------------------------------------------------------------------------------------

    def labelled(types: Iterable[int]) -> list[dict[str, Any]]:
        return [
            {
                "category": "HUBSPOT_DEFINED",
                "typeId": type_id,
                "label": "Primary" if type_id in _PRIMARY_TYPES else None,
            }
            for type_id in types
        ]

    @app.get("/crm/v4/objects/<from_type>/<object_id>/associations/<to_type>")
    def associations_page(from_type: str, object_id: str, to_type: str) -> Response:
        from_type, to_type = normalize_type(from_type), normalize_type(to_type)
        limit = min(int(request.args.get("limit", 500)), 500)
        after = int(request.args.get("after", 0) or 0)
        with state.lock:
            state.get(from_type, object_id)
            found = state.associated(from_type, object_id, to_type)
            page = found[after : after + limit]
            body: dict[str, Any] = {
                "results": [{"toObjectId": int(i), "associationTypes": labelled(t)} for i, t in page]
            }
            if after + limit < len(found):
                body["paging"] = {"next": {"after": str(after + limit)}}
            return _json_response(body)

    @app.post("/crm/v4/associations/<from_type>/<to_type>/batch/read")
    def associations_batch(from_type: str, to_type: str) -> Response:
        from_type, to_type = normalize_type(from_type), normalize_type(to_type)
        inputs = _inputs(_body())
        with state.lock:
            results, errors = [], []
            for item in inputs:
                key = str(item.get("id", ""))
                obj = state.objects[from_type].get(key)
                found = state.associated(from_type, key, to_type) if obj is not None else []
                if not found:
                    errors.append(
                        {
                            "status": "error",
                            "category": "OBJECT_NOT_FOUND",
                            "subCategory": "crm.associations.NO_ASSOCIATIONS_FOUND",
                            "message": f"No {to_type} is associated with {_OBJECT_NAME[from_type].lower()} {key}.",
                            "context": {"fromObjectId": [key]},
                            "links": {},
                            "errors": [],
                        }
                    )
                    continue
                results.append(
                    {
                        "from": {"id": key},
                        "to": [{"toObjectId": int(i), "associationTypes": labelled(t)} for i, t in found],
                    }
                )
            return batch_answer(results, errors)

    @app.put("/crm/v4/objects/<from_type>/<from_id>/associations/default/<to_type>/<to_id>")
    def associate_default(from_type: str, from_id: str, to_type: str, to_id: str) -> Response:
        written = state.associate(from_type, from_id, to_type, to_id)
        results = [
            {
                "from": {"id": a},
                "to": {"id": b},
                "associationSpec": {"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": type_id},
            }
            for _, a, _, b, type_id in written
        ]
        return batch_answer(results, [])

    # -- pipelines ---------------------------------------------------------------------------------------------

    def pipelines_of(object_type: str) -> list[dict[str, Any]]:
        object_type = normalize_type(object_type)
        if object_type not in state.pipelines:
            raise HubSpotApiError(404, f"No pipelines for {object_type}", "OBJECT_NOT_FOUND")
        return state.pipelines[object_type]

    @app.get("/crm/v3/pipelines/<object_type>")
    def pipelines(object_type: str) -> Response:
        with state.lock:
            return _json_response({"results": [p for p in pipelines_of(object_type) if not p["archived"]]})

    @app.get("/crm/v3/pipelines/<object_type>/<pipeline_id>")
    def pipeline(object_type: str, pipeline_id: str) -> Response:
        with state.lock:
            found = next((p for p in pipelines_of(object_type) if p["id"] == pipeline_id), None)
            if found is None:
                raise HubSpotApiError(
                    404,
                    f"Unable to find pipeline {pipeline_id}",
                    "OBJECT_NOT_FOUND",
                    context={"id": [pipeline_id]},
                )
            return _json_response(found)

    # -- properties --------------------------------------------------------------------------------------------

    @app.get("/crm/v3/properties/<object_type>")
    def properties(object_type: str) -> Response:
        with state.lock:
            return _json_response({"results": list(state.properties[normalize_type(object_type)].values())})

    @app.post("/crm/v3/properties/<object_type>")
    def create_property(object_type: str) -> Response:
        return _json_response(state.define_property(object_type, _body()), 201)

    @app.get("/crm/v3/properties/<object_type>/groups")
    def groups(object_type: str) -> Response:
        with state.lock:
            return _json_response({"results": list(state.groups[normalize_type(object_type)].values())})

    @app.post("/crm/v3/properties/<object_type>/groups")
    def create_group(object_type: str) -> Response:
        return _json_response(state.define_group(object_type, _body()), 201)

    @app.get("/crm/v3/properties/<object_type>/groups/<name>")
    def group(object_type: str, name: str) -> Response:
        with state.lock:
            found = state.groups[normalize_type(object_type)].get(name)
            if found is None:
                raise HubSpotApiError(404, f"Unable to find property group {name}", "OBJECT_NOT_FOUND")
            return _json_response(found)

    @app.get("/crm/v3/properties/<object_type>/<name>")
    def property_(object_type: str, name: str) -> Response:
        with state.lock:
            found = state.properties[normalize_type(object_type)].get(name)
            if found is None:
                raise HubSpotApiError(
                    404, f"Unable to find property {name}", "OBJECT_NOT_FOUND", context={"name": [name]}
                )
            return _json_response(found)

    # -- account information -----------------------------------------------------------------------------------

    @app.get("/account-info/v3/details")
    @app.get("/account-info/2026-03/details")
    def account_details() -> Response:
        # https://developers.hubspot.com/docs/api-reference/legacy/account/account-information/get-account-details
        return _json_response(
            {
                "portalId": state.portal_id,
                "timeZone": "Asia/Tokyo",
                "companyCurrency": "JPY",
                "additionalCurrencies": [],
                "utcOffset": "+09:00",
                "utcOffsetMilliseconds": 9 * 3_600_000,
                "uiDomain": "app.hubspot.com",
                "dataHostingLocation": "na1",
                "accountType": "STANDARD",
            }
        )

    # -- workflow action callbacks -----------------------------------------------------------------------------

    def record_callback(callback_id: str, body: Mapping[str, Any]) -> None:
        output = body.get("outputFields")
        if not isinstance(output, dict):
            raise HubSpotApiError(400, "Invalid input JSON: outputFields is required", "VALIDATION_ERROR")
        with state.lock:
            state.callbacks.append(CallbackCompletion(callback_id, dict(output), _iso(sandbox.clock.now())))

    @app.post("/automation/v4/actions/callbacks/<callback_id>/complete")
    def complete_callback(callback_id: str) -> Response:
        record_callback(callback_id, _body())
        return Response(status=204)

    @app.post("/automation/v4/actions/callbacks/complete")
    def complete_callbacks() -> Response:
        for item in _inputs(_body()):
            record_callback(str(item.get("callbackId", "")), item)
        return Response(status=204)

    # -- workflow action definitions ---------------------------------------------------------------------------

    @app.get("/automation/v4/actions/<int:app_id>")
    def action_definitions(app_id: int) -> Response:
        limit = min(max(int(request.args.get("limit", 10)), 1), MAX_PAGE_LIMIT)
        after = int(request.args.get("after", 0) or 0)
        found = state.list_action_definitions(app_id, archived=_flag("archived"))
        body: dict[str, Any] = {"results": found[after : after + limit]}
        if after + limit < len(found):
            link = f"{request.base_url}?after={after + limit}&limit={limit}"
            body["paging"] = {"next": {"after": str(after + limit), "link": link}}
        return _json_response(body)

    @app.post("/automation/v4/actions/<int:app_id>")
    def create_action_definition(app_id: int) -> Response:
        return _json_response(state.define_action(app_id, _body()), 201)

    @app.get("/automation/v4/actions/<int:app_id>/<definition_id>")
    def action_definition(app_id: int, definition_id: str) -> Response:
        return _json_response(state.action_definition(app_id, definition_id))

    @app.patch("/automation/v4/actions/<int:app_id>/<definition_id>")
    def update_action_definition(app_id: int, definition_id: str) -> Response:
        return _json_response(state.patch_action(app_id, definition_id, _body()))

    # -- admin -------------------------------------------------------------------------------------------------

    @app.post(f"{ADMIN_PREFIX}/reset")
    def admin_reset() -> Response:
        sandbox.reset()
        return Response(status=204)

    @app.post(f"{ADMIN_PREFIX}/seed")
    def admin_seed() -> Response:
        data = request.get_json(silent=True)
        return _json_response({"ids": sandbox.seed(data if isinstance(data, dict) and data else None)})

    @app.get(f"{ADMIN_PREFIX}/state")
    def admin_state() -> Response:
        dump = state.dump()
        dump["webhooks"] = {
            "target": sandbox.dispatcher.target if isinstance(sandbox.dispatcher.target, str) else None,
            "pending": sandbox.dispatcher.pending(),
            "deliveries": len(sandbox.deliveries),
        }
        return _json_response(dump)

    @app.post(f"{ADMIN_PREFIX}/deals/<deal_id>/stage")
    def admin_stage(deal_id: str) -> Response:
        stage = (request.get_json(silent=True) or {}).get("stage")
        if not stage:
            raise HubSpotApiError(400, "stage is required", "VALIDATION_ERROR")
        sandbox.move_deal_to_stage(deal_id, str(stage))
        return _json_response({"id": deal_id, "dealstage": stage})

    @app.get(f"{ADMIN_PREFIX}/webhooks")
    def admin_webhooks() -> Response:
        return _json_response(
            {
                "deliveries": [d.as_dict() for d in sandbox.deliveries],
                "pending": sandbox.dispatcher.pending(),
                "events": sandbox.events,
            }
        )

    @app.post(f"{ADMIN_PREFIX}/webhooks/config")
    def admin_webhook_config() -> Response:
        data = request.get_json(silent=True) or {}
        if "url" in data:
            sandbox.set_webhook_target(data["url"] or None)
        if "duplicate_delivery_probability" in data:
            sandbox.dispatcher.duplicate_probability = float(data["duplicate_delivery_probability"])
        if "retry_delays" in data:
            sandbox.dispatcher.retry_delays = tuple(float(d) for d in data["retry_delays"])
        return Response(status=204)


def _refuse_unknown(body: Mapping[str, Any], known: frozenset[str]) -> None:
    unknown = sorted(k for k in body if k not in known)
    if unknown:
        raise HubSpotApiError(
            400,
            "Invalid input JSON: Unrecognized field(s) " + ", ".join(repr(k) for k in unknown),
            "VALIDATION_ERROR",
            context={"field": unknown},
        )


def _action_validation_error(problems: list[str]) -> HubSpotApiError:
    return HubSpotApiError(
        400,
        "Invalid action definition: " + "; ".join(problems),
        "VALIDATION_ERROR",
        errors=[{"message": p} for p in problems],
    )


def _field_problems(fields: Any, where: str, *, output: bool) -> tuple[list[str], list[str]]:
    """Problems of ``inputFields`` / ``outputFields``, and the field names."""
    if not isinstance(fields, list):
        return [f"{where} must be a list"], []
    problems: list[str] = []
    names: list[str] = []
    for index, field_def in enumerate(fields):
        at = f"{where}[{index}]"
        spec = field_def.get("typeDefinition") if isinstance(field_def, dict) else None
        if not isinstance(spec, dict):
            problems.append(f"{at}.typeDefinition is required")
            continue
        name = spec.get("name")
        if not isinstance(name, str) or not name:
            problems.append(f"{at}.typeDefinition.name is required")
        elif name in names:
            problems.append(f"{at}.typeDefinition.name {name!r} is used twice")
        else:
            names.append(name)
        if spec.get("type") not in _ACTION_FIELD_TYPES:
            problems.append(
                f"{at}.typeDefinition.type {spec.get('type')!r} is not one of {sorted(_ACTION_FIELD_TYPES)}"
            )
        if "fieldType" in spec and spec["fieldType"] not in _FIELD_TYPES:
            problems.append(f"{at}.typeDefinition.fieldType {spec['fieldType']!r} is not valid")
        options = spec.get("options") or []
        if not isinstance(options, list) or any(not isinstance(o, dict) or "value" not in o for o in options):
            problems.append(f"{at}.typeDefinition.options must be a list of {{label, value}}")
        elif spec.get("type") == "enumeration" and not options and not spec.get("optionsUrl"):
            problems.append(f"{at}: an enumeration needs options (or an optionsUrl)")
        if not output:
            if not isinstance(field_def.get("isRequired"), bool):
                problems.append(f"{at}.isRequired is required (true or false)")
            kinds = field_def.get("supportedValueTypes") or []
            if not isinstance(kinds, list) or any(k not in _ACTION_VALUE_TYPES for k in kinds):
                problems.append(f"{at}.supportedValueTypes must be among {sorted(_ACTION_VALUE_TYPES)}")
    return problems, names


def _action_problems(body: Mapping[str, Any]) -> list[str]:
    """Every problem of a whole definition (HubSpot answers them in one 400)."""
    problems: list[str] = []
    url = body.get("actionUrl")
    if not isinstance(url, str) or not url.startswith(("https://", "http://")):
        problems.append("actionUrl is required: the URL HubSpot calls (https://...)")
    if not isinstance(body.get("published"), bool):
        problems.append("published is required (true or false)")
    object_types = body.get("objectTypes")
    if not isinstance(object_types, list) or not object_types:
        problems.append('objectTypes is required: e.g. ["DEAL"]')
    else:
        for kind in object_types:
            if not isinstance(kind, str) or not (
                kind.upper() in _ACTION_OBJECT_TYPES or re.fullmatch(r"\d-\d+", kind)
            ):
                problems.append(f"objectTypes: {kind!r} is not an object type")
    if "inputFields" not in body:
        problems.append("inputFields is required (may be empty)")
    found, inputs = _field_problems(body.get("inputFields") or [], "inputFields", output=False)
    problems += found
    found, outputs = _field_problems(body.get("outputFields") or [], "outputFields", output=True)
    problems += found
    functions = body.get("functions") or []
    if not isinstance(functions, list) or any(
        not isinstance(f, dict)
        or f.get("functionType") not in _ACTION_FUNCTION_TYPES
        or not isinstance(f.get("functionSource", ""), str)
        for f in functions
    ):
        problems.append(f"functions: each needs a functionType among {sorted(_ACTION_FUNCTION_TYPES)}")
    rules = body.get("executionRules") or []
    rule_names: list[str] = []
    if not isinstance(rules, list):
        problems.append("executionRules must be a list")
    else:
        for index, rule in enumerate(rules):
            if not isinstance(rule, dict) or not isinstance(rule.get("labelName"), str):
                problems.append(f"executionRules[{index}].labelName is required")
            elif not isinstance(rule.get("conditions"), dict):
                problems.append(f"executionRules[{index}].conditions is required (an object)")
            else:
                rule_names.append(rule["labelName"])
    options = body.get("objectRequestOptions")
    if options is not None and (
        not isinstance(options, dict)
        or not isinstance(options.get("properties"), list)
        or any(not isinstance(p, str) for p in options["properties"])
    ):
        problems.append("objectRequestOptions.properties must be a list of property names")
    labels = body.get("labels")
    if not isinstance(labels, dict):
        labels = {}
    if not isinstance(labels.get("en"), dict):
        problems.append("labels.en is required")
    for language, label in labels.items():
        if not isinstance(label, dict):
            problems.append(f"labels.{language} must be an object")
            continue
        if not isinstance(label.get("actionName"), str) or not label["actionName"].strip():
            problems.append(f"labels.{language}.actionName is required")
        for key, names in (
            ("inputFieldLabels", inputs),
            ("inputFieldDescriptions", inputs),
            ("inputFieldOptionLabels", inputs),
            ("outputFieldLabels", outputs),
            ("executionRules", rule_names),
        ):
            unknown = sorted(set(label.get(key) or {}) - set(names))
            if unknown:
                problems.append(f"labels.{language}.{key} names what the definition does not have: {unknown}")
    english = labels.get("en") if isinstance(labels.get("en"), dict) else {}
    missing = sorted(set(rule_names) - set((english or {}).get("executionRules") or {}))
    if missing:
        problems.append(f"labels.en.executionRules has no message for {missing}")
    return problems


def _action_field_json(field_def: Mapping[str, Any], *, output: bool) -> dict[str, Any]:
    spec = dict(field_def["typeDefinition"])
    spec["options"] = [
        {
            "label": str(o.get("label", o["value"])),
            "value": str(o["value"]),
            "displayOrder": int(o.get("displayOrder", index)),
            "hidden": bool(o.get("hidden", False)),
            "description": str(o.get("description", "")),
            "doubleData": float(o.get("doubleData", 0.0)),
            "readOnly": bool(o.get("readOnly", False)),
        }
        for index, o in enumerate(spec.get("options") or [])
    ]
    spec.setdefault("externalOptions", False)
    answer: dict[str, Any] = {"typeDefinition": spec}
    if not output:
        answer["isRequired"] = bool(field_def["isRequired"])
        answer["supportedValueTypes"] = list(field_def.get("supportedValueTypes") or ["STATIC_VALUE"])
        if field_def.get("automationFieldType"):
            answer["automationFieldType"] = field_def["automationFieldType"]
    return answer


def _action_json(
    body: Mapping[str, Any], *, definition_id: str, revision: int, functions: list[dict[str, Any]]
) -> dict[str, Any]:
    """A definition as HubSpot answers it: id and revision, every option complete, defaults filled in."""
    answer: dict[str, Any] = {
        "id": definition_id,
        "revisionId": str(revision),
        "actionUrl": body["actionUrl"],
        "published": body["published"],
        "objectTypes": [str(t) for t in body["objectTypes"]],
        "functions": functions,
        "inputFields": [_action_field_json(f, output=False) for f in body.get("inputFields") or []],
        "outputFields": [_action_field_json(f, output=True) for f in body.get("outputFields") or []],
        "labels": copy.deepcopy(body["labels"]),
        "executionRules": copy.deepcopy(body.get("executionRules") or []),
        "inputFieldDependencies": copy.deepcopy(body.get("inputFieldDependencies") or []),
    }
    if body.get("objectRequestOptions") is not None:
        answer["objectRequestOptions"] = {"properties": list(body["objectRequestOptions"]["properties"])}
    return answer


def _type_for_association(from_type: str, type_id: int) -> str:
    for (source, target), (default, primary) in _ASSOCIATION_TYPES.items():
        if source == from_type and type_id in (default, primary):
            return target
    raise HubSpotApiError(400, f"Unknown association type {type_id} from {from_type}", "VALIDATION_ERROR")


__all__ = [
    "OBJECT_TYPES",
    "ApiCall",
    "CallbackCompletion",
    "HubSpotApiError",
    "HubSpotSandbox",
    "HubSpotState",
    "WebhookDelivery",
    "WebhookRequest",
    "WebhookTarget",
    "create_hubspot_sandbox",
    "default_pipelines",
    "demo_world",
    "sign_v3",
]
