"""What a fresh portal holds before anything is created: the standard properties and groups of each object
type, and the deal pipelines (HubSpot's default one and a custom one with numeric stage ids)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from sandbox.hubspot.recurring import PROPERTIES as RECURRING_BILLING

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
        *RECURRING_BILLING,  # frequency, term, start and delay, number of payments, end date
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


def _options_of(body: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The ``options`` of a property create or update, as HubSpot stores them."""
    return [
        {
            "label": str(o.get("label", o.get("value", ""))),
            "value": str(o.get("value", "")),
            "displayOrder": int(o.get("displayOrder", i)),
            "hidden": bool(o.get("hidden", False)),
            "description": str(o.get("description", "")),
        }
        for i, o in enumerate(body.get("options") or [])
    ]


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
