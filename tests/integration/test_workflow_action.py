"""``POST /actions/create-invoice``: HubSpot's custom workflow action, signed v2 (or v3)."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest

from functions.app import Services, create_app
from functions.worker import drain
from local.world import World, build_world
from sdk.clock import SystemClock
from sdk.hubspot.errors import HubSpotRetryable
from sdk.queue import InvoiceJob
from sdk.queue.sqlite import SQLiteQueue
from sdk.store import Store
from sdk.usecases.create_invoice import InvoiceOutcome, Result, create_invoice_for_deal
from sdk.usecases.give_up import give_up
from tests.signing import SECRET, v2_headers, v3_headers

URI = "http://localhost/actions/create-invoice"
PORTAL = 24681357


@pytest.fixture
def world(store: Store) -> Iterator[World]:
    w = build_world(store, clock=SystemClock(), hubspot_client_secret=SECRET)
    yield w
    w.close()


@pytest.fixture
def queue(tmp_path) -> SQLiteQueue:
    return SQLiteQueue(tmp_path / "queue.sqlite")


@pytest.fixture
def client(world: World, queue: SQLiteQueue):
    return create_app(Services(world.context(), queue)).test_client()


def action(deal: str, object_type: str = "DEAL", callback: str = "cb-1") -> bytes:
    return json.dumps(
        {
            "callbackId": callback,
            "origin": {"portalId": PORTAL, "actionDefinitionId": 9, "actionDefinitionVersion": 1},
            "context": {"source": "WORKFLOWS", "workflowId": 55},
            "object": {"objectId": int(deal), "objectType": object_type},
            "inputFields": {},
        }
    ).encode()


def call(client, body: bytes, headers: dict[str, str] | None = None) -> Any:
    return client.post("/actions/create-invoice", data=body, headers=headers or v2_headers(URI, body))


def test_won_deal_is_invoiced_inline_with_output_fields(client, world):
    deal = world.deal(
        company=world.company(), line_items=[{"name": "導入支援", "quantity": 1, "price": 100000}]
    )
    response = call(client, action(deal))
    assert response.status_code == 200
    fields = response.json["outputFields"]
    [invoice] = world.invoices()
    assert fields == {
        "freee_invoice_id": str(invoice["id"]),
        "freee_invoice_number": invoice["invoice_number"],
        "freee_invoice_url": invoice["report_url"],
        "result": "created",
        "error_message": "",
        "warning_message": "",
        "hs_execution_state": "SUCCESS",
    }
    again = call(client, action(deal)).json["outputFields"]
    assert (again["result"], again["hs_execution_state"]) == ("already_invoiced", "SUCCESS")
    assert len(world.invoices()) == 1


def test_v3_signed_action_is_accepted_too(client, world):
    deal = world.deal(company=world.company(), line_items=[{"name": "x", "quantity": 1, "price": 1000}])
    body = action(deal)
    assert call(client, body, v3_headers(URI, body)).json["outputFields"]["result"] == "created"


def test_invalid_deal_fails_and_continues_with_the_reasons(client, world):
    deal = world.deal(company=None, line_items=[], amount="-5")
    fields = call(client, action(deal)).json["outputFields"]
    assert (fields["result"], fields["hs_execution_state"]) == ("invalid", "FAIL_CONTINUE")
    assert "deal.company_missing" in fields["error_message"]
    assert "会社" in fields["error_message"]
    assert world.invoices() == []


def test_a_deal_whose_amount_differs_from_its_line_items_is_invoiced_with_a_warning(client, world):
    deal = world.deal(
        company=world.company(),
        line_items=[{"name": "保守", "quantity": 1, "price": 149999}],
        amount="165000",
    )
    fields = call(client, action(deal)).json["outputFields"]
    assert (fields["result"], fields["error_message"]) == ("created", "")
    assert fields["warning_message"].startswith("[deal.amount_mismatch]")
    assert "¥149,999" in fields["warning_message"]
    assert world.deal_props(deal)["freee_sync_warning"] == fields["warning_message"]
    again = call(client, action(deal)).json["outputFields"]
    assert (again["result"], again["warning_message"]) == ("already_invoiced", fields["warning_message"])


def test_busy_freee_blocks_and_the_worker_completes_the_callback(client, world, queue):
    deal = world.deal(company=world.company(), line_items=[{"name": "x", "quantity": 1, "price": 1000}])
    world.freee_box.faults.script("5xx", "5xx", "5xx", "5xx", path_prefix="/api/1/partners")
    fields = call(client, action(deal, callback="cb-busy")).json["outputFields"]
    assert (fields["result"], fields["hs_execution_state"]) == ("pending", "BLOCK")
    assert fields["error_message"] == ""  # queued, not failed: no failure message while it waits
    assert queue.depth().total >= 1
    world.freee_box.faults.reset()
    drain(world.context(), queue)
    [invoice] = world.invoices()
    [completed] = [c for c in world.hubspot_box.callbacks if c.callback_id == "cb-busy"]  # once
    assert completed.output_fields["freee_invoice_id"] == str(invoice["id"])
    assert completed.output_fields["hs_execution_state"] == "SUCCESS"
    # HubSpot's current reference requires typedOutputs too: the definition's output fields, typed as declared
    assert completed.typed_outputs == {
        "freee_invoice_id": str(invoice["id"]),
        "freee_invoice_number": invoice["invoice_number"],
        "freee_invoice_url": completed.output_fields["freee_invoice_url"],
        "result": "created",
        "error_message": "",
        "warning_message": "",
    }


def test_action_on_a_company_record_is_refused_politely(client, world):
    fields = call(client, action("123", object_type="COMPANY")).json["outputFields"]
    assert fields["hs_execution_state"] == "FAIL_CONTINUE"
    assert "deals" in fields["error_message"]


@pytest.mark.parametrize(
    "mutate",
    [
        lambda h, b: (h | {"X-HubSpot-Signature": "0" * 64}, b),
        lambda h, b: (h, b.replace(b"cb-1", b"cb-2")),
        lambda h, b: ({k: v for k, v in h.items() if k != "X-HubSpot-Signature"}, b),
        lambda h, b: (h | {"X-HubSpot-Signature-Version": "v1"}, b),
    ],
    ids=["forged", "body changed", "missing", "v1"],
)
def test_unproven_action_calls_are_401(client, world, mutate):
    body = action("1")
    headers, body = mutate(v2_headers(URI, body), body)
    response = call(client, body, headers)
    assert response.status_code == 401
    assert response.json["error"] == "invalid_signature"
    assert world.invoices() == []


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"{}",
        b"[]",
        b"not json",
        b'{"callbackId": "x"}',
        json.dumps(
            {"callbackId": "", "origin": {"portalId": 1}, "object": {"objectId": 1, "objectType": "DEAL"}}
        ).encode(),
    ],
)
def test_malformed_action_bodies_are_400(client, body):
    response = call(client, body)
    assert response.status_code == 400
    assert response.json["error"] == "invalid_request"


# ------------------------------------------------------------------- a blocked action waiting on a busy deal
# Time stands still here (a fake clock): the queued fallback message, delayed by the busy worker's lease, runs
# only when a test moves the clock past it.

LEASE_SECONDS = 120.0


class GatedFreee:
    """The freee client of a worker caught in the middle of invoicing: ``create_invoice`` waits for ``release``."""

    def __init__(self, inner: Any) -> None:
        self._inner = inner
        self.inside = threading.Event()
        self.release = threading.Event()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    def create_invoice(self, request: Any, **kwargs: Any) -> Any:
        self.inside.set()
        assert self.release.wait(10)
        return self._inner.create_invoice(request, **kwargs)


@dataclass
class BusyWorker:
    """Another worker invoicing a deal right now (it holds the claim), until :meth:`finish`."""

    freee: GatedFreee
    thread: threading.Thread
    outcomes: list[InvoiceOutcome]
    errors: list[BaseException]

    def finish(self) -> InvoiceOutcome:
        self.freee.release.set()
        self.thread.join(10)
        assert self.errors == []
        [outcome] = self.outcomes
        return outcome


def busy_worker(world: World, deal: str) -> BusyWorker:
    gated = GatedFreee(world.freee)
    outcomes: list[InvoiceOutcome] = []
    errors: list[BaseException] = []

    def run() -> None:
        try:
            outcomes.append(create_invoice_for_deal(world.context(freee=gated), PORTAL, deal, "webhook"))
        except BaseException as exc:
            errors.append(exc)

    thread = threading.Thread(target=run)
    worker = BusyWorker(gated, thread, outcomes, errors)
    thread.start()
    assert gated.inside.wait(10), errors
    return worker


@pytest.fixture
def still_world(store: Store) -> Iterator[World]:
    w = build_world(store, hubspot_client_secret=SECRET)
    yield w
    w.close()


@pytest.fixture
def still_queue(tmp_path, still_world: World) -> SQLiteQueue:
    return SQLiteQueue(tmp_path / "still-queue.sqlite", clock=still_world.clock)


@pytest.fixture
def still_client(still_world: World, still_queue: SQLiteQueue):
    return create_app(Services(still_world.context(), still_queue)).test_client()


def completions(world: World, callback_id: str) -> list[dict[str, Any]]:
    return [c.output_fields for c in world.hubspot_box.callbacks if c.callback_id == callback_id]


def test_blocked_action_is_completed_as_soon_as_the_busy_worker_creates_the_invoice(
    still_client, still_world, still_queue
):
    world = still_world
    deal = world.deal(company=world.company(), line_items=[{"name": "x", "quantity": 1, "price": 1000}])
    busy = busy_worker(world, deal)
    started = world.clock.now()
    for callback in ("cb-wait-1", "cb-wait-2"):
        fields = call(still_client, action(deal, callback=callback)).json["outputFields"]
        assert (fields["result"], fields["hs_execution_state"]) == ("pending", "BLOCK")
    assert completions(world, "cb-wait-1") == []

    assert busy.finish().result is Result.CREATED
    [invoice] = world.invoices()
    for callback in ("cb-wait-1", "cb-wait-2"):
        [fields] = completions(world, callback)
        assert fields["freee_invoice_number"] == invoice["invoice_number"]
        assert (fields["result"], fields["hs_execution_state"]) == ("created", "SUCCESS")
    assert world.clock.now() == started  # not a second waited for the lease
    assert drain(world.context(), still_queue) == []  # the fallback messages have not run
    assert still_queue.depth().delayed == 2

    world.clock.advance(LEASE_SECONDS + 1)  # later, the fallback messages run: no second completion
    results = drain(world.context(), still_queue)
    assert [r.result for r in results] == ["already_invoiced", "already_invoiced"]
    assert len(completions(world, "cb-wait-1")) == len(completions(world, "cb-wait-2")) == 1
    assert len(world.invoices()) == 1


def test_fallback_message_completes_the_action_when_the_busy_worker_died(
    still_client, still_world, still_queue
):
    world = still_world
    deal = world.deal(company=world.company(), line_items=[{"name": "x", "quantity": 1, "price": 1000}])
    now = world.clock.now()
    world.store.claim(PORTAL, deal, "crashed-worker", now, now + timedelta(seconds=LEASE_SECONDS))
    fields = call(still_client, action(deal, callback="cb-orphan")).json["outputFields"]
    assert fields["hs_execution_state"] == "BLOCK"
    assert drain(world.context(), still_queue) == []  # the lease is still live

    world.clock.advance(LEASE_SECONDS + 1)
    [result] = drain(world.context(), still_queue)
    assert result.result == "created"
    [invoice] = world.invoices()
    [completed] = completions(world, "cb-orphan")
    assert completed["freee_invoice_number"] == invoice["invoice_number"]
    assert completed["hs_execution_state"] == "SUCCESS"


def test_action_that_meets_a_deal_finished_just_before_it_waits_answers_at_once(
    still_client, still_world, still_queue, monkeypatch
):
    """The busy worker finishes (and finds no one waiting) between the action seeing it busy and the action
    leaving its waiter: the action must not wait for a completion no one will send."""
    world = still_world
    deal = world.deal(company=world.company(), line_items=[{"name": "x", "quantity": 1, "price": 1000}])
    busy = busy_worker(world, deal)
    add_waiter = world.store.add_waiter

    def finish_first(*args: Any) -> None:
        busy.finish()
        add_waiter(*args)

    monkeypatch.setattr(world.store, "add_waiter", finish_first)
    fields = call(still_client, action(deal, callback="cb-late")).json["outputFields"]
    [invoice] = world.invoices()
    assert (fields["result"], fields["hs_execution_state"]) == ("already_invoiced", "SUCCESS")
    assert fields["freee_invoice_number"] == invoice["invoice_number"]
    assert completions(world, "cb-late") == []  # answered, so never completed by a callback
    assert still_queue.depth().total == 0
    assert world.store.take_waiters(PORTAL, deal, world.clock.now()) == []


def test_fallback_message_that_gives_up_does_not_complete_an_action_already_completed(
    still_world, still_queue
):
    world = still_world
    deal = world.deal(company=world.company(), line_items=[{"name": "x", "quantity": 1, "price": 1000}])
    world.store.add_waiter(PORTAL, deal, "cb-done", world.clock.now() + timedelta(days=7))
    create_invoice_for_deal(world.context(), PORTAL, deal, "webhook")  # completes cb-done
    job = InvoiceJob(
        portal_id=PORTAL, deal_id=deal, trigger="workflow_action", callback_id="cb-done", waiter=True
    )
    give_up(world.context(), job, 5, HubSpotRetryable("HubSpot answered 503", status=503, operation="x"))
    [completed] = completions(world, "cb-done")
    assert completed["result"] == "created"
