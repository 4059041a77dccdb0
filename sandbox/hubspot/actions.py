"""Custom workflow action definitions: every problem of a definition (HubSpot answers them in one 400), and a
definition as HubSpot answers it."""

from __future__ import annotations

import copy
import re
from collections.abc import Mapping
from typing import Any

from sandbox.hubspot.errors import HubSpotApiError
from sandbox.hubspot.facts import (
    _ACTION_FIELD_TYPES,
    _ACTION_FUNCTION_TYPES,
    _ACTION_OBJECT_TYPES,
    _ACTION_VALUE_TYPES,
    _FIELD_SCHEMA_TYPES,
    _FIELD_TYPES,
    _INPUT_OPTION_FIELDS,
    _OUTPUT_OPTION_FIELDS,
)


def _refuse_unknown(body: Mapping[str, Any], known: frozenset[str]) -> None:
    unknown = sorted(k for k in body if k not in known)
    if unknown:
        raise HubSpotApiError(
            400,
            "Invalid input JSON: Unrecognized field(s) " + ", ".join(repr(k) for k in unknown),
            "VALIDATION_ERROR",
            context={"field": unknown},
        )


def _action_validation_error(problems: list[str]) -> HubSpotApiError:
    return HubSpotApiError(
        400,
        "Invalid action definition: " + "; ".join(problems),
        "VALIDATION_ERROR",
        errors=[{"message": p} for p in problems],
    )


def _field_problems(fields: Any, where: str, *, output: bool) -> tuple[list[str], list[str]]:
    """Problems of ``inputFields`` / ``outputFields``, and the field names."""
    if not isinstance(fields, list):
        return [f"{where} must be a list"], []
    problems: list[str] = []
    names: list[str] = []
    for index, field_def in enumerate(fields):
        at = f"{where}[{index}]"
        spec = field_def.get("typeDefinition") if isinstance(field_def, dict) else None
        if not isinstance(spec, dict):
            problems.append(f"{at}.typeDefinition is required")
            continue
        name = spec.get("name")
        if not isinstance(name, str) or not name:
            problems.append(f"{at}.typeDefinition.name is required")
        elif name in names:
            problems.append(f"{at}.typeDefinition.name {name!r} is used twice")
        else:
            names.append(name)
        if spec.get("type") not in _ACTION_FIELD_TYPES:
            problems.append(
                f"{at}.typeDefinition.type {spec.get('type')!r} is not one of {sorted(_ACTION_FIELD_TYPES)}"
            )
        if "fieldType" in spec and spec["fieldType"] not in _FIELD_TYPES:
            problems.append(f"{at}.typeDefinition.fieldType {spec['fieldType']!r} is not valid")
        options = spec.get("options")
        if options is None:
            problems.append(f"{at}.typeDefinition.options is required (may be empty)")
        elif not isinstance(options, list) or any(not isinstance(o, dict) for o in options):
            problems.append(f"{at}.typeDefinition.options must be a list of options")
        else:
            wanted = _OUTPUT_OPTION_FIELDS if output else _INPUT_OPTION_FIELDS
            for number, option in enumerate(options):
                absent = sorted(name for name in wanted if option.get(name) is None)
                if absent:
                    problems.append(f"{at}.typeDefinition.options[{number}] lacks {', '.join(absent)}")
            if spec.get("type") == "enumeration" and not options and not spec.get("optionsUrl"):
                problems.append(f"{at}: an enumeration needs options (or an optionsUrl)")
        if output:
            problems += _output_type_problems(spec, at)
        else:
            if not isinstance(field_def.get("isRequired"), bool):
                problems.append(f"{at}.isRequired is required (true or false)")
            kinds = field_def.get("supportedValueTypes") or []
            if not isinstance(kinds, list) or any(k not in _ACTION_VALUE_TYPES for k in kinds):
                problems.append(f"{at}.supportedValueTypes must be among {sorted(_ACTION_VALUE_TYPES)}")
    return problems, names


def _output_type_problems(spec: Mapping[str, Any], at: str) -> list[str]:
    """An output field's ``typeDefinition`` (``FieldTypeDefinition``) needs ``externalOptions``, ``schema`` and
    ``useChirp`` too, which HubSpot's current v4 reference marks required (since its revision of 2026-02-10)."""
    problems = [
        f"{at}.typeDefinition.{name} is required (true or false)"
        for name in ("externalOptions", "useChirp")
        if not isinstance(spec.get(name), bool)
    ]
    schema = spec.get("schema")
    if not isinstance(schema, dict):
        problems.append(f'{at}.typeDefinition.schema is required: e.g. {{"type": "STRING"}}')
    elif schema.get("type") not in _FIELD_SCHEMA_TYPES:
        problems.append(
            f"{at}.typeDefinition.schema.type {schema.get('type')!r} is not one of {sorted(_FIELD_SCHEMA_TYPES)}"
        )
    return problems


def _action_problems(body: Mapping[str, Any]) -> list[str]:
    """Every problem of a whole definition (HubSpot answers them in one 400)."""
    problems: list[str] = []
    url = body.get("actionUrl")
    if not isinstance(url, str) or not url.startswith(("https://", "http://")):
        problems.append("actionUrl is required: the URL HubSpot calls (https://...)")
    if not isinstance(body.get("published"), bool):
        problems.append("published is required (true or false)")
    object_types = body.get("objectTypes")
    if not isinstance(object_types, list) or not object_types:
        problems.append('objectTypes is required: e.g. ["DEAL"]')
    else:
        for kind in object_types:
            if not isinstance(kind, str) or not (
                kind.upper() in _ACTION_OBJECT_TYPES or re.fullmatch(r"\d-\d+", kind)
            ):
                problems.append(f"objectTypes: {kind!r} is not an object type")
    if "inputFields" not in body:
        problems.append("inputFields is required (may be empty)")
    found, inputs = _field_problems(body.get("inputFields") or [], "inputFields", output=False)
    problems += found
    found, outputs = _field_problems(body.get("outputFields") or [], "outputFields", output=True)
    problems += found
    functions = body.get("functions") or []
    if not isinstance(functions, list) or any(
        not isinstance(f, dict)
        or f.get("functionType") not in _ACTION_FUNCTION_TYPES
        or not isinstance(f.get("functionSource", ""), str)
        for f in functions
    ):
        problems.append(f"functions: each needs a functionType among {sorted(_ACTION_FUNCTION_TYPES)}")
    rules = body.get("executionRules") or []
    rule_names: list[str] = []
    if not isinstance(rules, list):
        problems.append("executionRules must be a list")
    else:
        for index, rule in enumerate(rules):
            if not isinstance(rule, dict) or not isinstance(rule.get("labelName"), str):
                problems.append(f"executionRules[{index}].labelName is required")
            elif not isinstance(rule.get("conditions"), dict):
                problems.append(f"executionRules[{index}].conditions is required (an object)")
            else:
                rule_names.append(rule["labelName"])
    options = body.get("objectRequestOptions")
    if options is not None and (
        not isinstance(options, dict)
        or not isinstance(options.get("properties"), list)
        or any(not isinstance(p, str) for p in options["properties"])
    ):
        problems.append("objectRequestOptions.properties must be a list of property names")
    labels = body.get("labels")
    if not isinstance(labels, dict):
        labels = {}
    if not isinstance(labels.get("en"), dict):
        problems.append("labels.en is required")
    for language, label in labels.items():
        if not isinstance(label, dict):
            problems.append(f"labels.{language} must be an object")
            continue
        if not isinstance(label.get("actionName"), str) or not label["actionName"].strip():
            problems.append(f"labels.{language}.actionName is required")
        for key, names in (
            ("inputFieldLabels", inputs),
            ("inputFieldDescriptions", inputs),
            ("inputFieldOptionLabels", inputs),
            ("outputFieldLabels", outputs),
            ("executionRules", rule_names),
        ):
            unknown = sorted(set(label.get(key) or {}) - set(names))
            if unknown:
                problems.append(f"labels.{language}.{key} names what the definition does not have: {unknown}")
    english = labels.get("en") if isinstance(labels.get("en"), dict) else {}
    missing = sorted(set(rule_names) - set((english or {}).get("executionRules") or {}))
    if missing:
        problems.append(f"labels.en.executionRules has no message for {missing}")
    return problems


def _action_field_json(field_def: Mapping[str, Any], *, output: bool) -> dict[str, Any]:
    spec = dict(field_def["typeDefinition"])
    spec["options"] = [
        {
            "label": str(o.get("label", o["value"])),
            "value": str(o["value"]),
            "displayOrder": int(o.get("displayOrder", index)),
            "hidden": bool(o.get("hidden", False)),
            "description": str(o.get("description", "")),
            "doubleData": float(o.get("doubleData", 0.0)),
            "readOnly": bool(o.get("readOnly", False)),
        }
        for index, o in enumerate(spec.get("options") or [])
    ]
    answer: dict[str, Any] = {"typeDefinition": spec}
    if not output:
        spec.setdefault("externalOptions", False)  # HubSpot's answers carry it for input fields too
        answer["isRequired"] = bool(field_def["isRequired"])
        answer["supportedValueTypes"] = list(field_def.get("supportedValueTypes") or ["STATIC_VALUE"])
        if field_def.get("automationFieldType"):
            answer["automationFieldType"] = field_def["automationFieldType"]
    return answer


def _action_json(
    body: Mapping[str, Any], *, definition_id: str, revision: int, functions: list[dict[str, Any]]
) -> dict[str, Any]:
    """A definition as HubSpot answers it: id and revision, every option complete, defaults filled in."""
    answer: dict[str, Any] = {
        "id": definition_id,
        "revisionId": str(revision),
        "actionUrl": body["actionUrl"],
        "published": body["published"],
        "objectTypes": [str(t) for t in body["objectTypes"]],
        "functions": functions,
        "inputFields": [_action_field_json(f, output=False) for f in body.get("inputFields") or []],
        "outputFields": [_action_field_json(f, output=True) for f in body.get("outputFields") or []],
        "labels": copy.deepcopy(body["labels"]),
        "executionRules": copy.deepcopy(body.get("executionRules") or []),
        "inputFieldDependencies": copy.deepcopy(body.get("inputFieldDependencies") or []),
    }
    if body.get("objectRequestOptions") is not None:
        answer["objectRequestOptions"] = {"properties": list(body["objectRequestOptions"]["properties"])}
    return answer
