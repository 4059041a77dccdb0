"""An OAuth token row (:class:`~sdk.freee.tokens.TokenStore` port) as one item of the store's DynamoDB table, one
item per token name (``FREEE#TOKEN``, ``HUBSPOT#TOKEN``); the refresh protocol it serves is :mod:`sdk.freee.tokens`."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sdk.freee.tokens import TOKEN_NAMES, StoredToken, TokenSet
from sdk.store.dynamodb.table import TableAdapter, at_version, opt_datetime, token_key, ts

#: the names of the row's version and refresh claim, as its conditional updates use them
_CLAIM_NAMES = {"#v": "version", "#ch": "claim_holder", "#cu": "claim_until", "#cts": "claim_until_ts"}


class DynamoTokenStore(TableAdapter):
    """The :class:`~sdk.freee.tokens.TokenStore` port as one item (``FREEE#TOKEN`` for ``name`` ``freee``,
    ``HUBSPOT#TOKEN`` for ``hubspot``) of the store's table.

    ``claim_refresh`` is an update conditional on the version and on no live claim; ``save_token`` replaces the
    item (which clears the claim and any disconnected mark) conditional on the version, or on no item for the
    first one; ``release_refresh`` and ``mark_disconnected`` are updates conditional on the version.
    """

    def __init__(self, table: Any, name: str = "freee") -> None:
        if name not in TOKEN_NAMES:
            raise ValueError(f"not a token name: {name!r}")
        super().__init__(table)
        self.key = token_key(name)

    def load_token(self) -> StoredToken | None:
        item = self._get(self.key)
        if item is None:
            return None
        return StoredToken(
            TokenSet.from_json(item["data"]),
            int(item["version"]),
            item.get("claim_holder"),
            opt_datetime(item.get("claim_until")),
            item.get("disconnected_reason"),
            opt_datetime(item.get("disconnected_at")),
        )

    def claim_refresh(self, version: int, holder: str, now: datetime, until: datetime) -> bool:
        # also False when there is no row: `version = :version` fails on a missing attribute
        return self._update_if(
            self.key,
            UpdateExpression="SET #ch = :holder, #cu = :until, #cts = :until_ts",
            ConditionExpression="#v = :version AND (attribute_not_exists(#cts) OR #cts <= :now)",
            ExpressionAttributeNames=_CLAIM_NAMES,
            ExpressionAttributeValues={
                ":holder": holder,
                ":until": until.isoformat(),
                ":until_ts": ts(until),
                ":version": version,
                ":now": ts(now),
            },
        )

    def save_token(self, tokens: TokenSet, expected_version: int | None) -> StoredToken | None:
        version = (expected_version or 0) + 1
        condition = at_version(expected_version)
        try:
            self._table.put_item(Item={**self.key, "data": tokens.to_json(), "version": version}, **condition)
        except self._failed:
            return None
        return StoredToken(tokens, version)

    def release_refresh(self, version: int, holder: str) -> None:
        self._update_if(  # nothing when the row moved on, or another worker holds the claim now
            self.key,
            UpdateExpression="REMOVE #ch, #cu, #cts",
            ConditionExpression="#v = :version AND #ch = :holder",
            ExpressionAttributeNames=_CLAIM_NAMES,
            ExpressionAttributeValues={":version": version, ":holder": holder},
        )

    def mark_disconnected(self, version: int, reason: str, at: datetime) -> bool:
        if self._update_if(
            self.key,
            UpdateExpression="SET #dr = :reason, #da = :at REMOVE #ch, #cu, #cts",
            ConditionExpression="#v = :version AND attribute_not_exists(#da)",
            ExpressionAttributeNames=_CLAIM_NAMES | {"#dr": "disconnected_reason", "#da": "disconnected_at"},
            ExpressionAttributeValues={":version": version, ":reason": reason, ":at": at.isoformat()},
        ):
            return True
        row = self.load_token()  # already marked (keeps its first reason), or moved on / absent
        return row is not None and row.version == version and row.disconnected
