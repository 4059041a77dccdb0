"""The tenant boundary: this installation serves one HubSpot portal (``HUBSPOT_PORTAL_ID``), at every entry point.

The app's client secret signs requests for every portal that installed the app, so each case below is *validly*
signed and names another portal, for a deal already invoiced under the right portal: it must be refused (403
``foreign_portal``, a dead letter, exit 2) before any read or write, leaving freee, HubSpot, the ledger and the
queue as they were. Ids follow one policy everywhere (``sdk/models/ids.py``): a boolean is never an id.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from cli.app import app as cli_app
from functions.app import Services, create_app
from functions.worker import Disposition, drain, handle_message
from local.world import World, build_world, cli_env
from sandbox import PORTAL_ID
from sandbox.transport import serve
from sdk.clock import SystemClock
from sdk.errors import ForeignPortal
from sdk.queue import Message
from sdk.queue.sqlite import SQLiteQueue
from sdk.store.sqlite import SQLiteStore
from sdk.usecases.create_invoice import create_invoice_for_deal
from tests.factories import RecordingQueue
from tests.signing import SECRET, custom_headers, v2_headers, v3_headers

PORTAL = PORTAL_ID
OTHER = 13572468  # another portal that installed the same app
CUSTOM_SECRET = "tenant-custom-code-secret"


def make_world(tmp_path: Path, **settings: Any) -> World:
    return build_world(
        SQLiteStore(tmp_path / "store.sqlite"),
        clock=SystemClock(),
        hubspot_client_secret=SECRET,
        custom_code_secret=CUSTOM_SECRET,
        **settings,
    )


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    w = make_world(tmp_path)
    yield w
    w.close()


@pytest.fixture
def queue() -> RecordingQueue:
    return RecordingQueue()


@pytest.fixture
def client(world: World, queue: RecordingQueue) -> Any:
    return create_app(Services(world.context(), queue)).test_client()


def new_deal(world: World, name: str = "株式会社サンプル商事") -> str:
    return world.deal(
        company=world.company(name), line_items=[{"name": "導入支援", "quantity": 1, "price": 100000}]
    )


@pytest.fixture
def invoiced(world: World) -> str:
    """A deal invoiced under the right portal, its write-back done."""
    deal = new_deal(world)
    assert create_invoice_for_deal(world.context(), PORTAL, deal, "test").invoice is not None
    return deal


@dataclass(frozen=True)
class Snapshot:
    invoices: list[Any]
    partners: int
    deal: dict[str, str | None]
    ledger: list[tuple[int, str, str]]
    history_other: int


def snapshot(world: World, deal: str) -> Snapshot:
    return Snapshot(
        invoices=[i["id"] for i in world.invoices()],
        partners=len(world.partners()),
        deal=world.deal_props(deal),
        ledger=sorted((r.portal_id, r.deal_id, r.state.value) for r in world.store.ledger()),
        history_other=len(world.store.history(OTHER, deal)),
    )


@pytest.fixture
def untouched(world: World, invoiced: str) -> Iterator[None]:
    """The test refuses something: afterwards nothing changed, and nothing was read from HubSpot or freee."""
    before = snapshot(world, invoiced)
    world.counter.reset()
    freee_calls = len(world.freee_calls)
    yield
    assert world.counter.total == 0, world.counter.snapshot()  # before any read of HubSpot
    assert world.freee_calls[freee_calls:] == []  # nor of freee
    assert snapshot(world, invoiced) == before


def assert_foreign(response: Any, portal: int = OTHER) -> None:
    assert response.status_code == 403, response.get_data(as_text=True)
    body = response.get_json()
    assert body["error"] == "foreign_portal"
    assert str(portal) in body["message"]
    assert "ポータル" in body["message"] and "portal" in body["message"]  # Japanese and English
    assert str(PORTAL) not in body["message"]  # the caller learns nothing of this installation


# ------------------------------------------------------------------------------------------ request bodies

WEBHOOK = "http://localhost/webhooks/hubspot"
ACTION = "http://localhost/actions/create-invoice"


def event(deal: str | int, portal: Any = PORTAL, event_id: int = 1, **overrides: Any) -> dict[str, Any]:
    return {
        "eventId": event_id,
        "subscriptionId": 77,
        "portalId": portal,
        "appId": 4242,
        "occurredAt": 1795600000000,
        "subscriptionType": "deal.propertyChange",
        "objectId": int(deal) if isinstance(deal, str) else deal,
        "propertyName": "dealstage",
        "propertyValue": "closedwon",
    } | overrides


def post_webhook(client: Any, events: list[dict[str, Any]]) -> Any:
    raw = json.dumps(events).encode()
    return client.post("/webhooks/hubspot", data=raw, headers=v3_headers(WEBHOOK, raw))


def action(deal: Any, portal: Any = PORTAL) -> bytes:
    return json.dumps(
        {
            "callbackId": "cb-tenant",
            "origin": {"portalId": portal, "actionDefinitionId": 9, "actionDefinitionVersion": 1},
            "object": {"objectId": deal, "objectType": "DEAL"},
            "inputFields": {},
        }
    ).encode()


def post_action(client: Any, body: bytes, version: str = "v2") -> Any:
    headers = v2_headers(ACTION, body) if version == "v2" else v3_headers(ACTION, body)
    return client.post("/actions/create-invoice", data=body, headers=headers)


def post_custom(client: Any, path: str, body: dict[str, Any]) -> Any:
    raw = json.dumps(body).encode()
    return client.post(path, data=raw, headers=custom_headers(raw, secret=CUSTOM_SECRET))


def get_card(client: Any, query: str) -> Any:
    path = f"/cards/balance?{query}"
    return client.get(path, headers=v3_headers(f"http://localhost{path}", b"", method="GET"))


def details_at(response: Any) -> list[str]:
    return [d["at"] for d in response.get_json().get("details", [])]


# ------------------------------------------------------------------------------- another portal: refused


def test_webhook_of_another_portal_is_403_and_queues_nothing(client, queue, world, invoiced, untouched):
    assert_foreign(post_webhook(client, [event(invoiced, OTHER)]))
    assert queue.sent == []
    assert not world.store.seen_any([f"hubspot:{OTHER}:1"], world.clock.now())


def test_a_mixed_webhook_batch_queues_only_this_portals_events(client, queue, world, invoiced):
    ours = new_deal(world, "株式会社ほか")
    batch = [event(invoiced, OTHER, 1), event(ours, PORTAL, 2), event(999, OTHER + 1, 3)]
    assert post_webhook(client, batch).status_code == 204
    assert [(m["portal_id"], m["deal_id"]) for m in queue.sent] == [(PORTAL, ours)]
    assert not world.store.seen_any([f"hubspot:{OTHER}:1"], world.clock.now())  # dropped, not marked seen


@pytest.mark.parametrize("version", ["v2", "v3"])
def test_workflow_action_for_another_portal_is_403(client, world, invoiced, untouched, version):
    assert_foreign(post_action(client, action(int(invoiced), OTHER), version))
    assert [c for c in world.hubspot_box.callbacks if c.callback_id == "cb-tenant"] == []


@pytest.mark.parametrize("path", ["/custom-code/create-invoice", "/custom-code/payment-status"])
def test_custom_code_for_another_portal_is_403(client, invoiced, untouched, path):
    assert_foreign(post_custom(client, path, {"portalId": OTHER, "dealId": invoiced}))


def test_card_for_another_portal_is_403(client, invoiced, untouched):
    assert_foreign(get_card(client, f"objectType=deal&objectId={invoiced}&portalId={OTHER}"))


@pytest.mark.parametrize(
    "query",
    [f"portalId={PORTAL}&portalId={OTHER}", f"portalId={OTHER}&portalId={PORTAL}", "objectId=1&objectId=2"],
)
def test_card_query_parameter_given_twice_is_400(client, invoiced, untouched, query):
    base = "objectType=deal" + ("" if "objectId" in query else f"&objectId={invoiced}")
    response = get_card(client, f"{base}&{query}")
    assert response.status_code == 400
    assert response.get_json()["error"] == "duplicate_query_parameter"
    assert details_at(response) == [query.split("=")[0]]


def test_card_of_this_portal_still_answers(client, invoiced):
    body = get_card(client, f"objectType=deal&objectId={invoiced}&portalId={PORTAL}").get_json()
    assert body["hasInvoices"] is True


def test_worker_dead_letters_another_portals_message_at_once_without_any_call(world, invoiced, untouched):
    body = {"type": "create_invoice", "portal_id": OTHER, "deal_id": invoiced, "trigger": "webhook"}
    result = handle_message(world.context(), Message("m-other", body, 1, "r"), max_receives=5)
    assert (result.disposition, result.result) == (Disposition.DEAD, "refused")
    assert str(OTHER) in (result.error or "")


def test_worker_loop_moves_it_to_the_dead_letter_queue_on_the_first_receive(world, invoiced, tmp_path):
    queue = SQLiteQueue(tmp_path / "queue.sqlite", max_receives=5)
    queue.send({"type": "create_invoice", "portal_id": OTHER, "deal_id": invoiced, "trigger": "webhook"})
    [result] = drain(world.context(), queue)
    assert result.disposition is Disposition.DEAD
    [dead] = queue.dead_letters()
    assert dead.attempts == 1 and queue.depth().visible == 0
    assert len(world.invoices()) == 1


def test_the_use_case_refuses_another_portal_before_remembering_anything(world, invoiced, untouched):
    with pytest.raises(ForeignPortal) as refused:
        create_invoice_for_deal(world.context(), OTHER, invoiced, "test")
    assert refused.value.received == OTHER and refused.value.configured == PORTAL


# ------------------------------------------------------------------------------- booleans are never ids


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"portalId": True}, "0/portalId"),
        ({"objectId": True}, "0/objectId"),
        ({"objectId": 1.0}, "0/objectId"),
    ],
)
def test_webhook_booleans_and_floats_as_ids_are_400_naming_the_field(client, queue, invoiced, change, field):
    raw = json.dumps([event(invoiced) | change]).encode()
    response = client.post("/webhooks/hubspot", data=raw, headers=v3_headers(WEBHOOK, raw))
    assert response.status_code == 400
    assert response.get_json()["error"] == "invalid_batch"
    assert field in details_at(response)
    assert queue.sent == []


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (action(1, True), "origin/portalId"),
        (action(True), "object/objectId"),
        (action(1, float(PORTAL)), "origin/portalId"),
        (action("1.5"), "object/objectId"),
    ],
)
def test_workflow_action_booleans_as_ids_are_400_naming_the_field(client, world, body, field):
    response = post_action(client, body)
    assert response.status_code == 400
    assert response.get_json()["error"] == "invalid_request"
    assert field in details_at(response)
    assert world.invoices() == []


@pytest.mark.parametrize("path", ["/custom-code/create-invoice", "/custom-code/payment-status"])
@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"portalId": True, "dealId": "1"}, "portalId"),
        ({"portalId": PORTAL, "dealId": True}, "dealId"),
        ({"portalId": str(PORTAL), "dealId": 1.0}, "dealId"),
    ],
)
def test_custom_code_booleans_as_ids_are_400_naming_the_field(client, world, path, body, field):
    response = post_custom(client, path, body)
    assert response.status_code == 400
    assert response.get_json()["error"] == "invalid_request"
    assert details_at(response) == [field]
    assert world.invoices() == []


@pytest.mark.parametrize("field", ["portal_id", "deal_id"])
def test_worker_message_with_a_boolean_id_is_a_dead_letter_naming_it(world, invoiced, untouched, field):
    body = {"type": "create_invoice", "portal_id": PORTAL, "deal_id": invoiced} | {field: True}
    result = handle_message(world.context(), Message("m-bool", body, 1, "r"), max_receives=5)
    assert (result.disposition, result.result) == (Disposition.DEAD, "malformed")
    assert field in (result.error or "")


def test_ids_as_digit_strings_follow_the_same_policy_everywhere(client, queue, world):
    deal = new_deal(world)
    assert (
        post_webhook(client, [event(deal) | {"objectId": deal, "portalId": str(PORTAL)}]).status_code == 204
    )
    assert [(m["portal_id"], m["deal_id"]) for m in queue.sent] == [(PORTAL, deal)]
    fields = post_action(client, action(deal, str(PORTAL))).get_json()["outputFields"]
    assert fields["result"] == "created"


# --------------------------------------------------------------------------- the portal must be configured


@pytest.fixture
def unconfigured(tmp_path: Path) -> Iterator[Any]:
    w = make_world(tmp_path, hubspot_portal_id=None)
    yield create_app(Services(w.context(), RecordingQueue())).test_client()
    w.close()


@pytest.mark.parametrize(
    "send",
    [
        lambda c: post_webhook(c, [event(1)]),
        lambda c: post_action(c, action(1)),
        lambda c: post_custom(c, "/custom-code/create-invoice", {"portalId": PORTAL, "dealId": "1"}),
        lambda c: post_custom(c, "/custom-code/payment-status", {"portalId": PORTAL, "dealId": "1"}),
        lambda c: get_card(c, f"objectType=deal&objectId=1&portalId={PORTAL}"),
    ],
    ids=["webhook", "action", "custom-invoice", "custom-status", "card"],
)
def test_without_hubspot_portal_id_every_handler_is_503_naming_it(unconfigured, send):
    response = send(unconfigured)
    assert response.status_code == 503
    assert response.get_json()["error"] == "not_configured"
    assert "HUBSPOT_PORTAL_ID" in response.get_json()["message"]


# ------------------------------------------------------------------------------------------------- CLI

runner = CliRunner()


@pytest.fixture
def env(world: World, tmp_path: Path) -> Iterator[dict[str, str]]:
    freee = serve(world.freee_box.app)
    yield cli_env(world, freee.url, tmp_path / "store.sqlite", QUEUE_URL=f"sqlite:///{tmp_path / 'q.sqlite'}")
    freee.stop()


@pytest.mark.parametrize(
    "args",
    [("invoice", "create", "--deal", "{deal}"), ("invoice", "create", "--dry-run"), ("invoice", "show")],
    ids=["create", "dry-run", "show"],
)
def test_cli_with_another_portal_exits_2_and_touches_nothing(env, world, invoiced, untouched, args):
    argv = [a.replace("{deal}", invoiced) for a in args]
    if "--deal" not in argv:
        argv += ["--deal", invoiced]
    result = runner.invoke(cli_app, [*argv, "--portal", str(OTHER)], env=env)
    assert result.exit_code == 2, result.output
    assert f"--portal {OTHER}" in result.output and f"HUBSPOT_PORTAL_ID={PORTAL}" in result.output
    assert "Traceback" not in result.output


def test_cli_with_this_portal_named_works_as_before(env, world, invoiced):
    result = runner.invoke(cli_app, ["invoice", "show", "--deal", invoiced, "--portal", str(PORTAL)], env=env)
    assert result.exit_code == 0, result.output


@pytest.mark.parametrize(
    "args",
    [("invoice", "create", "--deal", "1"), ("invoice", "show", "--deal", "1"), ("serve", "--port", "0")],
    ids=["create", "show", "serve"],
)
def test_cli_without_hubspot_portal_id_exits_2_naming_it(env, args):
    result = runner.invoke(cli_app, list(args), env=env | {"HUBSPOT_PORTAL_ID": None})  # type: ignore[dict-item]
    assert result.exit_code == 2, result.output
    assert "HUBSPOT_PORTAL_ID" in result.output
    assert "hubspot-freee on" not in result.output  # the server did not start


def test_payment_sync_leaves_ledger_rows_of_another_portal_alone(world, invoiced):
    """Rows the old bug left under another portal id (a second invoice for the same deal) are never synced onto
    this portal's deal."""
    from sdk.usecases.sync_payments import sync_payments

    ours = world.store.get_ledger(PORTAL, invoiced)
    assert ours is not None and ours.invoice is not None
    now = world.clock.now()
    assert world.store.claim(OTHER, invoiced, "old-bug", now, now.replace(year=now.year + 1)).granted
    world.store.record_invoice(OTHER, invoiced, "old-bug", ours.invoice, now)
    world.store.record_written(OTHER, invoiced, {}, now, token="old-bug")
    summary = sync_payments(world.context())
    assert summary.ok
    assert summary.checked == 1  # ours only (2 without the boundary: the other row is just as open)
    assert world.store.history(OTHER, invoiced) == []
