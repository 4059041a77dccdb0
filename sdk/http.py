"""The one request/response shape every HTTP handler speaks, and its adapters for Flask and API Gateway.

A handler is ``(HttpRequest) -> HttpResponse``: the same function serves the local Flask app and Lambda behind an
API Gateway HTTP API; only these small adapters differ. Errors are JSON bodies ``{"error": code, "message": ...}``.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

MAX_BODY_BYTES = 1_000_000


class Headers(dict[str, str]):
    """Case-insensitive header look-up (keys stored lower-case)."""

    def __init__(self, items: Mapping[str, str] | None = None) -> None:
        super().__init__({k.lower(): v for k, v in (items or {}).items()})

    def get(self, key: str, default: Any = None) -> Any:
        return super().get(key.lower(), default)


@dataclass(frozen=True)
class HttpRequest:
    method: str
    uri: str  # the full URL the caller used: scheme, host, path and query
    path: str
    headers: Headers
    body: bytes
    query: Mapping[str, str] = field(default_factory=dict)  # one value per name (the adapters' own choice)
    query_string: str = ""  # the raw query as sent (no "?"): every value of a repeated parameter is here

    def query_values(self, name: str) -> list[str]:
        """Every value of the query parameter ``name``, in order (``?a=1&a=2`` → two): a caller can refuse a
        repeated parameter instead of taking whichever one the adapter kept."""
        if not self.query_string:
            return [self.query[name]] if name in self.query else []
        return [v for k, v in parse_qsl(self.query_string, keep_blank_values=True) if k == name]


@dataclass(frozen=True)
class HttpResponse:
    status: int
    body: Any = None
    headers: Mapping[str, str] = field(default_factory=dict)

    def payload(self) -> bytes:
        return b"" if self.body is None else json.dumps(self.body, ensure_ascii=False).encode("utf-8")


def error(status: int, code: str, message: str, **extra: Any) -> HttpResponse:
    return HttpResponse(status, {"error": code, "message": message, **extra})


def validation_details(invalid: Any) -> list[dict[str, Any]]:
    """Where a body is wrong (from a pydantic ``ValidationError``), without echoing what it contained."""
    return [
        {"at": "/".join(str(p) for p in e["loc"]), "problem": e["msg"]}
        for e in invalid.errors(include_url=False, include_input=False)[:10]
    ]


def public_uri(base_url: str | None, path: str, query_string: str, host_uri: str) -> str:
    """The URI to check a signature against: ``public_base_url`` + path when configured (a custom domain in front
    of API Gateway), else the URI the request arrived on."""
    if base_url:
        return base_url.rstrip("/") + path + (f"?{query_string}" if query_string else "")
    return host_uri


def from_api_gateway(event: Mapping[str, Any], public_base_url: str | None = None) -> HttpRequest:
    """An API Gateway HTTP API (payload 2.0) event as an :class:`HttpRequest`."""
    headers = Headers({str(k): str(v) for k, v in (event.get("headers") or {}).items()})
    raw = event.get("body") or ""
    body = base64.b64decode(raw) if event.get("isBase64Encoded") else str(raw).encode("utf-8")
    path = str(event.get("rawPath") or "/")
    query_string = str(event.get("rawQueryString") or "")
    context = event.get("requestContext") or {}
    method = str((context.get("http") or {}).get("method") or "POST")
    host = headers.get("x-forwarded-host") or headers.get("host") or context.get("domainName") or "localhost"
    proto = headers.get("x-forwarded-proto") or "https"
    arrived = f"{proto}://{host}{path}" + (f"?{query_string}" if query_string else "")
    return HttpRequest(
        method=method,
        uri=public_uri(public_base_url, path, query_string, arrived),
        path=path,
        headers=headers,
        body=body,
        query={str(k): str(v) for k, v in (event.get("queryStringParameters") or {}).items()},
        query_string=query_string,
    )


def to_api_gateway(response: HttpResponse) -> dict[str, Any]:
    headers = {"Content-Type": "application/json; charset=utf-8", **response.headers}
    return {"statusCode": response.status, "headers": headers, "body": response.payload().decode("utf-8")}
