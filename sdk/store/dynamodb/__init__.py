"""The AWS adapters: every store port on one DynamoDB table (single-table design), every decision a conditional
write.

``table`` (the items and their keys, :func:`create_table`, what every adapter writes with), ``ledger`` (the ledger
and orphan list), ``schedules`` (deals' billing schedules), ``store`` (:class:`DynamoStore`: those plus partner
links, seen events, history, waiters, leases and company rollups), ``tokens`` (the freee token row) and
``ratelimit`` (the shared rate-limit log).
"""

from sdk.store.dynamodb.ratelimit import DynamoRateLimitStore
from sdk.store.dynamodb.store import DynamoStore
from sdk.store.dynamodb.table import (
    KEY_SCHEMA,
    TTL_ATTRIBUTE,
    TableShape,
    create_table,
    item_size,
    table_shape,
)
from sdk.store.dynamodb.tokens import DynamoTokenStore

__all__ = [
    "KEY_SCHEMA",
    "TTL_ATTRIBUTE",
    "DynamoRateLimitStore",
    "DynamoStore",
    "DynamoTokenStore",
    "TableShape",
    "create_table",
    "item_size",
    "table_shape",
]
