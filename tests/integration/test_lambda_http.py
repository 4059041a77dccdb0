"""The same handlers behind API Gateway (HTTP API, payload 2.0): the event adapter, signatures against the URI
HubSpot called, and the JSON answers."""

from __future__ import annotations

import base64
import json

import pytest

import webhooks.hubspot as webhook_module
from local.world import build_world
from sdk.clock import SystemClock
from sdk.http import from_api_gateway
from sdk.queue.sqlite import SQLiteQueue
from sdk.runtime import LambdaRuntime
from sdk.store.sqlite import SQLiteStore
from tests.signing import SECRET, v3_headers


def api_event(
    body: bytes,
    headers: dict[str, str],
    *,
    encoded: bool = False,
    host: str = "abc123.execute-api.ap-northeast-1.amazonaws.com",
) -> dict:
    return {
        "version": "2.0",
        "routeKey": "POST /webhooks/hubspot",
        "rawPath": "/webhooks/hubspot",
        "rawQueryString": "",
        "headers": {"host": host, "x-forwarded-proto": "https"} | {k.lower(): v for k, v in headers.items()},
        "requestContext": {"http": {"method": "POST", "path": "/webhooks/hubspot"}, "domainName": host},
        "body": base64.b64encode(body).decode() if encoded else body.decode(),
        "isBase64Encoded": encoded,
    }


def test_the_uri_is_rebuilt_as_hubspot_called_it():
    request = from_api_gateway(api_event(b"[]", {}))
    assert request.uri == "https://abc123.execute-api.ap-northeast-1.amazonaws.com/webhooks/hubspot"
    behind_domain = from_api_gateway(api_event(b"[]", {}), "https://hooks.example.co.jp/prod")
    assert behind_domain.uri == "https://hooks.example.co.jp/prod/webhooks/hubspot"


@pytest.fixture
def deployed(tmp_path, monkeypatch):
    world = build_world(
        SQLiteStore(tmp_path / "store.sqlite"), clock=SystemClock(), hubspot_client_secret=SECRET
    )
    queue = SQLiteQueue(tmp_path / "queue.sqlite")
    ctx = world.context()
    monkeypatch.setattr(webhook_module, "RUNTIME", LambdaRuntime(context=ctx, queue=queue))
    yield queue
    world.close()


def _batch() -> bytes:
    return json.dumps(
        [
            {
                "eventId": 1,
                "subscriptionId": 2,
                "portalId": 24681357,
                "occurredAt": 1,
                "subscriptionType": "deal.propertyChange",
                "objectId": 42,
                "propertyName": "dealstage",
                "propertyValue": "closedwon",
            }
        ]
    ).encode()


@pytest.mark.parametrize("encoded", [False, True])
def test_lambda_webhook_accepts_a_signed_batch(deployed, encoded):
    body = _batch()
    uri = "https://abc123.execute-api.ap-northeast-1.amazonaws.com/webhooks/hubspot"
    answer = webhook_module.lambda_handler(api_event(body, v3_headers(uri, body), encoded=encoded), None)
    assert answer["statusCode"] == 204
    assert deployed.depth().visible == 1


def test_lambda_webhook_signed_for_another_host_is_refused(deployed):
    body = _batch()
    answer = webhook_module.lambda_handler(
        api_event(body, v3_headers("https://elsewhere.example/webhooks/hubspot", body)), None
    )
    assert answer["statusCode"] == 401
    assert json.loads(answer["body"])["error"] == "invalid_signature"
    assert answer["headers"]["Content-Type"].startswith("application/json")
    assert deployed.depth().visible == 0
