"""Typed models at the edges: what is read from HubSpot and what is sent to and read from freee.

Field names follow the vendors' own (HubSpot's camelCase JSON, freee's snake_case) so a payload can be checked
against the documentation by eye.
"""

from sdk.models.freee import (
    AccountingDeal,
    DealPayment,
    FreeeErrorBody,
    Invoice,
    InvoiceLine,
    InvoiceLineRequest,
    InvoiceRequest,
    Partner,
    PartnerAddress,
    PartnerCreateRequest,
)
from sdk.models.hubspot import (
    Company,
    Contact,
    CrmObject,
    Deal,
    DealBundle,
    LineItem,
    Pipeline,
    PipelineStage,
    WebhookEvent,
    WorkflowActionRequest,
    parse_webhook_batch,
)

__all__ = [
    "AccountingDeal",
    "Company",
    "Contact",
    "CrmObject",
    "Deal",
    "DealBundle",
    "DealPayment",
    "FreeeErrorBody",
    "Invoice",
    "InvoiceLine",
    "InvoiceLineRequest",
    "InvoiceRequest",
    "LineItem",
    "Partner",
    "PartnerAddress",
    "PartnerCreateRequest",
    "Pipeline",
    "PipelineStage",
    "WebhookEvent",
    "WorkflowActionRequest",
    "parse_webhook_batch",
]
