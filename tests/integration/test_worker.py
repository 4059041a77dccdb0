"""The invoice worker (issue: queue + DLQ): messages become invoices, busy deals come back later, failures give up
onto the deal and wait in the dead-letter queue for a replay; the Lambda handler reports partial batch failures;
``hubspot-freee worker | dlq list | dlq redrive`` as an operator runs them. Both sandboxes, a SQLite queue."""

from __future__ import annotations

import itertools
import json
import threading
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

import functions.worker as worker
from cli.app import app
from functions.worker import Disposition, drain, handle_message, lambda_handler, run_worker
from local.world import World, build_world
from sandbox.faults import FaultKind, FaultRule
from sandbox.transport import serve
from sdk.clock import FakeClock, SystemClock
from sdk.queue import InvoiceJob, Message, QueueDepth
from sdk.queue.sqlite import SQLiteQueue
from sdk.runtime import LambdaRuntime
from sdk.store import LedgerState
from sdk.store.sqlite import SQLiteStore

PORTAL = 24681357
MAX_RECEIVES = 3
LEASE = 120.0


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    w = build_world(SQLiteStore(tmp_path / "store.sqlite"))
    yield w
    w.close()


@pytest.fixture
def queue(world: World, tmp_path: Path) -> SQLiteQueue:
    return SQLiteQueue(tmp_path / "queue.sqlite", max_receives=MAX_RECEIVES, clock=world.clock)


def items() -> list[dict]:
    return [
        {"name": "会計ソフト導入支援", "quantity": 1, "price": 300000},
        {"name": "研修用お弁当", "quantity": 10, "price": 1080, "freee_tax_rate": "8_reduced"},
    ]


_companies = itertools.count(1)


def won_deal(world: World) -> str:
    """A deal that can be invoiced, of its own company (freee refuses two partners of one name)."""
    return world.deal(
        company=world.company(f"株式会社サンプル商事 第{next(_companies)}支店"), line_items=items()
    )


def job(deal: str, *, trigger: str = "webhook", callback_id: str | None = None) -> dict[str, Any]:
    return InvoiceJob(portal_id=PORTAL, deal_id=deal, trigger=trigger, callback_id=callback_id).body()


def freee_always_fails(world: World) -> None:
    world.freee_box.faults.add(
        FaultRule(FaultKind.SERVER_ERROR, path_prefix="/iv/invoices", methods=frozenset({"POST"}))
    )


def advance(world: World, seconds: float) -> None:
    clock = world.clock
    assert isinstance(clock, FakeClock)
    clock.advance(seconds)


def until_dead(world: World, queue: SQLiteQueue) -> list[Any]:
    """Drain, wait out each retry delay, drain again, until the message is in the dead-letter queue."""
    results = []
    while not queue.dead_letters():
        batch = drain(world.context(), queue)
        assert batch, "nothing left to receive, yet nothing is dead"
        results += batch
        advance(world, max(r.delay for r in batch) + 1)
    return results


# -------------------------------------------------------------------------------------------- the loop


def test_queued_deal_becomes_an_invoice_and_the_message_is_deleted(world: World, queue: SQLiteQueue):
    deal = won_deal(world)
    queue.send(job(deal))
    [result] = drain(world.context(), queue)
    assert (result.disposition, result.result, result.deal_id, result.attempts) == (
        Disposition.DONE,
        "created",
        deal,
        1,
    )
    [invoice] = world.invoices()
    assert world.deal_props(deal)["freee_invoice_number"] == invoice["invoice_number"]
    assert world.deal_props(deal)["freee_sync_status"] == "created"
    advance(world, LEASE + 1)
    assert queue.depth() == QueueDepth(visible=0, in_flight=0, dead=0)
    assert [e.trigger for e in world.store.history(PORTAL, deal)][:1] == ["webhook"]


def test_second_message_for_an_invoiced_deal_is_done_without_a_second_invoice(
    world: World, queue: SQLiteQueue
):
    deal = won_deal(world)
    queue.send(job(deal))
    queue.send(job(deal, trigger="workflow_action"))
    results = drain(world.context(), queue)
    assert [r.result for r in results] == ["created", "already_invoiced"]
    assert len(world.invoices()) == 1


def test_deal_held_by_another_workers_claim_is_retried_when_the_lease_ends(world: World, queue: SQLiteQueue):
    deal = won_deal(world)
    now = world.clock.now()
    assert world.store.claim(PORTAL, deal, "another-worker", now, now + timedelta(seconds=LEASE)).granted
    queue.send(job(deal))
    [busy] = drain(world.context(), queue)
    assert busy.disposition is Disposition.RETRY
    assert busy.delay == pytest.approx(LEASE, abs=1)
    assert "DealBusy" in (busy.error or "")
    assert world.invoices() == []
    assert queue.depth() == QueueDepth(visible=0, in_flight=1, dead=0)
    advance(world, LEASE / 2)
    assert drain(world.context(), queue) == []  # retry_after honoured: not before the lease ends
    advance(world, LEASE / 2 + 1)  # the other worker died: its lease expired
    [done] = drain(world.context(), queue)
    assert (done.result, done.attempts) == ("created", 2)
    assert len(world.invoices()) == 1


def test_freee_failing_every_time_gives_up_after_max_receives_onto_the_deal(world: World, queue: SQLiteQueue):
    deal = won_deal(world)
    freee_always_fails(world)
    queue.send(job(deal))
    results = until_dead(world, queue)
    assert [(r.attempts, r.disposition) for r in results] == [
        (1, Disposition.RETRY),
        (2, Disposition.RETRY),
        (3, Disposition.DEAD),
    ]
    assert results[-1].gave_up
    assert results[1].delay > results[0].delay  # backing off
    [dead] = queue.dead_letters()
    assert (dead.body, dead.attempts) == (job(deal), MAX_RECEIVES)
    shown = world.deal_props(deal)
    assert shown["freee_sync_status"] == "failed"
    error = shown["freee_sync_error"] or ""
    assert "3回試行しましたが" in error
    assert "Gave up creating the freee invoice after 3 attempts" in error
    assert "hubspot-freee dlq redrive" in error
    assert "[freee.unavailable]" in error and "freee was unavailable" in error
    assert "FreeeServerError" not in error and "/iv/invoices" not in error  # those are for the log
    assert "FreeeServerError" in (world.store.get_ledger(PORTAL, deal).last_error or "")
    assert world.invoices() == []
    assert world.store.get_ledger(PORTAL, deal).state is LedgerState.FAILED
    assert "gave_up" in [e.event for e in world.store.history(PORTAL, deal)]


def test_redrive_after_the_fault_clears_creates_the_invoice_and_clears_the_error(
    world: World, queue: SQLiteQueue
):
    deal = won_deal(world)
    freee_always_fails(world)
    queue.send(job(deal))
    until_dead(world, queue)
    world.freee_box.faults.reset()
    assert queue.redrive() == 1
    [result] = drain(world.context(), queue)
    assert (result.result, result.attempts) == ("created", 1)
    [invoice] = world.invoices()
    shown = world.deal_props(deal)
    assert (shown["freee_sync_status"], shown["freee_sync_error"]) == ("created", "")
    assert shown["freee_invoice_id"] == str(invoice["id"])
    assert queue.depth() == QueueDepth(visible=0, in_flight=0, dead=0)


def test_a_warning_is_shown_with_the_failure_written_once_and_cleared_once_the_deal_is_fixed(
    world: World, queue: SQLiteQueue
):
    deal = world.deal(
        company=world.company("株式会社ワーニング"),
        line_items=[{"name": "保守", "quantity": 1, "price": 149999}],
        amount="165000",
    )
    world.freee_box.faults.script("5xx", path_prefix="/iv/invoices", methods={"POST"})
    queue.send(job(deal))
    [first] = drain(world.context(), queue)
    shown = world.deal_props(deal)
    assert (first.disposition, shown["freee_sync_status"]) == (Disposition.RETRY, "failed")
    assert (shown["freee_sync_warning"] or "").startswith("[deal.amount_mismatch]")

    world.hubspot_box.update("deals", deal, amount="149999")  # the rep fixes the amount
    advance(world, first.delay + 1)
    [second] = drain(world.context(), queue)
    shown = world.deal_props(deal)
    assert (second.result, shown["freee_sync_status"], shown["freee_sync_warning"]) == (
        "created",
        "created",
        "",
    )

    world.counter.reset()
    queue.send(job(deal))
    drain(world.context(), queue)
    assert world.counter.count("deals.batch_update") == 0  # nothing changed: nothing written again


def test_give_up_on_a_busy_deal_leaves_the_other_workers_deal_alone(world: World, queue: SQLiteQueue):
    deal = won_deal(world)
    now = world.clock.now()
    world.store.claim(PORTAL, deal, "another-worker", now, now + timedelta(days=1))
    queue.send(job(deal, callback_id="cb-busy"))
    results = until_dead(world, queue)
    assert results[-1].gave_up
    assert not world.deal_props(deal).get("freee_sync_status")  # the holder will say how it went
    [callback] = world.hubspot_box.callbacks
    assert callback.output_fields["result"] == "failed"
    assert callback.output_fields["hs_execution_state"] == "FAIL_CONTINUE"


# ---------------------------------------------------------------------------------------------- callbacks


def test_a_deal_gone_from_hubspot_is_done_at_once_not_retried_into_the_dlq(world: World, queue: SQLiteQueue):
    queue.send(job("987654321", trigger="workflow_action", callback_id="cb-gone"))
    [result] = drain(world.context(), queue)
    assert result.disposition is Disposition.DONE
    assert (result.attempts, queue.depth()) == (1, QueueDepth(visible=0, in_flight=0, dead=0))
    assert world.invoices() == []
    assert [e.event for e in world.store.history(PORTAL, "987654321")] == ["triggered", "deal_missing"]
    [callback] = world.hubspot_box.callbacks  # the waiting workflow goes on, told why
    assert callback.output_fields["result"] == "failed"
    assert callback.output_fields["hs_execution_state"] == "FAIL_CONTINUE"
    assert "not found in HubSpot" in callback.output_fields["error_message"]


def test_blocked_workflow_action_is_completed_with_the_invoice(world: World, queue: SQLiteQueue):
    deal = won_deal(world)
    queue.send(job(deal, trigger="workflow_action", callback_id="cb-created"))
    drain(world.context(), queue)
    [invoice] = world.invoices()
    [callback] = world.hubspot_box.callbacks
    assert callback.callback_id == "cb-created"
    assert callback.output_fields == {
        "freee_invoice_id": str(invoice["id"]),
        "freee_invoice_number": invoice["invoice_number"],
        "freee_invoice_url": invoice["report_url"],
        "result": "created",
        "error_message": "",
        "warning_message": "",
        "hs_execution_state": "SUCCESS",
    }


def test_blocked_workflow_action_on_an_invalid_deal_fails_and_continues_with_every_reason(
    world: World, queue: SQLiteQueue
):
    deal = world.deal(company=None, line_items=[], amount="-5")
    queue.send(job(deal, trigger="workflow_action", callback_id="cb-invalid"))
    [result] = drain(world.context(), queue)
    assert (result.disposition, result.result) == (Disposition.DONE, "invalid")
    [callback] = world.hubspot_box.callbacks
    fields = callback.output_fields
    assert (fields["result"], fields["hs_execution_state"]) == ("invalid", "FAIL_CONTINUE")
    assert "[deal.company_missing]" in fields["error_message"]
    assert "[deal.amount_negative]" in fields["error_message"]
    assert fields["freee_invoice_id"] == ""


def test_blocked_workflow_action_is_completed_as_failed_when_the_worker_gives_up(
    world: World, queue: SQLiteQueue
):
    deal = won_deal(world)
    freee_always_fails(world)
    queue.send(job(deal, trigger="workflow_action", callback_id="cb-failed"))
    until_dead(world, queue)
    [callback] = world.hubspot_box.callbacks
    fields = callback.output_fields
    assert (fields["result"], fields["hs_execution_state"]) == ("failed", "FAIL_CONTINUE")
    assert "hubspot-freee dlq redrive" in fields["error_message"]


def test_callback_that_cannot_be_completed_is_retried_without_a_second_invoice(
    world: World, queue: SQLiteQueue
):
    deal = won_deal(world)
    queue.send(job(deal, callback_id="cb-retry"))
    ctx = world.context()
    calls = 0
    real = world.hubspot.complete_callback

    def flaky(callback_id: str, fields: Any, typed: Any) -> None:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise ConnectionError("HubSpot went away")
        real(callback_id, fields, typed)

    world.hubspot.complete_callback = flaky  # type: ignore[method-assign]
    [first] = drain(ctx, queue)
    assert first.disposition is Disposition.RETRY
    advance(world, first.delay + 1)
    [second] = drain(ctx, queue)
    assert second.result == "already_invoiced"
    assert len(world.invoices()) == 1
    [callback] = world.hubspot_box.callbacks
    assert callback.output_fields["result"] == "already_invoiced"
    assert callback.output_fields["freee_invoice_id"] == str(world.invoices()[0]["id"])


# ---------------------------------------------------------------------------------------------- malformed


@pytest.mark.parametrize(
    "body",
    [
        {"type": "delete_everything", "portal_id": PORTAL, "deal_id": "1"},
        {"type": "create_invoice", "portal_id": PORTAL},
        {"type": "create_invoice", "portal_id": "many", "deal_id": "1"},
        {"_unparsed": "this is not JSON {"},
        {},
    ],
    ids=["unknown-type", "no-deal", "bad-portal", "not-json", "empty"],
)
def test_malformed_message_is_dead_lettered_at_once(world: World, queue: SQLiteQueue, body: dict[str, Any]):
    message_id = queue.send(body)
    [result] = drain(world.context(), queue)
    assert (result.disposition, result.result, result.attempts) == (Disposition.DEAD, "malformed", 1)
    assert "malformed message" in (result.error or "")
    assert [m.id for m in queue.dead_letters()] == [message_id]
    assert queue.dead_letters()[0].body == body
    assert world.counter.calls() == 0
    assert world.freee_calls == []


def test_handle_message_never_raises_on_an_unexpected_error(world: World):
    deal = won_deal(world)

    class Broken:
        def __getattr__(self, name: str) -> Any:
            raise RuntimeError("the store is on fire")

    ctx = world.context(store=Broken())
    result = handle_message(ctx, Message("m1", job(deal), 1, "r1"), max_receives=MAX_RECEIVES)
    assert result.disposition is Disposition.RETRY
    last = handle_message(ctx, Message("m1", job(deal), 3, "r3"), max_receives=MAX_RECEIVES)
    assert (last.disposition, last.gave_up) == (Disposition.DEAD, True)


def test_run_worker_handles_messages_until_stopped(world: World, queue: SQLiteQueue):
    deals = [won_deal(world) for _ in range(3)]
    for deal in deals:
        queue.send(job(deal))
    stop = threading.Event()
    seen: list[str] = []

    def on_result(result: Any) -> None:
        seen.append(result.result)
        if len(seen) == len(deals):
            stop.set()

    handled: list[int] = []
    thread = threading.Thread(
        target=lambda: handled.append(
            run_worker(world.context(), queue, stop=stop, poll_interval=0.01, on_result=on_result)
        )
    )
    thread.start()
    thread.join(timeout=20)
    assert not thread.is_alive()
    assert handled == [3]
    assert seen == ["created"] * 3
    assert len(world.invoices()) == 3


def test_a_slow_message_does_not_make_the_next_one_come_back_to_another_worker(
    world: World, queue: SQLiteQueue
):
    """Issue 14 (5): the local worker holds only the message it works on. Reading the first deal takes longer
    than the queue's visibility timeout; the second message, still waiting its turn, must not be handed to another
    worker meanwhile (a second receive: one attempt burned, and on the last one a give-up)."""
    slow, waiting = won_deal(world), won_deal(world)
    visibility = world.settings.queue_visibility_timeout
    world.hubspot_box.faults.add(
        FaultRule(
            FaultKind.LATENCY,
            path_prefix=f"/crm/v3/objects/deals/{slow}",
            methods=frozenset({"GET"}),
            latency_seconds=visibility + 10,
        )
    )
    queue.send(job(slow))
    queue.send(job(waiting))
    other_worker: list[Any] = []

    def first_done(result: Any) -> None:
        if result.deal_id == slow and not other_worker:
            other_worker.extend(drain(world.context(), queue))  # another worker polls the queue now

    mine = drain(world.context(), queue, on_result=first_done)
    receives = [r for r in mine + other_worker if r.deal_id == waiting]
    # received once, on its first attempt
    assert [(r.attempts, r.result) for r in receives] == [(1, "created")]
    assert len(world.invoices()) == 2
    assert queue.depth() == QueueDepth(visible=0, in_flight=0, dead=0)


def test_a_stopped_worker_hands_nothing_back_with_an_attempt_spent(world: World, queue: SQLiteQueue):
    """Stopping between two messages leaves the ones not started untouched: their first receive is still ahead."""
    deals = [won_deal(world) for _ in range(3)]
    for deal in deals:
        queue.send(job(deal))
    stop = threading.Event()
    handled = run_worker(
        world.context(), queue, stop=stop, poll_interval=0.01, on_result=lambda _: stop.set()
    )
    assert handled == 1
    later = drain(world.context(), queue)
    assert [r.attempts for r in later] == [1, 1]
    assert len(world.invoices()) == 3


# ------------------------------------------------------------------------------------------------- Lambda


def sqs_record(message_id: str, body: str, *, receive_count: int = 1, receipt: str | None = None) -> dict:
    return {
        "messageId": message_id,
        "receiptHandle": receipt or f"receipt-{message_id}",
        "body": body,
        "attributes": {
            "ApproximateReceiveCount": str(receive_count),
            "SentTimestamp": "1764028800000",
            "SenderId": "AIDAEXAMPLE",
            "ApproximateFirstReceiveTimestamp": "1764028800001",
        },
        "messageAttributes": {},
        "md5OfBody": "0" * 32,
        "eventSource": "aws:sqs",
        "eventSourceARN": "arn:aws:sqs:ap-northeast-1:123456789012:hubspot-freee-invoices",
        "awsRegion": "ap-northeast-1",
    }


@pytest.fixture
def lambda_world(world: World, monkeypatch: pytest.MonkeyPatch) -> World:
    monkeypatch.setattr(worker, "RUNTIME", LambdaRuntime(context=world.context()))
    return world


def test_lambda_reports_only_the_malformed_record_as_failed(lambda_world: World):
    world = lambda_world
    first, second = won_deal(world), won_deal(world)
    event = {
        "Records": [
            sqs_record("m-1", json.dumps(job(first))),
            sqs_record("m-bad", '{"type": "create_invoice", "deal_id": "12"'),
            sqs_record("m-2", json.dumps(job(second, callback_id="cb-lambda"))),
        ]
    }
    assert lambda_handler(event, None) == {"batchItemFailures": [{"itemIdentifier": "m-bad"}]}
    assert len(world.invoices()) == 2
    assert world.deal_props(first)["freee_sync_status"] == "created"
    assert world.deal_props(second)["freee_sync_status"] == "created"
    assert [c.callback_id for c in world.hubspot_box.callbacks] == ["cb-lambda"]


def test_lambda_last_receive_gives_up_onto_the_deal_and_fails_the_record(lambda_world: World):
    world = lambda_world
    deal = won_deal(world)
    freee_always_fails(world)
    max_receives = world.settings.queue_max_receives
    event = {"Records": [sqs_record("m-last", json.dumps(job(deal)), receive_count=max_receives)]}
    assert lambda_handler(event, None) == {"batchItemFailures": [{"itemIdentifier": "m-last"}]}
    error = world.deal_props(deal)["freee_sync_error"] or ""
    assert f"after {max_receives} attempts" in error
    assert world.deal_props(deal)["freee_sync_status"] == "failed"


def test_lambda_hides_a_busy_deals_record_until_the_lease_ends(
    lambda_world: World, aws: None, monkeypatch: pytest.MonkeyPatch
):
    import boto3

    from sdk.queue.sqs import create_queues

    world = lambda_world
    client = boto3.client("sqs")
    url, _ = create_queues(client, "hubspot-freee-invoices", 5)
    monkeypatch.setattr(worker.RUNTIME, "sqs_client", client)
    deal = won_deal(world)
    now = world.clock.now()
    world.store.claim(PORTAL, deal, "another-worker", now, now + timedelta(seconds=LEASE))
    client.send_message(QueueUrl=url, MessageBody=json.dumps(job(deal)))
    [sent] = client.receive_message(QueueUrl=url, VisibilityTimeout=0)["Messages"]  # stays visible
    event = {"Records": [sqs_record(sent["MessageId"], sent["Body"], receipt=sent["ReceiptHandle"])]}
    assert lambda_handler(event, None) == {"batchItemFailures": [{"itemIdentifier": sent["MessageId"]}]}
    assert client.receive_message(QueueUrl=url, VisibilityTimeout=0).get("Messages", []) == []
    assert world.invoices() == []


# ---------------------------------------------------------------------------------------------------- CLI

runner = CliRunner()


@pytest.fixture
def cli(tmp_path: Path) -> Iterator[tuple[World, SQLiteQueue, dict[str, str]]]:
    store_path, queue_path = tmp_path / "store.sqlite", tmp_path / "queue.sqlite"
    world = build_world(SQLiteStore(store_path), clock=SystemClock())
    freee = serve(world.freee_box.app)
    env = {
        "HUBSPOT_API_BASE": world.served.url,
        "HUBSPOT_ACCESS_TOKEN": "sandbox-hubspot-token",
        "HUBSPOT_PORTAL_ID": str(PORTAL),
        "FREEE_API_BASE": freee.url,
        "FREEE_AUTH_BASE": freee.url,
        "FREEE_CLIENT_ID": "sandbox-client-id",
        "FREEE_CLIENT_SECRET": "sandbox-client-secret",
        "FREEE_COMPANY_ID": "1",
        "STORAGE_URL": f"sqlite:///{store_path}",
        "QUEUE_URL": f"sqlite:///{queue_path}",
        "QUEUE_MAX_RECEIVES": str(MAX_RECEIVES),
        "LOG_LEVEL": "ERROR",
    }
    yield world, SQLiteQueue(queue_path, max_receives=MAX_RECEIVES), env
    freee.stop()
    world.close()


def run(env: dict[str, str], *args: str):
    return runner.invoke(app, list(args), env=env)


def json_lines(output: str) -> list[dict[str, Any]]:
    """The command's own JSON lines (log lines, also JSON, are left out)."""
    rows = []
    for line in output.splitlines():
        try:
            data = json.loads(line)
        except ValueError:
            continue
        if isinstance(data, dict) and "disposition" in data:
            rows.append(data)
    return rows


def test_cli_worker_once_invoices_what_is_queued_and_exits(cli):
    world, queue, env = cli
    deals = [won_deal(world), won_deal(world)]
    for deal in deals:
        queue.send(job(deal))
    result = run(env, "worker", "--once")
    assert result.exit_code == 0, result.output
    assert result.stdout.count("created") == 2  # the log lines (standard error) say it too
    assert "handled 2 message(s)" in result.output
    assert len(world.invoices()) == 2
    assert run(env, "worker", "--once").exit_code == 0  # nothing left: nothing to do


def test_cli_worker_once_json_and_exit_1_when_a_message_is_not_done(cli):
    world, queue, env = cli
    deal = won_deal(world)
    queue.send(job(deal))
    bad = queue.send({"type": "unknown"})
    result = run(env, "worker", "--once", "--json")
    assert result.exit_code == 1
    rows = {r["message_id"]: r for r in json_lines(result.stdout)}
    assert rows[bad]["disposition"] == "dead"
    assert rows[bad]["result"] == "malformed"
    [good] = [r for r in rows.values() if r["deal_id"] == deal]
    assert (good["result"], good["invoice_number"]) == ("created", world.invoices()[0]["invoice_number"])


def test_cli_dlq_list_and_redrive_one_then_all(cli):
    world, queue, env = cli
    deal = won_deal(world)
    good = queue.send(job(deal))
    bad = queue.send({"type": "unknown", "note": "株式会社"})
    for message in queue.receive(10, 60):
        queue.dead_letter(message, "[bold red]FreeeServerError[/]: 503 [retry]")
    listed = run(env, "dlq", "list", "--json")
    assert listed.exit_code == 0, listed.output
    rows = {r["message_id"]: r for r in json.loads(listed.stdout)}
    assert set(rows) == {good, bad}
    assert rows[good]["body"]["deal_id"] == deal
    assert rows[good]["attempts"] == 1
    assert rows[good]["reason"] == "[bold red]FreeeServerError[/]: 503 [retry]"
    table = run(env, "dlq", "list")
    assert good in table.output
    assert "dlq redrive" in table.output
    assert "最後のエラー: [bold red]FreeeServerError[/]: 503 [retry]" in table.output  # shown as it is
    one = run(env, "dlq", "redrive", "--id", good)
    assert one.exit_code == 0, one.output
    assert "1 message(s) back on the queue" in one.output
    assert [m.id for m in queue.dead_letters()] == [bad]
    assert run(env, "worker", "--once").exit_code == 0
    assert len(world.invoices()) == 1
    rest = run(env, "dlq", "redrive", "--all", "--json")
    assert json.loads(rest.stdout) == {"redriven": 1, "not_found": 0}
    assert queue.dead_letters() == []


@pytest.mark.parametrize(
    ("args", "code", "fragment"),
    [
        (("dlq", "redrive"), 2, "--id"),
        (("dlq", "redrive", "--all", "--id", "x"), 2, "--all"),
        (("dlq", "redrive", "--id", "no-such-message"), 1, "not in the dead-letter queue"),
    ],
)
def test_cli_dlq_redrive_says_which_and_reports_unknown_ids(cli, args, code, fragment):
    _, _, env = cli
    result = run(env, *args)
    assert result.exit_code == code
    assert fragment in result.output
    assert "Traceback" not in result.output


def test_cli_bad_queue_url_is_named(cli):
    _, _, env = cli
    result = run(env | {"QUEUE_URL": "redis://localhost"}, "dlq", "list")
    assert result.exit_code == 2
    assert "QUEUE_URL" in result.output
