"""The worker survives what breaks around a message (issue 13, point 3): an exception outside the invoice
process's own failure handling is caught per message, the deal says it failed and will be retried, the loop goes
on, and a worker thread that dies is started again and reported by ``/healthz``."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

import functions.worker as worker
from functions.worker import Disposition, WorkerThread, drain, handle_message
from local.world import World, build_world
from sdk.errors import Retryable
from sdk.queue import Message
from sdk.queue.sqlite import SQLiteQueue
from sdk.runtime import LambdaRuntime
from sdk.store.sqlite import SQLiteStore
from tests.integration.test_worker import MAX_RECEIVES, PORTAL, advance, job, won_deal


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    w = build_world(SQLiteStore(tmp_path / "store.sqlite"))
    yield w
    w.close()


@pytest.fixture
def queue(world: World, tmp_path: Path) -> SQLiteQueue:
    return SQLiteQueue(tmp_path / "queue.sqlite", max_receives=MAX_RECEIVES, clock=world.clock)


class BrokenLogger:
    """The logger as the first requests at a fresh server left it: a handler without its formatter."""

    def __getattr__(self, name: str) -> Any:
        raise AttributeError("'NoneType' object has no attribute 'append_context_keys'")


def message(body: dict[str, Any], attempts: int = 1) -> Message:
    return Message(id=f"m-{attempts}", body=body, attempts=attempts, receipt=f"r-{attempts}")


def test_a_crash_outside_the_invoice_process_is_a_retry_and_the_deal_says_so(
    world: World, monkeypatch: pytest.MonkeyPatch
):
    deal = won_deal(world)
    monkeypatch.setattr(worker, "get_logger", lambda: BrokenLogger())
    result = handle_message(world.context(), message(job(deal)), max_receives=MAX_RECEIVES)
    assert result.disposition is Disposition.RETRY
    assert "AttributeError" in (result.error or "")
    shown = world.deal_props(deal)
    assert shown["freee_sync_status"] == "failed"
    assert "自動で再試行します" in (shown["freee_sync_error"] or "")
    assert "will be retried" in (shown["freee_sync_error"] or "")
    assert world.invoices() == []


def test_a_crash_on_the_last_attempt_gives_up_onto_the_deal(world: World, monkeypatch: pytest.MonkeyPatch):
    deal = won_deal(world)
    monkeypatch.setattr(worker, "get_logger", lambda: BrokenLogger())
    result = handle_message(
        world.context(), message(job(deal), attempts=MAX_RECEIVES), max_receives=MAX_RECEIVES
    )
    assert (result.disposition, result.gave_up) == (Disposition.DEAD, True)
    shown = world.deal_props(deal)
    assert shown["freee_sync_status"] == "failed"
    assert f"after {MAX_RECEIVES} attempts" in (shown["freee_sync_error"] or "")


def test_the_loop_goes_on_after_a_crash_and_invoices_the_next_deal(
    world: World, queue: SQLiteQueue, monkeypatch: pytest.MonkeyPatch
):
    first, second = won_deal(world), won_deal(world)
    queue.send(job(first))
    queue.send(job(second))
    crashes = iter([True])

    real = worker._handle_message

    def once_broken(ctx: Any, msg: Message, *, max_receives: int) -> Any:
        if next(crashes, False):
            raise RuntimeError("the store went away for a moment")
        return real(ctx, msg, max_receives=max_receives)

    monkeypatch.setattr(worker, "_handle_message", once_broken)
    results = drain(world.context(), queue)
    assert [r.disposition for r in results] == [Disposition.RETRY, Disposition.DONE]
    advance(world, max(r.delay for r in results) + 1)
    assert [r.result for r in drain(world.context(), queue)] == ["created"]
    assert len(world.invoices()) == 2


def test_a_failure_before_the_claim_shows_on_the_deal_and_a_dead_letter_keeps_its_reason(
    world: World, queue: SQLiteQueue
):
    deal = won_deal(world)

    class HubSpotReadsFail:
        """HubSpot answers writes but every deal read fails (an outage of its CRM read path)."""

        def __getattr__(self, name: str) -> Any:
            return getattr(world.hubspot, name)

        def read_deal_bundle(self, *args: Any, **kwargs: Any) -> Any:
            raise Retryable("HubSpot answered 503 Service Unavailable", retry_after=5)

    ctx = world.context(hubspot=HubSpotReadsFail())
    queue.send(job(deal))
    shown_after: list[str] = []
    while not queue.dead_letters():
        batch = drain(ctx, queue)
        assert batch
        shown_after.append(world.deal_props(deal)["freee_sync_error"] or "")
        advance(world, max(r.delay for r in batch) + 1)
    assert "will be retried" in shown_after[0]
    assert "temporary error" in shown_after[0]  # a rep's words; the status code is the operator's
    assert "503" not in shown_after[0] and "Retryable" not in shown_after[0]
    assert world.deal_props(deal)["freee_sync_status"] == "failed"
    assert f"after {MAX_RECEIVES} attempts" in shown_after[-1]
    [dead] = queue.dead_letters()
    assert "503" in dead.reason  # the dead letter keeps the cause for the operator


def test_a_busy_deal_is_not_marked_failed_by_the_worker_that_waits(world: World):
    deal = won_deal(world)
    now = world.clock.now()
    world.store.claim(PORTAL, deal, "another-worker", now, now.replace(year=now.year + 1))
    result = handle_message(world.context(), message(job(deal)), max_receives=MAX_RECEIVES)
    assert result.disposition is Disposition.RETRY
    assert world.deal_props(deal).get("freee_sync_status") in (None, "")


class Fatal(BaseException):
    """Something no loop catches (as a bug in a library could raise)."""


def dies_on_first_receive(queue: SQLiteQueue, why: str) -> None:
    """The worker's first receive raises :class:`Fatal` (its thread dies); later ones work."""
    real_receive = queue.receive
    calls = iter([True])

    def receive(*args: Any, **kwargs: Any) -> Any:
        if next(calls, False):
            raise Fatal(why)
        return real_receive(*args, **kwargs)

    queue.receive = receive  # type: ignore[method-assign]


@contextmanager
def running(thread: WorkerThread) -> Iterator[WorkerThread]:
    thread.start()
    try:
        yield thread
    finally:
        thread.stop.set()
        thread.join(10)


def test_a_worker_thread_that_dies_is_restarted_and_reported(world: World, queue: SQLiteQueue):
    dies_on_first_receive(queue, "boom")
    deal = won_deal(world)
    queue.send(job(deal))
    with running(WorkerThread(world.context(), queue, stop=threading.Event(), poll_interval=0.05)) as thread:
        thread.join(5)  # it died on its first receive
        assert not thread.alive
        assert [p.code for p in thread.problems()] == ["worker_not_running"]
        assert thread.check() is True
        assert thread.restarts == 1
        for _ in range(200):
            if world.deal_props(deal).get("freee_sync_status") == "created":
                break
            threading.Event().wait(0.05)
        assert world.deal_props(deal)["freee_sync_status"] == "created"
        assert thread.alive
        assert thread.check() is False
        assert any("restarted 1 time" in note for note in thread.notes())
        assert "Fatal: boom" in (thread.last_error or "")


def test_healthz_is_red_while_the_worker_is_down_and_tells_of_the_restart(world: World, queue: SQLiteQueue):
    from functions.app import Services, create_app

    dies_on_first_receive(queue, "the worker's import failed")
    thread = WorkerThread(world.context(), queue, stop=threading.Event(), poll_interval=0.05)
    services = Services(world.context(), queue, health_checks=[thread.problems], health_notes=[thread.notes])
    client = create_app(services).test_client()
    with running(thread):
        thread.join(5)
        down = client.get("/healthz")
        assert down.status_code == 503
        assert [p["code"] for p in down.get_json()["problems"]] == ["worker_not_running"]
        assert "import failed" in down.get_json()["reason"]
        thread.check()
        up = client.get("/healthz")
        assert up.status_code == 200
        assert up.get_json()["status"] == "ok"
        assert "restarted 1 time(s)" in up.get_json()["notes"][0]


@pytest.mark.parametrize(
    "body",
    [
        {"type": "create_invoice", "portal_id": PORTAL + 1, "deal_id": "123"},  # another portal's
        {"type": "create_invoice", "portal_id": True, "deal_id": "123"},  # a boolean is no portal
    ],
    ids=["foreign-portal", "boolean-portal"],
)
def test_lambda_moves_a_message_no_attempt_can_help_to_the_dlq_at_once(
    world: World, aws: None, monkeypatch: pytest.MonkeyPatch, body: dict[str, Any]
):
    import json

    import boto3

    from sdk.queue.sqs import SQSQueue, create_queues
    from tests.integration.test_worker import sqs_record

    client = boto3.client("sqs")
    url, _ = create_queues(client, "hubspot-freee-invoices", 5)
    monkeypatch.setattr(worker, "RUNTIME", LambdaRuntime(context=world.context(), sqs_client=client))
    client.send_message(QueueUrl=url, MessageBody=json.dumps(body))
    [sent] = client.receive_message(QueueUrl=url, VisibilityTimeout=30)["Messages"]
    event = {"Records": [sqs_record(sent["MessageId"], sent["Body"], receipt=sent["ReceiptHandle"])]}
    assert worker.lambda_handler(event, None) == {"batchItemFailures": []}  # not received again
    queue = SQSQueue("hubspot-freee-invoices", client=client)
    [dead] = queue.dead_letters()
    assert dead.body == body
    assert queue.depth().visible == queue.depth().in_flight == 0
    assert world.invoices() == []
