"""The store's flat records (:class:`~sdk.store.InvoiceRecord`, :class:`~sdk.store.OrphanInvoice`) as plain
values and back, for both adapters: dates and instants as ISO strings, integers and strings as they are; a ledger
row's reasons and warnings (:class:`~sdk.errors.Problem`) as plain lists; and a history event's detail and a billing
schedule's plan as the JSON text both keep.

Reading goes by each field's annotation, so a number DynamoDB hands back as a ``Decimal`` becomes an ``int`` again,
and a field missing from what was kept (a row written before the field existed) takes its default.
"""

from __future__ import annotations

import json
import types
from collections.abc import Callable, Mapping
from dataclasses import fields
from datetime import date, datetime
from typing import Any, TypeVar, Union, get_args, get_origin, get_type_hints

from sdk.errors import Problem
from sdk.store import InvoiceRecord, OrphanInvoice

Record = TypeVar("Record", InvoiceRecord, OrphanInvoice)
_Parse = Callable[[Any], Any]
_PARSERS: dict[type[Any], dict[str, _Parse]] = {}


def to_plain(record: InvoiceRecord | OrphanInvoice) -> dict[str, Any]:
    """Every field by name; a date or instant as its ISO string (``None`` kept as ``None``)."""
    return {f.name: _plain(getattr(record, f.name)) for f in fields(record)}


def from_plain(kind: type[Record], data: Mapping[str, Any]) -> Record:
    """The record ``to_plain`` made (an absent field takes its default)."""
    values = {name: parse(data[name]) for name, parse in _parsers(kind).items() if name in data}
    return kind(**values)


def problems_to_plain(problems: tuple[Problem, ...]) -> list[dict[str, str]]:
    """Each problem as ``{code, field, ja, en}``, in order."""
    return [p.as_dict() for p in problems]


def problems_from_plain(data: Any) -> tuple[Problem, ...]:
    """What :func:`problems_to_plain` made (nothing kept, e.g. a row written before: none)."""
    return tuple(Problem(str(p["code"]), str(p["field"]), str(p["ja"]), str(p["en"])) for p in data or ())


def detail_to_json(detail: Mapping[str, Any]) -> str:
    """A history event's detail as kept (a value JSON cannot hold is kept as its text)."""
    return json.dumps(dict(detail), ensure_ascii=False, default=str)


def detail_from_json(text: str) -> dict[str, Any]:
    data = json.loads(text)
    return data if isinstance(data, dict) else {"value": data}


def plan_to_json(plan: Mapping[str, Any]) -> str:
    """A billing schedule's plan (:attr:`~sdk.store.ScheduleRow.plan`) as both adapters keep it; ``TypeError`` /
    ``ValueError`` for one JSON cannot hold (an object of a class, a NaN)."""
    return json.dumps(dict(plan), ensure_ascii=False, sort_keys=True, allow_nan=False)


def plan_from_json(text: str) -> dict[str, Any]:
    plan: dict[str, Any] = json.loads(text)
    return plan


def _plain(value: Any) -> Any:
    return value.isoformat() if isinstance(value, date) else value  # datetime is a date too


def _parsers(kind: type[Any]) -> dict[str, _Parse]:
    """How to read each field of ``kind`` (worked out once per kind)."""
    if kind not in _PARSERS:
        hints = get_type_hints(kind)
        _PARSERS[kind] = {f.name: _parser(hints[f.name]) for f in fields(kind)}
    return _PARSERS[kind]


def _parser(hint: Any) -> _Parse:
    """How to read a value of ``hint`` (``X | None`` reads as ``X``, and ``None`` as ``None``)."""
    if get_origin(hint) in (Union, types.UnionType):
        parse = _parser(next(arg for arg in get_args(hint) if arg is not type(None)))
        return lambda value: None if value is None else parse(value)
    if hint is datetime:
        return datetime.fromisoformat
    if hint is date:
        return date.fromisoformat
    if hint in (int, str):
        return hint  # type: ignore[no-any-return]
    raise TypeError(f"no plain form for {hint!r}")
