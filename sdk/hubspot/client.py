"""The project's HubSpot client: a thin, typed wrapper over the official ``hubspot-api-client``.

Every call goes through :meth:`HubSpotClient._call`: it counts the call (:class:`~sdk.hubspot.counting.CallCounter`,
for benchmarks' "calls per deal"), passes the time-out, and maps the official client's ``ApiException`` once to
this package's errors (:func:`sdk.hubspot.errors.translate_error`). The access token is handed to the official
client and never appears in a message or a log. Transient answers are first retried inside urllib3
(:func:`sdk.hubspot.counting.build_retry`), waiting on the injected :class:`~sdk.clock.Clock`.

A deal bundle costs at most four calls for up to 100 line items: the deal with its associations, one batch read
of the line items, the primary company, the first contact. Property names come from ``settings.properties``
(the project's own ``freee_*`` ones) and :mod:`sdk.hubspot.convert` (HubSpot's standard ones).

The ``hubspot`` package is imported when a client is built, not when this module is.
"""

from __future__ import annotations

import importlib
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final, Self

from sdk.clock import Clock, SystemClock
from sdk.hubspot.convert import (
    COMPANY_PROPERTIES,
    CONTACT_PROPERTIES,
    DEAL_PROPERTIES,
    LINE_ITEM_PROPERTIES,
    PropertyValue,
    action_model,
    as_text,
    chunks,
    crm_object,
    owned_properties,
    property_create,
)
from sdk.hubspot.counting import RETRY_COUNTER_KEY, CallCounter, build_retry
from sdk.hubspot.errors import (
    HubSpotAuthError,
    HubSpotNotFound,
    HubSpotRequestError,
    error_details,
    translate_error,
)
from sdk.models.hubspot import (
    AccountDetails,
    Company,
    Contact,
    Deal,
    DealBundle,
    LineItem,
    Pipeline,
    WebhookSettings,
    WebhookSubscription,
)
from sdk.pipelines import won_stages

if TYPE_CHECKING:
    from urllib3.util.retry import Retry

    from sdk.models.hubspot import CrmObject
    from sdk.settings import Settings

DEAL_COMPANY_PRIMARY_TYPE_ID: Final = 5
#: the v3 object answer names the primary deal → company association this way (typeId 5)
_V3_PRIMARY_COMPANY: Final = "deal_to_company"


@dataclass(frozen=True, slots=True)
class BatchUpdateResult:
    """Ids written, and ids HubSpot did not find (deleted or merged records)."""

    updated: tuple[str, ...]
    not_found: tuple[str, ...]


class HubSpotClient:
    """The calls this package makes to HubSpot, through the official client."""

    def __init__(
        self,
        settings: Settings,
        *,
        metrics: CallCounter | None = None,
        clock: Clock | None = None,
        pipeline_ttl: float = 300.0,
        timeout: tuple[float, float] = (5.0, 30.0),
        retry: Retry | None = None,
    ) -> None:
        settings.require("hubspot_access_token")
        token = settings.hubspot_access_token.get_secret_value() if settings.hubspot_access_token else ""
        from hubspot import HubSpot  # deferred: a heavy import, paid by whoever builds a client

        self.settings = settings
        self.metrics = metrics if metrics is not None else CallCounter()
        self.clock = clock if clock is not None else SystemClock()
        self.pipeline_ttl = pipeline_ttl
        self.timeout = timeout
        self.retry = (
            retry
            if retry is not None
            else build_retry(self.clock, on_retry=lambda: self.metrics.increment(RETRY_COUNTER_KEY))
        )
        self._hubspot = HubSpot(access_token=token, host=settings.hubspot_api_base, retry=self.retry)
        self._lock = threading.Lock()
        self._apis: dict[str, Any] = {}
        self._pipelines: tuple[float, list[Pipeline]] | None = None
        names = settings.properties
        self.deal_properties = (*DEAL_PROPERTIES, *owned_properties(names, "deal_"))
        self.line_item_properties = (*LINE_ITEM_PROPERTIES, *owned_properties(names, "line_item_"))
        self.company_properties = (*COMPANY_PROPERTIES, *owned_properties(names, "company_"))
        self.contact_properties = CONTACT_PROPERTIES

    @classmethod
    def from_settings(cls, settings: Settings, *, metrics: CallCounter | None = None, **options: Any) -> Self:
        """A client for ``settings.hubspot_api_base`` with ``settings.hubspot_access_token`` (required)."""
        return cls(settings, metrics=metrics, **options)

    def __repr__(self) -> str:  # no token here, ever
        return f"HubSpotClient(api_base={self.settings.hubspot_api_base!r})"

    # -- plumbing ----------------------------------------------------------------------------------------------

    def _api(self, path: str) -> Any:
        """An API object of the official client (``crm.deals.basic_api``), built once: each owns a pool."""
        with self._lock:
            api = self._apis.get(path)
            if api is None:
                api = self._hubspot
                for part in path.split("."):
                    api = getattr(api, part)
                self._apis[path] = api
            return api

    def _call(self, operation: str, method: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        self.metrics.increment(operation)
        try:
            return method(*args, _request_timeout=self.timeout, **kwargs)
        except Exception as exc:
            error = translate_error(exc, operation)
            if error is None:
                raise
            raise error from exc

    # -- reading a deal ----------------------------------------------------------------------------------------

    def read_deal_bundle(
        self,
        portal_id: int,
        deal_id: str | int,
        *,
        with_contact: bool = True,
        max_line_items: int | None = None,
    ) -> DealBundle:
        """The deal, its line items, its primary company (else the first) and its first contact.

        Calls: the deal with its associations (1), the line items in batches of 100 (1 up to 100 items), the
        company (1) and the contact (1) — 4 for a usual deal, fewer when something is missing. With
        ``with_contact=False`` the contact is not read (3 calls); its id is kept in ``contact_id`` for
        :meth:`read_contact`. A deal with more line items than ``max_line_items`` has none read: only their
        number (``line_items_unread``), enough to refuse it without a hundred batch reads."""
        raw = self._call(
            "deals.get",
            self._api("crm.deals.basic_api").get_by_id,
            str(deal_id),
            properties=list(self.deal_properties),
            associations=["companies", "contacts", "line_items"],
            archived=False,
        )
        deal = crm_object(Deal, raw)
        companies = self._associated(raw, deal.id, "companies")
        contacts = self._associated(raw, deal.id, "contacts")
        item_ids = [i for i, _ in self._associated(raw, deal.id, "line_items")]
        unread = 0
        if max_line_items is not None and len(item_ids) > max_line_items:  # more than an invoice holds
            unread, item_ids = len(item_ids), []
        primary = next((i for i, types in companies if DEAL_COMPANY_PRIMARY_TYPE_ID in types), None)
        company_id = primary or (companies[0][0] if companies else None)
        company = self._read_one("companies", company_id, self.company_properties) if company_id else None
        contact_id = contacts[0][0] if contacts else None
        contact = self.read_contact(contact_id) if contact_id and with_contact else None
        return DealBundle.model_validate(
            {
                "portalId": portal_id,
                "deal": deal,
                "lineItems": self._read_line_items(item_ids),
                "company": company,
                "contact": contact,
                "contactId": contact_id,
                "lineItemsUnread": unread,
            }
        )

    def read_contact(self, contact_id: str) -> Contact | None:
        """One contact (1 call); None when it no longer exists."""
        found = self._read_one("contacts", contact_id, self.contact_properties)
        return found if isinstance(found, Contact) else None

    def _associated(self, raw: Any, deal_id: str, to_type: str) -> list[tuple[str, frozenset[int]]]:
        """``(id, type ids)`` from the v3 answer, in HubSpot's order; follows v4 paging when the answer pages."""
        found = raw.associations or {}
        collection = found.get(to_type) or found.get(to_type.replace("_", " "))
        if collection is None:
            return []
        if collection.paging is not None and collection.paging.next is not None:
            return self._associations_v4(deal_id, to_type)
        merged: dict[str, set[int]] = {}
        for item in collection.results or []:
            types = merged.setdefault(str(item.id), set())
            if item.type == _V3_PRIMARY_COMPANY:
                types.add(DEAL_COMPANY_PRIMARY_TYPE_ID)
        return [(i, frozenset(t)) for i, t in merged.items()]

    def _associations_v4(self, deal_id: str, to_type: str) -> list[tuple[str, frozenset[int]]]:
        out: list[tuple[str, frozenset[int]]] = []
        after: str | None = None
        while True:
            kwargs: dict[str, Any] = {"limit": 500}
            if after is not None:
                kwargs["after"] = after
            page = self._call(
                "associations.get_page",
                self._api("crm.associations.v4.basic_api").get_page,
                "deals",
                deal_id,
                to_type,
                **kwargs,
            )
            out += [
                (str(r.to_object_id), frozenset(int(t.type_id) for t in r.association_types or []))
                for r in page.results or []
            ]
            following = page.paging.next if page.paging is not None else None
            if following is None or not following.after:
                return out
            after = str(following.after)

    def _read_line_items(self, ids: Sequence[str]) -> list[LineItem]:
        from hubspot.crm.line_items import BatchReadInputSimplePublicObjectId, SimplePublicObjectId

        by_id: dict[str, LineItem] = {}
        for chunk in chunks(ids):
            answer = self._call(
                "line_items.batch_read",
                self._api("crm.line_items.batch_api").read,
                BatchReadInputSimplePublicObjectId(
                    inputs=[SimplePublicObjectId(id=i) for i in chunk],
                    properties=list(self.line_item_properties),
                    properties_with_history=[],
                ),
                archived=False,
            )
            for result in answer.results or []:
                by_id[str(result.id)] = crm_object(LineItem, result)
        return [by_id[i] for i in ids if i in by_id]  # HubSpot's batch order is not the association order

    def _read_one(self, object_type: str, object_id: str, properties: Sequence[str]) -> Any:
        """A company or contact; None when it no longer exists (a stale association is not a failure)."""
        model: type[CrmObject] = Company if object_type == "companies" else Contact
        try:
            raw = self._call(
                f"{object_type}.get",
                self._api(f"crm.{object_type}.basic_api").get_by_id,
                object_id,
                properties=list(properties),
                archived=False,
            )
        except HubSpotNotFound:
            return None
        return crm_object(model, raw)

    # -- pipelines ---------------------------------------------------------------------------------------------

    def read_pipelines(self, *, refresh: bool = False) -> list[Pipeline]:
        """The deal pipelines, cached for ``pipeline_ttl`` seconds of the client's clock."""
        with self._lock:
            cached = self._pipelines
        if cached is not None and not refresh and self.clock.monotonic() - cached[0] < self.pipeline_ttl:
            return list(cached[1])
        answer = self._call("pipelines.get_all", self._api("crm.pipelines.pipelines_api").get_all, "deals")
        pipelines = [
            Pipeline.model_validate(
                {
                    "id": str(p.id),
                    "label": str(p.label),
                    "displayOrder": int(p.display_order or 0),
                    "archived": bool(p.archived),
                    "stages": [
                        {
                            "id": str(s.id),
                            "label": str(s.label),
                            "displayOrder": int(s.display_order or 0),
                            "metadata": {str(k): str(v) for k, v in (s.metadata or {}).items()},
                            "archived": bool(s.archived),
                        }
                        for s in p.stages or []
                    ],
                }
            )
            for p in answer.results or []
        ]
        with self._lock:
            self._pipelines = (self.clock.monotonic(), pipelines)
        return list(pipelines)

    def won_stages(self) -> frozenset[tuple[str, str]]:
        """``(pipeline id, stage id)`` of every won stage, by metadata and the ``won_stages`` settings."""
        return won_stages(self.read_pipelines(), self.settings.won_stages)

    # -- writing -----------------------------------------------------------------------------------------------

    def update_deals(self, updates: Mapping[str, Mapping[str, PropertyValue]]) -> BatchUpdateResult:
        """Batch update deals, 100 per call; values are sent as strings (None clears a property)."""
        return self._batch_update("deals", updates)

    def update_companies(self, updates: Mapping[str, Mapping[str, PropertyValue]]) -> BatchUpdateResult:
        """Batch update companies, 100 per call; values are sent as strings (None clears a property)."""
        return self._batch_update("companies", updates)

    def _batch_update(
        self, object_type: str, updates: Mapping[str, Mapping[str, PropertyValue]]
    ) -> BatchUpdateResult:
        module = importlib.import_module(f"hubspot.crm.{object_type}")
        updated: list[str] = []
        missing: list[str] = []
        items = [(str(k), v) for k, v in updates.items() if v]
        for chunk in chunks(items):
            answer = self._call(
                f"{object_type}.batch_update",
                self._api(f"crm.{object_type}.batch_api").update,
                module.BatchInputSimplePublicObjectBatchInput(
                    inputs=[
                        module.SimplePublicObjectBatchInput(
                            id=object_id, properties={k: as_text(v) for k, v in values.items()}
                        )
                        for object_id, values in chunk
                    ]
                ),
            )
            updated += [str(r.id) for r in answer.results or []]
            for error in getattr(answer, "errors", None) or []:
                missing += [str(i) for i in (error.context or {}).get("ids", [])]
        return BatchUpdateResult(tuple(updated), tuple(missing))

    # -- properties --------------------------------------------------------------------------------------------

    def read_properties(self, object_type: str) -> dict[str, dict[str, Any]]:
        """The object's live properties by name: ``type``, ``fieldType``, ``groupName`` and option values."""
        api = self._api("crm.properties.core_api")
        answer = self._call("properties.get_all", api.get_all, object_type, archived=False)
        return {
            str(p.name): {
                "type": str(p.type),
                "fieldType": str(p.field_type),
                "groupName": str(p.group_name),
                "options": [str(o.value) for o in p.options or []],
            }
            for p in answer.results or []
        }

    def read_property_groups(self, object_type: str) -> list[str]:
        """The names of the object's property groups."""
        api = self._api("crm.properties.groups_api")
        answer = self._call("property_groups.get_all", api.get_all, object_type)
        return [str(g.name) for g in answer.results or []]

    def ensure_property_group(self, object_type: str, name: str, label: str) -> bool:
        """Create the property group unless it exists. True when it was created."""
        from hubspot.crm.properties import PropertyGroupCreate

        api = self._api("crm.properties.groups_api")
        existing = self._call("property_groups.get_all", api.get_all, object_type)
        if any(str(g.name) == name for g in existing.results or []):
            return False
        try:
            self._call(
                "property_groups.create",
                api.create,
                object_type,
                PropertyGroupCreate(name=name, label=label, display_order=-1),
            )
        except HubSpotRequestError as exc:
            if exc.status == 409:  # created meanwhile (or by a retried request)
                return False
            raise
        return True

    def ensure_properties(self, object_type: str, definitions: Iterable[Mapping[str, Any]]) -> list[str]:
        """Create the properties that do not exist yet; existing ones are left untouched. Returns names created.

        A definition is HubSpot's property JSON (``name``, ``label``, ``type``, ``fieldType``, ``groupName``,
        ``description``, ``options`` …), camelCase or snake_case."""
        api = self._api("crm.properties.core_api")
        answer = self._call("properties.get_all", api.get_all, object_type, archived=False)
        existing = {str(p.name) for p in answer.results or []}
        created: list[str] = []
        for definition in definitions:
            spec = property_create(definition)
            if spec.name in existing:
                continue
            try:
                self._call("properties.create", api.create, object_type, spec)
            except HubSpotRequestError as exc:
                if exc.status == 409:
                    continue
                raise
            existing.add(spec.name)
            created.append(str(spec.name))
        return created

    # -- the account ------------------------------------------------------------------------------------------

    def read_account_details(self) -> AccountDetails:
        """``GET /account-info/v3/details``: the portal (and its settings) the access token belongs to, for the
        tenant check of ``doctor`` and ``setup hubspot``. The official client has no API object for it, so the
        call goes through one it has (same host, token, retry, time-out and error mapping)."""
        api = self._api("crm.pipelines.pipelines_api").api_client
        answer = self._call(
            "account.details",
            api.call_api,
            "/account-info/v3/details",
            "GET",
            header_params={"Accept": "application/json"},
            response_types_map={200: "object"},
            auth_settings=["oauth2"],
            _return_http_data_only=True,
        )
        return AccountDetails.model_validate(answer)

    # -- workflow actions --------------------------------------------------------------------------------------

    def complete_callback(self, callback_id: str, output_fields: Mapping[str, PropertyValue]) -> None:
        """Finish a workflow action that answered BLOCK (``hs_execution_state`` among ``output_fields``)."""
        from hubspot.automation.actions import CallbackCompletionRequest

        self._call(
            "callbacks.complete",
            self._api("automation.actions.callbacks_api").complete,
            callback_id,
            CallbackCompletionRequest(output_fields={k: as_text(v) for k, v in output_fields.items()}),
        )

    # -- workflow action definitions (the app's developer account) ---------------------------------------------

    @classmethod
    def for_developer_account(
        cls, settings: Settings, *, metrics: CallCounter | None = None, **options: Any
    ) -> Self:
        """A client for the app's custom workflow action definitions and webhook settings.

        HubSpot's v4 definition endpoints and the webhooks API v3 authenticate with the developer account's API
        key (``?hapikey=``, ``settings.hubspot_developer_api_key``, required), not with a portal's access token, so
        none is needed here; without one, a CRM call through this client is refused by HubSpot (401)."""
        from pydantic import SecretStr

        settings.require("hubspot_developer_api_key")
        token = settings.hubspot_access_token
        if token is None or not token.get_secret_value().strip():
            settings = settings.model_copy(
                update={"hubspot_access_token": SecretStr("no-portal-access-token")}
            )
        return cls(settings, metrics=metrics, **options)

    def list_action_definitions(self, app_id: int) -> list[dict[str, Any]]:
        """Every live definition of the app, as HubSpot's JSON (camelCase), following ``paging.next.after``.

        Each answer goes through the official client's models first: what it cannot read fails here."""
        api = self._developer_api("automation.actions.definitions_api")
        found: list[dict[str, Any]] = []
        after: str | None = None
        while True:
            kwargs: dict[str, Any] = {} if after is None else {"after": after}
            page = self._developer_call("action_definitions.get_page", api.get_page, app_id, **kwargs)
            found += [self._action_json(d) for d in page.results or []]
            following = page.paging.next if page.paging is not None else None
            if following is None or not following.after:
                return found
            after = str(following.after)

    def get_action_definition(self, app_id: int, definition_id: str) -> dict[str, Any]:
        """One definition (HubSpot's JSON); :class:`HubSpotNotFound` when the app has no such definition."""
        api = self._developer_api("automation.actions.definitions_api")
        answer = self._developer_call("action_definitions.get", api.get_by_id, str(definition_id), app_id)
        return self._action_json(answer)

    def create_action_definition(self, app_id: int, definition: Mapping[str, Any]) -> dict[str, Any]:
        """Create a definition from HubSpot's JSON; returns it as HubSpot stored it (with ``id``, ``revisionId``).

        A field the official client does not know, or a required one missing, is a ``ValueError`` before
        anything is sent. ``functions`` may be left out (none)."""
        body = action_model("PublicActionDefinitionEgg", {"functions": [], **definition})
        api = self._developer_api("automation.actions.definitions_api")
        return self._action_json(self._developer_call("action_definitions.create", api.create, app_id, body))

    def update_action_definition(
        self, app_id: int, definition_id: str, changes: Mapping[str, Any]
    ) -> dict[str, Any]:
        """PATCH the fields in ``changes`` (HubSpot's JSON; each replaced whole); returns the new revision."""
        body = action_model("PublicActionDefinitionPatch", changes)
        api = self._developer_api("automation.actions.definitions_api")
        answer = self._developer_call(
            "action_definitions.update", api.update, str(definition_id), app_id, body
        )
        return self._action_json(answer)

    # -- the app's webhooks (the app's developer account) ------------------------------------------------------

    def read_webhook_settings(self, app_id: int) -> WebhookSettings | None:
        """``GET /webhooks/v3/{appId}/settings`` (developer API key): where HubSpot sends the app's webhooks;
        None when the app has no target URL (HubSpot answers 404)."""
        api = self._developer_api("webhooks.settings_api")
        try:
            answer = self._developer_call("webhook_settings.get", api.get_all, app_id)
        except HubSpotNotFound:
            return None
        data = api.api_client.sanitize_for_serialization(answer)
        return WebhookSettings.model_validate(data) if data.get("targetUrl") else None

    def list_webhook_subscriptions(self, app_id: int) -> list[WebhookSubscription]:
        """``GET /webhooks/v3/{appId}/subscriptions`` (developer API key): every subscription of the app, active
        or paused; :class:`HubSpotNotFound` when the developer account has no such app."""
        api = self._developer_api("webhooks.subscriptions_api")
        answer = self._developer_call("webhook_subscriptions.get_all", api.get_all, app_id)
        data = api.api_client.sanitize_for_serialization(answer)
        return [WebhookSubscription.model_validate(s) for s in data.get("results") or []]

    def _developer_api(self, path: str) -> Any:
        """An API object of an official client keyed with the developer API key (built once, like ``_api``)."""
        self.settings.require("hubspot_developer_api_key")
        key = f"developer:{path}"
        with self._lock:
            api = self._apis.get(key)
            if api is None:
                from hubspot import HubSpot

                secret = self.settings.hubspot_developer_api_key
                api = HubSpot(
                    api_key=secret.get_secret_value() if secret else "",
                    host=self.settings.hubspot_api_base,
                    retry=self.retry,
                )
                for part in path.split("."):
                    api = getattr(api, part)
                self._apis[key] = api
            return api

    def _developer_call(self, operation: str, method: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """:meth:`_call`, with a refusal naming the developer API key rather than the access token."""
        try:
            return self._call(operation, method, *args, **kwargs)
        except HubSpotAuthError as exc:
            said = error_details(getattr(exc.__cause__, "body", None), "")[0]
            raise HubSpotAuthError(
                f"HubSpot {operation} → {exc.status}"
                + (f": {said}" if said else "")
                + ". Check HUBSPOT_DEVELOPER_API_KEY (the developer account that owns the app) and the app id. / "
                "開発者アカウントのAPIキーとアプリIDを確認してください。",
                status=exc.status,
                operation=operation,
            ) from exc

    def _action_json(self, model: Any) -> dict[str, Any]:
        """An official model as HubSpot's JSON (camelCase, unset fields left out), as the client would send it."""
        api = self._developer_api("automation.actions.definitions_api")
        return dict(api.api_client.sanitize_for_serialization(model))
