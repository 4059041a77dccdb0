"""Typed models at the edges: what is read from HubSpot and what is sent to and read from freee.

Field names follow the vendors' own (HubSpot's camelCase JSON, freee's snake_case) so a payload can be checked
against the documentation by eye.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
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

__all__ = [  # freee's (sdk/models/freee.py)
    "AccountingDeal",
    "DealPayment",
    "FreeeErrorBody",
    "Invoice",
    "InvoiceLine",
    "InvoiceLineRequest",
    "InvoiceRequest",
    "Partner",
    "PartnerAddress",
    "PartnerCreateRequest",
]
_FREEE = frozenset(__all__)
__all__ += [  # HubSpot's (sdk/models/hubspot.py)
    "Company",
    "Contact",
    "CrmObject",
    "Deal",
    "DealBundle",
    "LineItem",
    "Pipeline",
    "PipelineStage",
    "WebhookEvent",
    "WorkflowActionRequest",
    "parse_webhook_batch",
]


def __getattr__(name: str) -> Any:
    """Each side's models load on first use: a webhook handler needs HubSpot's, not freee's (cold start)."""
    if name not in __all__:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    module = import_module("sdk.models.freee" if name in _FREEE else "sdk.models.hubspot")
    return getattr(module, name)
