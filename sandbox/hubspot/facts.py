"""HubSpot facts the sandbox answers by: object types and their aliases, association type ids, the properties
every read returns, limits, workflow action vocabularies, and how HubSpot writes times and values."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from typing import Any

from sandbox.hubspot.errors import HubSpotApiError
from sdk.models.hubspot import ACTION_PATCH_FIELDS

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
#: what ``PATCH /crm/v3/properties/{objectType}/{propertyName}`` takes (``PropertyUpdate``)
_PROPERTY_UPDATE_FIELDS = frozenset(
    {
        "label",
        "type",
        "fieldType",
        "groupName",
        "description",
        "options",
        "displayOrder",
        "hidden",
        "formField",
        "calculationFormula",
    }
)
_NAME_PATTERN = re.compile(r"^[a-z][a-z0-9_]{0,99}$")
#: what ``CallbackCompletionRequest`` (and each batch input, with ``callbackId``) must carry: HubSpot's Automation
#: Actions V4 reference, revision "v4" of 2026-08-14 (``typedOutputs`` required since its revision of 2026-02-10)
_CALLBACK_REQUIRED = ("outputFields", "typedOutputs")
#: custom workflow action definitions: ``/automation/v4/actions/{appId}[/{definitionId}]`` (not ``callbacks``)
_ACTION_DEFINITIONS_PATH = re.compile(r"^/automation/v4/actions/(\d+)(?:/([^/]+))?/?$")
#: the app's webhook settings and subscriptions, ``/webhooks/v3/{appId}/...``: the developer account's credentials,
#: as the action definitions, not a portal's token
_WEBHOOK_SETTINGS_PATH = re.compile(r"^/webhooks/v3/\d+/(?:settings|subscriptions)(?:/.*)?/?$")
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
#: what each option of an output field (``Option``) and of an input field (``PublicOption``) must carry
_OUTPUT_OPTION_FIELDS = ("description", "displayOrder", "doubleData", "hidden", "label", "readOnly", "value")
_INPUT_OPTION_FIELDS = ("label", "value")
#: ``FieldTypeDefinition.schema.type``
_FIELD_SCHEMA_TYPES = frozenset(
    {"INTEGER", "LONG", "DOUBLE", "STRING", "BOOLEAN", "ARRAY", "OBJECT", "UNKNOWN"}
)
_ACTION_OBJECT_TYPES = frozenset({"CONTACT", "COMPANY", "DEAL", "TICKET", "QUOTE", "LINE_ITEM", "PRODUCT"})
#: a PATCH's fields (``PublicActionDefinitionPatch``) and what only a create may carry
_ACTION_CREATE_FIELDS = ACTION_PATCH_FIELDS | {"functions", "archivedAt"}
#: the scopes HubSpot's current v4 reference lists on the action definitions: reading, and writing
DEVELOPERS_READ = "developers-read"
DEVELOPERS_WRITE = "developers-write"
DEVELOPER_SCOPES = frozenset({DEVELOPERS_READ, DEVELOPERS_WRITE})
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


def _calendar_date(text: str) -> str:
    """A ``date`` property's value as HubSpot keeps it, ``YYYY-MM-DD``; a moment that is not midnight UTC is
    refused (``ValueError`` with HubSpot's message), as HubSpot refuses it."""
    ms = _epoch_ms(text)
    if ms is None:
        raise ValueError(f"{text} was not a valid date.")
    into_day = int(ms) % 86_400_000
    if into_day or ms != int(ms):
        seconds, millis = divmod(into_day, 1000)
        hours, rest = divmod(seconds, 3600)
        raise ValueError(
            f"{text} is at {hours}:{rest // 60:02d}:{rest % 60:02d}.{millis:03d} UTC, not midnight!"
        )
    return datetime.fromtimestamp(ms / 1000, UTC).date().isoformat()


def _format_number(value: float) -> str:
    return str(int(value)) if value.is_integer() else repr(round(value, 6))
