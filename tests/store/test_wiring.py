"""Choosing and making a store: :func:`sdk.store.open_store` by URL, the DynamoDB table :func:`create_table` makes,
and an event DynamoDB's TTL has not deleted yet."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from sdk.store import (
    open_store,
)
from tests.store.records import DEAL, NOW, PORTAL, claim

# ---------------------------------------------------------------------------------------------- wiring


@pytest.mark.usefixtures("aws")
def test_open_store_reaches_a_dynamodb_table_by_url() -> None:
    import boto3

    from sdk.store.dynamodb import DynamoStore, create_table

    create_table(boto3.resource("dynamodb"), "from-url")
    opened = open_store("dynamodb://from-url")
    assert isinstance(opened, DynamoStore)
    assert opened.table_name == "from-url"
    assert claim(opened).granted
    assert not claim(opened, "t2").granted
    again = open_store("dynamodb://from-url")  # another worker, same table
    assert again.get_ledger(PORTAL, DEAL) == opened.get_ledger(PORTAL, DEAL)


def test_create_table_enables_ttl_on_expires_at(dynamodb: Any) -> None:
    from sdk.store.dynamodb import create_table

    resource = dynamodb
    table = create_table(resource, "ttl-check")
    ttl = resource.meta.client.describe_time_to_live(TableName="ttl-check")["TimeToLiveDescription"]
    assert ttl == {"TimeToLiveStatus": "ENABLED", "AttributeName": "expires_at"}
    assert table.billing_mode_summary["BillingMode"] == "PAY_PER_REQUEST"
    assert {k["AttributeName"]: k["KeyType"] for k in table.key_schema} == {"pk": "HASH", "sk": "RANGE"}


def test_an_event_kept_past_its_ttl_but_not_yet_deleted_counts_as_absent(dynamodb: Any) -> None:
    """DynamoDB deletes expired items up to days late; the store must not mistake one for a redelivery."""
    from sdk.store.dynamodb import DynamoStore, create_table

    resource = dynamodb
    create_table(resource, "lazy-ttl")
    store = DynamoStore("lazy-ttl", resource=resource)
    store.record_sightings(["evt-1"], NOW, NOW + timedelta(hours=1))
    item = resource.Table("lazy-ttl").get_item(Key={"pk": "EVENT#evt-1", "sk": "EVENT"})["Item"]
    assert int(item["expires_at"]) == int((NOW + timedelta(hours=1)).timestamp())
    assert store.seen_any(["evt-1"], NOW + timedelta(hours=2)) == set()
