"""The freee token row (:class:`~sdk.freee.tokens.TokenStore` port) as one item of the store's DynamoDB table;
the refresh protocol it serves is :mod:`sdk.freee.tokens`."""

from __future__ import annotations

from datetime import datetime

from sdk.freee.tokens import StoredToken, TokenSet
from sdk.store.dynamodb.table import TOKEN_KEY, TableAdapter, at_version, opt_datetime, ts

#: the names of the row's version and refresh claim, as its conditional updates use them
_CLAIM_NAMES = {"#v": "version", "#ch": "claim_holder", "#cu": "claim_until", "#cts": "claim_until_ts"}


class DynamoTokenStore(TableAdapter):
    """The :class:`~sdk.freee.tokens.TokenStore` port as one item (``FREEE#TOKEN``) of the store's table.

    ``claim_refresh`` is an update conditional on the version and on no live claim; ``save_token`` replaces the
    item (which clears the claim and any disconnected mark) conditional on the version, or on no item for the
    first one; ``release_refresh`` and ``mark_disconnected`` are updates conditional on the version.
    """

    def load_token(self) -> StoredToken | None:
        item = self._get(TOKEN_KEY)
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
            TOKEN_KEY,
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
            self._table.put_item(
                Item={**TOKEN_KEY, "data": tokens.to_json(), "version": version}, **condition
            )
        except self._failed:
            return None
        return StoredToken(tokens, version)

    def release_refresh(self, version: int, holder: str) -> None:
        self._update_if(  # nothing when the row moved on, or another worker holds the claim now
            TOKEN_KEY,
            UpdateExpression="REMOVE #ch, #cu, #cts",
            ConditionExpression="#v = :version AND #ch = :holder",
            ExpressionAttributeNames=_CLAIM_NAMES,
            ExpressionAttributeValues={":version": version, ":holder": holder},
        )

    def mark_disconnected(self, version: int, reason: str, at: datetime) -> bool:
        if self._update_if(
            TOKEN_KEY,
            UpdateExpression="SET #dr = :reason, #da = :at REMOVE #ch, #cu, #cts",
            ConditionExpression="#v = :version AND attribute_not_exists(#da)",
            ExpressionAttributeNames=_CLAIM_NAMES | {"#dr": "disconnected_reason", "#da": "disconnected_at"},
            ExpressionAttributeValues={":version": version, ":reason": reason, ":at": at.isoformat()},
        ):
            return True
        row = self.load_token()  # already marked (keeps its first reason), or moved on / absent
        return row is not None and row.version == version and row.disconnected
