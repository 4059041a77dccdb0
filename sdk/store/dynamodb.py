"""The AWS store: one DynamoDB table (single-table design), every decision a conditional write.

Items, by key (``pk`` / ``sk``, both strings):

==============================  ==================  ======================================================
``pk``                          ``sk``              what
==============================  ==================  ======================================================
``DEAL#{portal}#{deal}``        ``LEDGER``          the ledger row of a deal (state, version, claim, invoice)
``DEAL#{portal}#{deal}``        ``HIST#{utc}#...``  one history event; queried in ``sk`` order, TTL
``DEAL#{portal}#{deal}``        ``WAIT#{cb id}``    a blocked workflow action (its callback id) waiting, TTL
``DEAL#{portal}#{deal}``        ``ORPHAN#{inv id}`` an invoice created by an attempt that had lost its claim
``COMPANY#{portal}#{company}``  ``PARTNER``         the freee partner linked to a company (put-if-absent)
``COMPANY#{portal}#{company}``  ``WRITTEN``         the rollup values last written to the company
``LEASE#{name}``                ``LEASE``           a named lease (one payment sync at a time)
``CURSOR#{name}``               ``CURSOR``          a sync cursor
``EVENT#{event id}``            ``EVENT``           a seen webhook event, TTL
``FREEE#TOKEN``                 ``TOKEN``           the freee OAuth token row, versioned, with a refresh claim
``RATE#{key}``                  ``RATE``            the call log of one rate-limit key, versioned, < 1 KB
==============================  ==================  ======================================================

Instants a condition compares are kept twice: as an ISO string for people and as epoch seconds (``*_ts``,
a number) for the condition, since ISO strings with different offsets do not sort as instants. DynamoDB's TTL
deletes expired items lazily (up to days later), so every read that depends on an expiry checks it itself.

Reads are strongly consistent. A failed condition never escapes as a botocore error: it becomes the port's
answer (a refused :class:`~sdk.store.Claim`, :class:`~sdk.store.ClaimLost`, ``None``, ``False``, a wait).
"""

from __future__ import annotations

import contextlib
import json
import math
import threading
import time
import uuid
from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

from sdk.errors import ClaimLost
from sdk.freee.ratelimit import CompactCallLog, RateLimitStore, Window
from sdk.freee.tokens import StoredToken, TokenSet, TokenStore
from sdk.store import (
    Claim,
    HistoryEvent,
    InvoiceRecord,
    LedgerRow,
    LedgerState,
    OrphanInvoice,
    check_failure,
)

Item = dict[str, Any]

LEDGER_SK = "LEDGER"
HISTORY_PREFIX = "HIST#"
WAITER_PREFIX = "WAIT#"
ORPHAN_PREFIX = "ORPHAN#"
PARTNER_SK = "PARTNER"
EVENT_SK = "EVENT"
TOKEN_KEY: Item = {"pk": "FREEE#TOKEN", "sk": "TOKEN"}
RATE_SK = "RATE"
TTL_ATTRIBUTE = "expires_at"
WRITTEN_SK = "WRITTEN"
LEASE_SK = "LEASE"
CURSOR_SK = "CURSOR"

_CLAIMABLE = (LedgerState.CREATING, LedgerState.FAILED, LedgerState.INVALID)
_CLAIM_FIELDS = ("claim_token", "claim_until", "claim_until_ts")
_RATE_RETRIES = 64


def create_table(resource: Any, table_name: str) -> Any:
    """Create the table this store needs (on-demand, ``pk``/``sk`` strings, TTL on ``expires_at``); returns it.

    For tests, the demo and documentation: ``serverless.yml`` declares the same shape for deployments.
    """
    table = resource.create_table(
        TableName=table_name,
        KeySchema=[
            {"AttributeName": "pk", "KeyType": "HASH"},
            {"AttributeName": "sk", "KeyType": "RANGE"},
        ],
        AttributeDefinitions=[
            {"AttributeName": "pk", "AttributeType": "S"},
            {"AttributeName": "sk", "AttributeType": "S"},
        ],
        BillingMode="PAY_PER_REQUEST",
    )
    table.wait_until_exists()
    resource.meta.client.update_time_to_live(
        TableName=table_name,
        TimeToLiveSpecification={"Enabled": True, "AttributeName": TTL_ATTRIBUTE},
    )
    return table


# ------------------------------------------------------------------------------------------- conversions


def _num(value: float) -> Decimal:
    """A float as DynamoDB takes it (boto3 refuses floats); ``repr`` round-trips exactly."""
    return Decimal(repr(float(value)))


def _ts(moment: datetime) -> Decimal:
    return _num(moment.timestamp())


def _ttl(moment: datetime) -> int:
    """Epoch seconds for DynamoDB's TTL, rounded up so an item is never deleted before it expires."""
    return math.ceil(moment.timestamp())


def _opt_int(value: Any) -> int | None:
    return None if value is None else int(value)


def _opt_datetime(value: Any) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


def _opt_date(value: Any) -> date | None:
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


def _sort_instant(moment: datetime) -> str:
    """A fixed-width instant that sorts as time does (UTC when the datetime is aware)."""
    if moment.tzinfo is not None:
        return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%f")


def _invoice_to_item(invoice: InvoiceRecord) -> Item:
    return {
        "invoice_id": invoice.invoice_id,
        "invoice_number": invoice.invoice_number,
        "invoice_url": invoice.invoice_url,
        "partner_id": invoice.partner_id,
        "amount_net": invoice.amount_net,
        "amount_tax": invoice.amount_tax,
        "amount_total": invoice.amount_total,
        "billing_date": invoice.billing_date.isoformat(),
        "due_date": invoice.due_date.isoformat() if invoice.due_date else None,
        "accounting_deal_id": invoice.accounting_deal_id,
    }


def _invoice_from_item(data: Mapping[str, Any] | None) -> InvoiceRecord | None:
    if not data:
        return None
    return InvoiceRecord(
        invoice_id=int(data["invoice_id"]),
        invoice_number=str(data["invoice_number"]),
        invoice_url=str(data["invoice_url"]),
        partner_id=int(data["partner_id"]),
        amount_net=int(data["amount_net"]),
        amount_tax=int(data["amount_tax"]),
        amount_total=int(data["amount_total"]),
        billing_date=date.fromisoformat(data["billing_date"]),
        due_date=_opt_date(data.get("due_date")),
        accounting_deal_id=_opt_int(data.get("accounting_deal_id")),
    )


def _ledger_row(item: Mapping[str, Any]) -> LedgerRow:
    return LedgerRow(
        portal_id=int(item["portal_id"]),
        deal_id=str(item["deal_id"]),
        state=LedgerState(item["state"]),
        version=int(item["version"]),
        attempts=int(item.get("attempts", 0)),
        claim_token=item.get("claim_token"),
        claim_until=_opt_datetime(item.get("claim_until")),
        company_id=item.get("company_id"),
        partner_id=_opt_int(item.get("partner_id")),
        billing_date=_opt_date(item.get("billing_date")),
        invoice=_invoice_from_item(item.get("invoice")),
        written={str(k): str(v) for k, v in (item.get("written") or {}).items()},
        last_error=item.get("last_error"),
        updated_at=_opt_datetime(item.get("updated_at")),
        intents=tuple(sorted(_intent(text) for text in item.get("intents") or ())),
    )


def _intent(text: str) -> tuple[int, date]:
    """``"{partner}#{billing date}"``, as the ledger item's ``intents`` string set keeps each place."""
    partner, billing = text.split("#", 1)
    return int(partner), date.fromisoformat(billing)


def _orphan_item(orphan: OrphanInvoice) -> Item:
    return {
        "pk": f"DEAL#{orphan.portal_id}#{orphan.deal_id}",
        "sk": f"{ORPHAN_PREFIX}{orphan.invoice_id:020d}",
        "portal_id": orphan.portal_id,
        "deal_id": orphan.deal_id,
        "invoice_id": orphan.invoice_id,
        "invoice_number": orphan.invoice_number,
        "partner_id": orphan.partner_id,
        "billing_date": orphan.billing_date.isoformat(),
        "amount_total": orphan.amount_total,
        "found_at": orphan.found_at.isoformat(),
        **({"resolved_at": orphan.resolved_at.isoformat()} if orphan.resolved_at else {}),
    }


def _orphan(item: Mapping[str, Any]) -> OrphanInvoice:
    return OrphanInvoice(
        portal_id=int(item["portal_id"]),
        deal_id=str(item["deal_id"]),
        invoice_id=int(item["invoice_id"]),
        invoice_number=str(item["invoice_number"]),
        partner_id=int(item["partner_id"]),
        billing_date=date.fromisoformat(item["billing_date"]),
        amount_total=int(item["amount_total"]),
        found_at=datetime.fromisoformat(item["found_at"]),
        resolved_at=_opt_datetime(item.get("resolved_at")),
    )


def _update(
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


def _with_condition(update: dict[str, Any], condition: str, values: Mapping[str, Any]) -> dict[str, Any]:
    """Add ``condition`` to ``update``; it may name ``#ck`` (``pk``), ``#ct`` (``claim_token``), ``#cu``
    (``claim_until_ts``) and ``#st`` (``state``). Only the names it uses are declared: DynamoDB refuses unused ones.
    """
    update["ConditionExpression"] = condition
    update["ExpressionAttributeNames"] |= {k: v for k, v in _CONDITION_NAMES.items() if k in condition}
    update["ExpressionAttributeValues"] |= values
    return update


# ------------------------------------------------------------------------------------------------ store


class DynamoStore:
    """The :class:`~sdk.store.Store` port on one DynamoDB table.

    ``resource`` is a ``boto3.resource("dynamodb")`` (the default: region and endpoint from the environment).
    ``ttl_days`` is how long history events are kept before DynamoDB's TTL may delete them (0: for ever).
    """

    def __init__(self, table_name: str, *, resource: Any = None, ttl_days: int = 90) -> None:
        if resource is None:
            import boto3  # here, so importing sdk.store stays cheap

            resource = boto3.resource("dynamodb")
        self.table_name = table_name
        self.ttl_days = ttl_days
        self._table: Any = resource.Table(table_name)
        self._failed: type[Exception] = self._table.meta.client.exceptions.ConditionalCheckFailedException
        self._history_lock = threading.Lock()
        self._history_last = 0
        self.tokens: TokenStore = DynamoTokenStore(self._table)
        self.rate_limits: RateLimitStore = DynamoRateLimitStore(self._table)

    # ------------------------------------------------------------------------------------------ ledger

    @staticmethod
    def _deal_key(portal_id: int, deal_id: str) -> Item:
        return {"pk": f"DEAL#{portal_id}#{deal_id}", "sk": LEDGER_SK}

    def _get(self, key: Item) -> Item | None:
        item: Item | None = self._table.get_item(Key=key, ConsistentRead=True).get("Item")
        return item

    def get_ledger(self, portal_id: int, deal_id: str) -> LedgerRow | None:
        item = self._get(self._deal_key(portal_id, deal_id))
        return _ledger_row(item) if item else None

    def claim(self, portal_id: int, deal_id: str, token: str, now: datetime, until: datetime) -> Claim:
        key = self._deal_key(portal_id, deal_id)
        claim = {"claim_token": token, "claim_until": until.isoformat(), "claim_until_ts": _ts(until)}
        while True:
            item: Item = {
                **key,
                "portal_id": portal_id,
                "deal_id": deal_id,
                "state": LedgerState.CREATING.value,
                "version": 1,
                "attempts": 1,
                "written": {},
                "updated_at": now.isoformat(),
                **claim,
            }
            try:
                self._table.put_item(
                    Item=item,
                    ConditionExpression="attribute_not_exists(#ck)",
                    ExpressionAttributeNames={"#ck": "pk"},
                )
                return Claim(True, _ledger_row(item), resumed=False)
            except self._failed:
                pass  # the row exists: take it over if its state and lease allow
            update = _with_condition(
                _update(
                    {"state": LedgerState.CREATING.value, "updated_at": now.isoformat(), **claim},
                    add=("version", "attempts"),
                ),
                "attribute_exists(#ck) AND #st IN (:c0, :c1, :c2)"
                " AND (attribute_not_exists(#ct) OR attribute_not_exists(#cu) OR #cu <= :now)",
                {**{f":c{i}": s.value for i, s in enumerate(_CLAIMABLE)}, ":now": _ts(now)},
            )
            try:
                answer = self._table.update_item(Key=key, ReturnValues="ALL_NEW", **update)
                return Claim(True, _ledger_row(answer["Attributes"]), resumed=True)
            except self._failed:
                current = self._get(key)
                if current is not None:
                    return Claim(False, _ledger_row(current))
                # the row vanished between the two writes (deleted by hand): try again from the top

    def _holding_update(
        self,
        portal_id: int,
        deal_id: str,
        token: str,
        update: dict[str, Any],
        *,
        all_new: bool = True,
        state: LedgerState | None = None,
    ) -> LedgerRow | None:
        """Apply ``update`` only while ``token`` holds the claim (and the row is in ``state``, when given);
        :class:`ClaimLost` otherwise."""
        if state is None:
            _with_condition(update, "#ct = :token", {":token": token})
        else:
            _with_condition(update, "#ct = :token AND #st = :from", {":token": token, ":from": state.value})
        try:
            answer = self._table.update_item(
                Key=self._deal_key(portal_id, deal_id),
                ReturnValues="ALL_NEW" if all_new else "NONE",
                **update,
            )
        except self._failed:
            raise ClaimLost(f"deal {deal_id}: the claim passed to another worker") from None
        return _ledger_row(answer["Attributes"]) if all_new else None

    def note_intent(
        self,
        portal_id: int,
        deal_id: str,
        token: str,
        *,
        company_id: str,
        partner_id: int,
        billing_date: date,
    ) -> None:
        update = _update(
            {"company_id": company_id, "partner_id": partner_id, "billing_date": billing_date.isoformat()}
        )
        update["UpdateExpression"] += " ADD #in :in"  # a string set: every place any attempt used is kept
        update["ExpressionAttributeNames"]["#in"] = "intents"
        update["ExpressionAttributeValues"][":in"] = {f"{partner_id}#{billing_date.isoformat()}"}
        self._holding_update(portal_id, deal_id, token, update, all_new=False, state=LedgerState.CREATING)

    def renew_claim(
        self, portal_id: int, deal_id: str, token: str, now: datetime, until: datetime
    ) -> LedgerRow:
        update = _update(
            {"claim_until": until.isoformat(), "claim_until_ts": _ts(until), "updated_at": now.isoformat()}
        )
        row = self._holding_update(portal_id, deal_id, token, update, state=LedgerState.CREATING)
        assert row is not None  # noqa: S101 - ALL_NEW asked for
        return row

    def record_invoice(
        self, portal_id: int, deal_id: str, token: str, invoice: InvoiceRecord, now: datetime
    ) -> LedgerRow:
        update = _update(
            {
                "state": LedgerState.CREATED.value,
                "invoice": _invoice_to_item(invoice),
                "partner_id": invoice.partner_id,
                "billing_date": invoice.billing_date.isoformat(),
                "updated_at": now.isoformat(),
            },
            remove=("last_error",),
        )
        row = self._holding_update(portal_id, deal_id, token, update, state=LedgerState.CREATING)
        assert row is not None  # noqa: S101 - ALL_NEW asked for
        return row

    def record_failure(
        self,
        portal_id: int,
        deal_id: str,
        token: str,
        state: LedgerState,
        error: str,
        now: datetime,
        *,
        written: Mapping[str, str] | None = None,
        settle_until: datetime | None = None,
    ) -> LedgerRow:
        check_failure(state, settle_until)
        fields: Item = {"state": state.value, "last_error": error, "updated_at": now.isoformat()}
        if settle_until is None:
            update = _update(fields, remove=_CLAIM_FIELDS, written=written)
        else:  # the claim stays ours until the settling period ends
            settling = {"claim_until": settle_until.isoformat(), "claim_until_ts": _ts(settle_until)}
            update = _update(fields | settling, written=written)
        row = self._holding_update(portal_id, deal_id, token, update, state=LedgerState.CREATING)
        assert row is not None  # noqa: S101 - ALL_NEW asked for
        return row

    def record_written(
        self,
        portal_id: int,
        deal_id: str,
        values: Mapping[str, str],
        now: datetime,
        *,
        token: str | None = None,
        invoice: InvoiceRecord | None = None,
    ) -> LedgerRow:
        fields: Item = {"updated_at": now.isoformat()}
        if invoice is not None:
            fields["invoice"] = _invoice_to_item(invoice)
        if token is not None:
            update = _update(fields, remove=_CLAIM_FIELDS, written=values)
            row = self._holding_update(portal_id, deal_id, token, update)
            assert row is not None  # noqa: S101 - ALL_NEW asked for
            return row
        update = _with_condition(_update(fields, written=values), "attribute_exists(#ck)", {})
        try:
            answer = self._table.update_item(
                Key=self._deal_key(portal_id, deal_id), ReturnValues="ALL_NEW", **update
            )
        except self._failed:
            raise KeyError(f"no ledger row for deal {deal_id}") from None
        return _ledger_row(answer["Attributes"])

    def mark_cancelled(self, portal_id: int, deal_id: str, now: datetime) -> LedgerRow:
        update = _with_condition(
            _update({"state": LedgerState.CANCELLED.value, "updated_at": now.isoformat()}),
            "#st = :created",
            {":created": LedgerState.CREATED.value},
        )
        try:
            answer = self._table.update_item(
                Key=self._deal_key(portal_id, deal_id), ReturnValues="ALL_NEW", **update
            )
        except self._failed:
            raise ValueError(f"deal {deal_id} has no invoice to cancel") from None
        return _ledger_row(answer["Attributes"])

    def ledger(self, *, states: frozenset[LedgerState] | None = None) -> Iterator[LedgerRow]:
        """Every ledger row (optionally only some states), ordered by portal and deal like the SQLite store.

        A paginated scan with a filter: the ledger holds one row per won deal, so this stays small.
        """
        if states is not None and not states:
            return
        names = {"#sk": "sk"}
        values: Item = {":ledger": LEDGER_SK}
        condition = "#sk = :ledger"
        if states is not None:
            names["#st"] = "state"
            wanted = sorted(s.value for s in states)
            values |= {f":s{i}": s for i, s in enumerate(wanted)}
            condition += " AND #st IN (" + ", ".join(f":s{i}" for i in range(len(wanted))) + ")"
        request: Item = {
            "FilterExpression": condition,
            "ExpressionAttributeNames": names,
            "ExpressionAttributeValues": values,
            "ConsistentRead": True,
        }
        rows: list[LedgerRow] = []
        while True:
            page = self._table.scan(**request)
            rows.extend(_ledger_row(item) for item in page.get("Items", []))
            if "LastEvaluatedKey" not in page:
                break
            request["ExclusiveStartKey"] = page["LastEvaluatedKey"]
        rows.sort(key=lambda row: (row.portal_id, row.deal_id))
        yield from rows

    # ----------------------------------------------------------------------------------------- orphans

    def record_orphan(self, orphan: OrphanInvoice) -> None:
        with contextlib.suppress(self._failed):  # kept already: recording it again changes nothing
            self._table.put_item(
                Item=_orphan_item(orphan),
                ConditionExpression="attribute_not_exists(#ck)",
                ExpressionAttributeNames={"#ck": "pk"},
            )

    def orphans(self, portal_id: int | None = None, deal_id: str | None = None) -> list[OrphanInvoice]:
        """One deal's: a query beside its ledger row; otherwise a paginated scan (orphans are rare)."""
        names = {"#sk": "sk"}
        values: Item = {":orphan": ORPHAN_PREFIX}
        if portal_id is not None and deal_id is not None:
            names["#pk"] = "pk"
            values[":pk"] = f"DEAL#{portal_id}#{deal_id}"
            request: Item = {"KeyConditionExpression": "#pk = :pk AND begins_with(#sk, :orphan)"}
            read = self._table.query
        else:
            condition = "begins_with(#sk, :orphan)"
            for name, value in (("portal_id", portal_id), ("deal_id", deal_id)):
                if value is not None:
                    names[f"#{name}"] = name
                    values[f":{name}"] = value
                    condition += f" AND #{name} = :{name}"
            request = {"FilterExpression": condition}
            read = self._table.scan
        request |= {
            "ExpressionAttributeNames": names,
            "ExpressionAttributeValues": values,
            "ConsistentRead": True,
        }
        found: list[OrphanInvoice] = []
        while True:
            page = read(**request)
            found.extend(_orphan(item) for item in page.get("Items", []))
            if "LastEvaluatedKey" not in page:
                return sorted(found, key=lambda o: (o.portal_id, o.deal_id, o.invoice_id))
            request["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def resolve_orphan(self, portal_id: int, deal_id: str, invoice_id: int, now: datetime) -> bool:
        try:
            self._table.update_item(
                Key={"pk": f"DEAL#{portal_id}#{deal_id}", "sk": f"{ORPHAN_PREFIX}{invoice_id:020d}"},
                UpdateExpression="SET #r = :now",
                ConditionExpression="attribute_exists(#ck) AND attribute_not_exists(#r)",
                ExpressionAttributeNames={"#ck": "pk", "#r": "resolved_at"},
                ExpressionAttributeValues={":now": now.isoformat()},
            )
        except self._failed:
            return False
        return True

    # ---------------------------------------------------------------------------------------- partners

    @staticmethod
    def _partner_key(portal_id: int, company_id: str) -> Item:
        return {"pk": f"COMPANY#{portal_id}#{company_id}", "sk": PARTNER_SK}

    def partner_for_company(self, portal_id: int, company_id: str) -> int | None:
        item = self._get(self._partner_key(portal_id, company_id))
        return int(item["partner_id"]) if item else None

    def link_partner(self, portal_id: int, company_id: str, partner_id: int) -> int:
        key = self._partner_key(portal_id, company_id)
        try:
            self._table.put_item(
                Item={**key, "portal_id": portal_id, "company_id": company_id, "partner_id": partner_id},
                ConditionExpression="attribute_not_exists(#ck)",
                ExpressionAttributeNames={"#ck": "pk"},
            )
        except self._failed:
            existing = self._get(key)
            if existing is not None:
                return int(existing["partner_id"])
            return self.link_partner(portal_id, company_id, partner_id)  # unlinked by hand meanwhile
        return partner_id

    # ---------------------------------------------------------------------------------- events, history

    def seen_any(self, event_ids: Iterable[str], now: datetime) -> set[str]:
        ids = list(dict.fromkeys(event_ids))
        found: set[str] = set()
        resource = self._table.meta.client
        for start in range(0, len(ids), 100):
            keys = [{"pk": f"EVENT#{i}", "sk": EVENT_SK} for i in ids[start : start + 100]]
            request: dict[str, Any] = {self._table.name: {"Keys": keys, "ConsistentRead": True}}
            while request:
                answer = resource.batch_get_item(RequestItems=request)
                for item in answer.get("Responses", {}).get(self._table.name, []):
                    if Decimal(item["keep_until_ts"]) > _ts(now):
                        found.add(str(item["event_id"]))
                request = answer.get("UnprocessedKeys") or {}
        return found

    def record_sightings(self, event_ids: Iterable[str], now: datetime, keep_until: datetime) -> None:
        with self._table.batch_writer(overwrite_by_pkeys=["pk", "sk"]) as batch:
            for event_id in dict.fromkeys(event_ids):
                batch.put_item(
                    Item={
                        "pk": f"EVENT#{event_id}",
                        "sk": EVENT_SK,
                        "event_id": event_id,
                        "keep_until": keep_until.isoformat(),
                        "keep_until_ts": _ts(keep_until),
                        TTL_ATTRIBUTE: _ttl(keep_until),
                    }
                )

    def seen(self, event_id: str, now: datetime) -> bool:
        item = self._table.get_item(Key={"pk": f"EVENT#{event_id}", "sk": EVENT_SK}, ConsistentRead=True).get(
            "Item"
        )
        return item is not None and Decimal(item["keep_until_ts"]) > _ts(now)

    def first_sighting(self, event_id: str, now: datetime, keep_until: datetime) -> bool:
        """A put that succeeds only when no live item exists for the event: absent, or kept until ``<= now``
        (DynamoDB's TTL may not have deleted it yet)."""
        try:
            self._table.put_item(
                Item={
                    "pk": f"EVENT#{event_id}",
                    "sk": EVENT_SK,
                    "event_id": event_id,
                    "keep_until": keep_until.isoformat(),
                    "keep_until_ts": _ts(keep_until),
                    TTL_ATTRIBUTE: _ttl(keep_until),
                },
                ConditionExpression="attribute_not_exists(#ck) OR #ku <= :now",
                ExpressionAttributeNames={"#ck": "pk", "#ku": "keep_until_ts"},
                ExpressionAttributeValues={":now": _ts(now)},
            )
        except self._failed:
            return False
        return True

    def _history_sk(self, at: datetime) -> str:
        """``HIST#{event time, UTC}#{append stamp}#{random}``: time order, then append order in this process."""
        with self._history_lock:
            stamp = max(time.time_ns(), self._history_last + 1)
            self._history_last = stamp
        return f"{HISTORY_PREFIX}{_sort_instant(at)}#{stamp:020d}#{uuid.uuid4().hex[:8]}"

    def append_history(self, portal_id: int, deal_id: str, event: HistoryEvent) -> None:
        item: Item = {
            "pk": f"DEAL#{portal_id}#{deal_id}",
            "sk": self._history_sk(event.at),
            "at": event.at.isoformat(),
            "event": event.event,
            "trigger": event.trigger,
            "detail": json.dumps(dict(event.detail), ensure_ascii=False, default=str),
        }
        if self.ttl_days > 0:
            item[TTL_ATTRIBUTE] = _ttl(event.at + timedelta(days=self.ttl_days))
        self._table.put_item(Item=item)

    def history(self, portal_id: int, deal_id: str) -> list[HistoryEvent]:
        request: Item = {
            "KeyConditionExpression": "#pk = :pk AND begins_with(#sk, :hist)",
            "ExpressionAttributeNames": {"#pk": "pk", "#sk": "sk"},
            "ExpressionAttributeValues": {":pk": f"DEAL#{portal_id}#{deal_id}", ":hist": HISTORY_PREFIX},
            "ConsistentRead": True,
        }
        events: list[HistoryEvent] = []
        while True:
            page = self._table.query(**request)
            events.extend(
                HistoryEvent(
                    datetime.fromisoformat(item["at"]),
                    item["event"],
                    item["trigger"],
                    _detail(item["detail"]),
                )
                for item in page.get("Items", [])
            )
            if "LastEvaluatedKey" not in page:
                return events
            request["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    # ----------------------------------------------------------------------------------------- waiters

    def add_waiter(self, portal_id: int, deal_id: str, callback_id: str, until: datetime) -> None:
        self._table.put_item(
            Item={
                "pk": f"DEAL#{portal_id}#{deal_id}",
                "sk": f"{WAITER_PREFIX}{callback_id}",
                "callback_id": callback_id,
                "until": until.isoformat(),
                "until_ts": _ts(until),
                TTL_ATTRIBUTE: _ttl(until),
            }
        )

    def take_waiters(self, portal_id: int, deal_id: str, now: datetime) -> list[str]:
        """Each waiter is removed with a conditional delete: a caller gets only the ones it removed itself."""
        request: Item = {
            "KeyConditionExpression": "#pk = :pk AND begins_with(#sk, :wait)",
            "ExpressionAttributeNames": {"#pk": "pk", "#sk": "sk"},
            "ExpressionAttributeValues": {":pk": f"DEAL#{portal_id}#{deal_id}", ":wait": WAITER_PREFIX},
            "ConsistentRead": True,
        }
        taken: list[str] = []
        while True:
            page = self._table.query(**request)
            for item in page.get("Items", []):
                callback_id = str(item["callback_id"])
                if self.take_waiter(portal_id, deal_id, callback_id, now):
                    taken.append(callback_id)
                elif Decimal(item["until_ts"]) <= _ts(now):
                    self._drop_expired_waiter(item["pk"], item["sk"], now)
            if "LastEvaluatedKey" not in page:
                return sorted(taken)
            request["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def take_waiter(self, portal_id: int, deal_id: str, callback_id: str, now: datetime) -> bool:
        try:
            self._table.delete_item(
                Key={"pk": f"DEAL#{portal_id}#{deal_id}", "sk": f"{WAITER_PREFIX}{callback_id}"},
                ConditionExpression="attribute_exists(#ck) AND #u > :now",
                ExpressionAttributeNames={"#ck": "pk", "#u": "until_ts"},
                ExpressionAttributeValues={":now": _ts(now)},
            )
        except self._failed:
            return False  # taken by another caller, never added, or expired (left to TTL)
        return True

    def _drop_expired_waiter(self, pk: str, sk: str, now: datetime) -> None:
        """Delete an expired waiter now rather than days later by TTL (unless it was added again meanwhile)."""
        with contextlib.suppress(self._failed):
            self._table.delete_item(
                Key={"pk": pk, "sk": sk},
                ConditionExpression="#u <= :now",
                ExpressionAttributeNames={"#u": "until_ts"},
                ExpressionAttributeValues={":now": _ts(now)},
            )

    # ------------------------------------------------------------------------------------- payment sync

    def acquire_lease(self, name: str, holder: str, now: datetime, until: datetime) -> bool:
        try:
            self._table.put_item(
                Item={
                    "pk": f"LEASE#{name}",
                    "sk": LEASE_SK,
                    "holder": holder,
                    "until": until.isoformat(),
                    "until_ts": _ts(until),
                    TTL_ATTRIBUTE: _ttl(until + timedelta(days=1)),
                },
                ConditionExpression="attribute_not_exists(#ck) OR #h = :holder OR #u <= :now",
                ExpressionAttributeNames={"#ck": "pk", "#h": "holder", "#u": "until_ts"},
                ExpressionAttributeValues={":holder": holder, ":now": _ts(now)},
            )
        except self._failed:
            return False
        return True

    def release_lease(self, name: str, holder: str) -> None:
        with contextlib.suppress(self._failed):  # expired and taken by another holder, or already gone
            self._table.delete_item(
                Key={"pk": f"LEASE#{name}", "sk": LEASE_SK},
                ConditionExpression="#h = :holder",
                ExpressionAttributeNames={"#h": "holder"},
                ExpressionAttributeValues={":holder": holder},
            )

    def get_cursor(self, name: str) -> str | None:
        item = self._get({"pk": f"CURSOR#{name}", "sk": CURSOR_SK})
        return str(item["value"]) if item else None

    def put_cursor(self, name: str, value: str) -> None:
        self._table.put_item(Item={"pk": f"CURSOR#{name}", "sk": CURSOR_SK, "value": value})

    def companies_written(self, portal_id: int) -> dict[str, dict[str, str]]:
        request: Item = {
            "FilterExpression": "#sk = :written AND #p = :portal",
            "ExpressionAttributeNames": {"#sk": "sk", "#p": "portal_id"},
            "ExpressionAttributeValues": {":written": WRITTEN_SK, ":portal": portal_id},
            "ConsistentRead": True,
        }
        found: dict[str, dict[str, str]] = {}
        while True:
            page = self._table.scan(**request)
            for item in page.get("Items", []):
                found[str(item["company_id"])] = {
                    str(k): str(v) for k, v in (item.get("written") or {}).items()
                }
            if "LastEvaluatedKey" not in page:
                return found
            request["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def record_company_written(
        self, portal_id: int, company_id: str, values: Mapping[str, str], now: datetime
    ) -> None:
        self._table.put_item(
            Item={
                "pk": f"COMPANY#{portal_id}#{company_id}",
                "sk": WRITTEN_SK,
                "portal_id": portal_id,
                "company_id": company_id,
                "written": {str(k): str(v) for k, v in values.items()},
                "updated_at": now.isoformat(),
            }
        )


def _detail(text: str) -> dict[str, Any]:
    data = json.loads(text)
    return data if isinstance(data, dict) else {"value": data}


# ------------------------------------------------------------------------------------------------ tokens


class DynamoTokenStore:
    """The :class:`~sdk.freee.tokens.TokenStore` port as one item (``FREEE#TOKEN``) of the store's table.

    ``claim_refresh`` is an update conditional on the version and on no live claim; ``save_token`` replaces the
    item (which clears the claim and any disconnected mark) conditional on the version, or on no item for the
    first one; ``release_refresh`` and ``mark_disconnected`` are updates conditional on the version.
    """

    def __init__(self, table: Any) -> None:
        self._table = table
        self._failed: type[Exception] = table.meta.client.exceptions.ConditionalCheckFailedException

    def load_token(self) -> StoredToken | None:
        item = self._table.get_item(Key=TOKEN_KEY, ConsistentRead=True).get("Item")
        if item is None:
            return None
        return StoredToken(
            TokenSet.from_json(item["data"]),
            int(item["version"]),
            item.get("claim_holder"),
            _opt_datetime(item.get("claim_until")),
            item.get("disconnected_reason"),
            _opt_datetime(item.get("disconnected_at")),
        )

    def claim_refresh(self, version: int, holder: str, now: datetime, until: datetime) -> bool:
        try:
            self._table.update_item(
                Key=TOKEN_KEY,
                UpdateExpression="SET #ch = :holder, #cu = :until, #cts = :until_ts",
                ConditionExpression="#v = :version AND (attribute_not_exists(#cts) OR #cts <= :now)",
                ExpressionAttributeNames={
                    "#v": "version",
                    "#ch": "claim_holder",
                    "#cu": "claim_until",
                    "#cts": "claim_until_ts",
                },
                ExpressionAttributeValues={
                    ":holder": holder,
                    ":until": until.isoformat(),
                    ":until_ts": _ts(until),
                    ":version": version,
                    ":now": _ts(now),
                },
            )
        except self._failed:
            return False  # also when there is no row: `version = :version` fails on a missing attribute
        return True

    def save_token(self, tokens: TokenSet, expected_version: int | None) -> StoredToken | None:
        version = (expected_version or 0) + 1
        condition = _at_version(expected_version)
        try:
            self._table.put_item(
                Item={**TOKEN_KEY, "data": tokens.to_json(), "version": version}, **condition
            )
        except self._failed:
            return None
        return StoredToken(tokens, version)

    def release_refresh(self, version: int, holder: str) -> None:
        try:
            self._table.update_item(
                Key=TOKEN_KEY,
                UpdateExpression="REMOVE #ch, #cu, #cts",
                ConditionExpression="#v = :version AND #ch = :holder",
                ExpressionAttributeNames={
                    "#v": "version",
                    "#ch": "claim_holder",
                    "#cu": "claim_until",
                    "#cts": "claim_until_ts",
                },
                ExpressionAttributeValues={":version": version, ":holder": holder},
            )
        except self._failed:
            return  # the row moved on, or another worker holds the claim now

    def mark_disconnected(self, version: int, reason: str, at: datetime) -> bool:
        names = {
            "#v": "version",
            "#ch": "claim_holder",
            "#cu": "claim_until",
            "#cts": "claim_until_ts",
            "#dr": "disconnected_reason",
            "#da": "disconnected_at",
        }
        try:
            self._table.update_item(
                Key=TOKEN_KEY,
                UpdateExpression="SET #dr = :reason, #da = :at REMOVE #ch, #cu, #cts",
                ConditionExpression="#v = :version AND attribute_not_exists(#da)",
                ExpressionAttributeNames=names,
                ExpressionAttributeValues={":version": version, ":reason": reason, ":at": at.isoformat()},
            )
        except self._failed:
            row = self.load_token()  # already marked (keeps its first reason), or moved on / absent
            return row is not None and row.version == version and row.disconnected
        return True


def _at_version(expected: Any) -> Item:
    """The condition of a versioned put: no item yet (``expected`` None), or the item still at ``expected``."""
    if expected is None:
        return {"ConditionExpression": "attribute_not_exists(#ck)", "ExpressionAttributeNames": {"#ck": "pk"}}
    return {
        "ConditionExpression": "#v = :expected",
        "ExpressionAttributeNames": {"#v": "version"},
        "ExpressionAttributeValues": {":expected": expected},
    }


# ------------------------------------------------------------------------------------------- rate limits


class DynamoRateLimitStore:
    """The :class:`~sdk.freee.ratelimit.RateLimitStore` port: one item per key (``RATE#{key}``) holding a
    :class:`~sdk.freee.ratelimit.CompactCallLog`, rewritten with a condition on the item's version.

    The item has the same size whatever the limits: at most :data:`~sdk.freee.ratelimit.EXACT_CALLS` call times
    (microseconds after ``base``) and :data:`~sdk.freee.ratelimit.LOG_BUCKETS` + 2 small counts, under 1 KB, so
    a call let through costs one strongly consistent read (1 read unit) and one write of one write unit, and a
    call told to wait only the read (``benchmarks/dynamodb_rate_limit.py`` measures it). The guarantee is the
    port's: no window's length of time, wherever it starts, holds more than its limit of calls from all the
    containers together (a window of at most ``EXACT_CALLS`` calls, freee's minute, decided exactly; freee's hour
    may wait up to a bucket, a minute, longer than needed); see :mod:`sdk.freee.ratelimit` for how that compares
    to freee's own counting. An item written before this shape (a ``calls`` list of every call time) is read as
    exact calls and rewritten in the new shape on the next call.

    A lost race (another worker wrote the log between our read and our write) is retried on the fresh log, so
    concurrent workers together never exceed a window. After many lost races in a row the call is refused with
    a short wait, which the caller's limiter sleeps before asking again.
    """

    def __init__(self, table: Any, *, contention_wait: float = 0.05) -> None:
        self._table = table
        self._failed: type[Exception] = table.meta.client.exceptions.ConditionalCheckFailedException
        self.contention_wait = contention_wait

    def try_acquire(self, key: str, windows: Sequence[Window], now: float) -> float:
        item_key = {"pk": f"RATE#{key}", "sk": RATE_SK}
        for _ in range(_RATE_RETRIES):
            item = self._table.get_item(Key=item_key, ConsistentRead=True).get("Item")
            log = _call_log_from_item(item)
            wait = log.try_acquire(windows, now)
            if wait > 0:
                return wait
            new = {
                **item_key,
                **_call_log_attributes(log),
                "version": int(item["version"]) + 1 if item else 1,
            }
            try:
                self._table.put_item(Item=new, **_at_version(item["version"] if item else None))
            except self._failed:
                continue  # another worker wrote the log first: decide again on what it wrote
            return 0.0
        return self.contention_wait


_MICROS = 1_000_000


def _call_log_attributes(log: CompactCallLog) -> Item:
    """The item attributes of a rate-limit log: times as whole microseconds after ``base`` (a whole second)."""
    base = math.floor(min(log.calls, default=0.0))

    def micros(at: float) -> int:
        return round((at - base) * _MICROS)

    attributes: Item = {
        "base": base,
        "recent": [micros(t) for t in log.calls],
        "width": _num(log.width),
        "first": log.first,
        "counts": list(log.counts),
    }
    if log.counts:
        attributes["spilled"] = micros(log.spilled)
    return attributes


def _call_log_from_item(item: Item | None) -> CompactCallLog:
    """The log a rate-limit item holds (empty for none; an item of the earlier shape, every call time in
    ``calls``, as exact calls)."""
    if not item:
        return CompactCallLog()
    base = int(item.get("base", 0))
    recent = [base + int(t) / _MICROS for t in item.get("recent", [])]
    return CompactCallLog(
        calls=sorted(recent + [float(t) for t in item.get("calls", [])]),
        width=float(item.get("width", 0)),
        first=int(item.get("first", 0)),
        counts=[int(c) for c in item.get("counts", [])],
        spilled=base + int(item["spilled"]) / _MICROS if "spilled" in item else -math.inf,
    )
