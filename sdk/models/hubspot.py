"""What HubSpot sends and what is read from it.

CRM objects keep HubSpot's shape (``id`` + ``properties`` of strings) because property names are settings;
typed accessors cover HubSpot's own standard properties. Values are *not* trusted here: a malformed amount is
kept as text and reported by ``sdk.validation`` with every other problem, instead of failing the parse.
"""

from __future__ import annotations

from datetime import datetime
from functools import cache
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, Strict, TypeAdapter

from sdk.models.ids import MAX_ID, HubSpotId, HubSpotIdText


class _HubSpotModel(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True, populate_by_name=True, defer_build=True)


class CrmObject(_HubSpotModel):
    """A CRM record as the v3 objects API returns it."""

    id: str = Field(min_length=1, max_length=32, pattern=r"^[0-9]+$")
    properties: dict[str, str | None] = Field(default_factory=dict)
    created_at: datetime | None = Field(default=None, alias="createdAt")
    updated_at: datetime | None = Field(default=None, alias="updatedAt")
    archived: bool = False

    def prop(self, name: str) -> str | None:
        """A property's value, with blanks read as absent (HubSpot sends ``""`` for cleared properties)."""
        value = self.properties.get(name)
        if value is None:
            return None
        value = str(value)
        return value if value.strip() else None


class Deal(CrmObject):
    @property
    def name(self) -> str | None:
        return self.prop("dealname")

    @property
    def amount(self) -> str | None:
        return self.prop("amount")

    @property
    def close_date(self) -> str | None:
        return self.prop("closedate")

    @property
    def stage(self) -> str | None:
        return self.prop("dealstage")

    @property
    def pipeline(self) -> str | None:
        return self.prop("pipeline")

    @property
    def currency(self) -> str | None:
        return self.prop("deal_currency_code")


class LineItem(CrmObject):
    @property
    def name(self) -> str | None:
        return self.prop("name")

    @property
    def quantity(self) -> str | None:
        return self.prop("quantity")

    @property
    def price(self) -> str | None:
        """Unit price."""
        return self.prop("price")

    @property
    def discount_percentage(self) -> str | None:
        return self.prop("hs_discount_percentage")

    @property
    def discount_amount(self) -> str | None:
        """HubSpot's ``discount``: a fixed discount per unit."""
        return self.prop("discount")

    @property
    def currency(self) -> str | None:
        return self.prop("hs_line_item_currency_code")

    @property
    def sku(self) -> str | None:
        return self.prop("hs_sku")

    # recurring billing (specs/hubspot/recurring-line-items.md): raw text, parsed by sdk.billing

    @property
    def billing_frequency(self) -> str | None:
        """``recurringbillingfrequency``: ``monthly``, ``quarterly``, … ; absent on a one-off line."""
        return self.prop("recurringbillingfrequency")

    @property
    def billing_period(self) -> str | None:
        """``hs_recurring_billing_period``, the term as an ISO-8601 duration (``P12M``, ``P1Y``, ``P12W``); absent
        on a recurring line: it renews until cancelled."""
        return self.prop("hs_recurring_billing_period")

    @property
    def billing_start_date(self) -> str | None:
        """``hs_recurring_billing_start_date`` (``YYYY-MM-DD``)."""
        return self.prop("hs_recurring_billing_start_date")

    @property
    def billing_start_delay_type(self) -> str | None:
        """``hs_billing_start_delay_type``: the name of the property that sets the start (the start date, the
        delay in days or the delay in months)."""
        return self.prop("hs_billing_start_delay_type")

    @property
    def billing_start_delay_days(self) -> str | None:
        return self.prop("hs_billing_start_delay_days")

    @property
    def billing_start_delay_months(self) -> str | None:
        return self.prop("hs_billing_start_delay_months")

    @property
    def billing_number_of_payments(self) -> str | None:
        """``hs_recurring_billing_number_of_payments``, which HubSpot calculates from term and frequency."""
        return self.prop("hs_recurring_billing_number_of_payments")

    @property
    def billing_end_date(self) -> str | None:
        """``hs_recurring_billing_end_date``: informational; the term is what limits billing."""
        return self.prop("hs_recurring_billing_end_date")

    @property
    def position(self) -> int:
        """``hs_position_on_quote`` orders lines as the rep arranged them; unknown positions sort last."""
        raw = self.prop("hs_position_on_quote")
        try:
            return int(raw) if raw is not None else 1_000_000
        except ValueError:
            return 1_000_000


class Company(CrmObject):
    @property
    def name(self) -> str | None:
        return self.prop("name")


class Contact(CrmObject):
    @property
    def full_name(self) -> str | None:
        """Family name first, as Japanese business documents write it."""
        parts = [p for p in (self.prop("lastname"), self.prop("firstname")) if p]
        return " ".join(parts) if parts else None

    @property
    def email(self) -> str | None:
        return self.prop("email")


class DealBundle(_HubSpotModel):
    """A deal with everything an invoice needs: its line items, primary company and primary contact."""

    portal_id: int = Field(default=0, ge=0, alias="portalId")
    deal: Deal
    line_items: list[LineItem] = Field(default_factory=list, alias="lineItems")
    company: Company | None = None
    contact: Contact | None = None
    contact_id: str | None = Field(
        default=None, alias="contactId", description="set when the contact was not read"
    )
    line_items_unread: int = Field(
        default=0,
        ge=0,
        alias="lineItemsUnread",
        description="how many line items the deal has when there were too many to read (then none are)",
    )


class PipelineStage(_HubSpotModel):
    id: str
    label: str
    display_order: int = Field(default=0, alias="displayOrder")
    metadata: dict[str, str] = Field(default_factory=dict)
    archived: bool = False

    @property
    def is_closed(self) -> bool:
        return self.metadata.get("isClosed", "").lower() == "true"

    @property
    def probability(self) -> float | None:
        try:
            return float(self.metadata["probability"])
        except (KeyError, ValueError):
            return None

    @property
    def is_won_by_metadata(self) -> bool:
        """HubSpot marks a won stage with ``isClosed`` = true and ``probability`` = 1.0."""
        return self.is_closed and self.probability == 1.0


class Pipeline(_HubSpotModel):
    id: str
    label: str
    display_order: int = Field(default=0, alias="displayOrder")
    stages: list[PipelineStage] = Field(default_factory=list)
    archived: bool = False


EpochMillis = Annotated[int, Strict(), Field(ge=0, le=MAX_ID)]  # a JSON number: no bool, no "12"


class WebhookEvent(_HubSpotModel):
    """One event of an app webhook delivery (HubSpot POSTs a JSON array of these)."""

    event_id: HubSpotId = Field(alias="eventId")
    subscription_id: HubSpotId = Field(alias="subscriptionId")
    portal_id: HubSpotId = Field(alias="portalId")
    app_id: HubSpotId | None = Field(default=None, alias="appId")
    occurred_at: EpochMillis = Field(alias="occurredAt", description="epoch milliseconds")
    subscription_type: str = Field(alias="subscriptionType", max_length=100)
    attempt_number: int = Field(default=0, alias="attemptNumber", ge=0, le=1000)
    object_id: HubSpotId = Field(alias="objectId")
    object_type_id: str | None = Field(default=None, alias="objectTypeId")
    property_name: str | None = Field(default=None, alias="propertyName")
    property_value: str | None = Field(default=None, alias="propertyValue")
    change_source: str | None = Field(default=None, alias="changeSource")
    source_id: str | None = Field(default=None, alias="sourceId")

    @property
    def is_deal_stage_change(self) -> bool:
        if self.property_name != "dealstage":
            return False
        if self.subscription_type == "deal.propertyChange":
            return True
        return self.subscription_type == "object.propertyChange" and self.object_type_id == "0-3"


MAX_EVENTS_PER_BATCH = 1000
#: the fields ``PATCH /automation/v4/actions/{appId}/{definitionId}`` accepts (``PublicActionDefinitionPatch``)
ACTION_PATCH_FIELDS = frozenset(
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


@cache
def _batch_adapter() -> TypeAdapter[list[WebhookEvent]]:
    return TypeAdapter(Annotated[list[WebhookEvent], Field(min_length=1, max_length=MAX_EVENTS_PER_BATCH)])


def parse_webhook_batch(body: bytes | str | list[Any]) -> list[WebhookEvent]:
    """The events of one webhook delivery (a JSON array); raises pydantic's ``ValidationError`` otherwise."""
    adapter = _batch_adapter()
    if isinstance(body, bytes | str):
        return adapter.validate_json(body)
    return adapter.validate_python(body)


class ActionOrigin(_HubSpotModel):
    portal_id: HubSpotId = Field(alias="portalId")
    action_definition_id: int | None = Field(default=None, alias="actionDefinitionId")
    action_definition_version: int | None = Field(default=None, alias="actionDefinitionVersion")
    action_execution_index_identifier: dict[str, Any] | None = Field(
        default=None, alias="actionExecutionIndexIdentifier"
    )


class ActionObject(_HubSpotModel):
    object_id: HubSpotId = Field(alias="objectId")
    object_type: Literal["DEAL", "COMPANY", "CONTACT", "TICKET"] | str = Field(alias="objectType")


class ActionContext(_HubSpotModel):
    source: str | None = None
    workflow_id: int | None = Field(default=None, alias="workflowId")


class WorkflowActionRequest(_HubSpotModel):
    """What HubSpot POSTs to a custom workflow action's ``actionUrl``."""

    callback_id: str = Field(alias="callbackId", min_length=1)
    origin: ActionOrigin
    context: ActionContext | None = None
    object: ActionObject
    input_fields: dict[str, Any] = Field(default_factory=dict, alias="inputFields")


class CustomCodeRequest(_HubSpotModel):
    """What the custom-code snippets (``workflows/custom_code``) POST, signed with the shared secret."""

    portal_id: HubSpotId = Field(alias="portalId")
    deal_id: HubSpotIdText = Field(alias="dealId")


class AccountDetails(_HubSpotModel):
    """``GET /account-info/v3/details``: the HubSpot account (portal) the access token belongs to."""

    portal_id: HubSpotId = Field(alias="portalId")
    time_zone: str | None = Field(default=None, alias="timeZone")
    company_currency: str | None = Field(default=None, alias="companyCurrency")
    ui_domain: str | None = Field(default=None, alias="uiDomain")
    data_hosting_location: str | None = Field(default=None, alias="dataHostingLocation")
    account_type: str | None = Field(default=None, alias="accountType")


class WebhookSettings(_HubSpotModel):
    """``GET /webhooks/v3/{appId}/settings``: where HubSpot sends the app's webhooks."""

    target_url: str = Field(alias="targetUrl")


class WebhookSubscription(_HubSpotModel):
    """One entry of ``GET /webhooks/v3/{appId}/subscriptions``: an event type (and, for a property change, the
    property) HubSpot sends to the app while ``active``."""

    id: str
    event_type: str = Field(alias="eventType")
    property_name: str | None = Field(default=None, alias="propertyName")
    active: bool
