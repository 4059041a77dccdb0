"""The ledger and the orphan list on the store's DynamoDB table (``DEAL#…`` items: ``LEDGER``, ``ORPHAN#…``).

One company's rows are read through the table's ``by_company`` index (:data:`~sdk.store.dynamodb.table.COMPANY_INDEX`:
``company_id`` + ``portal_id``, the attributes :meth:`DynamoLedger.note_intent` sets), a query, never a scan.

Every ledger write is a conditional update on the states the port defines (:data:`~sdk.store.CLAIMABLE`,
:data:`~sdk.store.HELD`, :data:`~sdk.store.CANCELLABLE`) and on the claim token, so a refused condition is the
port's answer (a refused :class:`~sdk.store.Claim`, :class:`~sdk.store.ClaimLost`).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Iterator, Mapping
from datetime import date, datetime
from typing import Any

from sdk.errors import ClaimLost
from sdk.store import (
    CANCELLABLE,
    CLAIMABLE,
    HELD,
    Claim,
    Failure,
    Intent,
    InvoiceRecord,
    LedgerRow,
    LedgerState,
    OrphanInvoice,
)
from sdk.store.codec import from_plain, problems_from_plain, problems_to_plain, to_plain
from sdk.store.dynamodb.table import (
    COMPANY_INDEX,
    LEDGER_SK,
    ORPHAN_PREFIX,
    Item,
    TableAdapter,
    opt_date,
    opt_datetime,
    opt_int,
    pages,
    ts,
    update_expression,
    with_condition,
)

_CLAIM_FIELDS = ("claim_token", "claim_until", "claim_until_ts")


def _ledger_row(item: Mapping[str, Any]) -> LedgerRow:
    return LedgerRow(
        portal_id=int(item["portal_id"]),
        deal_id=str(item["deal_id"]),
        state=LedgerState(item["state"]),
        version=int(item["version"]),
        attempts=int(item.get("attempts", 0)),
        claim_token=item.get("claim_token"),
        claim_until=opt_datetime(item.get("claim_until")),
        company_id=item.get("company_id"),
        partner_id=opt_int(item.get("partner_id")),
        billing_date=opt_date(item.get("billing_date")),
        invoice=from_plain(InvoiceRecord, item["invoice"]) if item.get("invoice") else None,
        written={str(k): str(v) for k, v in (item.get("written") or {}).items()},
        last_error=item.get("last_error"),
        updated_at=opt_datetime(item.get("updated_at")),
        intents=tuple(sorted(_intent(text) for text in item.get("intents") or ())),
        reasons=problems_from_plain(item.get("reasons")),
        warnings=problems_from_plain(item.get("warnings")),
        charges=tuple((str(c["unit"]), int(c["amount"])) for c in item.get("charges") or ()),
    )


def _intent(text: str) -> tuple[int, date]:
    """``"{partner}#{billing date}"``, as the ledger item's ``intents`` string set keeps each place."""
    partner, billing = text.split("#", 1)
    return int(partner), date.fromisoformat(billing)


def _orphan_item(orphan: OrphanInvoice) -> Item:
    kept = {name: value for name, value in to_plain(orphan).items() if value is not None}
    return {
        "pk": f"DEAL#{orphan.portal_id}#{orphan.deal_id}",
        "sk": f"{ORPHAN_PREFIX}{orphan.invoice_id:020d}",
    } | kept


class DynamoLedger(TableAdapter):
    """The :class:`~sdk.store.Ledger` and :class:`~sdk.store.Orphans` ports on the store's table."""

    @staticmethod
    def _deal_key(portal_id: int, deal_id: str) -> Item:
        return {"pk": f"DEAL#{portal_id}#{deal_id}", "sk": LEDGER_SK}

    def get_ledger(self, portal_id: int, deal_id: str) -> LedgerRow | None:
        item = self._get(self._deal_key(portal_id, deal_id))
        return _ledger_row(item) if item else None

    def get_ledgers(self, portal_id: int, deal_ids: Iterable[str]) -> dict[str, LedgerRow]:
        items = self._get_many(self._deal_key(portal_id, d) for d in dict.fromkeys(deal_ids))
        rows = (_ledger_row(item) for item in items)
        return {row.deal_id: row for row in rows}

    def claim(self, portal_id: int, deal_id: str, token: str, now: datetime, until: datetime) -> Claim:
        key = self._deal_key(portal_id, deal_id)
        claim = {"claim_token": token, "claim_until": until.isoformat(), "claim_until_ts": ts(until)}
        while True:
            item: Item = {
                **key,
                "portal_id": portal_id,
                "deal_id": deal_id,
                "state": HELD.value,
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
            update = with_condition(
                update_expression(
                    {"state": HELD.value, "updated_at": now.isoformat(), **claim},
                    add=("version", "attempts"),
                ),
                f"attribute_exists(#ck) AND #st IN ({', '.join(f':c{i}' for i in range(len(CLAIMABLE)))})"
                " AND (attribute_not_exists(#ct) OR attribute_not_exists(#cu) OR #cu <= :now)",
                {**{f":c{i}": s.value for i, s in enumerate(CLAIMABLE)}, ":now": ts(now)},
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
        state: LedgerState | None = None,
    ) -> LedgerRow:
        """Apply ``update`` only while ``token`` holds the claim (and the row is in ``state``, when given);
        :class:`ClaimLost` otherwise."""
        if state is None:
            with_condition(update, "#ct = :token", {":token": token})
        else:
            with_condition(update, "#ct = :token AND #st = :from", {":token": token, ":from": state.value})
        return self._update_row(
            portal_id, deal_id, update, ClaimLost(f"deal {deal_id}: the claim passed to another worker")
        )

    def _update_row(
        self, portal_id: int, deal_id: str, update: dict[str, Any], refused: Exception
    ) -> LedgerRow:
        """Apply ``update`` (with its condition) to the deal's row and answer the row as it now stands; raise
        ``refused`` when the condition does not hold."""
        try:
            answer = self._table.update_item(
                Key=self._deal_key(portal_id, deal_id), ReturnValues="ALL_NEW", **update
            )
        except self._failed:
            raise refused from None
        return _ledger_row(answer["Attributes"])

    def note_intent(self, portal_id: int, deal_id: str, token: str, intent: Intent) -> None:
        billing_date = intent.billing_date.isoformat()
        update = update_expression(
            {
                "company_id": intent.company_id,
                "partner_id": intent.partner_id,
                "billing_date": billing_date,
                "warnings": problems_to_plain(intent.warnings),
                **(
                    {"charges": [{"unit": unit, "amount": amount} for unit, amount in intent.charges]}
                    if intent.charges
                    else {}
                ),
            }
        )
        update["UpdateExpression"] += " ADD #in :in"  # a string set: every place any attempt used is kept
        update["ExpressionAttributeNames"]["#in"] = "intents"
        update["ExpressionAttributeValues"][":in"] = {f"{intent.partner_id}#{billing_date}"}
        self._holding_update(portal_id, deal_id, token, update, state=HELD)

    def renew_claim(
        self, portal_id: int, deal_id: str, token: str, now: datetime, until: datetime
    ) -> LedgerRow:
        update = update_expression(
            {"claim_until": until.isoformat(), "claim_until_ts": ts(until), "updated_at": now.isoformat()}
        )
        return self._holding_update(portal_id, deal_id, token, update, state=HELD)

    def record_invoice(
        self, portal_id: int, deal_id: str, token: str, invoice: InvoiceRecord, now: datetime
    ) -> LedgerRow:
        update = update_expression(
            {
                "state": LedgerState.CREATED.value,
                "invoice": to_plain(invoice),
                "partner_id": invoice.partner_id,
                "billing_date": invoice.billing_date.isoformat(),
                "updated_at": now.isoformat(),
            },
            remove=("last_error", "reasons"),
        )
        return self._holding_update(portal_id, deal_id, token, update, state=HELD)

    def record_scheduled(self, portal_id: int, deal_id: str, token: str, now: datetime) -> LedgerRow:
        update = update_expression(
            {"state": LedgerState.SCHEDULED.value, "updated_at": now.isoformat()},
            remove=("last_error", "reasons", *_CLAIM_FIELDS),
        )
        return self._holding_update(portal_id, deal_id, token, update, state=HELD)

    def record_failure(
        self, portal_id: int, deal_id: str, token: str, failure: Failure, now: datetime
    ) -> LedgerRow:
        fields: Item = {
            "state": failure.state.value,
            "last_error": failure.error,
            "reasons": problems_to_plain(failure.reasons),
            "updated_at": now.isoformat(),
        }
        if failure.settle_until is None:
            update = update_expression(fields, remove=_CLAIM_FIELDS, written=failure.written)
        else:  # the claim stays ours until the settling period ends
            until = failure.settle_until
            settling = {"claim_until": until.isoformat(), "claim_until_ts": ts(until)}
            update = update_expression(fields | settling, written=failure.written)
        return self._holding_update(portal_id, deal_id, token, update, state=HELD)

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
            fields["invoice"] = to_plain(invoice)
        if token is not None:
            update = update_expression(fields, remove=_CLAIM_FIELDS, written=values)
            return self._holding_update(portal_id, deal_id, token, update)
        update = with_condition(update_expression(fields, written=values), "attribute_exists(#ck)", {})
        return self._update_row(portal_id, deal_id, update, KeyError(f"no ledger row for deal {deal_id}"))

    def mark_cancelled(self, portal_id: int, deal_id: str, now: datetime) -> LedgerRow:
        update = with_condition(
            update_expression({"state": LedgerState.CANCELLED.value, "updated_at": now.isoformat()}),
            "#st = :created",
            {":created": CANCELLABLE.value},
        )
        return self._update_row(
            portal_id, deal_id, update, ValueError(f"deal {deal_id} has no invoice to cancel")
        )

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
        rows = [_ledger_row(item) for item in pages(self._table.scan, request)]
        rows.sort(key=lambda row: (row.portal_id, row.deal_id))
        yield from rows

    def ledger_for_company(self, portal_id: int, company_id: str) -> list[LedgerRow]:
        """A query on the ``by_company`` index (partner links and rollups of the company share its keys: only
        ledger items are kept). Eventually consistent, as every read of a global secondary index is."""
        request: Item = {
            "IndexName": COMPANY_INDEX,
            "KeyConditionExpression": "#c = :company AND #p = :portal",
            "FilterExpression": "#sk = :ledger",
            "ExpressionAttributeNames": {"#c": "company_id", "#p": "portal_id", "#sk": "sk"},
            "ExpressionAttributeValues": {":company": company_id, ":portal": portal_id, ":ledger": LEDGER_SK},
        }
        rows = [_ledger_row(item) for item in pages(self._table.query, request)]
        return sorted(rows, key=lambda row: row.deal_id)

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
        found = [from_plain(OrphanInvoice, item) for item in pages(read, request)]
        return sorted(found, key=lambda o: (o.portal_id, o.deal_id, o.invoice_id))

    def resolve_orphan(self, portal_id: int, deal_id: str, invoice_id: int, now: datetime) -> bool:
        return self._update_if(
            {"pk": f"DEAL#{portal_id}#{deal_id}", "sk": f"{ORPHAN_PREFIX}{invoice_id:020d}"},
            UpdateExpression="SET #r = :now",
            ConditionExpression="attribute_exists(#ck) AND attribute_not_exists(#r)",
            ExpressionAttributeNames={"#ck": "pk", "#r": "resolved_at"},
            ExpressionAttributeValues={":now": now.isoformat()},
        )
