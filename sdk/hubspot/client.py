"""The project's HubSpot client: a thin, typed wrapper over the official ``hubspot-api-client``.

Every call goes through :meth:`HubSpotClient._call`: it counts the call (:class:`~sdk.hubspot.counting.CallCounter`,
for benchmarks' "calls per deal"), passes the time-out, and maps the official client's ``ApiException`` once to
this package's errors (:func:`sdk.hubspot.errors.translate_error`). The access token is handed to the official
client and never appears in a message or a log: a private app's static one at construction, a public app's before
each call from its refreshed token row (:mod:`sdk.hubspot.tokens`; a 401 refreshes it once and tries again).
Transient answers are first retried inside urllib3 (:func:`sdk.hubspot.counting.build_retry`), waiting on the
injected :class:`~sdk.clock.Clock`.

A deal bundle costs at most four calls for up to 100 line items: the deal with its associations, one batch read
of the line items, the primary company, the first contact. Property names come from ``settings.properties``
(the project's own ``freee_*`` ones) and :mod:`sdk.hubspot.convert` (HubSpot's standard ones).

The ``hubspot`` package is imported when a client is built, not when this module is.
"""

from __future__ import annotations

import importlib
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time
from typing import TYPE_CHECKING, Any, Final, Self

from sdk.clock import Clock, SystemClock
from sdk.errors import SettingsError
from sdk.hubspot.convert import (
    COMPANY_PROPERTIES,
    CONTACT_PROPERTIES,
    DEAL_PROPERTIES,
    LINE_ITEM_PROPERTIES,
    PropertyValue,
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
from sdk.models.hubspot_actions import (
    CallbackCompletionRequest,
    PublicActionDefinitionEgg,
    PublicActionDefinitionPatch,
    reference_body,
)
from sdk.pipelines import won_stages
from sdk.terms import TOKYO

if TYPE_CHECKING:
    from urllib3.util.retry import Retry

    from sdk.freee.tokens import TokenStore
    from sdk.hubspot.tokens import HubSpotTokens
    from sdk.models.hubspot import CrmObject
    from sdk.settings import Settings

DEAL_COMPANY_PRIMARY_TYPE_ID: Final = 5
SEARCH_PAGE_SIZE: Final = 200  # the search endpoints' largest page
MAX_IN_VALUES: Final = 100  # values one IN filter may hold
#: the v3 object answer names the primary deal → company association this way (typeId 5)
_V3_PRIMARY_COMPANY: Final = "deal_to_company"


@dataclass(frozen=True, slots=True)
class DealSnapshot:
    """A deal as a search returned it: its id and the properties asked for (``None`` where empty)."""

    id: str
    properties: Mapping[str, str | None]


@dataclass(frozen=True, slots=True)
class BatchUpdateResult:
    """Ids written (as HubSpot answered them), and ids not written because HubSpot does not have them: deleted
    (or merged) records it named, and any input its answer left out (a merged record may answer under the id
    of the record it was merged into: the write is not confirmed under the id asked for)."""

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
        token_store: TokenStore | None = None,
    ) -> None:
        error = settings.hubspot_auth_error()
        if error.problems:
            raise error
        from hubspot import HubSpot  # deferred: a heavy import, paid by whoever builds a client

        self.settings = settings
        self.metrics = metrics if metrics is not None else CallCounter()
        self.clock = clock if clock is not None else SystemClock()
        #: a public app's refreshed token (``HUBSPOT_REFRESH_TOKEN``); None for a private app's static token
        self.tokens: HubSpotTokens | None = None
        token: str | None = None
        if settings.hubspot_oauth:
            if token_store is None:
                raise ValueError("HUBSPOT_REFRESH_TOKEN is set: the client needs the store's hubspot_tokens")
            from sdk.hubspot.tokens import HubSpotTokens

            self.tokens = HubSpotTokens.from_settings(settings, token_store, self.clock)
        else:
            token = settings.hubspot_access_token.get_secret_value() if settings.hubspot_access_token else ""
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
        self._last_search: float | None = None
        names = settings.properties
        self.deal_properties = (*DEAL_PROPERTIES, *owned_properties(names, "deal_"))
        self.line_item_properties = (*LINE_ITEM_PROPERTIES, *owned_properties(names, "line_item_"))
        self.company_properties = (*COMPANY_PROPERTIES, *owned_properties(names, "company_"))
        self.contact_properties = CONTACT_PROPERTIES

    @classmethod
    def from_settings(cls, settings: Settings, *, metrics: CallCounter | None = None, **options: Any) -> Self:
        """A client for ``settings.hubspot_api_base`` with a private app's ``hubspot_access_token``, or a public
        app's ``hubspot_refresh_token`` (then ``token_store``, the store's ``hubspot_tokens``, is required)."""
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
        token = self._authorise(method)
        refreshed = False
        while True:
            self.metrics.increment(operation)
            try:
                return method(*args, _request_timeout=self.timeout, **kwargs)
            except Exception as exc:
                error = translate_error(exc, operation)
                if error is None:
                    raise
                expired = isinstance(error, HubSpotAuthError) and error.status == 401
                if token is None or refreshed or not expired:
                    raise error from exc
            # a public app's token refused before its time (revoked, or the clocks disagree): one refresh, unless
            # another worker already stored a newer token, and one more try
            token, refreshed = self._authorise(method, rejected=token), True

    def _authorise(self, method: Callable[..., Any], *, rejected: str | None = None) -> str | None:
        """Give the official API object ``method`` belongs to the current access token of a public app (refreshed
        when it nears its expiry, or when ``rejected`` is still the stored one); None for a private app's token,
        which the official client holds from the start."""
        if self.tokens is None:
            return None
        token = self.tokens.access_token(rejected=rejected)
        owner: Any = getattr(method, "__self__", None)
        api_client: Any = getattr(
            owner, "api_client", owner
        )  # an API object, or the ApiClient itself (call_api)
        api_client.configuration.access_token = token
        return token

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

    # -- searching ---------------------------------------------------------------------------------------------

    def search_deals_in_stages(
        self,
        stage_ids: Iterable[str],
        properties: Sequence[str],
        *,
        closed_since: date | None = None,
        page_size: int = SEARCH_PAGE_SIZE,
    ) -> Iterator[list[DealSnapshot]]:
        """Every deal now in one of ``stage_ids`` (closed on or after ``closed_since``, Tokyo, or with no close
        date), page by page, in id order, with ``properties``.

        Within HubSpot's search limits: 200 results a page, no more than 10,000 per query (so the pages are keyed
        by ``hs_object_id`` greater than the last one seen, each a new query, never ``after`` past 10,000), at
        most 5 filter groups of 6 filters, and the search endpoints' own rate (``hubspot_search_per_second``)
        kept by waiting between pages on the client's clock.
        """
        stages = sorted(set(stage_ids))
        if not stages:
            return
        if len(stages) > MAX_IN_VALUES:
            raise ValueError(f"more than {MAX_IN_VALUES} won stages cannot be searched in one filter")
        module = importlib.import_module("hubspot.crm.deals")
        wanted = sorted({*properties, "dealstage", "pipeline", "closedate", "dealname"})
        last = 0
        while True:
            base = [
                module.Filter(property_name="dealstage", operator="IN", values=stages),
                module.Filter(property_name="hs_object_id", operator="GT", value=str(last)),
            ]
            if closed_since is None:
                groups = [module.FilterGroup(filters=base)]
            else:
                since_ms = str(int(datetime.combine(closed_since, time(), TOKYO).timestamp() * 1000))
                groups = [
                    module.FilterGroup(
                        filters=[
                            *base,
                            module.Filter(property_name="closedate", operator="GTE", value=since_ms),
                        ]
                    ),
                    module.FilterGroup(
                        filters=[*base, module.Filter(property_name="closedate", operator="NOT_HAS_PROPERTY")]
                    ),
                ]
            self._search_pace()
            answer = self._call(
                "deals.search",
                self._api("crm.deals.search_api").do_search,
                public_object_search_request=module.PublicObjectSearchRequest(
                    filter_groups=groups,
                    sorts=["hs_object_id"],
                    properties=wanted,
                    limit=page_size,
                ),
            )
            page = [
                DealSnapshot(str(r.id), {str(k): v for k, v in (r.properties or {}).items()})
                for r in answer.results or []
            ]
            if page:
                yield page
            if len(page) < page_size:
                return
            last = max(int(d.id) for d in page)

    def _search_pace(self) -> None:
        """Wait until the last search call is at least 1/``hubspot_search_per_second`` seconds old."""
        gap = 1.0 / self.settings.hubspot_search_per_second
        with self._lock:
            wait = self._last_search + gap - self.clock.monotonic() if self._last_search is not None else 0.0
        if wait > 0:
            self.clock.sleep(wait)
        with self._lock:
            self._last_search = self.clock.monotonic()

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
        updated: list[str] = []
        missing: list[str] = []
        items = [(str(k), v) for k, v in updates.items() if v]
        for chunk in chunks(items):
            written, gone = self._update_chunk(object_type, chunk)
            updated += written
            missing += gone
        return BatchUpdateResult(tuple(updated), tuple(missing))

    def _update_chunk(
        self, object_type: str, chunk: Sequence[tuple[str, Mapping[str, PropertyValue]]]
    ) -> tuple[list[str], list[str]]:
        """One batch of up to 100: ``(ids written, ids HubSpot does not have)``.

        HubSpot answers an id it no longer has (a deleted or merged record) either among the batch's errors (207,
        the others written) or by refusing the whole batch (400/404 ``OBJECT_NOT_FOUND``, the ids in
        ``context.ids``, nothing written). The refused batch is sent once more without those ids, so one deleted
        deal never blocks the other 99; a second refusal is raised."""
        refused: list[str] = []
        try:
            answer = self._send_batch_update(object_type, chunk)
        except (HubSpotNotFound, HubSpotRequestError) as exc:
            named = set(exc.context.get("ids", [])) if exc.category == "OBJECT_NOT_FOUND" else set()
            refused = [object_id for object_id, _ in chunk if object_id in named]
            if not refused:
                raise
            chunk = [(object_id, values) for object_id, values in chunk if object_id not in named]
            if not chunk:
                return [], refused
            answer = self._send_batch_update(object_type, chunk)
        written = [str(r.id) for r in answer.results or []]
        confirmed = set(written)
        return written, refused + [object_id for object_id, _ in chunk if object_id not in confirmed]

    def _send_batch_update(
        self, object_type: str, chunk: Sequence[tuple[str, Mapping[str, PropertyValue]]]
    ) -> Any:
        module = importlib.import_module(f"hubspot.crm.{object_type}")
        return self._call(
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

    def add_property_options(
        self, object_type: str, name: str, options: Iterable[Mapping[str, Any]]
    ) -> list[str]:
        """Add to the enumeration property ``name`` the ``options`` (``value``, ``label``, ``description``) whose
        value it lacks, after the ones it has (kept as they are, a portal's own included). Returns the values
        added; nothing is written when none is missing, so a second call changes nothing."""
        from hubspot.crm.properties import OptionInput, PropertyUpdate

        api = self._api("crm.properties.core_api")
        current = self._call("properties.get", api.get_by_name, object_type, name)
        kept = [
            OptionInput(
                label=str(o.label),
                value=str(o.value),
                display_order=int(o.display_order if o.display_order is not None else index),
                hidden=bool(o.hidden),
                description=str(o.description or ""),
            )
            for index, o in enumerate(current.options or [])
        ]
        have = {o.value for o in kept}
        added = [o for o in options if str(o["value"]) not in have]
        if not added:
            return []
        new = [
            OptionInput(
                label=str(o.get("label", o["value"])),
                value=str(o["value"]),
                display_order=len(kept) + index,
                hidden=False,
                description=str(o.get("description", "")),
            )
            for index, o in enumerate(added)
        ]
        self._call("properties.update", api.update, object_type, name, PropertyUpdate(options=kept + new))
        return [str(o["value"]) for o in added]

    # -- the account ------------------------------------------------------------------------------------------

    def read_account_details(self) -> AccountDetails:
        """``GET /account-info/v3/details``: the portal (and its settings) the access token belongs to, for the
        tenant check of ``doctor`` and ``setup hubspot``. The official client has no API object for it."""
        api = self._api("crm.pipelines.pipelines_api").api_client
        answer = self._send("account.details", api, "GET", "/account-info/v3/details", auth="oauth2")
        return AccountDetails.model_validate(answer)

    def _send(
        self,
        operation: str,
        api_client: Any,
        method: str,
        path: str,
        *,
        auth: str,
        path_params: Mapping[str, str | int] | None = None,
        query: Sequence[tuple[str, str]] = (),
        body: Mapping[str, Any] | None = None,
    ) -> Any:
        """One call as HubSpot's current reference has it, through an official API client's HTTP layer (its
        host, credentials ``auth``, retry; this client's time-out, counting and error mapping): for what the
        official client has no method for, or only an older shape of, whose models would drop fields the
        reference requires. The answer is HubSpot's JSON as it came (None when it has no body)."""
        return self._call(
            operation,
            api_client.call_api,
            path,
            method,
            dict(path_params or {}),
            list(query),
            {"Accept": "application/json"},
            body=dict(body) if body is not None else None,
            auth_settings=[auth],
            response_types_map={200: "object", 201: "object"},
            _return_http_data_only=True,
        )

    # -- workflow actions --------------------------------------------------------------------------------------

    def complete_callback(
        self, callback_id: str, output_fields: Mapping[str, str], typed_outputs: Mapping[str, Any]
    ) -> None:
        """Finish a workflow action that answered BLOCK: ``outputFields`` (text, ``hs_execution_state`` among
        them) and ``typedOutputs`` (the outputs, each value of its field's type), both required by HubSpot's
        current reference (:mod:`sdk.models.hubspot_actions`); the official ``CallbackCompletionRequest`` has
        no ``typedOutputs``."""
        body = reference_body(
            CallbackCompletionRequest,
            {"outputFields": dict(output_fields), "typedOutputs": dict(typed_outputs)},
        )
        api = self._api("automation.actions.callbacks_api").api_client
        self._send(
            "callbacks.complete",
            api,
            "POST",
            "/automation/v4/actions/callbacks/{callbackId}/complete",
            auth="oauth2",
            path_params={"callbackId": callback_id},
            body=body,
        )

    # -- workflow action definitions (the app's developer account) ---------------------------------------------

    @classmethod
    def for_developer_account(
        cls, settings: Settings, *, metrics: CallCounter | None = None, **options: Any
    ) -> Self:
        """A client for the app's custom workflow action definitions (``/automation/v4/actions/{appId}``) and its
        webhook settings and subscriptions (``/webhooks/v3/{appId}/...``, the same credentials).

        HubSpot's current reference lists one way in for them: an OAuth access token of the developer account
        that owns the app, with the ``developers-read`` and ``developers-write`` scopes
        (``settings.hubspot_developer_access_token``, sent as ``Authorization: Bearer``). Without one, the
        developer API key (``?hapikey=``, ``settings.hubspot_developer_api_key``), which the reference listed
        until its revision of 2026-04-15 and ``hubspot-api-client`` 12 still sends. One of the two is required;
        a portal's access token is not (a CRM call through this client is refused by HubSpot without one)."""
        from pydantic import SecretStr

        problems = settings.missing_developer_credentials()
        if problems:
            raise SettingsError(problems)
        token = settings.hubspot_access_token
        update: dict[str, Any] = {"hubspot_refresh_token": None}  # no portal's token is used here
        if token is None or not token.get_secret_value().strip():
            update["hubspot_access_token"] = SecretStr("no-portal-access-token")
        return cls(settings.model_copy(update=update), metrics=metrics, **options)

    def list_action_definitions(self, app_id: int) -> list[dict[str, Any]]:
        """Every live definition of the app, as HubSpot's JSON, following ``paging.next.after``."""
        found: list[dict[str, Any]] = []
        after: str | None = None
        while True:
            page = self._developer_send(
                "action_definitions.get_page",
                "GET",
                "/automation/v4/actions/{appId}",
                path_params={"appId": app_id},
                query=[] if after is None else [("after", after)],
            )
            found += [dict(d) for d in page.get("results") or []]
            after = str(((page.get("paging") or {}).get("next") or {}).get("after") or "") or None
            if after is None:
                return found

    def get_action_definition(self, app_id: int, definition_id: str) -> dict[str, Any]:
        """One definition (HubSpot's JSON); :class:`HubSpotNotFound` when the app has no such definition."""
        return dict(
            self._developer_send(
                "action_definitions.get",
                "GET",
                "/automation/v4/actions/{appId}/{definitionId}",
                path_params={"appId": app_id, "definitionId": str(definition_id)},
            )
        )

    def create_action_definition(self, app_id: int, definition: Mapping[str, Any]) -> dict[str, Any]:
        """Create a definition from HubSpot's JSON; returns it as HubSpot stored it (with ``id``, ``revisionId``).

        Checked against HubSpot's current reference first (``PublicActionDefinitionEgg``): a required field
        missing or a field it does not know is a ``ValueError`` before anything is sent. ``functions`` may be
        left out (none)."""
        body = reference_body(PublicActionDefinitionEgg, {"functions": [], **definition})
        return dict(
            self._developer_send(
                "action_definitions.create",
                "POST",
                "/automation/v4/actions/{appId}",
                path_params={"appId": app_id},
                body=body,
            )
        )

    def update_action_definition(
        self, app_id: int, definition_id: str, changes: Mapping[str, Any]
    ) -> dict[str, Any]:
        """PATCH the fields in ``changes`` (HubSpot's JSON; each replaced whole, checked like a create's);
        returns the new revision."""
        body = reference_body(PublicActionDefinitionPatch, changes)
        return dict(
            self._developer_send(
                "action_definitions.update",
                "PATCH",
                "/automation/v4/actions/{appId}/{definitionId}",
                path_params={"appId": app_id, "definitionId": str(definition_id)},
                body=body,
            )
        )

    # -- the app's webhooks (the app's developer account) ------------------------------------------------------

    def read_webhook_settings(self, app_id: int) -> WebhookSettings | None:
        """``GET /webhooks/v3/{appId}/settings``: where HubSpot sends the app's webhooks; None when the app has no
        target URL (HubSpot answers 404)."""
        try:
            data = self._developer_send(
                "webhook_settings.get", "GET", "/webhooks/v3/{appId}/settings", path_params={"appId": app_id}
            )
        except HubSpotNotFound:
            return None
        settings = dict(data or {})
        return WebhookSettings.model_validate(settings) if settings.get("targetUrl") else None

    def list_webhook_subscriptions(self, app_id: int) -> list[WebhookSubscription]:
        """``GET /webhooks/v3/{appId}/subscriptions``: every subscription of the app, active or paused;
        :class:`HubSpotNotFound` when the developer account has no such app."""
        data = self._developer_send(
            "webhook_subscriptions.get_all",
            "GET",
            "/webhooks/v3/{appId}/subscriptions",
            path_params={"appId": app_id},
        )
        return [WebhookSubscription.model_validate(s) for s in dict(data or {}).get("results") or []]

    def _developer_send(self, operation: str, method: str, path: str, **request: Any) -> Any:
        """:meth:`_send` as the developer account; a refusal names the credential used, never its value."""
        api, auth, setting = self._developer_api()
        try:
            return self._send(operation, api, method, path, auth=auth, **request)
        except HubSpotAuthError as exc:
            said = error_details(getattr(exc.__cause__, "body", None), "")[0]
            raise HubSpotAuthError(
                f"HubSpot {operation} → {exc.status}"
                + (f": {said}" if said else "")
                + f". Check {setting} and the app id (the developer account that owns the app"
                + (", with the developers-read and developers-write scopes" if auth == "oauth2" else "")
                + "). / 開発者アカウントの認証情報とアプリIDを確認してください。",
                status=exc.status,
                operation=operation,
            ) from exc

    def _developer_api(self) -> tuple[Any, str, str]:
        """An official API client keyed for the developer account (built once, like ``_api``), the auth setting
        it sends (``oauth2``: Bearer; ``developer_hapikey``: ``?hapikey=``) and the environment variable."""
        with self._lock:
            found = self._apis.get("developer")
            if found is None:
                from hubspot import HubSpot

                token = self.settings.hubspot_developer_access_token
                key = self.settings.hubspot_developer_api_key
                if token is not None and token.get_secret_value().strip():
                    hubspot = HubSpot(
                        access_token=token.get_secret_value(),
                        host=self.settings.hubspot_api_base,
                        retry=self.retry,
                    )
                    auth, setting = "oauth2", "HUBSPOT_DEVELOPER_ACCESS_TOKEN"
                else:
                    hubspot = HubSpot(
                        api_key=key.get_secret_value() if key is not None else "",
                        host=self.settings.hubspot_api_base,
                        retry=self.retry,
                    )
                    auth, setting = "developer_hapikey", "HUBSPOT_DEVELOPER_API_KEY"
                found = (hubspot.automation.actions.definitions_api.api_client, auth, setting)
                self._apis["developer"] = found
            return found
