"""Everything the HubSpot portal holds: objects and their properties, associations, property definitions,
pipelines, workflow action definitions, callbacks, the events a stage change emits, and the API call log."""

from __future__ import annotations

import copy
import random
import threading
import uuid
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sandbox.hubspot import recurring
from sandbox.hubspot.actions import (
    _action_json,
    _action_problems,
    _action_validation_error,
    _refuse_unknown,
)
from sandbox.hubspot.catalog import (
    _GROUPS,
    _STANDARD_PROPERTIES,
    _option,
    _options_of,
    _property_json,
    default_pipelines,
)
from sandbox.hubspot.errors import HubSpotApiError, _missing, _not_found, _problem, _validation_error
from sandbox.hubspot.facts import (
    _ACTION_CREATE_FIELDS,
    _ALWAYS,
    _ASSOCIATION_TYPES,
    _DEFAULTS,
    _FIELD_TYPES,
    _LAST_MODIFIED,
    _NAME_PATTERN,
    _PRIMARY_TYPES,
    _PROPERTY_TYPES,
    _PROPERTY_UPDATE_FIELDS,
    _REVERSE_TYPE,
    _TYPE_ALIASES,
    _V3_ASSOCIATION_KEY,
    _V3_TYPE_NAME,
    OBJECT_TYPES,
    _calendar_date,
    _epoch_ms,
    _format_number,
    _iso,
    _ms,
    _number,
    _to_value,
    normalize_type,
)
from sandbox.hubspot.search import search_objects
from sandbox.hubspot.subscriptions import WebhookConfig
from sdk.clock import Clock
from sdk.models.hubspot import ACTION_PATCH_FIELDS


@dataclass
class StoredObject:
    id: str
    properties: dict[str, str | None]
    created_at: datetime
    updated_at: datetime
    archived: bool = False
    archived_at: datetime | None = None


@dataclass(frozen=True)
class ApiCall:
    method: str
    path: str
    status: int
    at: str


@dataclass(frozen=True)
class CallbackCompletion:
    callback_id: str
    output_fields: dict[str, str]
    typed_outputs: dict[str, Any]
    at: str


class HubSpotState:
    """Everything the portal holds. Every public method takes the lock: the app is served multi-threaded."""

    def __init__(self, clock: Clock, *, portal_id: int, app_id: int, rng: random.Random) -> None:
        self.clock = clock
        self.portal_id = portal_id
        self.app_id = app_id
        self.rng = rng
        self.lock = threading.RLock()
        self.on_events: Callable[[list[dict[str, Any]]], None] = lambda events: None
        #: page the v3 ``?associations=`` lists after this many entries (None: never), to exercise clients'
        #: paging; HubSpot's own cut-off is not documented
        self.v3_association_limit: int | None = None
        self.reset()

    # -- lifecycle ---------------------------------------------------------------------------------------------

    def reset(self) -> None:
        with self.lock:
            now = _iso(self.clock.now())
            self.objects: dict[str, dict[str, StoredObject]] = {t: {} for t in OBJECT_TYPES}
            self.associations: dict[tuple[str, str], dict[str, dict[str, set[int]]]] = {}
            self.pipelines: dict[str, list[dict[str, Any]]] = {"deals": default_pipelines(now)}
            self.groups: dict[str, dict[str, dict[str, Any]]] = {}
            self.properties: dict[str, dict[str, dict[str, Any]]] = {}
            for object_type in OBJECT_TYPES:
                group, label = _GROUPS[object_type]
                self.groups[object_type] = {
                    group: {"name": group, "label": label, "displayOrder": -1, "archived": False}
                }
                self.properties[object_type] = {}
                for order, (name, plabel, type_, field_type, options, read_only) in enumerate(
                    _STANDARD_PROPERTIES[object_type]
                ):
                    self.properties[object_type][name] = _property_json(
                        name,
                        plabel,
                        type_,
                        field_type,
                        group,
                        options=[_option(value, order=i) for i, value in enumerate(options)],
                        read_only=read_only,
                        display_order=order,
                        now=now,
                    )
            self.callbacks: list[CallbackCompletion] = []
            #: the app's webhook settings and subscriptions (``/webhooks/v3/{appId}/...``)
            self.webhooks = WebhookConfig(self.clock, self.app_id)
            #: app id → definition id → the definition as HubSpot answers it
            self.action_definitions: dict[int, dict[str, dict[str, Any]]] = {}
            self._next_definition_id = 10_860_200
            self.api_calls: deque[ApiCall] = deque(maxlen=200_000)
            self.events: list[dict[str, Any]] = []
            self._next_id = 10_000_000_001 + self.rng.randrange(0, 1_000) * 1_000
            self._next_event_id = 100 + self.rng.randrange(0, 1_000_000)

    def correlation_id(self) -> str:
        with self.lock:
            return str(uuid.UUID(int=self.rng.getrandbits(128), version=4))

    def new_id(self) -> str:
        with self.lock:
            self._next_id += self.rng.randrange(1, 40)
            return str(self._next_id)

    # -- properties --------------------------------------------------------------------------------------------

    def _options(self, object_type: str, name: str, current: Mapping[str, str | None]) -> list[str] | None:
        """Allowed values of an enumeration (``None``: any value)."""
        if object_type == "deals" and name == "pipeline":
            return [p["id"] for p in self.pipelines["deals"]]
        if object_type == "deals" and name == "dealstage":
            pipeline = self._pipeline(current.get("pipeline") or "default")
            return [s["id"] for s in pipeline["stages"]] if pipeline else []
        options = self.properties[object_type][name]["options"]
        return [o["value"] for o in options] or None

    def _pipeline(self, pipeline_id: str) -> dict[str, Any] | None:
        return next((p for p in self.pipelines["deals"] if p["id"] == pipeline_id), None)

    def check_values(
        self,
        object_type: str,
        values: Mapping[str, Any],
        current: Mapping[str, str | None] | None = None,
        *,
        internal: bool = False,
    ) -> dict[str, str]:
        """The values as HubSpot would store them; every invalid one reported at once, as HubSpot does."""
        defs = self.properties[object_type]
        problems: list[dict[str, Any]] = []
        out: dict[str, str] = {}
        merged: dict[str, str | None] = dict(current or {})
        merged.update({k: _to_value(v) for k, v in values.items()})
        for name, raw in values.items():
            definition = defs.get(name)
            if definition is None:
                problems.append(_problem(name, "PROPERTY_DOESNT_EXIST", f'Property "{name}" does not exist'))
                continue
            value = _to_value(raw)
            if definition["modificationMetadata"]["readOnlyValue"] and not internal:
                problems.append(
                    _problem(
                        name, "READ_ONLY_VALUE", f'"{name}" is a read only property; its value cannot be set.'
                    )
                )
                continue
            if value != "":
                kind = definition["type"]
                if kind == "number" and _number(value) is None:
                    problems.append(_problem(name, "INVALID_FLOAT", f"{value} was not a valid number."))
                    continue
                if kind == "bool" and value.lower() not in ("true", "false"):
                    problems.append(_problem(name, "INVALID_BOOLEAN", f"{value} was not a valid boolean."))
                    continue
                if kind in ("date", "datetime") and _epoch_ms(value) is None:
                    code = "INVALID_DATE" if kind == "date" else "INVALID_DATETIME"
                    problems.append(_problem(name, code, f"{value} was not a valid {kind}."))
                    continue
                if kind == "date":
                    try:
                        value = _calendar_date(value)
                    except ValueError as not_midnight:
                        problems.append(_problem(name, "INVALID_DATE", str(not_midnight)))
                        continue
                if kind == "enumeration":
                    allowed = self._options(object_type, name, merged)
                    chosen = value.split(";") if definition["fieldType"] == "checkbox" else [value]
                    if allowed is not None and any(v not in allowed for v in chosen):
                        problems.append(
                            _problem(
                                name,
                                "INVALID_OPTION",
                                f"{value} was not one of the allowed options: {allowed}",
                            )
                        )
                        continue
                problem = recurring.value_problem(object_type, name, value)
                if problem is not None:
                    problems.append(problem)
                    continue
            out[name] = value
        if problems:
            raise _validation_error(problems)
        return out

    def define_property(self, object_type: str, body: Mapping[str, Any]) -> dict[str, Any]:
        with self.lock:
            object_type = normalize_type(object_type)
            missing = [k for k in ("name", "label", "type", "fieldType", "groupName") if not body.get(k)]
            if missing:
                raise HubSpotApiError(
                    400,
                    "Invalid input JSON: missing required fields " + ", ".join(missing),
                    "VALIDATION_ERROR",
                    context={"missing": missing},
                )
            name = str(body["name"])
            if not _NAME_PATTERN.match(name):
                raise HubSpotApiError(
                    400,
                    f"Property name '{name}' is invalid: use lower case letters, digits and underscores, "
                    "starting with a letter.",
                    "VALIDATION_ERROR",
                )
            if body["type"] not in _PROPERTY_TYPES or body["fieldType"] not in _FIELD_TYPES:
                raise HubSpotApiError(
                    400,
                    f"Invalid type/fieldType combination: {body['type']}/{body['fieldType']}",
                    "VALIDATION_ERROR",
                )
            if body["groupName"] not in self.groups[object_type]:
                raise HubSpotApiError(
                    400,
                    f"No property group named '{body['groupName']}' exists for {object_type}.",
                    "VALIDATION_ERROR",
                )
            if name in self.properties[object_type]:
                raise HubSpotApiError(
                    409,
                    f"Property named '{name}' already exists.",
                    "OBJECT_ALREADY_EXISTS",
                    context={"name": [name]},
                )
            options = _options_of(body)
            prop = _property_json(
                name,
                str(body["label"]),
                str(body["type"]),
                str(body["fieldType"]),
                str(body["groupName"]),
                options=options,
                hubspot_defined=False,
                description=str(body.get("description") or ""),
                display_order=int(body.get("displayOrder", -1)),
                has_unique_value=bool(body.get("hasUniqueValue", False)),
                now=_iso(self.clock.now()),
            )
            prop["createdUserId"] = prop["updatedUserId"] = "1"
            self.properties[object_type][name] = prop
            return prop

    def update_property(self, object_type: str, name: str, body: Mapping[str, Any]) -> dict[str, Any]:
        """``PATCH /crm/v3/properties/{objectType}/{propertyName}``: the fields given replace the stored ones
        (``options`` as a whole list); HubSpot's own properties keep their definition."""
        with self.lock:
            object_type = normalize_type(object_type)
            prop = self.properties[object_type].get(name)
            if prop is None:
                raise _missing(f"Unable to find property {name}", name=name)
            unknown = sorted(set(body) - _PROPERTY_UPDATE_FIELDS)
            if unknown:
                raise HubSpotApiError(
                    400,
                    f"Invalid input JSON: unknown field(s) {', '.join(unknown)}",
                    "VALIDATION_ERROR",
                    context={"unknown": unknown},
                )
            if prop["modificationMetadata"]["readOnlyDefinition"]:
                raise HubSpotApiError(
                    400,
                    f"Property {name} is defined by HubSpot; its definition cannot be changed.",
                    "VALIDATION_ERROR",
                )
            kind, field_type = body.get("type", prop["type"]), body.get("fieldType", prop["fieldType"])
            if kind not in _PROPERTY_TYPES or field_type not in _FIELD_TYPES:
                raise HubSpotApiError(
                    400, f"Invalid type/fieldType combination: {kind}/{field_type}", "VALIDATION_ERROR"
                )
            group = body.get("groupName", prop["groupName"])
            if group not in self.groups[object_type]:
                raise HubSpotApiError(
                    400, f"No property group named '{group}' exists for {object_type}.", "VALIDATION_ERROR"
                )
            for key in ("label", "description", "displayOrder", "hidden", "formField", "calculationFormula"):
                if key in body:
                    prop[key] = body[key]
            prop.update(type=str(kind), fieldType=str(field_type), groupName=str(group))
            if "options" in body:
                prop["options"] = _options_of(body)
            prop["updatedAt"] = _iso(self.clock.now())
            prop["updatedUserId"] = "1"
            return prop

    def define_group(self, object_type: str, body: Mapping[str, Any]) -> dict[str, Any]:
        with self.lock:
            object_type = normalize_type(object_type)
            name, label = body.get("name"), body.get("label")
            if not name or not label:
                raise HubSpotApiError(
                    400, "Invalid input JSON: name and label are required", "VALIDATION_ERROR"
                )
            if not _NAME_PATTERN.match(str(name)):
                raise HubSpotApiError(400, f"Property group name '{name}' is invalid.", "VALIDATION_ERROR")
            if name in self.groups[object_type]:
                raise HubSpotApiError(
                    409,
                    f"A property group named '{name}' already exists.",
                    "OBJECT_ALREADY_EXISTS",
                    context={"name": [str(name)]},
                )
            group = {
                "name": str(name),
                "label": str(label),
                "displayOrder": int(body.get("displayOrder", -1)),
                "archived": False,
            }
            self.groups[object_type][str(name)] = group
            return group

    # -- workflow action definitions --------------------------------------------------------------------------

    def _app_definitions(self, app_id: int) -> dict[str, dict[str, Any]]:
        if app_id != self.app_id:
            raise _missing(f"App {app_id} was not found in this developer account.", appId=str(app_id))
        return self.action_definitions.setdefault(app_id, {})

    def list_action_definitions(self, app_id: int, *, archived: bool = False) -> list[dict[str, Any]]:
        with self.lock:
            found = self._app_definitions(app_id).values()
            chosen = [d for d in found if ("archivedAt" in d) == archived]
            return [copy.deepcopy(d) for d in sorted(chosen, key=lambda d: int(d["id"]))]

    def action_definition(self, app_id: int, definition_id: str) -> dict[str, Any]:
        with self.lock:
            found = self._app_definitions(app_id).get(definition_id)
            if found is None:
                raise _missing(
                    f"Action definition {definition_id} was not found for app {app_id}.",
                    definitionId=definition_id,
                )
            return copy.deepcopy(found)

    def define_action(self, app_id: int, body: Mapping[str, Any]) -> dict[str, Any]:
        """Create a definition: every required field checked (all problems at once), defaults filled in."""
        with self.lock:
            definitions = self._app_definitions(app_id)
            _refuse_unknown(body, _ACTION_CREATE_FIELDS)
            problems = _action_problems(body)
            if problems:
                raise _action_validation_error(problems)
            self._next_definition_id += 1
            definition_id = str(self._next_definition_id)
            functions = [
                {"functionType": str(f["functionType"]), "id": f.get("id") or f"{definition_id}-{index}"}
                for index, f in enumerate(body.get("functions") or [])
            ]
            stored = _action_json(body, definition_id=definition_id, revision=1, functions=functions)
            definitions[definition_id] = stored
            return copy.deepcopy(stored)

    def patch_action(self, app_id: int, definition_id: str, body: Mapping[str, Any]) -> dict[str, Any]:
        """Change the fields given (each replaced whole); the revision goes up by one."""
        with self.lock:
            current = self.action_definition(app_id, definition_id)
            _refuse_unknown(body, ACTION_PATCH_FIELDS)
            merged = {k: v for k, v in current.items() if k in _ACTION_CREATE_FIELDS} | dict(body)
            problems = _action_problems(merged)
            if problems:
                raise _action_validation_error(problems)
            stored = _action_json(
                merged,
                definition_id=definition_id,
                revision=int(current["revisionId"]) + 1,
                functions=current["functions"],
            )
            self._app_definitions(app_id)[definition_id] = stored
            return copy.deepcopy(stored)

    # -- objects -----------------------------------------------------------------------------------------------

    def get(self, object_type: str, object_id: str, *, archived: bool = False) -> StoredObject:
        with self.lock:
            obj = self.objects[object_type].get(str(object_id))
            if obj is None or obj.archived != archived:
                raise _not_found(object_type, str(object_id))
            return obj

    def find(self, object_type: str, id_property: str | None, value: str) -> StoredObject | None:
        with self.lock:
            if not id_property or id_property == "hs_object_id":
                obj = self.objects[object_type].get(value)
                return obj if obj is not None and not obj.archived else None
            if id_property not in self.properties[object_type]:
                raise _validation_error(
                    [
                        _problem(
                            id_property, "PROPERTY_DOESNT_EXIST", f'Property "{id_property}" does not exist'
                        )
                    ]
                )
            return next(
                (
                    o
                    for o in self.objects[object_type].values()
                    if not o.archived and o.properties.get(id_property) == value
                ),
                None,
            )

    def create(
        self, object_type: str, properties: Mapping[str, Any], *, internal: bool = False
    ) -> StoredObject:
        with self.lock:
            values = dict(properties)
            if object_type == "deals":
                values.setdefault("pipeline", "default")
                if not values.get("dealstage"):
                    pipeline = self._pipeline(str(values["pipeline"]))
                    if pipeline is not None:
                        values["dealstage"] = pipeline["stages"][0]["id"]
            checked = self.check_values(object_type, values, internal=internal)
            now = self.clock.now()
            object_id = self.new_id()
            props: dict[str, str | None] = dict(checked)
            props["hs_object_id"] = object_id
            props.setdefault("createdate", _iso(now))
            props[_LAST_MODIFIED[object_type]] = _iso(now)
            obj = StoredObject(object_id, props, now, now)
            self._derive(object_type, obj)
            self.objects[object_type][object_id] = obj
            return obj

    def update(
        self,
        object_type: str,
        object_id: str,
        properties: Mapping[str, Any],
        *,
        change_source: str = "INTEGRATION",
        source_id: str | None = None,
        internal: bool = False,
    ) -> StoredObject:
        with self.lock:
            obj = self.get(object_type, object_id)
            checked = self.check_values(object_type, properties, obj.properties, internal=internal)
            self._apply(object_type, obj, checked, change_source, source_id)
            return obj

    def missing_ids(self, object_type: str, inputs: Sequence[Mapping[str, Any]]) -> list[str]:
        """The inputs' ids that name no live record (never created, or archived: deleted), in input order."""
        with self.lock:
            return [
                str(item.get("id", ""))
                for item in inputs
                if self.find(object_type, item.get("idProperty"), str(item.get("id", ""))) is None
            ]

    def batch_update(
        self, object_type: str, inputs: Sequence[Mapping[str, Any]], id_property: str | None = None
    ) -> tuple[list[StoredObject], list[str]]:
        """Every input is checked before any is written (a bad value fails the whole batch, as in HubSpot)."""
        with self.lock:
            found: list[tuple[StoredObject, dict[str, str]]] = []
            missing: list[str] = []
            for item in inputs:
                key = str(item.get("id", ""))
                obj = self.find(object_type, item.get("idProperty") or id_property, key)
                if obj is None:
                    missing.append(key)
                    continue
                found.append(
                    (obj, self.check_values(object_type, item.get("properties") or {}, obj.properties))
                )
            for obj, checked in found:
                self._apply(object_type, obj, checked, "INTEGRATION", str(self.app_id))
            return [obj for obj, _ in found], missing

    def archive(self, object_type: str, object_id: str) -> None:
        with self.lock:
            obj = self.get(object_type, object_id)
            obj.archived = True
            obj.archived_at = self.clock.now()

    def _apply(
        self,
        object_type: str,
        obj: StoredObject,
        values: Mapping[str, str],
        change_source: str,
        source_id: str | None,
    ) -> None:
        now = self.clock.now()
        old_stage = obj.properties.get("dealstage")
        obj.properties.update(values)
        obj.properties[_LAST_MODIFIED[object_type]] = _iso(now)
        obj.updated_at = now
        self._derive(object_type, obj)
        new_stage = obj.properties.get("dealstage")
        if object_type == "deals" and "dealstage" in values and new_stage != old_stage:
            self._emit_stage_change(obj, str(new_stage or ""), change_source, source_id, now)

    def _derive(self, object_type: str, obj: StoredObject) -> None:
        """Calculated properties: a line item's net ``amount`` and number of payments, a deal's
        ``hs_is_closed_won``."""
        props = obj.properties
        if object_type == "line_items":
            recurring.derive(props)
            quantity, price = _number(props.get("quantity") or ""), _number(props.get("price") or "")
            if quantity is not None and price is not None:
                percent = _number(props.get("hs_discount_percentage") or "") or 0.0
                discount = _number(props.get("discount") or "") or 0.0
                props["amount"] = _format_number(quantity * (price * (1 - percent / 100) - discount))
        elif object_type == "deals":
            pipeline = self._pipeline(props.get("pipeline") or "default")
            stage = next(
                (s for s in (pipeline or {}).get("stages", []) if s["id"] == props.get("dealstage")), None
            )
            won = (
                stage is not None
                and stage["metadata"]["isClosed"] == "true"
                and stage["metadata"]["probability"] in ("1.0", "1")
            )
            props["hs_is_closed_won"] = "true" if won else "false"

    def _emit_stage_change(
        self, obj: StoredObject, stage: str, change_source: str, source_id: str | None, now: datetime
    ) -> None:
        subscription = self.webhooks.active_subscription("deal.propertyChange", "dealstage")
        if subscription is None:  # HubSpot sends nothing the app is not (actively) subscribed to
            return
        self._next_event_id += 1
        event = {
            "eventId": self._next_event_id,
            "subscriptionId": int(subscription["id"]),
            "portalId": self.portal_id,
            "appId": self.app_id,
            "occurredAt": _ms(now),
            "subscriptionType": "deal.propertyChange",
            "attemptNumber": 0,
            "objectId": int(obj.id),
            "propertyName": "dealstage",
            "propertyValue": stage,
            "changeSource": change_source,
            "sourceId": source_id if source_id is not None else str(self.app_id),
        }
        self.events.append(event)
        self.on_events([event])

    # -- associations ------------------------------------------------------------------------------------------

    def associate(
        self, from_type: str, from_id: str, to_type: str, to_id: str, type_id: int | None = None
    ) -> list[tuple[str, str, str, str, int]]:
        """Add an association (and its reverse). A primary one moves the primary label and implies the default.

        Returns the ``(from type, from id, to type, to id, type id)`` pairs written."""
        with self.lock:
            from_type, to_type = normalize_type(from_type), normalize_type(to_type)
            pair = _ASSOCIATION_TYPES.get((from_type, to_type))
            if pair is None:
                raise HubSpotApiError(
                    400, f"No association between {from_type} and {to_type}", "VALIDATION_ERROR"
                )
            self.get(from_type, from_id)
            self.get(to_type, to_id)
            default_type, primary_type = pair
            chosen = default_type if type_id is None else int(type_id)
            if chosen not in (default_type, primary_type):
                raise HubSpotApiError(
                    400,
                    f"Association type {chosen} is not valid between {from_type} and {to_type}",
                    "VALIDATION_ERROR",
                )
            written: list[tuple[str, str, str, str, int]] = []
            if chosen in _PRIMARY_TYPES:
                # one primary per record: the previous primary keeps only its default association
                for other_id, types in self._edges(from_type, from_id, to_type).items():
                    if chosen in types and other_id != to_id:
                        types.discard(chosen)
                        self._edges(to_type, other_id, from_type).get(from_id, set()).discard(
                            _REVERSE_TYPE[chosen]
                        )
                written += self._link(from_type, from_id, to_type, to_id, default_type)
            written += self._link(from_type, from_id, to_type, to_id, chosen)
            return written

    def _link(self, from_type: str, from_id: str, to_type: str, to_id: str, type_id: int) -> list[Any]:
        self._edges(from_type, from_id, to_type).setdefault(to_id, set()).add(type_id)
        self._edges(to_type, to_id, from_type).setdefault(from_id, set()).add(_REVERSE_TYPE[type_id])
        return [
            (from_type, from_id, to_type, to_id, type_id),
            (to_type, to_id, from_type, from_id, _REVERSE_TYPE[type_id]),
        ]

    def _edges(self, from_type: str, from_id: str, to_type: str) -> dict[str, set[int]]:
        return self.associations.setdefault((from_type, from_id), {}).setdefault(to_type, {})

    def associated(self, from_type: str, from_id: str, to_type: str) -> list[tuple[str, list[int]]]:
        """``(to id, sorted type ids)`` in id order, archived records left out."""
        with self.lock:
            edges = self.associations.get((from_type, from_id), {}).get(to_type, {})
            live = [
                (to_id, sorted(types))
                for to_id, types in edges.items()
                if types and to_id in self.objects[to_type] and not self.objects[to_type][to_id].archived
            ]
            return sorted(live, key=lambda item: int(item[0]))

    # -- answers -----------------------------------------------------------------------------------------------

    def object_json(
        self,
        object_type: str,
        obj: StoredObject,
        properties: Sequence[str] | None = None,
        associations: Sequence[str] = (),
    ) -> dict[str, Any]:
        with self.lock:
            defined = self.properties[object_type]
            names = (
                list(_DEFAULTS[object_type])
                if properties is None
                else [p for p in properties if p in defined]
            )
            names += [n for n in _ALWAYS[object_type] if n not in names]
            data: dict[str, Any] = {
                "id": obj.id,
                "properties": {n: obj.properties.get(n) for n in sorted(names)},
                "createdAt": _iso(obj.created_at),
                "updatedAt": _iso(obj.updated_at),
                "archived": obj.archived,
            }
            if obj.archived and obj.archived_at is not None:
                data["archivedAt"] = _iso(obj.archived_at)
            found: dict[str, Any] = {}
            for name in associations:
                to_type = _TYPE_ALIASES.get(name.lower())
                if to_type is None:
                    continue
                results = [
                    {"id": to_id, "type": _V3_TYPE_NAME[type_id]}
                    for to_id, types in self.associated(object_type, obj.id, to_type)
                    for type_id in types
                ]
                if not results:
                    continue
                entry: dict[str, Any] = {"results": results}
                limit = self.v3_association_limit
                if limit is not None and len(results) > limit:
                    entry = {"results": results[:limit], "paging": {"next": {"after": str(limit)}}}
                found[_V3_ASSOCIATION_KEY[to_type]] = entry
            if found:
                data["associations"] = found
            return data

    def search(self, object_type: str, body: Mapping[str, Any]) -> dict[str, Any]:
        """``POST /crm/v3/objects/{type}/search`` (:func:`sandbox.hubspot.search.search_objects`)."""
        return search_objects(self, object_type, body)

    def dump(self) -> dict[str, Any]:
        with self.lock:
            standard = {t: {p[0] for p in _STANDARD_PROPERTIES[t]} for t in OBJECT_TYPES}
            return {
                "portalId": self.portal_id,
                "appId": self.app_id,
                "objects": {
                    t: [
                        {
                            **self.object_json(t, o, list(self.properties[t])),
                            "associations": {
                                to: [{"id": i, "typeIds": ty} for i, ty in self.associated(t, o.id, to)]
                                for to in OBJECT_TYPES
                                if self.associated(t, o.id, to)
                            },
                        }
                        for o in self.objects[t].values()
                    ]
                    for t in OBJECT_TYPES
                },
                "customProperties": {
                    t: sorted(n for n in self.properties[t] if n not in standard[t]) for t in OBJECT_TYPES
                },
                "propertyGroups": {t: sorted(self.groups[t]) for t in OBJECT_TYPES},
                "pipelines": self.pipelines,
                "callbacks": [
                    {
                        "callbackId": c.callback_id,
                        "outputFields": c.output_fields,
                        "typedOutputs": c.typed_outputs,
                        "at": c.at,
                    }
                    for c in self.callbacks
                ],
                "events": list(self.events),
                "apiCalls": len(self.api_calls),
            }
