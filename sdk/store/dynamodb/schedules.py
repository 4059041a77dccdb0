"""Deals' billing schedules on the store's DynamoDB table: one ``SCHEDULE`` item per deal, beside its ledger row
(``pk`` ``DEAL#{portal}#{deal}``).

A save is a whole-item put conditioned on the version the writer read (none stored, for version 0), so two writers
never both win; the loser's :class:`~sdk.errors.ScheduleConflict` names the version it met. The plan is kept as
JSON text (a string attribute): opaque, any size up to the item's 400 KB, and read back exactly as written.

The schedules due by a date are a query on the sparse :data:`~sdk.store.dynamodb.table.DUE_INDEX`: only an active
item with a ``next_due`` carries its keys (``due_pk`` ``DUE#{portal}``, ``due_sk`` ``{next_due}#{deal}``), and a
put without them takes the item out of the index. One company's schedules are a query on the ``by_company`` index
(:data:`~sdk.store.dynamodb.table.COMPANY_INDEX`), kept to ``SCHEDULE`` items.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import replace
from datetime import date, datetime
from typing import Any

from sdk.errors import ScheduleConflict
from sdk.store import ScheduleRow, ScheduleState
from sdk.store.codec import plan_from_json, plan_to_json
from sdk.store.dynamodb.table import (
    COMPANY_INDEX,
    DUE_INDEX,
    DUE_PK,
    DUE_SK,
    SCHEDULE_SK,
    Item,
    TableAdapter,
    at_version,
    opt_date,
    opt_datetime,
    pages,
)


def _due_partition(portal_id: int) -> str:
    return f"DUE#{portal_id}"


def _schedule_item(row: ScheduleRow) -> Item:
    item: Item = {
        "pk": f"DEAL#{row.portal_id}#{row.deal_id}",
        "sk": SCHEDULE_SK,
        "portal_id": row.portal_id,
        "deal_id": row.deal_id,
        "state": row.state.value,
        "plan": plan_to_json(row.plan),
        "consolidated": row.consolidated,
        "note": row.note,
        "version": row.version,
    }
    if row.next_due is not None:
        item["next_due"] = row.next_due.isoformat()
    if row.company_id is not None:  # the by_company index refuses anything but a string
        item["company_id"] = row.company_id
    if row.updated_at is not None:
        item["updated_at"] = row.updated_at.isoformat()
    if row.state is ScheduleState.ACTIVE and row.next_due is not None:
        item[DUE_PK] = _due_partition(row.portal_id)
        item[DUE_SK] = f"{row.next_due.isoformat()}#{row.deal_id}"
    return item


def _schedule_row(item: Mapping[str, Any]) -> ScheduleRow:
    return ScheduleRow(
        portal_id=int(item["portal_id"]),
        deal_id=str(item["deal_id"]),
        state=ScheduleState(item["state"]),
        plan=plan_from_json(item["plan"]),
        next_due=opt_date(item.get("next_due")),
        company_id=item.get("company_id"),
        consolidated=bool(item.get("consolidated", False)),
        note=str(item.get("note", "")),
        version=int(item["version"]),
        updated_at=opt_datetime(item.get("updated_at")),
    )


class DynamoSchedules(TableAdapter):
    """The :class:`~sdk.store.Schedules` port on the store's table."""

    @staticmethod
    def _schedule_key(portal_id: int, deal_id: str) -> Item:
        return {"pk": f"DEAL#{portal_id}#{deal_id}", "sk": SCHEDULE_SK}

    def get_schedule(self, portal_id: int, deal_id: str) -> ScheduleRow | None:
        item = self._get(self._schedule_key(portal_id, deal_id))
        return _schedule_row(item) if item else None

    def get_schedules(self, portal_id: int, deal_ids: Iterable[str]) -> dict[str, ScheduleRow]:
        items = self._get_many(self._schedule_key(portal_id, d) for d in dict.fromkeys(deal_ids))
        rows = (_schedule_row(item) for item in items)
        return {row.deal_id: row for row in rows}

    def save_schedule(self, row: ScheduleRow, now: datetime) -> ScheduleRow:
        item = _schedule_item(replace(row, version=row.version + 1, updated_at=now))
        try:
            self._table.put_item(Item=item, **at_version(row.version or None))
        except self._failed:
            current = self._get(self._schedule_key(row.portal_id, row.deal_id))
            found = int(current["version"]) if current else None
            raise ScheduleConflict(row.portal_id, row.deal_id, row.version, found) from None
        return _schedule_row(item)  # as it reads back: the plan through JSON

    def due_schedules(self, portal_id: int, on: date) -> Iterator[ScheduleRow]:
        """A query on the sparse ``by_due`` index, page by page: ``due_sk`` below ``{on}$`` (``$`` sorts right
        after the ``#`` that follows the date), so every schedule due on ``on`` is in and none due after it."""
        request: Item = {
            "IndexName": DUE_INDEX,
            "KeyConditionExpression": "#dp = :portal AND #ds < :after",
            "ExpressionAttributeNames": {"#dp": DUE_PK, "#ds": DUE_SK},
            "ExpressionAttributeValues": {
                ":portal": _due_partition(portal_id),
                ":after": f"{on.isoformat()}$",
            },
        }
        for item in pages(self._table.query, request):
            yield _schedule_row(item)

    def schedules_for_company(self, portal_id: int, company_id: str) -> list[ScheduleRow]:
        """A query on the ``by_company`` index, kept to ``SCHEDULE`` items (the company's ledger rows, partner link
        and rollups share its keys)."""
        request: Item = {
            "IndexName": COMPANY_INDEX,
            "KeyConditionExpression": "#c = :company AND #p = :portal",
            "FilterExpression": "#sk = :schedule",
            "ExpressionAttributeNames": {"#c": "company_id", "#p": "portal_id", "#sk": "sk"},
            "ExpressionAttributeValues": {
                ":company": company_id,
                ":portal": portal_id,
                ":schedule": SCHEDULE_SK,
            },
        }
        rows = [_schedule_row(item) for item in pages(self._table.query, request)]
        return sorted(rows, key=lambda row: row.deal_id)
