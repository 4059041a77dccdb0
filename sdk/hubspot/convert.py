"""Between the official ``hubspot-api-client``'s objects and this package's: the properties read, values sent
as strings, CRM objects as :mod:`sdk.models.hubspot` models, property and workflow action definitions from
HubSpot's JSON. The official models are imported where they are used (a heavy import, paid by the client)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Final, TypeVar

if TYPE_CHECKING:
    from sdk.models.hubspot import CrmObject
    from sdk.settings import PropertyNames

# HubSpot's standard properties this package reads (its own ``freee_*`` ones come from settings.properties)
DEAL_PROPERTIES: Final = ("dealname", "amount", "closedate", "dealstage", "pipeline", "deal_currency_code")
LINE_ITEM_PROPERTIES: Final = (
    "name",
    "description",
    "quantity",
    "price",
    "amount",
    "hs_discount_percentage",
    "discount",
    "hs_line_item_currency_code",
    "hs_sku",
    "hs_position_on_quote",
    # recurring billing (specs/hubspot/recurring-line-items.md)
    "recurringbillingfrequency",
    "hs_recurring_billing_period",
    "hs_recurring_billing_start_date",
    "hs_billing_start_delay_type",
    "hs_billing_start_delay_days",
    "hs_billing_start_delay_months",
    "hs_recurring_billing_number_of_payments",
    "hs_recurring_billing_end_date",
)
COMPANY_PROPERTIES: Final = (
    "name",
    "domain",
    "phone",
    "zip",
    "state",
    "city",
    "address",
    "address2",
    "country",
)
CONTACT_PROPERTIES: Final = ("firstname", "lastname", "email", "phone")

BATCH_LIMIT: Final = 100

PropertyValue = str | int | float | bool | None
_T = TypeVar("_T")


def owned_properties(names: PropertyNames, object_prefix: str) -> tuple[str, ...]:
    """The project's own property names for one object (``deal_``, ``company_``, ``line_item_``)."""
    return tuple(
        str(getattr(names, field)) for field in type(names).model_fields if field.startswith(object_prefix)
    )


def as_text(raw: PropertyValue) -> str:
    """A property value as HubSpot takes it: a string, ``""`` clearing the property."""
    if raw is None:
        return ""
    if isinstance(raw, bool):
        return "true" if raw else "false"
    return str(raw)


def chunks(items: Sequence[_T], size: int = BATCH_LIMIT) -> Iterable[Sequence[_T]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def crm_object(cls: type[CrmObject], obj: Any) -> Any:
    """A CRM object of the official client as ``cls`` (a :class:`~sdk.models.hubspot.CrmObject`)."""
    return cls.model_validate(
        {
            "id": str(obj.id),
            "properties": dict(obj.properties or {}),
            "createdAt": obj.created_at,
            "updatedAt": obj.updated_at,
            "archived": bool(obj.archived),
        }
    )


def property_create(definition: Mapping[str, Any]) -> Any:
    """The official client's ``PropertyCreate`` from HubSpot's JSON (camelCase) or its snake_case names."""
    from hubspot.crm.properties import OptionInput, PropertyCreate

    by_json = {json_name: attr for attr, json_name in PropertyCreate.attribute_map.items()}
    kwargs: dict[str, Any] = {}
    for key, value in definition.items():
        attr = by_json.get(key, key)
        if attr not in PropertyCreate.attribute_map:
            raise ValueError(
                f"unknown property field {key!r} in the definition of {definition.get('name')!r}"
            )
        kwargs[attr] = value
    if kwargs.get("options"):
        kwargs["options"] = [
            OptionInput(
                label=str(o.get("label", o.get("value"))),
                value=str(o["value"]),
                display_order=int(o.get("displayOrder", o.get("display_order", index))),
                hidden=bool(o.get("hidden", False)),
                description=str(o.get("description", "")),
            )
            for index, o in enumerate(kwargs["options"])
        ]
    return PropertyCreate(**kwargs)
