"""The one preamble of every route HubSpot (or a snippet) calls: which refusal comes first, per scheme."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from sdk.admission import CARD, CUSTOM_CODE, WEBHOOK, WORKFLOW_ACTION, Scheme, admit
from sdk.clock import SystemClock
from sdk.http import MAX_BODY_BYTES, Headers, HttpRequest
from sdk.settings import Settings, load_settings
from tests.signing import SECRET, custom_headers, v2_headers, v3_headers

URI = "https://api.example.jp/route"
PORTAL = 24681357
CUSTOM_SECRET = "custom-code-shared-secret"


def configured(**changes: Any) -> Settings:
    values: dict[str, Any] = {
        "hubspot_client_secret": SECRET,
        "custom_code_secret": CUSTOM_SECRET,
        "hubspot_portal_id": PORTAL,
    }
    return load_settings(**(values | changes))


def request(body: bytes, headers: dict[str, str], method: str = "POST") -> HttpRequest:
    return HttpRequest(method, URI, "/route", Headers(headers), body)


def answer(scheme: Scheme, req: HttpRequest, settings: Settings) -> tuple[int, str] | None:
    refused = admit(req, scheme, settings, SystemClock())
    return None if refused is None else (refused.status, refused.body["error"])


BODY = json.dumps({"portalId": PORTAL, "dealId": "1"}).encode()


# signed when the test runs (a signature made at collection would be stale under a long run)
SIGNERS: dict[str, Callable[[], dict[str, str]]] = {
    "v3": lambda: v3_headers(URI, BODY),
    "v2": lambda: v2_headers(URI, BODY),
    "custom": lambda: custom_headers(BODY, secret=CUSTOM_SECRET),
    "v3-other-secret": lambda: v3_headers(URI, BODY, secret="another-apps-secret"),
}


@pytest.mark.parametrize(
    ("scheme", "signed"),
    [
        (WEBHOOK, "v3"),
        (WORKFLOW_ACTION, "v3"),
        (WORKFLOW_ACTION, "v2"),
        (CARD, "v3"),
        (CUSTOM_CODE, "custom"),
    ],
    ids=["webhook-v3", "action-v3", "action-v2", "card-v3", "custom-code"],
)
def test_a_request_signed_as_its_route_expects_is_admitted(scheme: Scheme, signed: str) -> None:
    assert answer(scheme, request(BODY, SIGNERS[signed]()), configured()) is None


@pytest.mark.parametrize(
    ("scheme", "signed"),
    [
        (WEBHOOK, "v2"),
        (CARD, "v2"),
        (CUSTOM_CODE, "v3"),
        (WORKFLOW_ACTION, "custom"),
        (WORKFLOW_ACTION, "v3-other-secret"),
    ],
    ids=["webhook-v2", "card-v2", "custom-code-hubspot-v3", "action-custom", "action-wrong-secret"],
)
def test_any_other_signature_is_a_401(scheme: Scheme, signed: str) -> None:
    assert answer(scheme, request(BODY, SIGNERS[signed]()), configured()) == (401, "invalid_signature")


def test_the_body_limit_comes_first_except_for_custom_code_which_first_says_it_is_not_configured() -> None:
    huge = b"[" + b" " * MAX_BODY_BYTES + b"]"
    bare = configured(hubspot_client_secret=None, custom_code_secret=None)

    for scheme in (WEBHOOK, WORKFLOW_ACTION):
        assert answer(scheme, request(huge, {}), bare) == (413, "body_too_large")
    assert answer(CUSTOM_CODE, request(huge, {}), bare) == (503, "not_configured")
    assert answer(CUSTOM_CODE, request(huge, {}), configured()) == (413, "body_too_large")
    assert answer(CARD, request(huge, v3_headers(URI, huge, method="GET"), "GET"), configured()) is None


@pytest.mark.parametrize("scheme", [WEBHOOK, WORKFLOW_ACTION, CARD, CUSTOM_CODE], ids=lambda s: s.entry)
def test_without_its_secret_or_the_portal_setting_a_route_answers_503(scheme: Scheme) -> None:
    signed = request(BODY, {})
    secret_missing = configured(**{scheme.secret_env.lower(): None})

    assert answer(scheme, signed, secret_missing) == (503, "not_configured")
    assert answer(scheme, signed, configured(hubspot_portal_id=None)) == (503, "not_configured")
    message = admit(signed, scheme, secret_missing, SystemClock())
    assert message is not None
    assert ("CUSTOM_CODE_SECRET" in message.body["message"]) is (scheme is CUSTOM_CODE)


def test_the_portal_a_request_names_is_checked_under_the_routes_entry() -> None:
    settings = configured()

    assert WORKFLOW_ACTION.refusal(settings, PORTAL) is None
    foreign = WORKFLOW_ACTION.refusal(settings, PORTAL + 1)
    assert foreign is not None
    assert (foreign.status, foreign.body["error"], foreign.body["portalId"]) == (
        403,
        "foreign_portal",
        PORTAL + 1,
    )
