"""The doctor's store and queue checks on AWS (moto): the DynamoDB table of ``STORAGE_URL`` exists with this
application's keys, indexes and TTL; the SQS queue of ``QUEUE_URL`` and its dead-letter queue exist, with the redrive
policy between them after ``QUEUE_MAX_RECEIVES`` receives."""

from __future__ import annotations

from typing import Any

import pytest

from sdk.queue import queue_from_settings
from sdk.queue.sqs import create_queues
from sdk.settings import load_settings
from sdk.store.dynamodb import create_table
from sdk.store.dynamodb.table import ATTRIBUTE_DEFINITIONS, DUE_INDEX, GLOBAL_SECONDARY_INDEXES
from sdk.usecases.doctor import Level, check_queue_url, check_store
from sdk.usecases.doctor.results import open_store

TABLE = "hubspot-freee-doctor"
QUEUE = "hubspot-freee-doctor-invoices"


def store_check(table: str = TABLE) -> tuple[Any, Any]:
    return check_store(load_settings(storage_url=f"dynamodb://{table}"), open_store)


def queue_check(name: str = QUEUE, max_receives: int = 5) -> Any:
    settings = load_settings(queue_url=f"sqs://{name}", queue_max_receives=max_receives)
    return check_queue_url(settings, queue_from_settings)


def test_the_stacks_table_passes_and_is_opened(dynamodb):
    create_table(dynamodb, TABLE)
    result, store = store_check()
    assert result.level is Level.OK and store is not None


def test_a_missing_table_is_an_error_naming_the_stack_output(aws):
    result, store = store_check("no-such-table")
    assert result.level is Level.ERROR and store is None
    assert "no-such-table does not exist" in result.message.en
    assert "TableName" in result.fix.en and "TableName" in result.fix.ja


def test_a_table_with_other_keys_is_not_this_applications(dynamodb):
    dynamodb.create_table(
        TableName=TABLE,
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    result, store = store_check()
    assert result.level is Level.ERROR and store is None
    assert "id (HASH, S)" in result.message.en and "pk (HASH, S), sk (RANGE, S)" in result.message.en


def without_ttl(dynamodb: Any, indexes: list[dict[str, Any]]) -> None:
    """A table with the store's keys and ``indexes``, and no TTL."""
    keyed = {"pk", "sk"} | {k["AttributeName"] for i in indexes for k in i["KeySchema"]}
    dynamodb.create_table(
        TableName=TABLE,
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
        AttributeDefinitions=[a for a in ATTRIBUTE_DEFINITIONS if a["AttributeName"] in keyed],
        GlobalSecondaryIndexes=indexes,
        BillingMode="PAY_PER_REQUEST",
    )


def test_a_table_without_ttl_is_a_warning_and_still_used(dynamodb):
    without_ttl(dynamodb, GLOBAL_SECONDARY_INDEXES)
    result, store = store_check()
    assert result.level is Level.WARNING and store is not None
    assert "update-time-to-live" in result.fix.en and "expires_at" in result.fix.en


def test_a_table_without_the_due_index_is_an_error_that_says_how_to_add_it(dynamodb):
    without_ttl(dynamodb, [i for i in GLOBAL_SECONDARY_INDEXES if i["IndexName"] != DUE_INDEX])
    result, store = store_check()
    assert result.level is Level.ERROR and store is None
    assert f"no index {DUE_INDEX} (due_pk (HASH, S), due_sk (RANGE, S))" in result.message.en
    assert "no period is invoiced" in result.message.en
    assert f"インデックス {DUE_INDEX}" in result.message.ja and "請求スケジュール" in result.message.ja
    for fix in (result.fix.en, result.fix.ja):
        assert "npx osls deploy" in fix
        assert f"aws dynamodb update-table --table-name {TABLE} --attribute-definitions " in fix
        assert "AttributeName=due_pk,AttributeType=S AttributeName=due_sk,AttributeType=S" in fix
        assert '"Create":{"IndexName":"by_due"' in fix


def test_a_due_index_keyed_otherwise_is_an_error_that_says_to_replace_it(dynamodb):
    (company,) = [i for i in GLOBAL_SECONDARY_INDEXES if i["IndexName"] != DUE_INDEX]
    other = {
        "IndexName": DUE_INDEX,
        "KeySchema": [{"AttributeName": "due_pk", "KeyType": "HASH"}],
        "Projection": {"ProjectionType": "KEYS_ONLY"},
    }
    without_ttl(dynamodb, [company, other])
    result, store = store_check()
    assert result.level is Level.ERROR and store is None
    assert f"index {DUE_INDEX} keyed on due_pk (HASH, S), not due_pk (HASH, S), due_sk (RANGE, S)" in (
        result.message.en
    )
    assert '"Delete":{"IndexName":"by_due"}' in result.fix.en and "npx osls deploy" in result.fix.ja


@pytest.fixture
def sqs(aws: None) -> Any:
    import boto3

    return boto3.client("sqs")


def test_the_stacks_queue_pair_passes(sqs):
    create_queues(sqs, QUEUE, 5)
    result = queue_check()
    assert result.level is Level.OK and "waiting 0" in result.message.en


def test_a_missing_queue_is_an_error_naming_both_queues_and_the_stack_output(sqs):
    result = queue_check()
    assert result.level is Level.ERROR
    assert f"{QUEUE}, {QUEUE}-dlq do not exist" in result.message.en
    assert "InvoiceQueueName" in result.fix.en


def test_a_queue_without_its_dead_letter_queue_is_an_error(sqs):
    sqs.create_queue(QueueName=QUEUE)
    result = queue_check()
    assert result.level is Level.ERROR and f"{QUEUE}-dlq do not exist" in result.message.en


def test_a_queue_whose_redrive_policy_is_not_its_dlq_is_an_error(sqs):
    sqs.create_queue(QueueName=QUEUE + "-dlq")
    sqs.create_queue(QueueName=QUEUE)
    result = queue_check()
    assert result.level is Level.ERROR and "redrive policy: none" in result.message.en


def test_a_redrive_count_other_than_queue_max_receives_is_a_warning(sqs):
    create_queues(sqs, QUEUE, 3)
    result = queue_check(max_receives=5)
    assert result.level is Level.WARNING
    assert "after 3 receives but QUEUE_MAX_RECEIVES is 5" in result.message.en
    assert "QUEUE_MAX_RECEIVES=3" in result.fix.en
