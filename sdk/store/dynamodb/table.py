"""The table every DynamoDB adapter shares (single-table design), and what they all write with.

Items, by key (``pk`` / ``sk``, both strings):

==============================  ==================  ======================================================
``pk``                          ``sk``              what
==============================  ==================  ======================================================
``DEAL#{portal}#{unit}``        ``LEDGER``          the ledger row of a billing unit (state, version, claim, invoice)
``DEAL#{portal}#{deal}``        ``SCHEDULE``        a deal's billing schedule (state, plan as JSON, next_due, version)
``DEAL#{portal}#{deal}``        ``HIST#{utc}#...``  one history event; queried in ``sk`` order, TTL
``DEAL#{portal}#{deal}``        ``WAIT#{cb id}``    a blocked workflow action (its callback id) waiting, TTL
``DEAL#{portal}#{deal}``        ``ORPHAN#{inv id}`` an invoice created by an attempt that had lost its claim
``COMPANY#{portal}#{company}``  ``PARTNER``         the freee partner linked to a company (put-if-absent)
``COMPANY#{portal}#{company}``  ``WRITTEN``         the rollup values last written to the company
``LEASE#{name}``                ``LEASE``           a named lease (one payment sync at a time)
``EVENT#{event id}``            ``EVENT``           a seen webhook event, TTL
``FREEE#TOKEN``                 ``TOKEN``           the freee OAuth token row, versioned, with a refresh claim
``HUBSPOT#TOKEN``               ``TOKEN``           the HubSpot OAuth token row (public app), the same way
``RATE#{key}``                  ``RATE``            the call log of one rate-limit key, versioned, < 1 KB
==============================  ==================  ======================================================

A ledger row's key is its billing unit, any string (``456``, ``456:3``, ``c789:2027-01-31``): ``pk`` is
``DEAL#{portal}#{unit}``, read and written whole, never split, so a ``:`` or ``#`` in it changes nothing.

Two global secondary indexes (:data:`GLOBAL_SECONDARY_INDEXES`), projecting whole items; reads of them are
eventually consistent:

- :data:`COMPANY_INDEX` (``by_company``): ``company_id`` (string) + ``portal_id`` (number), so one company's ledger
  rows, or its schedules, are a query rather than a scan of the table (each read keeps only its own ``sk``). It keys
  on attributes the items carry already (a ledger row once an attempt noted its company, a schedule with a company,
  a company's ``PARTNER`` and ``WRITTEN`` items), so an index added to a table that has rows indexes them without a
  backfill; every item that carries ``company_id`` carries it as a string and ``portal_id`` as a number (the index
  refuses a write of another type).
- :data:`DUE_INDEX` (``by_due``), sparse: ``due_pk`` (``DUE#{portal}``) + ``due_sk`` (``{next_due}#{deal}``), which
  only a ``SCHEDULE`` item that is active with a ``next_due`` carries (a save of any other removes them), so the
  schedules due by a date are one query over due ones only, in (date, deal) order.

Instants a condition compares are kept twice: as an ISO string for people and as epoch seconds (``*_ts``,
a number) for the condition, since ISO strings with different offsets do not sort as instants. DynamoDB's TTL
deletes expired items lazily (up to days later), so every read that depends on an expiry checks it itself.

Reads are strongly consistent. A failed condition never escapes as a botocore error: it becomes the port's
answer (a refused :class:`~sdk.store.Claim`, :class:`~sdk.store.ClaimLost`, ``None``, ``False``, a wait).

Here: the key names, :func:`create_table`, the number and instant conversions, the update and condition
expression builders, and :class:`TableAdapter` (the table, its failed-condition error, reads and pages) that every
adapter of the package extends.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

Item = dict[str, Any]

LEDGER_SK = "LEDGER"
HISTORY_PREFIX = "HIST#"
WAITER_PREFIX = "WAIT#"
ORPHAN_PREFIX = "ORPHAN#"
PARTNER_SK = "PARTNER"
EVENT_SK = "EVENT"
RATE_SK = "RATE"
TTL_ATTRIBUTE = "expires_at"
WRITTEN_SK = "WRITTEN"
LEASE_SK = "LEASE"
SCHEDULE_SK = "SCHEDULE"
COMPANY_INDEX = "by_company"
DUE_INDEX = "by_due"
#: the key attributes of :data:`DUE_INDEX`, set on a schedule item only while it is due (active, with a next_due)
DUE_PK = "due_pk"
DUE_SK = "due_sk"

#: the key attributes of the table and its indexes, and the indexes (``serverless.yml`` declares the same: a test
#: holds it to these)
ATTRIBUTE_DEFINITIONS: list[Item] = [
    {"AttributeName": "pk", "AttributeType": "S"},
    {"AttributeName": "sk", "AttributeType": "S"},
    {"AttributeName": "company_id", "AttributeType": "S"},
    {"AttributeName": "portal_id", "AttributeType": "N"},
    {"AttributeName": DUE_PK, "AttributeType": "S"},
    {"AttributeName": DUE_SK, "AttributeType": "S"},
]
GLOBAL_SECONDARY_INDEXES: list[Item] = [
    {
        "IndexName": COMPANY_INDEX,
        "KeySchema": [
            {"AttributeName": "company_id", "KeyType": "HASH"},
            {"AttributeName": "portal_id", "KeyType": "RANGE"},
        ],
        "Projection": {"ProjectionType": "ALL"},
    },
    {
        "IndexName": DUE_INDEX,
        "KeySchema": [
            {"AttributeName": DUE_PK, "KeyType": "HASH"},
            {"AttributeName": DUE_SK, "KeyType": "RANGE"},
        ],
        "Projection": {"ProjectionType": "ALL"},
    },
]


def token_key(name: str) -> Item:
    """The item of the OAuth token row ``name`` (``freee``: ``FREEE#TOKEN``, ``hubspot``: ``HUBSPOT#TOKEN``)."""
    return {"pk": f"{name.upper()}#TOKEN", "sk": "TOKEN"}


Keys = tuple[tuple[str, str, str], ...]

#: the table's key schema: (attribute, key type, attribute type)
KEY_SCHEMA: Keys = (("pk", "HASH", "S"), ("sk", "RANGE", "S"))


def _keys(key_schema: Iterable[Mapping[str, str]], types: Mapping[str, str]) -> Keys:
    """A key schema as :data:`KEY_SCHEMA` spells it (an attribute of unknown type is ``?``)."""
    return tuple((k["AttributeName"], k["KeyType"], types.get(k["AttributeName"], "?")) for k in key_schema)


def _types(definitions: Iterable[Mapping[str, str]]) -> dict[str, str]:
    return {a["AttributeName"]: a["AttributeType"] for a in definitions}


#: each global secondary index of the table by name, its key schema spelled as :data:`KEY_SCHEMA` is
INDEX_KEYS: dict[str, Keys] = {
    index["IndexName"]: _keys(index["KeySchema"], _types(ATTRIBUTE_DEFINITIONS))
    for index in GLOBAL_SECONDARY_INDEXES
}


def create_table(resource: Any, table_name: str) -> Any:
    """Create the table this store needs (on-demand, ``pk``/``sk`` strings, the :data:`COMPANY_INDEX` and
    :data:`DUE_INDEX` indexes, TTL on ``expires_at``); returns it.

    For tests, the demo and documentation: ``serverless.yml`` declares the same shape for deployments.
    """
    table = resource.create_table(
        TableName=table_name,
        KeySchema=[{"AttributeName": name, "KeyType": kind} for name, kind, _ in KEY_SCHEMA],
        AttributeDefinitions=ATTRIBUTE_DEFINITIONS,
        GlobalSecondaryIndexes=GLOBAL_SECONDARY_INDEXES,
        BillingMode="PAY_PER_REQUEST",
    )
    table.wait_until_exists()
    resource.meta.client.update_time_to_live(
        TableName=table_name,
        TimeToLiveSpecification={"Enabled": True, "AttributeName": TTL_ATTRIBUTE},
    )
    return table


@dataclass(frozen=True, slots=True)
class TableShape:
    """What DynamoDB says of a table (``describe_table``, ``describe_time_to_live``): whether it exists, its key
    schema as :data:`KEY_SCHEMA` spells it, its status, the attribute TTL is on (None: off; ``ttl_known`` False when
    DynamoDB would not say), and its global secondary indexes with their keys (as :data:`INDEX_KEYS`)."""

    name: str
    exists: bool
    keys: Keys = ()
    status: str | None = None
    ttl_attribute: str | None = None
    ttl_known: bool = True
    indexes: Mapping[str, Keys] = field(default_factory=dict)


def table_shape(client: Any, table_name: str) -> TableShape:
    """The shape of ``table_name`` through a ``boto3.client("dynamodb")``; a missing table is ``exists`` False,
    any other refusal (credentials, permissions) raises botocore's error."""
    try:
        described = client.describe_table(TableName=table_name)["Table"]
    except client.exceptions.ResourceNotFoundException:
        return TableShape(table_name, exists=False)
    types = _types(described.get("AttributeDefinitions", []))
    keys = _keys(described["KeySchema"], types)
    indexes = {
        index["IndexName"]: _keys(index["KeySchema"], types)
        for index in described.get("GlobalSecondaryIndexes", [])
    }
    status = described.get("TableStatus")
    try:
        ttl = client.describe_time_to_live(TableName=table_name)["TimeToLiveDescription"]
    except Exception:  # permission to read TTL is not needed to run: unknown, not wrong
        return TableShape(table_name, True, keys, status, None, ttl_known=False, indexes=indexes)
    on = ttl.get("TimeToLiveStatus") in ("ENABLED", "ENABLING")
    return TableShape(
        table_name, True, keys, status, ttl.get("AttributeName") if on else None, indexes=indexes
    )


# ------------------------------------------------------------------------------------------- conversions


def num(value: float) -> Decimal:
    """A float as DynamoDB takes it (boto3 refuses floats); ``repr`` round-trips exactly."""
    return Decimal(repr(float(value)))


def ts(moment: datetime) -> Decimal:
    return num(moment.timestamp())


def ttl(moment: datetime) -> int:
    """Epoch seconds for DynamoDB's TTL, rounded up so an item is never deleted before it expires."""
    return math.ceil(moment.timestamp())


def opt_int(value: Any) -> int | None:
    return None if value is None else int(value)


def opt_datetime(value: Any) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


def opt_date(value: Any) -> date | None:
    return date.fromisoformat(value) if value else None


def item_size(item: Mapping[str, Any]) -> int:
    """An item's size in bytes by DynamoDB's rules, which bill a write one unit per started KB of it: names and
    strings their UTF-8 bytes, a number one byte per two significant digits plus one, a list or map three bytes
    plus one per element."""

    def size(value: Any) -> int:
        if isinstance(value, str):
            return len(value.encode())
        if isinstance(value, bool) or value is None:
            return 1
        if isinstance(value, int | float | Decimal):
            digits = Decimal(value).as_tuple().digits if not isinstance(value, int) else str(abs(value))
            significant = "".join(str(d) for d in digits).strip("0") or "0"
            return math.ceil(len(significant) / 2) + 1
        if isinstance(value, bytes | bytearray):
            return len(value)
        if isinstance(value, Mapping):
            return 3 + sum(len(str(k).encode()) + size(v) + 1 for k, v in value.items())
        return 3 + sum(size(v) + 1 for v in value)  # list or set

    return sum(len(name.encode()) + size(value) for name, value in item.items())


def sort_instant(moment: datetime) -> str:
    """A fixed-width instant that sorts as time does (UTC when the datetime is aware)."""
    if moment.tzinfo is not None:
        return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%f")


def update_expression(
    set_values: Mapping[str, Any],
    *,
    add: Sequence[str] = ("version",),
    remove: Sequence[str] = (),
    written: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """``UpdateExpression`` with its names and values: ``SET`` each value, add 1 to each of ``add``, ``REMOVE``;
    ``written`` sets those keys inside the ``written`` map one by one (its other keys are kept).

    Every attribute goes through a ``#name`` placeholder, so none can collide with a reserved word.
    """
    names: dict[str, str] = {}
    values: dict[str, Any] = {":one": 1} if add else {}
    sets: list[str] = []
    for i, (attribute, value) in enumerate(set_values.items()):
        names[f"#s{i}"] = attribute
        values[f":s{i}"] = value
        sets.append(f"#s{i} = :s{i}")
    if written:
        names["#wr"] = "written"
    for i, (key, value) in enumerate((written or {}).items()):
        names[f"#w{i}"] = str(key)
        values[f":w{i}"] = str(value)
        sets.append(f"#wr.#w{i} = :w{i}")
    for i, attribute in enumerate(add):
        names[f"#a{i}"] = attribute
        sets.append(f"#a{i} = #a{i} + :one")
    expression = "SET " + ", ".join(sets)
    if remove:
        for i, attribute in enumerate(remove):
            names[f"#r{i}"] = attribute
        expression += " REMOVE " + ", ".join(f"#r{i}" for i in range(len(remove)))
    return {
        "UpdateExpression": expression,
        "ExpressionAttributeNames": names,
        "ExpressionAttributeValues": values,
    }


_CONDITION_NAMES = {
    "#ck": "pk",
    "#ct": "claim_token",
    "#cu": "claim_until_ts",
    "#st": "state",
}


def with_condition(update: dict[str, Any], condition: str, values: Mapping[str, Any]) -> dict[str, Any]:
    """Add ``condition`` to ``update``; it may name ``#ck`` (``pk``), ``#ct`` (``claim_token``), ``#cu``
    (``claim_until_ts``) and ``#st`` (``state``). Only the names it uses are declared: DynamoDB refuses unused ones.
    """
    update["ConditionExpression"] = condition
    update["ExpressionAttributeNames"] |= {k: v for k, v in _CONDITION_NAMES.items() if k in condition}
    update["ExpressionAttributeValues"] |= values
    return update


def at_version(expected: Any) -> Item:
    """The condition of a versioned put: no item yet (``expected`` None), or the item still at ``expected``."""
    if expected is None:
        return {"ConditionExpression": "attribute_not_exists(#ck)", "ExpressionAttributeNames": {"#ck": "pk"}}
    return {
        "ConditionExpression": "#v = :expected",
        "ExpressionAttributeNames": {"#v": "version"},
        "ExpressionAttributeValues": {":expected": expected},
    }


def pages(read: Callable[..., Any], request: Mapping[str, Any]) -> Iterator[Item]:
    """Every item a query or scan (``read``) finds for ``request``, page after page."""
    following = dict(request)
    while True:
        page = read(**following)
        yield from page.get("Items", [])
        if "LastEvaluatedKey" not in page:
            return
        following["ExclusiveStartKey"] = page["LastEvaluatedKey"]


class TableAdapter:
    """An adapter on the store's table: ``_failed`` is the table's failed-condition error, which every adapter
    turns into its port's answer."""

    def __init__(self, table: Any) -> None:
        self._table = table
        self._failed: type[Exception] = table.meta.client.exceptions.ConditionalCheckFailedException

    def _get(self, key: Item) -> Item | None:
        item: Item | None = self._table.get_item(Key=key, ConsistentRead=True).get("Item")
        return item

    def _get_many(self, keys: Iterable[Item]) -> Iterator[Item]:
        """The items at these keys that exist (strongly consistent), 100 keys per ``BatchGetItem`` (DynamoDB's
        ceiling), unprocessed keys asked again; in no particular order."""
        wanted = list(keys)
        client = self._table.meta.client
        for start in range(0, len(wanted), 100):
            request: dict[str, Any] = {
                self._table.name: {"Keys": wanted[start : start + 100], "ConsistentRead": True}
            }
            while request:
                answer = client.batch_get_item(RequestItems=request)
                yield from answer.get("Responses", {}).get(self._table.name, [])
                request = answer.get("UnprocessedKeys") or {}

    def _update_if(self, key: Item, **request: Any) -> bool:
        """Update the item at ``key`` as ``request`` says if its condition holds; False when it does not."""
        try:
            self._table.update_item(Key=key, **request)
        except self._failed:
            return False
        return True
