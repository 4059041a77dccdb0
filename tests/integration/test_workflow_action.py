"""``POST /actions/create-invoice``: HubSpot's custom workflow action, signed v2 (or v3)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from functions.app import Services, create_app
from functions.worker import drain
from sdk.clock import SystemClock
from sdk.queue.sqlite import SQLiteQueue
from sdk.store import Store
from tests.signing import SECRET, v2_headers, v3_headers
from tests.world import World, build_world

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


def test_busy_freee_blocks_and_the_worker_completes_the_callback(client, world, queue):
    deal = world.deal(company=world.company(), line_items=[{"name": "x", "quantity": 1, "price": 1000}])
    world.freee_box.faults.script("5xx", "5xx", "5xx", "5xx", path_prefix="/api/1/partners")
    fields = call(client, action(deal, callback="cb-busy")).json["outputFields"]
    assert (fields["result"], fields["hs_execution_state"]) == ("pending", "BLOCK")
    assert queue.depth().total >= 1
    world.freee_box.faults.reset()
    drain(world.context(), queue)
    [invoice] = world.invoices()
    [completed] = [c for c in world.hubspot_box.callbacks if c.callback_id == "cb-busy"]
    assert completed.output_fields["freee_invoice_id"] == str(invoice["id"])
    assert completed.output_fields["hs_execution_state"] == "SUCCESS"


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
