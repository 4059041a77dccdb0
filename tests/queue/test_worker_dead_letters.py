"""Issue 14 (5): what no further attempt can help reaches the dead-letter queue at once, on both queues and on both
ways the worker runs: the local worker (:func:`~functions.worker.drain`, settled through the Queue port) over the
SQLite queue and over SQS (moto), and the Lambda handler (SQS records, :func:`~functions.worker.record_handler`).

"At once" means: in the dead-letter queue right after the receive that decided it, with nothing left on the queue,
not after ``max_receives`` visibility timeouts of redelivery (5 × 720 s, an hour, on AWS).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import functions.worker as worker
from functions.worker import Disposition, drain
from local.world import World, build_world
from sandbox.faults import FaultKind, FaultRule
from sdk.clock import FakeClock
from sdk.queue import InvoiceJob, Queue, QueueDepth
from sdk.queue.sqs import SQSQueue, create_queues
from sdk.runtime import LambdaRuntime
from sdk.store.sqlite import SQLiteStore
from tests.queue.conftest import MAX_RECEIVES, QUEUE

PORTAL = 24681357
MALFORMED = [
    {"type": "delete_everything", "portal_id": PORTAL, "deal_id": "1"},
    {"type": "create_invoice", "portal_id": PORTAL},
    {"type": "create_invoice", "portal_id": "many", "deal_id": "1"},
    {"_unparsed": "this is not JSON {"},
    {"_unparsed": "[1, 2, 3]"},
]
MALFORMED_IDS = ["unknown-type", "no-deal", "bad-portal", "not-json", "not-an-object"]


@pytest.fixture
def world(tmp_path: Path, clock: FakeClock) -> Iterator[World]:
    """Both sandboxes and a SQLite store on the queue's clock; the worker gives up after the queue's receives."""
    w = build_world(SQLiteStore(tmp_path / "store.sqlite"), clock=clock, queue_max_receives=MAX_RECEIVES)
    yield w
    w.close()


def won_deal(world: World) -> str:
    company = world.company("株式会社サンプル商事")
    return world.deal(company=company, line_items=[{"name": "導入支援", "quantity": 1, "price": 300000}])


def job(deal: str) -> dict[str, Any]:
    return InvoiceJob(portal_id=PORTAL, deal_id=deal, trigger="webhook").body()


def freee_always_fails(world: World) -> None:
    world.freee_box.faults.add(
        FaultRule(FaultKind.SERVER_ERROR, path_prefix="/iv/invoices", methods=frozenset({"POST"}))
    )


def nothing_left(queue: Queue, clock: FakeClock) -> bool:
    """Nothing on the queue, now or after any visibility timeout or retry delay has run out."""
    clock.advance(3600)
    return queue.receive(10, 60) == [] and queue.depth().visible == queue.depth().in_flight == 0


class BrokenLogger:
    def __getattr__(self, name: str) -> Any:
        raise AttributeError("'NoneType' object has no attribute 'error'")


# ----------------------------------------------------------------------- the local worker, both queues


@pytest.mark.parametrize("body", MALFORMED, ids=MALFORMED_IDS)
def test_local_worker_dead_letters_a_malformed_body_on_its_first_receive(
    world: World, queue: Queue, clock: FakeClock, body: dict[str, Any]
):
    queue.send(body)
    [result] = drain(world.context(), queue)
    assert (result.disposition, result.result, result.attempts) == (Disposition.DEAD, "malformed", 1)
    [dead] = queue.dead_letters()
    assert (dead.body, dead.attempts) == (body, 1)
    assert nothing_left(queue, clock)
    assert world.freee_calls == []


def test_local_worker_dead_letters_a_malformed_body_at_once_even_when_logging_it_fails(
    world: World, queue: Queue, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
):
    """The crash path (something broke outside the job) knows a body no worker can handle as well."""
    monkeypatch.setattr(worker, "get_logger", lambda: BrokenLogger())
    queue.send({"type": "create_invoice", "portal_id": PORTAL})
    [result] = drain(world.context(), queue)
    assert (result.disposition, result.result, result.attempts) == (Disposition.DEAD, "malformed", 1)
    assert len(queue.dead_letters()) == 1
    assert nothing_left(queue, clock)


def test_local_worker_dead_letters_another_portals_job_at_once_even_when_logging_it_fails(
    world: World, queue: Queue, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setattr(worker, "get_logger", lambda: BrokenLogger())
    queue.send({"type": "create_invoice", "portal_id": PORTAL + 1, "deal_id": "123"})
    [result] = drain(world.context(), queue)
    assert (result.disposition, result.result, result.attempts) == (Disposition.DEAD, "refused", 1)
    assert len(queue.dead_letters()) == 1
    assert nothing_left(queue, clock)


def test_local_worker_dead_letters_a_given_up_message_on_its_last_attempt(
    world: World, queue: Queue, clock: FakeClock
):
    deal = won_deal(world)
    freee_always_fails(world)
    message_id = queue.send(job(deal))
    results = []
    while not results or results[-1].disposition is Disposition.RETRY:
        [result] = drain(world.context(), queue)
        results.append(result)
        clock.advance(result.delay + 1)
    assert [r.attempts for r in results] == list(range(1, MAX_RECEIVES + 1))
    assert (results[-1].disposition, results[-1].gave_up) == (Disposition.DEAD, True)
    [dead] = queue.dead_letters()  # there right after the last attempt, not after one more visibility timeout
    assert (dead.id, dead.body, dead.attempts) == (message_id, job(deal), MAX_RECEIVES)
    assert world.deal_props(deal)["freee_sync_status"] == "failed"
    assert nothing_left(queue, clock)


# ------------------------------------------------------------------------------------ Lambda (SQS only)


@pytest.fixture
def sqs_queue(sqs_client: Any) -> SQSQueue:
    create_queues(sqs_client, QUEUE, MAX_RECEIVES)
    return SQSQueue(QUEUE, client=sqs_client, max_receives=MAX_RECEIVES)


@pytest.fixture
def lambda_world(world: World, sqs_queue: SQSQueue, monkeypatch: pytest.MonkeyPatch) -> World:
    monkeypatch.setattr(
        worker, "RUNTIME", LambdaRuntime(context=world.context(), sqs_client=sqs_queue.client)
    )
    return world


def receive_record(queue: SQSQueue) -> dict[str, Any]:
    """Receive one message the way the event source mapping does and shape it as the Lambda event's record."""
    [raw] = queue.client.receive_message(
        QueueUrl=queue.url, VisibilityTimeout=720, MessageSystemAttributeNames=["ApproximateReceiveCount"]
    )["Messages"]
    return {
        "messageId": raw["MessageId"],
        "receiptHandle": raw["ReceiptHandle"],
        "body": raw["Body"],
        "attributes": {
            "ApproximateReceiveCount": raw["Attributes"]["ApproximateReceiveCount"],
            "SentTimestamp": "1764028800000",
            "SenderId": "AIDAEXAMPLE",
            "ApproximateFirstReceiveTimestamp": "1764028800001",
        },
        "messageAttributes": {},
        "md5OfBody": raw["MD5OfBody"],
        "eventSource": "aws:sqs",
        "eventSourceARN": f"arn:aws:sqs:ap-northeast-1:123456789012:{QUEUE}",
        "awsRegion": "ap-northeast-1",
    }


@pytest.mark.parametrize("body", MALFORMED, ids=MALFORMED_IDS)
def test_lambda_dead_letters_a_malformed_body_on_its_first_receive(
    lambda_world: World, sqs_queue: SQSQueue, clock: FakeClock, body: dict[str, Any]
):
    sqs_queue.send(body)
    record = receive_record(sqs_queue)
    assert worker.lambda_handler({"Records": [record]}, None) == {"batchItemFailures": []}
    [dead] = sqs_queue.dead_letters()
    assert (dead.id, dead.body, dead.attempts) == (record["messageId"], body, 1)
    assert nothing_left(sqs_queue, clock)


def test_lambda_dead_letters_a_given_up_message_on_its_last_receive(
    lambda_world: World, sqs_queue: SQSQueue, clock: FakeClock
):
    world = lambda_world
    deal = won_deal(world)
    freee_always_fails(world)
    sqs_queue.send(job(deal))
    answers = []
    for _ in range(MAX_RECEIVES):
        record = receive_record(sqs_queue)
        answers.append(worker.lambda_handler({"Records": [record]}, None))
        clock.advance(worker.BACKOFF_MAX_SECONDS + 1)  # every retry delay has run out
    failed = {"batchItemFailures": [{"itemIdentifier": record["messageId"]}]}
    moved = {"batchItemFailures": []}  # the last receive: moved to the DLQ, not reported failed
    assert answers == [failed] * (MAX_RECEIVES - 1) + [moved]
    [dead] = sqs_queue.dead_letters()
    assert (dead.id, dead.body, dead.attempts) == (record["messageId"], job(deal), MAX_RECEIVES)
    assert world.deal_props(deal)["freee_sync_status"] == "failed"
    assert nothing_left(sqs_queue, clock)


def test_lambda_leaves_a_given_up_message_to_the_redrive_policy_when_it_cannot_move_it(
    lambda_world: World, sqs_queue: SQSQueue, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
):
    """The fallback: the DLQ cannot be reached from the function, so the record is reported failed and SQS's own
    redrive policy moves it after its last receive; never lost, never received more than ``max_receives`` times."""
    world = lambda_world
    deal = won_deal(world)
    freee_always_fails(world)
    sqs_queue.send(job(deal))

    def unreachable(self: Any, message: Any, reason: str = "") -> None:
        raise RuntimeError("AccessDenied: sqs:SendMessage on the dead-letter queue")

    monkeypatch.setattr(type(sqs_queue), "dead_letter", unreachable)
    for _ in range(MAX_RECEIVES):
        record = receive_record(sqs_queue)
        failed = {"batchItemFailures": [{"itemIdentifier": record["messageId"]}]}
        assert worker.lambda_handler({"Records": [record]}, None) == failed
        clock.advance(worker.BACKOFF_MAX_SECONDS + 1)
    assert sqs_queue.receive(10, 60) == []  # the redrive policy moved it on the next receive
    assert [m.id for m in sqs_queue.dead_letters()] == [record["messageId"]]
    assert sqs_queue.depth() == QueueDepth(visible=0, in_flight=0, dead=1)
    assert world.deal_props(deal)["freee_sync_status"] == "failed"
