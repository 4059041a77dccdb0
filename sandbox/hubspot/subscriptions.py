"""The app's webhook configuration as HubSpot's webhooks API v3 holds it (``/webhooks/v3/{appId}/...``,
authenticated with the developer account's API key): the settings (target URL, throttling) and the
subscriptions (event type, property, active).

A fresh sandbox is subscribed to ``deal.propertyChange`` on ``dealstage`` (active), the subscription this project
needs: a stage change emits an event only while an active subscription to it exists. The target URL is where the
dispatcher delivers (:meth:`sandbox.hubspot.HubSpotSandbox.set_webhook_target`); these records keep what the
API answers about it (throttling, when it was set).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sandbox.hubspot.errors import HubSpotApiError, _missing
from sandbox.hubspot.facts import DEAL_STAGE_SUBSCRIPTION_ID, _iso
from sdk.clock import Clock

#: the event types the official client's models accept that this sandbox can be subscribed to
EVENT_TYPES = frozenset(
    {
        f"{kind}.{event}"
        for kind in ("contact", "company", "deal", "ticket", "product", "line_item")
        for event in ("propertyChange", "creation", "deletion", "merge", "restore")
    }
)
_SUBSCRIPTION_FIELDS = frozenset({"eventType", "propertyName", "active", "objectTypeId"})
_SETTINGS_FIELDS = frozenset({"targetUrl", "throttling"})
DEFAULT_MAX_CONCURRENT = 10


class WebhookConfig:
    """One app's webhook settings (but the URL, which the dispatcher keeps) and subscriptions. The caller holds
    the state's lock."""

    def __init__(self, clock: Clock, app_id: int) -> None:
        self.clock = clock
        self.app_id = app_id
        now = _iso(clock.now())
        self.max_concurrent = DEFAULT_MAX_CONCURRENT
        self.settings_created_at = now
        self.settings_updated_at = now
        self.subscriptions: dict[str, dict[str, Any]] = {
            str(DEAL_STAGE_SUBSCRIPTION_ID): {
                "id": str(DEAL_STAGE_SUBSCRIPTION_ID),
                "eventType": "deal.propertyChange",
                "propertyName": "dealstage",
                "active": True,
                "createdAt": now,
                "updatedAt": now,
            }
        }
        self._next_id = DEAL_STAGE_SUBSCRIPTION_ID + 1

    def check_app(self, app_id: int) -> None:
        if app_id != self.app_id:
            raise _missing(f"App {app_id} was not found in this developer account.", appId=str(app_id))

    # -- settings ------------------------------------------------------------------------------------------

    def settings_json(self, target_url: str | None) -> dict[str, Any]:
        """``GET /webhooks/v3/{appId}/settings``; 404 while no target URL is set."""
        if target_url is None:
            raise _missing(f"No webhook settings exist for app {self.app_id}.", appId=str(self.app_id))
        return {
            "targetUrl": target_url,
            "throttling": {"maxConcurrentRequests": self.max_concurrent},
            "createdAt": self.settings_created_at,
            "updatedAt": self.settings_updated_at,
        }

    def change_settings(self, body: Mapping[str, Any], had_target: bool) -> str:
        """``PUT /webhooks/v3/{appId}/settings``: validates, records the throttling, returns the target URL."""
        unknown = sorted(k for k in body if k not in _SETTINGS_FIELDS)
        problems = [f"Unrecognized field {k!r}" for k in unknown]
        url = body.get("targetUrl")
        if not isinstance(url, str) or not url.startswith(("https://", "http://")):
            problems.append("targetUrl is required: an absolute https:// URL")
            url = ""
        throttling = body.get("throttling")
        concurrent = throttling.get("maxConcurrentRequests") if isinstance(throttling, dict) else None
        if not isinstance(concurrent, int) or isinstance(concurrent, bool) or concurrent < 1:
            problems.append("throttling.maxConcurrentRequests is required (a positive integer)")
            concurrent = 0
        if problems:
            raise HubSpotApiError(400, "Invalid input JSON: " + "; ".join(problems), "VALIDATION_ERROR")
        now = _iso(self.clock.now())
        if not had_target:
            self.settings_created_at = now
        self.settings_updated_at = now
        self.max_concurrent = concurrent
        return url

    # -- subscriptions -------------------------------------------------------------------------------------

    def list_subscriptions(self) -> list[dict[str, Any]]:
        return [dict(s) for s in self.subscriptions.values()]

    def subscription(self, subscription_id: str) -> dict[str, Any]:
        found = self.subscriptions.get(subscription_id)
        if found is None:
            raise _missing(f"Subscription {subscription_id} was not found.", subscriptionId=subscription_id)
        return found

    def create_subscription(self, body: Mapping[str, Any]) -> dict[str, Any]:
        unknown = sorted(k for k in body if k not in _SUBSCRIPTION_FIELDS)
        problems = [f"Unrecognized field {k!r}" for k in unknown]
        event_type = body.get("eventType")
        if event_type not in EVENT_TYPES:
            problems.append(f"eventType {event_type!r} is not a supported event type")
        name = body.get("propertyName")
        needs_name = isinstance(event_type, str) and event_type.endswith(".propertyChange")
        if needs_name and (not isinstance(name, str) or not name):
            problems.append("propertyName is required for a propertyChange subscription")
        if problems:
            raise HubSpotApiError(400, "Invalid input JSON: " + "; ".join(problems), "VALIDATION_ERROR")
        now = _iso(self.clock.now())
        subscription_id = str(self._next_id)
        self._next_id += 1
        created: dict[str, Any] = {
            "id": subscription_id,
            "eventType": event_type,
            "active": bool(body.get("active", False)),
            "createdAt": now,
            "updatedAt": now,
        }
        if name:
            created["propertyName"] = name
        self.subscriptions[subscription_id] = created
        return dict(created)

    def patch_subscription(self, subscription_id: str, body: Mapping[str, Any]) -> dict[str, Any]:
        found = self.subscription(subscription_id)
        active = body.get("active")
        if set(body) - {"active"} or not isinstance(active, bool):
            raise HubSpotApiError(400, "Invalid input JSON: only active (true or false)", "VALIDATION_ERROR")
        found["active"] = active
        found["updatedAt"] = _iso(self.clock.now())
        return dict(found)

    def delete_subscription(self, subscription_id: str) -> None:
        self.subscription(subscription_id)
        del self.subscriptions[subscription_id]

    def active_subscription(self, event_type: str, property_name: str | None) -> dict[str, Any] | None:
        """The active subscription to ``event_type`` (on ``property_name``) that an event is emitted under."""
        return next(
            (
                s
                for s in self.subscriptions.values()
                if s["active"] and s["eventType"] == event_type and s.get("propertyName") == property_name
            ),
            None,
        )
