"""freee disconnected (issue 13): a refresh whose answer was lost spends freee's single-use refresh token, and the
retry is refused (``invalid_grant``). The installation then says so everywhere — the deals, ``/healthz``, the
logs the alarm counts — and holds its queued work, never dead-lettering it, until an operator reconnects; then
every waiting deal is invoiced exactly once. Both sandboxes, a SQLite queue; the Lambda path on moto's SQS."""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import functions.worker as worker
from functions.app import Services, create_app
from functions.health import HealthDeps, healthz
from functions.worker import Disposition, drain
from local.world import World, build_world
from sandbox.faults import FaultKind
from sdk.clock import FakeClock
from sdk.freee.tokens import TokenSet
from sdk.queue import InvoiceJob, QueueDepth
from sdk.queue.sqlite import SQLiteQueue
from sdk.runtime import LambdaRuntime
from sdk.store import LedgerState
from sdk.store.sqlite import SQLiteStore
from sdk.usecases.create_invoice import FREEE_DISCONNECTED_MESSAGE
from sdk.usecases.health import HealthProblem
from tests.integration.test_worker import sqs_record

PORTAL = 24681357
MAX_RECEIVES = 3
DEALS = 4

_companies = itertools.count(1)


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    w = build_world(SQLiteStore(tmp_path / "store.sqlite"), hubspot_portal_id=PORTAL)
    yield w
    w.close()


@pytest.fixture
def queue(world: World, tmp_path: Path) -> SQLiteQueue:
    return SQLiteQueue(tmp_path / "queue.sqlite", max_receives=MAX_RECEIVES, clock=world.clock)


def won_deal(world: World) -> str:
    company = world.company(f"株式会社切断テスト 第{next(_companies)}支店")
    return world.deal(company=company, line_items=[{"name": "導入支援", "quantity": 1, "price": 100000}])


def job(deal: str) -> dict[str, Any]:
    return InvoiceJob(portal_id=PORTAL, deal_id=deal, trigger="webhook").body()


def advance(world: World, seconds: float) -> None:
    assert isinstance(world.clock, FakeClock)
    world.clock.advance(seconds)


def refresh_answer_lost(world: World) -> None:
    """The access token has expired in freee, and the next refresh is committed by freee but its answer lost."""
    world.freee_box.expire_access_tokens()
    world.freee_box.faults.script(FaultKind.TIMEOUT_AFTER_COMMIT, path_prefix="/public_api/token")


def disconnect(world: World) -> None:
    """The token row as a refused refresh leaves it."""
    row = world.store.tokens.load_token()
    assert row is not None
    assert world.store.tokens.mark_disconnected(
        row.version, "freee refused the refresh token", world.clock.now()
    )


def reconnect(world: World) -> None:
    """What `hubspot-freee setup freee` stores: a freshly granted pair, through TokenManager.connect."""
    granted = TokenSet.from_grant(world.freee_box.issue_tokens(), world.clock.now(), company_id=1)
    world.freee.tokens.connect(granted)


def health(world: World, queue: SQLiteQueue) -> tuple[int, dict[str, Any]]:
    answer = create_app(Services(world.context(), queue)).test_client().get("/healthz")
    return answer.status_code, answer.json


def test_a_lost_refresh_answer_holds_the_work_until_reconnected_then_invoices_each_deal_once(
    world: World, queue: SQLiteQueue, caplog: pytest.LogCaptureFixture
):
    deals = [won_deal(world) for _ in range(DEALS)]
    queue.send_many([job(d) for d in deals])
    refresh_answer_lost(world)

    results = []
    writes_after_round: list[int] = []
    with caplog.at_level("WARNING", logger="hubspot-freee"):
        for _ in range(MAX_RECEIVES * 3):  # far more receives than a failing message is allowed
            results += drain(world.context(), queue)
            writes_after_round.append(world.counter.count("deals.batch_update"))
            advance(world, world.settings.queue_hold_seconds + 1)

    assert queue.dead_letters() == []
    assert world.invoices() == []
    held = [r for r in results if r.disposition is Disposition.HOLD]
    assert {r.deal_id for r in held} == set(deals)
    assert all(r.result == "held" for r in held)
    assert not [r for r in results if r.disposition is Disposition.DEAD]
    for deal in deals:
        shown = world.deal_props(deal)
        assert (shown["freee_sync_status"], shown["freee_sync_error"]) == (
            "failed",
            FREEE_DISCONNECTED_MESSAGE,
        )
        assert world.store.get_ledger(PORTAL, deal).state is LedgerState.FAILED  # type: ignore[union-attr]
    # the disconnected words are written once per deal (the first deal's second round: it met the lost answer
    # first, a temporary error); every later recheck finds them in the ledger's `written` and writes nothing
    assert writes_after_round[1:] == [writes_after_round[1]] * (len(writes_after_round) - 1)
    # freee's token endpoint was asked twice (the lost answer, then the refused reuse), never again
    assert world.freee_box.state.token_stats()["calls"]["refresh_token"] == 2
    assert "'event': 'freee_disconnected'" in caplog.text  # what the alarm's metric filter counts

    status, body = health(world, queue)
    assert status == 503
    assert body["status"] == "unhealthy"
    assert "freee is disconnected" in body["reason"] and "hubspot-freee setup freee" in body["reason"]
    [problem] = body["problems"]
    assert problem["code"] == "freee_disconnected" and problem["since"]

    reconnect(world)
    assert health(world, queue) == (200, {"status": "ok"})
    advance(world, world.settings.queue_hold_seconds + 1)
    done = drain(world.context(), queue)

    assert sorted(r.deal_id for r in done if r.result == "created") == sorted(deals)
    invoices = world.invoices()
    assert len(invoices) == DEALS
    numbers = {world.deal_props(d)["freee_invoice_number"] for d in deals}
    assert numbers == {i["invoice_number"] for i in invoices}
    for deal in deals:
        shown = world.deal_props(deal)
        assert (shown["freee_sync_status"], shown["freee_sync_error"] or "") == ("created", "")
    advance(world, 3600)
    assert queue.depth() == QueueDepth(visible=0, in_flight=0, dead=0)
    assert drain(world.context(), queue) == []


def test_a_deal_that_already_failed_often_is_held_not_dead_lettered(world: World, queue: SQLiteQueue):
    """A message on its last allowed receive that meets the disconnection is held, not given up."""
    deal = won_deal(world)
    queue.send(job(deal))
    for _ in range(MAX_RECEIVES - 1):  # spend every attempt but the last
        [message] = queue.receive(1, 60)
        queue.retry_later(message, 0)
    disconnect(world)
    [result] = drain(world.context(), queue)
    assert (result.disposition, result.attempts, result.gave_up) == (Disposition.HOLD, MAX_RECEIVES, False)
    assert queue.dead_letters() == []
    assert world.deal_props(deal)["freee_sync_error"] == FREEE_DISCONNECTED_MESSAGE


def test_healthz_is_green_when_connected_and_takes_more_checks(world: World):
    deps = HealthDeps(world.store)
    assert (healthz(deps).status, healthz(deps).body) == (200, {"status": "ok"})
    restarted = HealthProblem(
        "worker_restarted", "ワーカーを再起動しました", "the worker thread was restarted"
    )
    answer = healthz(HealthDeps(world.store, (lambda: [restarted],)))
    assert answer.status == 503
    assert answer.body["reason"] == "the worker thread was restarted"

    def broken() -> list[HealthProblem]:
        raise RuntimeError("store down")

    failing = healthz(HealthDeps(world.store, (broken,)))
    assert failing.status == 503 and failing.body["problems"][0]["code"] == "check_failed"


def test_healthz_lambda_answers_503_with_the_reason_while_disconnected(
    world: World, monkeypatch: pytest.MonkeyPatch
):
    import functions.health

    monkeypatch.setattr(functions.health, "RUNTIME", LambdaRuntime(store=world.store))
    assert functions.health.lambda_handler({}, None)["statusCode"] == 200
    disconnect(world)
    answer = functions.health.lambda_handler({}, None)
    assert answer["statusCode"] == 503
    assert "freee is disconnected" in json.loads(answer["body"])["reason"]


# ------------------------------------------------------------------------------------------------- Lambda


def test_lambda_holds_the_record_in_sqs_and_reports_it_done_even_on_its_last_receive(
    world: World, aws: None, monkeypatch: pytest.MonkeyPatch
):
    import boto3

    from sdk.queue.sqs import SQSQueue, create_queues

    client = boto3.client("sqs")
    url, _ = create_queues(client, "hubspot-freee-invoices", MAX_RECEIVES)
    monkeypatch.setattr(worker, "RUNTIME", LambdaRuntime(context=world.context(), sqs_client=client))
    deal = won_deal(world)
    disconnect(world)
    client.send_message(QueueUrl=url, MessageBody=json.dumps(job(deal)))
    [sent] = client.receive_message(QueueUrl=url, VisibilityTimeout=60)["Messages"]
    record = sqs_record(
        sent["MessageId"],
        sent["Body"],
        receive_count=world.settings.queue_max_receives,  # the last allowed receive
        receipt=sent["ReceiptHandle"],
    )
    assert worker.lambda_handler({"Records": [record]}, None) == {"batchItemFailures": []}
    depth = SQSQueue("hubspot-freee-invoices", client=client).depth()
    assert (depth.visible, depth.in_flight, depth.delayed, depth.dead) == (0, 0, 1, 0)  # sent again, delayed
    assert world.deal_props(deal)["freee_sync_error"] == FREEE_DISCONNECTED_MESSAGE


# ---------------------------------------------------------------------------------------------------- CLI


def test_cli_worker_once_shows_the_held_deal_and_what_to_run(tmp_path: Path):
    from typer.testing import CliRunner

    from cli.app import app
    from local.world import cli_env
    from sandbox.transport import serve
    from sdk.clock import SystemClock

    store_path, queue_path = tmp_path / "store.sqlite", tmp_path / "queue.sqlite"
    world = build_world(SQLiteStore(store_path), clock=SystemClock(), hubspot_portal_id=PORTAL)
    freee = serve(world.freee_box.app)
    try:
        env = cli_env(world, freee.url, store_path, QUEUE_URL=f"sqlite:///{queue_path}")
        queue = SQLiteQueue(queue_path, max_receives=MAX_RECEIVES)
        deal = won_deal(world)
        queue.send(job(deal))
        disconnect(world)
        shown = CliRunner().invoke(app, ["worker", "--once"], env=env)
        assert shown.exit_code == 1, shown.output  # not done: held
        assert "held" in shown.output and "hubspot-freee setup freee" in shown.output
        assert "1 held" in shown.output
        as_json = CliRunner().invoke(app, ["worker", "--once", "--json"], env=env)
        assert as_json.exit_code == 0  # held out of sight for queue_hold_seconds: nothing to do now
        assert queue.dead_letters() == []
    finally:
        freee.stop()
        world.close()
