"""The HubSpot sandbox's app webhooks: a deal's stage change reaches a receiver as a signed batch, retried like
HubSpot (time-outs, 429, 5xx; never another 4xx), sometimes twice.

The receiver is a tiny Flask app on loopback (or a callable). The sandbox clock is a fake clock starting now,
so the v3 signature's timestamp passes the official verifier's five-minute check, and retry delays (minutes on
the sandbox clock) pass instantly.
"""

from __future__ import annotations

import json
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import pytest
import requests
from flask import Flask, Response, request
from hubspot import HubSpot
from hubspot.crm.deals import (
    BatchInputSimplePublicObjectBatchInput,
    SimplePublicObjectBatchInput,
    SimplePublicObjectInput,
)
from hubspot.utils.signature import Signature

from sandbox.hubspot import HubSpotSandbox, WebhookRequest, create_hubspot_sandbox
from sandbox.transport import ServedApp, serve
from sdk.clock import FakeClock
from sdk.models.hubspot import parse_webhook_batch

SECRET = "webhook-test-client-secret"
TOKEN = "webhook-test-token"


@dataclass
class Received:
    url: str
    headers: dict[str, str]
    body: str


@dataclass
class Receiver:
    """Records every delivery and answers the scripted statuses in turn (then 204)."""

    statuses: deque[int] = field(default_factory=deque)
    received: list[Received] = field(default_factory=list)

    def app(self) -> Flask:
        app = Flask("test-receiver")

        @app.post("/webhooks/hubspot")
        def hook() -> Response:
            self.received.append(Received(request.url, dict(request.headers), request.get_data(as_text=True)))
            return Response(status=self.statuses.popleft() if self.statuses else 204)

        return app


@pytest.fixture(scope="module")
def receiver_server() -> Iterator[tuple[Receiver, ServedApp]]:
    receiver = Receiver()
    with serve(receiver.app()) as served:
        yield receiver, served


@pytest.fixture
def receiver(receiver_server: tuple[Receiver, ServedApp]) -> Receiver:
    receiver = receiver_server[0]
    receiver.statuses.clear()
    receiver.received.clear()
    return receiver


@pytest.fixture
def hook_url(receiver_server: tuple[Receiver, ServedApp]) -> str:
    return f"{receiver_server[1].url}/webhooks/hubspot"


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(start=datetime.now(UTC))


def make_sandbox(clock: FakeClock, target: Any, **options: Any) -> HubSpotSandbox:
    return create_hubspot_sandbox(
        clock=clock, client_secret=SECRET, access_token=TOKEN, webhook_url=target, seed=5, **options
    )


@pytest.fixture
def sandbox(clock: FakeClock, hook_url: str) -> Iterator[HubSpotSandbox]:
    box = make_sandbox(clock, hook_url)
    yield box
    box.close()


def verifies(received: Received) -> bool:
    """The official verifier, as the project's webhook handler calls it."""
    return Signature.is_valid(
        signature=received.headers["X-Hubspot-Signature-V3"],
        client_secret=SECRET,
        request_body=received.body,
        http_uri=received.url,
        http_method="POST",
        signature_version="v3",
        timestamp=received.headers["X-Hubspot-Request-Timestamp"],
    )


def test_moving_a_deal_to_a_stage_delivers_a_signed_batch(
    sandbox: HubSpotSandbox, receiver: Receiver
) -> None:
    deal_id = sandbox.create_deal(dealname="受注", dealstage="contractsent")

    sandbox.move_deal_to_stage(deal_id, "closedwon")

    assert sandbox.wait_idle(5)
    [received] = receiver.received
    assert verifies(received)
    assert received.headers["X-Hubspot-Signature-Version"] == "v3"
    [event] = parse_webhook_batch(received.body)
    assert event.is_deal_stage_change
    assert (event.object_id, event.property_value) == (int(deal_id), "closedwon")
    assert (event.portal_id, event.app_id, event.attempt_number) == (sandbox.portal_id, sandbox.app_id, 0)
    assert event.change_source == "CRM_UI"
    assert event.occurred_at == int(sandbox.clock.now().timestamp() * 1000)
    raw = json.loads(received.body)[0]
    assert set(raw) >= {"eventId", "subscriptionId", "portalId", "appId", "occurredAt", "subscriptionType",
                        "attemptNumber", "objectId", "propertyName", "propertyValue", "changeSource", "sourceId"}  # fmt: skip


def test_a_tampered_body_does_not_verify(sandbox: HubSpotSandbox, receiver: Receiver) -> None:
    sandbox.move_deal_to_stage(sandbox.create_deal(dealname="x"), "closedwon")
    assert sandbox.wait_idle(5)

    original = receiver.received[0]
    tampered = Received(original.url, original.headers, original.body.replace("closedwon", "closedlost"))

    assert verifies(original)
    assert not verifies(tampered)


def test_api_writes_of_the_stage_emit_events_and_other_writes_do_not(
    clock: FakeClock, sandbox: HubSpotSandbox, receiver: Receiver
) -> None:
    first, second = sandbox.create_deal(dealname="a"), sandbox.create_deal(dealname="b")
    with serve(sandbox.app) as served:
        hs = HubSpot(access_token=TOKEN, host=served.url)
        hs.crm.deals.basic_api.update(first, SimplePublicObjectInput(properties={"dealstage": "closedwon"}))
        hs.crm.deals.basic_api.update(first, SimplePublicObjectInput(properties={"dealstage": "closedwon"}))
        hs.crm.deals.basic_api.update(first, SimplePublicObjectInput(properties={"amount": "100"}))
        hs.crm.deals.batch_api.update(
            BatchInputSimplePublicObjectBatchInput(
                inputs=[SimplePublicObjectBatchInput(id=second, properties={"dealstage": "closedlost"})]
            )
        )

    assert sandbox.wait_idle(5)
    events = [e for r in receiver.received for e in parse_webhook_batch(r.body)]
    assert [(e.object_id, e.property_value) for e in events] == [
        (int(first), "closedwon"),
        (int(second), "closedlost"),
    ]
    assert {e.change_source for e in events} == {"INTEGRATION"}
    assert all(verifies(r) for r in receiver.received)


def test_a_500_is_retried_later_with_the_next_attempt_number(
    clock: FakeClock, sandbox: HubSpotSandbox, receiver: Receiver
) -> None:
    receiver.statuses.extend([500, 503])
    started = clock.monotonic()

    sandbox.move_deal_to_stage(sandbox.create_deal(dealname="再送"), "closedwon")

    assert sandbox.wait_idle(5)
    bodies = [json.loads(r.body) for r in receiver.received]
    assert [b[0]["attemptNumber"] for b in bodies] == [0, 1, 2]
    assert len({b[0]["eventId"] for b in bodies}) == 1
    assert [d.status for d in sandbox.deliveries] == [500, 503, 204]
    assert clock.monotonic() - started >= 60 + 120  # the retries waited on the sandbox clock
    assert all(verifies(r) for r in receiver.received)


def test_a_429_is_retried(clock: FakeClock, sandbox: HubSpotSandbox, receiver: Receiver) -> None:
    receiver.statuses.append(429)

    sandbox.move_deal_to_stage(sandbox.create_deal(dealname="混雑"), "closedwon")

    assert sandbox.wait_idle(5)
    assert [d.status for d in sandbox.deliveries] == [429, 204]


def test_a_400_is_not_retried(sandbox: HubSpotSandbox, receiver: Receiver) -> None:
    receiver.statuses.append(400)

    sandbox.move_deal_to_stage(sandbox.create_deal(dealname="拒否"), "closedwon")

    assert sandbox.wait_idle(5)
    assert [d.status for d in sandbox.deliveries] == [400]
    assert len(receiver.received) == 1


def test_every_batch_is_delivered_twice_when_duplicates_are_certain(
    clock: FakeClock, hook_url: str, receiver: Receiver
) -> None:
    box = make_sandbox(clock, hook_url, duplicate_delivery_probability=1.0)

    box.move_deal_to_stage(box.create_deal(dealname="二重"), "closedwon")

    assert box.wait_idle(5)
    box.close()
    assert len(receiver.received) == 2
    assert receiver.received[0].body == receiver.received[1].body
    assert [d.duplicate for d in box.deliveries] == [False, True]
    assert all(verifies(r) for r in receiver.received)


def test_a_callable_target_gets_the_same_signed_request_and_timeouts_are_retried(clock: FakeClock) -> None:
    seen: list[WebhookRequest] = []
    answers = deque([TimeoutError("receiver too slow"), 200])

    def target(request: WebhookRequest) -> int:
        seen.append(request)
        answer = answers.popleft()
        if isinstance(answer, Exception):
            raise answer
        return answer

    box = make_sandbox(clock, target, webhook_uri="https://example.com/hooks/hubspot")
    box.move_deal_to_stage(box.create_deal(dealname="呼び出し"), "closedwon")
    assert box.wait_idle(5)
    box.close()

    assert [json.loads(r.body)[0]["attemptNumber"] for r in seen] == [0, 1]
    assert box.deliveries[0].error is not None
    assert box.deliveries[0].error.startswith("TimeoutError")
    assert Signature.is_valid(
        signature=seen[1].headers["X-HubSpot-Signature-v3"],
        client_secret=SECRET,
        request_body=seen[1].body,
        http_uri="https://example.com/hooks/hubspot",
        signature_version="v3",
        timestamp=seen[1].headers["X-HubSpot-Request-Timestamp"],
    )


def test_delivery_gives_up_after_ten_retries(clock: FakeClock) -> None:
    box = make_sandbox(clock, lambda request: 503, webhook_retry_delays=[1.0 * n for n in range(1, 11)])

    box.move_deal_to_stage(box.create_deal(dealname="諦め"), "closedwon")

    assert box.wait_idle(5)
    box.close()
    assert [d.attempt for d in box.deliveries] == list(range(11))


def test_many_events_are_sent_in_batches_of_100(clock: FakeClock) -> None:
    sizes: list[int] = []
    box = make_sandbox(clock, None)
    deal_ids = [box.create_deal(dealname=f"d{n}") for n in range(150)]
    box.set_webhook_target(lambda request: sizes.append(len(json.loads(request.body))) or 200)
    with box.dispatcher.held():  # all 150 changes queued before the dispatcher sends
        for deal_id in deal_ids:
            box.move_deal_to_stage(deal_id, "closedwon")

    assert box.wait_idle(5)
    box.close()
    assert sizes == [100, 50]


def test_admin_api_configures_the_target_moves_stages_and_lists_deliveries(
    clock: FakeClock, hook_url: str, receiver: Receiver
) -> None:
    box = make_sandbox(clock, None)
    deal_id = box.create_deal(dealname="管理")
    with serve(box.app) as served:
        configured = requests.post(
            f"{served.url}/_sandbox/webhooks/config", json={"url": hook_url}, timeout=5
        )
        moved = requests.post(
            f"{served.url}/_sandbox/deals/{deal_id}/stage", json={"stage": "closedwon"}, timeout=5
        )
        assert box.wait_idle(5)
        log = requests.get(f"{served.url}/_sandbox/webhooks", timeout=5).json()
        refused = requests.post(
            f"{served.url}/_sandbox/deals/404/stage", json={"stage": "closedwon"}, timeout=5
        )
    box.close()

    assert (configured.status_code, moved.status_code, refused.status_code) == (204, 200, 404)
    assert [d["status"] for d in log["deliveries"]] == [204]
    assert log["deliveries"][0]["attempt"] == 0
    assert log["events"][0]["objectId"] == int(deal_id)
    assert len(receiver.received) == 1
