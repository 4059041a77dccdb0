"""Errors in HubSpot's shape, and the JSON answer every route writes."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from flask import Response


class HubSpotApiError(Exception):
    """An error answer: ``{"status": "error", "message", "correlationId", "category", ...}``."""

    def __init__(
        self,
        status: int,
        message: str,
        category: str,
        *,
        errors: list[dict[str, Any]] | None = None,
        context: dict[str, list[str]] | None = None,
        sub_category: str | None = None,
        extra: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.category = category
        self.errors = errors
        self.context = context
        self.sub_category = sub_category
        self.extra = extra or {}
        self.headers = headers or {}

    def body(self, correlation_id: str) -> dict[str, Any]:
        body: dict[str, Any] = {"status": "error", "message": self.message, "correlationId": correlation_id}
        if self.category:
            body["category"] = self.category
        if self.sub_category:
            body["subCategory"] = self.sub_category
        if self.context:
            body["context"] = self.context
        if self.errors:
            body["errors"] = self.errors
        body.update(self.extra)
        return body


def _json_response(data: Any, status: int = 200, headers: Mapping[str, str] | None = None) -> Response:
    response = Response(
        json.dumps(data, ensure_ascii=False), status=status, content_type="application/json;charset=utf-8"
    )
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


def _missing(message: str, **context: str) -> HubSpotApiError:
    """HubSpot's 404 ``OBJECT_NOT_FOUND`` answer: ``message``, and ``context`` as ``{key: [value]}`` (if any)."""
    return HubSpotApiError(
        404, message, "OBJECT_NOT_FOUND", context={k: [v] for k, v in context.items()} if context else None
    )


def _not_found(object_type: str, object_id: str) -> HubSpotApiError:
    return _missing("resource not found", id=object_id, type=object_type)


def _unbuildable(schema: str, absent: list[str]) -> HubSpotApiError:
    """HubSpot's 400 for a request body without a field its reference marks required."""
    return HubSpotApiError(
        400,
        f"Invalid input JSON on line 1, column 1: Cannot build {schema}, some of required attributes are not set "
        f"[{', '.join(absent)}]",
        "VALIDATION_ERROR",
        context={"missingAttributes": list(absent)},
    )


def _missing_scopes(scope: str) -> HubSpotApiError:
    """HubSpot's 403 for a token without the scope the call needs."""
    return HubSpotApiError(
        403,
        "This app hasn't been granted all required scopes to make this call. Read more about required scopes "
        "here: https://developers.hubspot.com/scopes.",
        "MISSING_SCOPES",
        errors=[
            {
                "message": "One or more of the following scopes are required.",
                "context": {"requiredGranularScopes": [scope]},
            }
        ],
        extra={"links": {"scopes": "https://developers.hubspot.com/scopes"}},
    )


def _problem(name: str, code: str, message: str) -> dict[str, Any]:
    return {
        "isValid": False,
        "message": message,
        "error": code,
        "name": name,
        "localizedErrorMessage": message,
    }


def _validation_error(problems: list[dict[str, Any]]) -> HubSpotApiError:
    return HubSpotApiError(
        400,
        "Property values were not valid: " + json.dumps(problems, ensure_ascii=False, separators=(",", ":")),
        "VALIDATION_ERROR",
        errors=[
            {"message": p["message"], "code": p["error"], "context": {"propertyName": [p["name"]]}}
            for p in problems
        ],
    )
