"""Reading a request (query string, JSON or form body, path ids) and writing freee's JSON answers."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from datetime import date
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from flask import Response, request

from sandbox.freee.errors import FreeeSandboxError, _not_found
from sandbox.freee.fields import _Fields, _number_out

if TYPE_CHECKING:
    from sandbox.freee.state import FreeeState


def _is_api(path: str) -> bool:
    return path == "/iv" or path.startswith(("/iv/", "/api/1/"))


def _dump(body: Any) -> str:
    return json.dumps(body, ensure_ascii=False, default=_json_default)


def _json_default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return _number_out(value)
    if isinstance(value, date):
        return value.isoformat()
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def _json(
    body: Any,
    status: int = 200,
    *,
    content_type: str = "application/json",
    headers: Mapping[str, str] | None = None,
) -> Response:
    response = Response(_dump(body), status=status, content_type=f"{content_type}; charset=utf-8")
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


class _Query(_Fields):
    """Query-string parameters: strings that may be numbers, dates or booleans."""

    def __init__(self) -> None:
        super().__init__(request.args.to_dict(), form=True)

    def page(self, *, max_limit: int, default_limit: int) -> tuple[int, int]:
        """A list endpoint's ``offset`` (from 0) and ``limit`` (1 to ``max_limit``; ``default_limit`` when absent)."""
        offset = self.integer("offset", minimum=0) or 0
        limit = self.integer("limit", minimum=1, maximum=max_limit) or default_limit
        return offset, limit


def _company_from_query(state: FreeeState) -> None:
    q = _Query()
    company_id = q.integer("company_id", required=True, minimum=1)
    q.raise_if_any()
    state.check_company(company_id or 0)


def _path_id(raw: str, what: str) -> int:
    if not re.fullmatch(r"[0-9]{1,18}", raw) or int(raw) < 1:
        raise _not_found(what)
    return int(raw)


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def _body(*, allow_form: bool = False, allow_empty: bool = False) -> tuple[dict[str, Any], bool]:
    """The request body as a dict (numbers with a fraction as ``Decimal``), and whether it came as a form."""
    if allow_form and request.mimetype in ("application/x-www-form-urlencoded", "multipart/form-data"):
        return _form_dict(request.form.items(multi=False)), True
    raw = request.get_data(cache=True)
    if not raw.strip():
        if allow_empty:
            return {}, False
        raise FreeeSandboxError(400, "リクエストボディが空です。JSON で指定してください。", "bad_request")
    try:
        data = json.loads(raw, parse_float=Decimal, parse_constant=_reject_constant)
    except (ValueError, UnicodeDecodeError, RecursionError):
        raise FreeeSandboxError(400, "リクエストの形式が不正です。", "bad_request") from None
    if not isinstance(data, dict):
        raise FreeeSandboxError(
            400, "リクエストの形式が不正です。JSON オブジェクトで指定してください。", "bad_request"
        )
    return data, False


def _form_dict(items: Iterable[tuple[str, str]]) -> dict[str, Any]:
    """``a=1&address_attributes[zipcode]=...`` → ``{"a": "1", "address_attributes": {"zipcode": ...}}``."""
    out: dict[str, Any] = {}
    for key, value in items:
        match = re.fullmatch(r"([^\[\]]+)\[([^\[\]]+)\]", key)
        if match:
            nested = out.setdefault(match.group(1), {})
            if isinstance(nested, dict):
                nested[match.group(2)] = value
        else:
            out[key] = value
    return out
