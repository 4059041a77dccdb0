"""The AWS store: every store port on one DynamoDB table (single-table design), every decision a conditional
write; the items and their keys are listed in :mod:`sdk.store.dynamodb.table`.

:class:`DynamoStore` is the ledger and orphan list (:class:`~sdk.store.dynamodb.ledger.DynamoLedger`) and the
billing schedules (:class:`~sdk.store.dynamodb.schedules.DynamoSchedules`) plus partner links, seen events, history,
waiters, leases and company rollups here, and reaches the freee and HubSpot token rows and the rate-limit log on the
same table through ``tokens``, ``hubspot_tokens`` and ``rate_limits``.
"""

from __future__ import annotations

import contextlib
import threading
import time
import uuid
from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from sdk.freee.ratelimit import RateLimitStore
from sdk.freee.tokens import TokenStore
from sdk.store import HistoryEvent
from sdk.store.codec import detail_from_json, detail_to_json
from sdk.store.dynamodb.ledger import DynamoLedger
from sdk.store.dynamodb.ratelimit import DynamoRateLimitStore
from sdk.store.dynamodb.schedules import DynamoSchedules
from sdk.store.dynamodb.table import (
    EVENT_SK,
    HISTORY_PREFIX,
    LEASE_SK,
    PARTNER_SK,
    TTL_ATTRIBUTE,
    WAITER_PREFIX,
    WRITTEN_SK,
    Item,
    pages,
    sort_instant,
    ts,
    ttl,
)
from sdk.store.dynamodb.tokens import DynamoTokenStore


class DynamoStore(DynamoLedger, DynamoSchedules):
    """The :class:`~sdk.store.Store` port on one DynamoDB table.

    ``resource`` is a ``boto3.resource("dynamodb")`` (the default: region and endpoint from the environment).
    ``ttl_days`` is how long history events are kept before DynamoDB's TTL may delete them (0: for ever).
    """

    def __init__(self, table_name: str, *, resource: Any = None, ttl_days: int = 90) -> None:
        if resource is None:
            import boto3  # here, so importing sdk.store stays cheap

            resource = boto3.resource("dynamodb")
        super().__init__(resource.Table(table_name))
        self.table_name = table_name
        self.ttl_days = ttl_days
        self._history_lock = threading.Lock()
        self._history_last = 0
        self.tokens: TokenStore = DynamoTokenStore(self._table)
        self.hubspot_tokens: TokenStore = DynamoTokenStore(self._table, "hubspot")
        self.rate_limits: RateLimitStore = DynamoRateLimitStore(self._table)

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
        keys = [{"pk": f"EVENT#{i}", "sk": EVENT_SK} for i in dict.fromkeys(event_ids)]
        return {
            str(item["event_id"]) for item in self._get_many(keys) if Decimal(item["keep_until_ts"]) > ts(now)
        }

    def record_sightings(self, event_ids: Iterable[str], now: datetime, keep_until: datetime) -> None:
        with self._table.batch_writer(overwrite_by_pkeys=["pk", "sk"]) as batch:
            for event_id in dict.fromkeys(event_ids):
                batch.put_item(
                    Item={
                        "pk": f"EVENT#{event_id}",
                        "sk": EVENT_SK,
                        "event_id": event_id,
                        "keep_until": keep_until.isoformat(),
                        "keep_until_ts": ts(keep_until),
                        TTL_ATTRIBUTE: ttl(keep_until),
                    }
                )

    def _history_sk(self, at: datetime) -> str:
        """``HIST#{event time, UTC}#{append stamp}#{random}``: time order, then append order in this process."""
        with self._history_lock:
            stamp = max(time.time_ns(), self._history_last + 1)
            self._history_last = stamp
        return f"{HISTORY_PREFIX}{sort_instant(at)}#{stamp:020d}#{uuid.uuid4().hex[:8]}"

    def append_history(self, portal_id: int, deal_id: str, event: HistoryEvent) -> None:
        item: Item = {
            "pk": f"DEAL#{portal_id}#{deal_id}",
            "sk": self._history_sk(event.at),
            "at": event.at.isoformat(),
            "event": event.event,
            "trigger": event.trigger,
            "detail": detail_to_json(event.detail),
        }
        if self.ttl_days > 0:
            item[TTL_ATTRIBUTE] = ttl(event.at + timedelta(days=self.ttl_days))
        self._table.put_item(Item=item)

    def history(self, portal_id: int, deal_id: str) -> list[HistoryEvent]:
        request: Item = {
            "KeyConditionExpression": "#pk = :pk AND begins_with(#sk, :hist)",
            "ExpressionAttributeNames": {"#pk": "pk", "#sk": "sk"},
            "ExpressionAttributeValues": {":pk": f"DEAL#{portal_id}#{deal_id}", ":hist": HISTORY_PREFIX},
            "ConsistentRead": True,
        }
        return [
            HistoryEvent(
                datetime.fromisoformat(item["at"]),
                item["event"],
                item["trigger"],
                detail_from_json(item["detail"]),
            )
            for item in pages(self._table.query, request)
        ]

    # ----------------------------------------------------------------------------------------- waiters

    def add_waiter(self, portal_id: int, deal_id: str, callback_id: str, until: datetime) -> None:
        self._table.put_item(
            Item={
                "pk": f"DEAL#{portal_id}#{deal_id}",
                "sk": f"{WAITER_PREFIX}{callback_id}",
                "callback_id": callback_id,
                "until": until.isoformat(),
                "until_ts": ts(until),
                TTL_ATTRIBUTE: ttl(until),
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
        for item in pages(self._table.query, request):
            callback_id = str(item["callback_id"])
            if self.take_waiter(portal_id, deal_id, callback_id, now):
                taken.append(callback_id)
            elif Decimal(item["until_ts"]) <= ts(now):
                self._drop_expired_waiter(item["pk"], item["sk"], now)
        return sorted(taken)

    def take_waiter(self, portal_id: int, deal_id: str, callback_id: str, now: datetime) -> bool:
        try:
            self._table.delete_item(
                Key={"pk": f"DEAL#{portal_id}#{deal_id}", "sk": f"{WAITER_PREFIX}{callback_id}"},
                ConditionExpression="attribute_exists(#ck) AND #u > :now",
                ExpressionAttributeNames={"#ck": "pk", "#u": "until_ts"},
                ExpressionAttributeValues={":now": ts(now)},
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
                ExpressionAttributeValues={":now": ts(now)},
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
                    "until_ts": ts(until),
                    TTL_ATTRIBUTE: ttl(until + timedelta(days=1)),
                },
                ConditionExpression="attribute_not_exists(#ck) OR #h = :holder OR #u <= :now",
                ExpressionAttributeNames={"#ck": "pk", "#h": "holder", "#u": "until_ts"},
                ExpressionAttributeValues={":holder": holder, ":now": ts(now)},
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

    def companies_written(self, portal_id: int) -> dict[str, dict[str, str]]:
        request: Item = {
            "FilterExpression": "#sk = :written AND #p = :portal",
            "ExpressionAttributeNames": {"#sk": "sk", "#p": "portal_id"},
            "ExpressionAttributeValues": {":written": WRITTEN_SK, ":portal": portal_id},
            "ConsistentRead": True,
        }
        return {
            str(item["company_id"]): {str(k): str(v) for k, v in (item.get("written") or {}).items()}
            for item in pages(self._table.scan, request)
        }

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
