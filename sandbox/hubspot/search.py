"""CRM search over the portal's objects: filter groups and operators, free-text query, sorts, ``after`` paging,
HubSpot's limits."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from sandbox.hubspot.errors import HubSpotApiError
from sandbox.hubspot.facts import (
    MAX_FILTER_GROUPS,
    MAX_FILTERS_PER_GROUP,
    MAX_SEARCH_LIMIT,
    MAX_SEARCH_RESULTS,
    _epoch_ms,
    _number,
)

if TYPE_CHECKING:
    from sandbox.hubspot.state import HubSpotState, StoredObject


def search_objects(state: HubSpotState, object_type: str, body: Mapping[str, Any]) -> dict[str, Any]:
    """The body of ``POST /crm/v3/objects/{type}/search`` answered from ``state`` (under its lock)."""
    with state.lock:
        limit = int(body.get("limit") or 10)
        if limit > MAX_SEARCH_LIMIT or limit < 0:
            raise HubSpotApiError(
                400,
                f"Invalid input JSON: limit must be between 0 and {MAX_SEARCH_LIMIT}, got {limit}",
                "VALIDATION_ERROR",
            )
        after = int(body.get("after") or 0)
        if after + limit > MAX_SEARCH_RESULTS:
            raise HubSpotApiError(
                400,
                f"Search results are limited to {MAX_SEARCH_RESULTS} per query: narrow the filters.",
                "VALIDATION_ERROR",
            )
        groups = body.get("filterGroups") or []
        if len(groups) > MAX_FILTER_GROUPS or any(
            len(g.get("filters") or []) > MAX_FILTERS_PER_GROUP for g in groups
        ):
            raise HubSpotApiError(
                400,
                f"Too many filters: at most {MAX_FILTER_GROUPS} filterGroups of {MAX_FILTERS_PER_GROUP} "
                "filters each.",
                "VALIDATION_ERROR",
            )
        matches = [
            o
            for o in state.objects[object_type].values()
            if not o.archived
            and (not groups or any(_matches(state, object_type, o, g.get("filters") or []) for g in groups))
            and _query_matches(o, body.get("query"))
        ]
        matches.sort(key=lambda o: int(o.id))
        for sort in reversed(body.get("sorts") or []):
            name, descending = _sort_key(sort)

            def by(o: StoredObject, n: str = name) -> tuple[int, float, str]:
                return _sortable(state, object_type, n, o)

            matches.sort(key=by, reverse=descending)
        page = matches[after : after + limit]
        answer: dict[str, Any] = {
            "total": len(matches),
            "results": [state.object_json(object_type, o, body.get("properties") or None) for o in page],
        }
        if after + limit < len(matches):
            answer["paging"] = {"next": {"after": str(after + limit)}}
        return answer


def _sort_key(sort: Any) -> tuple[str, bool]:
    if isinstance(sort, str):
        return sort.lstrip("-"), sort.startswith("-")
    return str(sort.get("propertyName", "")), str(sort.get("direction", "ASCENDING")).upper() == "DESCENDING"


def _sortable(state: HubSpotState, object_type: str, name: str, obj: StoredObject) -> tuple[int, float, str]:
    raw = obj.properties.get(name)
    if raw in (None, ""):
        return (1, 0.0, "")
    kind = state.properties[object_type].get(name, {}).get("type")
    if kind == "number" and _number(str(raw)) is not None:
        return (0, float(str(raw)), "")
    if kind in ("date", "datetime") and _epoch_ms(str(raw)) is not None:
        return (0, float(_epoch_ms(str(raw)) or 0.0), "")
    return (0, 0.0, str(raw).lower())


def _query_matches(obj: StoredObject, query: Any) -> bool:
    if not query:
        return True
    needle = str(query).lower()
    return any(needle in str(v).lower() for v in obj.properties.values() if v)


def _matches(
    state: HubSpotState, object_type: str, obj: StoredObject, filters: Sequence[Mapping[str, Any]]
) -> bool:
    return all(_filter(state, object_type, obj, f) for f in filters)


def _filter(state: HubSpotState, object_type: str, obj: StoredObject, spec: Mapping[str, Any]) -> bool:
    name = str(spec.get("propertyName", ""))
    operator = str(spec.get("operator", "EQ")).upper()
    raw = obj.properties.get(name)
    has = raw not in (None, "")
    if operator == "HAS_PROPERTY":
        return has
    if operator == "NOT_HAS_PROPERTY":
        return not has
    kind = state.properties[object_type].get(name, {}).get("type", "string")

    def comparable(text: Any) -> Any:
        text = str(text)
        if kind == "number":
            return _number(text)
        if kind in ("date", "datetime"):
            return _epoch_ms(text)
        return text.lower()

    values = [comparable(v) for v in spec.get("values") or []]
    if operator in ("IN", "NOT_IN"):
        inside = has and comparable(raw) in values
        return inside if operator == "IN" else not inside
    if operator == "NEQ":
        return not has or comparable(raw) != comparable(spec.get("value", ""))
    if not has:
        return False
    mine, other = comparable(raw), comparable(spec.get("value", ""))
    if operator == "EQ":
        return bool(mine == other)
    if operator == "CONTAINS_TOKEN":
        return str(other).strip("*") in str(mine)
    if operator == "NOT_CONTAINS_TOKEN":
        return str(other).strip("*") not in str(mine)
    if mine is None or other is None:
        return False
    if operator == "BETWEEN":
        high = comparable(spec.get("highValue", ""))
        return high is not None and bool(other <= mine <= high)
    comparisons: dict[str, Callable[[Any, Any], bool]] = {
        "GT": lambda a, b: a > b,
        "GTE": lambda a, b: a >= b,
        "LT": lambda a, b: a < b,
        "LTE": lambda a, b: a <= b,
    }
    if operator not in comparisons:
        raise HubSpotApiError(400, f"Unknown filter operator {operator}", "VALIDATION_ERROR")
    return comparisons[operator](mine, other)
