"""The HubSpot client package: :class:`HubSpotClient` (:mod:`sdk.hubspot.client`), its typed errors
(:mod:`sdk.hubspot.errors`), a public app's refreshed OAuth token (:mod:`sdk.hubspot.tokens`), call counting and
retries (:mod:`sdk.hubspot.counting`) and the conversions between the official client's objects and this package's
(:mod:`sdk.hubspot.convert`). The models stay in :mod:`sdk.models.hubspot`.

The errors load with the package; the rest loads on first use of its name here, so a handler that only needs an
error does not pay for urllib3 and the client (cold start).
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

from sdk.hubspot.errors import (
    HubSpotAuthError,
    HubSpotDisconnected,
    HubSpotNotFound,
    HubSpotRequestError,
    HubSpotRetryable,
    HubSpotTokenRefused,
    translate_error,
)

if TYPE_CHECKING:
    from sdk.hubspot.client import BatchUpdateResult, HubSpotClient
    from sdk.hubspot.convert import (
        COMPANY_PROPERTIES,
        CONTACT_PROPERTIES,
        DEAL_PROPERTIES,
        LINE_ITEM_PROPERTIES,
        owned_properties,
    )
    from sdk.hubspot.counting import CallCounter, ClockRetry, build_retry

#: the module of each name loaded on first use
_LOADED_LATER = {
    "BatchUpdateResult": "client",
    "HubSpotClient": "client",
    "CallCounter": "counting",
    "ClockRetry": "counting",
    "build_retry": "counting",
    "COMPANY_PROPERTIES": "convert",
    "CONTACT_PROPERTIES": "convert",
    "DEAL_PROPERTIES": "convert",
    "LINE_ITEM_PROPERTIES": "convert",
    "owned_properties": "convert",
}


def __getattr__(name: str) -> Any:
    module = _LOADED_LATER.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(import_module(f"sdk.hubspot.{module}"), name)


__all__ = [
    "COMPANY_PROPERTIES",
    "CONTACT_PROPERTIES",
    "DEAL_PROPERTIES",
    "LINE_ITEM_PROPERTIES",
    "BatchUpdateResult",
    "CallCounter",
    "ClockRetry",
    "HubSpotAuthError",
    "HubSpotClient",
    "HubSpotDisconnected",
    "HubSpotNotFound",
    "HubSpotRequestError",
    "HubSpotRetryable",
    "HubSpotTokenRefused",
    "build_retry",
    "owned_properties",
    "translate_error",
]
