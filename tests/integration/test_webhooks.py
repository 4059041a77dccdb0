"""``POST /webhooks/hubspot`` through the Flask app: signatures, dedupe, filtering, and hostile bodies."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from functions.app import Services, create_app
from local.world import World, build_world
from sdk.clock import SystemClock
from sdk.store import Store
from tests.factories import RecordingQueue
from tests.signing import SECRET, now_ms, v2_headers, v3_headers

URI = "http://localhost/webhooks/hubspot"
PORTAL = 24681357


@pytest.fixture
def world(store: Store) -> Iterator[World]:
    w = build_world(store, clock=SystemClock(), hubspot_client_secret=SECRET)
    yield w
    w.close()


@pytest.fixture
def queue() -> RecordingQueue:
    return RecordingQueue()


@pytest.fixture
def client(world: World, queue: RecordingQueue):
    return create_app(Services(world.context(), queue)).test_client()


def event(event_id: int, deal: int | str, stage: str = "closedwon", **overrides: Any) -> dict[str, Any]:
    return {
        "eventId": event_id,
        "subscriptionId": 77,
        "portalId": PORTAL,
        "appId": 4242,
        "occurredAt": 1795600000000,
        "subscriptionType": "deal.propertyChange",
        "attemptNumber": 0,
        "objectId": int(deal),
        "propertyName": "dealstage",
        "propertyValue": stage,
        "changeSource": "CRM_UI",
    } | overrides


def post(client, body: bytes | list | dict, headers: dict[str, str] | None = None):
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    return client.post(
        "/webhooks/hubspot", data=raw, headers=headers if headers is not None else v3_headers(URI, raw)
    )


def test_won_stage_events_queue_one_message_per_deal_and_answer_204(client, queue):
    response = post(
        client, [event(1, 101), event(2, 101), event(3, 102), event(4, 103, stage="appointmentscheduled")]
    )
    assert response.status_code == 204
    assert sorted(m["deal_id"] for m in queue.sent) == ["101", "102"]
    assert {m["type"] for m in queue.sent} == {"create_invoice"}
    assert next(m for m in queue.sent if m["deal_id"] == "101")["event_ids"] == [1, 2]


def test_custom_pipeline_won_stage_is_recognised_by_metadata(client, queue, world):
    custom = next(p for p in world.hubspot.read_pipelines() if p.id != "default")
    won = next(s for s in custom.stages if s.is_won_by_metadata)
    lost = next(s for s in custom.stages if s.is_closed and not s.is_won_by_metadata)
    assert post(client, [event(1, 201, stage=won.id), event(2, 202, stage=lost.id)]).status_code == 204
    assert [m["deal_id"] for m in queue.sent] == ["201"]


def test_object_property_change_events_for_deals_count_too(client, queue):
    body = [
        event(1, 301, subscriptionType="object.propertyChange", objectTypeId="0-3"),
        event(2, 302, subscriptionType="object.propertyChange", objectTypeId="0-1"),
    ]
    assert post(client, body).status_code == 204
    assert [m["deal_id"] for m in queue.sent] == ["301"]


def test_the_same_batch_delivered_five_times_among_others_queues_each_deal_once(client, queue):
    batch = [event(10, 401), event(11, 402)]
    for n in range(5):
        assert post(client, batch).status_code == 204
        assert post(client, [event(100 + n, 500 + n)]).status_code == 204
    assert sorted(m["deal_id"] for m in queue.sent) == ["401", "402", "500", "501", "502", "503", "504"]


def test_stage_change_of_an_invoiced_deal_is_queued_so_a_lost_deal_gets_flagged(client, queue, world):
    from sdk.usecases.create_invoice import create_invoice_for_deal

    deal = world.deal(company=world.company(), line_items=[{"name": "x", "quantity": 1, "price": 1000}])
    create_invoice_for_deal(world.context(), PORTAL, deal, "test")
    assert (
        post(client, [event(1, deal, stage="closedlost"), event(2, 999, stage="closedlost")]).status_code
        == 204
    )
    assert [m["deal_id"] for m in queue.sent] == [deal]


def test_a_queue_failure_is_503_and_the_events_are_not_marked_seen(world, client):
    failing = RecordingQueue(fail=True)
    broken = create_app(Services(world.context(), failing)).test_client()
    response = post(broken, [event(1, 601)])
    assert response.status_code == 503
    assert response.json["error"] == "unavailable"
    working = RecordingQueue()
    again = create_app(Services(world.context(), working)).test_client()
    assert post(again, [event(1, 601)]).status_code == 204
    assert [m["deal_id"] for m in working.sent] == ["601"]  # the redelivery is not dropped as a duplicate


# ------------------------------------------------------------------------------------------------ security


def _security_cases() -> list[tuple[str, Any]]:
    """Each case builds its headers (and maybe body) when the test runs, so time stamps are fresh."""
    import hashlib

    def forged(body: bytes) -> tuple[dict[str, str], bytes]:
        good = v3_headers(URI, body)
        return good | {"X-HubSpot-Signature-v3": "AAAA" + good["X-HubSpot-Signature-v3"][4:]}, body

    def without(*names: str) -> Any:
        return lambda body: ({k: v for k, v in v3_headers(URI, body).items() if k not in names}, body)

    def v1(body: bytes) -> tuple[dict[str, str], bytes]:
        digest = hashlib.sha256((SECRET + body.decode()).encode()).hexdigest()
        return {"X-HubSpot-Signature": digest, "X-HubSpot-Signature-Version": "v1"}, body

    return [
        ("forged signature", forged),
        ("body changed by one byte", lambda body: (v3_headers(URI, body), body.replace(b"701", b"702"))),
        ("wrong URI", lambda body: (v3_headers("http://localhost/webhooks/other", body), body)),
        (
            "https instead of http",
            lambda body: (v3_headers("https://localhost/webhooks/hubspot", body), body),
        ),
        (
            "stale timestamp",
            lambda body: (v3_headers(URI, body, timestamp=str(int(now_ms()) - 301_000)), body),
        ),
        (
            "future timestamp",
            lambda body: (v3_headers(URI, body, timestamp=str(int(now_ms()) + 301_000)), body),
        ),
        (
            "timestamp not a number",
            lambda body: (v3_headers(URI, body) | {"X-HubSpot-Request-Timestamp": "soon"}, body),
        ),
        ("missing signature", without("X-HubSpot-Signature-v3")),
        ("missing timestamp", without("X-HubSpot-Request-Timestamp")),
        ("no headers", lambda body: ({}, body)),
        ("v1 signature where v3 is required", v1),
        ("v2 signature where v3 is required", lambda body: (v2_headers(URI, body), body)),
        ("signed with another secret", lambda body: (v3_headers(URI, body, secret="other-secret"), body)),
        ("signed for GET", lambda body: (v3_headers(URI, body, method="GET"), body)),
    ]


@pytest.mark.parametrize(("case", "build"), _security_cases(), ids=[c[0] for c in _security_cases()])
def test_unproven_requests_are_rejected_and_nothing_is_queued(client, queue, world, case, build):
    headers, raw = build(json.dumps([event(1, 701)]).encode())
    response = post(client, raw, headers)
    assert response.status_code == 401, case
    assert response.json["error"] == "invalid_signature"
    assert queue.sent == []
    assert not world.store.seen_any([f"hubspot:{PORTAL}:1"], world.clock.now())


# ------------------------------------------------------------------------------------------------ bad input


def _hostile_bodies() -> list[tuple[str, bytes]]:
    good = event(1, 801)
    cases: list[tuple[str, Any]] = [
        ("empty body", b""),
        ("not JSON", b"this is not json"),
        ("truncated JSON", b'[{"eventId": 1,'),
        ("JSON null", b"null"),
        ("JSON number", b"42"),
        ("JSON string", b'"hello"'),
        ("JSON true", b"true"),
        ("object instead of array", json.dumps(good).encode()),
        ("empty array", b"[]"),
        ("array of numbers", b"[1, 2, 3]"),
        ("array of strings", b'["a"]'),
        ("array of nulls", b"[null]"),
        ("nested arrays", b"[[{}]]"),
        ("10,000 events", json.dumps([event(i, 900 + i % 7) for i in range(10_000)]).encode()),
        ("1,001 events", json.dumps([event(i, 900) for i in range(1_001)]).encode()),
        ("deeply nested JSON", b"[" * 5000 + b"]" * 5000),
        (
            "deeply nested object in a field",
            json.dumps([good | {"propertyValue": None}])
            .encode()
            .replace(b"null", b'{"a":' * 300 + b"1" + b"}" * 300),
        ),
        ("huge eventId", json.dumps([good | {"eventId": 10**40}]).encode()),
        ("huge objectId", json.dumps([good | {"objectId": 10**30}]).encode()),
        ("float objectId", json.dumps([good | {"objectId": 1.5}]).encode()),
        ("negative exponent number", b'[{"eventId": 1e-999}]'),
        ("NaN literal", b'[{"eventId": NaN}]'),
        ("Infinity literal", b'[{"eventId": Infinity}]'),
        ("string objectId with letters", json.dumps([good | {"objectId": "abc"}]).encode()),
        ("boolean portalId", json.dumps([good | {"portalId": True}]).encode()),
        ("list as portalId", json.dumps([good | {"portalId": [1]}]).encode()),
        ("object as subscriptionType", json.dumps([good | {"subscriptionType": {"x": 1}}]).encode()),
        ("number as propertyName", json.dumps([good | {"propertyName": 5}]).encode()),
        ("object as occurredAt", json.dumps([good | {"occurredAt": {}}]).encode()),
    ]
    for field in ("eventId", "subscriptionId", "portalId", "occurredAt", "subscriptionType", "objectId"):
        cases.append(
            (f"missing {field}", json.dumps([{k: v for k, v in good.items() if k != field}]).encode())
        )
    for field in ("eventId", "portalId", "objectId"):
        cases.append((f"null {field}", json.dumps([good | {field: None}]).encode()))
    cases.append(("one good event and one broken", json.dumps([good, {"eventId": 2}]).encode()))
    return cases


def _ignored_bodies() -> list[tuple[str, bytes]]:
    good = event(1, 801)
    return [
        ("unknown subscription type", json.dumps([good | {"subscriptionType": "contact.creation"}]).encode()),
        (
            "deal creation event",
            json.dumps([good | {"subscriptionType": "deal.creation", "propertyName": None}]).encode(),
        ),
        ("other property", json.dumps([good | {"propertyName": "amount", "propertyValue": "5"}]).encode()),
        ("unknown stage", json.dumps([good | {"propertyValue": "no-such-stage"}]).encode()),
        ("emoji stage", json.dumps([good | {"propertyValue": "🎉\u0000"}]).encode()),
        (
            "company object change",
            json.dumps(
                [good | {"subscriptionType": "object.propertyChange", "objectTypeId": "0-2"}]
            ).encode(),
        ),
    ]


@pytest.mark.parametrize(("case", "raw"), _hostile_bodies(), ids=[c[0] for c in _hostile_bodies()])
def test_malformed_bodies_are_4xx_with_json_and_queue_nothing(client, queue, case, raw):
    response = post(client, raw)
    assert 400 <= response.status_code < 500, f"{case}: {response.status_code}"
    assert response.is_json
    assert response.json["error"] in ("invalid_batch", "invalid_signature", "body_too_large")
    assert queue.sent == []


@pytest.mark.parametrize(("case", "raw"), _ignored_bodies(), ids=[c[0] for c in _ignored_bodies()])
def test_irrelevant_events_are_acknowledged_and_ignored(client, queue, case, raw):
    assert post(client, raw).status_code == 204
    assert queue.sent == []


def test_invalid_utf8_is_refused_before_parsing(client, queue):
    raw = b'[{"eventId": 1, "x": "\xff\xfe"}]'
    headers = {"X-HubSpot-Signature-v3": "x", "X-HubSpot-Request-Timestamp": now_ms()}
    response = post(client, raw, headers)
    assert response.status_code == 401
    assert response.json["message"] in ("body is not UTF-8", "v3 signature does not match")
    assert queue.sent == []


def test_bodies_over_one_megabyte_are_refused_before_parsing(client, queue):
    raw = b"[" + b" " * 1_000_001 + b"]"
    response = post(client, raw, {"X-HubSpot-Signature-v3": "x", "X-HubSpot-Request-Timestamp": now_ms()})
    assert response.status_code == 413
    assert response.json["error"] == "body_too_large"
    assert queue.sent == []


def test_unknown_route_and_wrong_method_are_json(client):
    assert client.get("/nope").json["error"] == "not_found"
    assert client.get("/webhooks/hubspot").status_code == 405
    assert client.get("/healthz").json == {"status": "ok"}
