"""End to end on loopback: deals won in the HubSpot sandbox → signed webhooks → the local server → the queue →
the worker → freee invoices written back. Duplicate and interleaved deliveries make one invoice per deal."""

from __future__ import annotations

import requests

from functions.app import Services, create_app
from functions.worker import drain
from local.world import build_world
from sandbox.transport import serve
from sdk.billing.units import parse_marker
from sdk.clock import SystemClock
from sdk.queue.sqlite import SQLiteQueue
from sdk.store.sqlite import SQLiteStore
from tests.signing import SECRET

PORTAL = 24681357


def test_each_won_deal_gets_one_invoice_whatever_the_deliveries(tmp_path):
    world = build_world(
        SQLiteStore(tmp_path / "store.sqlite"), clock=SystemClock(), hubspot_client_secret=SECRET
    )
    queue = SQLiteQueue(tmp_path / "queue.sqlite")
    ctx = world.context()
    server = serve(create_app(Services(ctx, queue)))
    try:
        world.hubspot_box.set_webhook_target(f"{server.url}/webhooks/hubspot")
        company = world.company()
        deals = [
            world.deal(
                company=company,
                stage="appointmentscheduled",
                line_items=[{"name": f"品目{n}", "quantity": 1, "price": 10000 * (n + 1)}],
            )
            for n in range(4)
        ]
        for deal in deals[:2]:
            world.hubspot_box.move_deal_to_stage(deal, "closedwon")
        assert world.hubspot_box.wait_idle(10)
        first_batches = [d for d in world.hubspot_box.deliveries if d.status == 204]
        assert first_batches
        session = requests.Session()
        for n in range(5):  # the same batches again, interleaved with new deals being won
            for delivery in first_batches:
                again = session.post(
                    delivery.url, data=delivery.body.encode(), headers=delivery.headers, timeout=10
                )
                assert again.status_code == 204
            if n < 2:
                world.hubspot_box.move_deal_to_stage(deals[2 + n], "closedwon")
                assert world.hubspot_box.wait_idle(10)
        assert queue.depth().visible == 4  # one message per deal, not per delivery
        results = drain(ctx, queue)
        assert len(results) == 4
        invoices = world.invoices()
        assert sorted(parse_marker(i["memo"])[1] for i in invoices) == sorted(deals)
        for deal in deals:
            shown = world.deal_props(deal)
            assert shown["freee_sync_status"] == "created"
            assert shown["freee_invoice_id"] in {str(i["id"]) for i in invoices}
        assert queue.depth().visible == 0
    finally:
        server.stop()
        world.close()


def test_a_forged_delivery_is_refused_and_nothing_is_invoiced(tmp_path):
    world = build_world(
        SQLiteStore(tmp_path / "store.sqlite"), clock=SystemClock(), hubspot_client_secret="another-secret"
    )
    queue = SQLiteQueue(tmp_path / "queue.sqlite")
    server = serve(create_app(Services(world.context(), queue)))
    try:
        world.hubspot_box.set_webhook_target(f"{server.url}/webhooks/hubspot")
        deal = world.deal(
            company=world.company(),
            stage="appointmentscheduled",
            line_items=[{"name": "x", "quantity": 1, "price": 1}],
        )
        world.hubspot_box.move_deal_to_stage(deal, "closedwon")
        world.hubspot_box.wait_idle(10)
        assert {d.status for d in world.hubspot_box.deliveries} == {401}
        assert queue.depth().visible == 0
        assert world.invoices() == []
    finally:
        server.stop()
        world.close()
