"""The custom-code snippets as HubSpot would run them: checked against the Python 3.9 runtime, then run through
:mod:`workflows.runner` against a small server on loopback that implements the custom-code contract and checks
every signature with the project's own verifier.
"""

from __future__ import annotations

import json
import os
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from flask import Flask, Response, request

from sandbox.transport import ServedApp, serve
from sdk.errors import SignatureRejected
from sdk.signatures import CUSTOM_SIGNATURE_HEADER, CUSTOM_TIMESTAMP_HEADER, verify_custom
from tests.world import Switch
from workflows.runner import (
    TIME_BUDGET_SECONDS,
    SnippetRejected,
    check_source,
    load_snippet,
    run_snippet,
)

SNIPPETS = Path(__file__).resolve().parents[2] / "workflows" / "custom_code"
CREATE = SNIPPETS / "create_invoice.py"
STATUS = SNIPPETS / "payment_status.py"
SECRET = "custom-code-shared-secret"
PORTAL = 24681357
CREATED = {
    "freee_invoice_id": "5501",
    "freee_invoice_number": "INV-0000000042",
    "freee_invoice_url": "https://invoice.secure.freee.co.jp/reports/invoices/5501",
    "result": "created",
    "error_message": "",
    "warning_message": "",
}


def deal_event(deal_id: int = 1001, **overrides: Any) -> dict[str, Any]:
    """What HubSpot hands ``main``: the enrolled deal, the portal, the action's input fields."""
    event = {
        "callbackId": "ap-24681357-5555-1-0",
        "origin": {"portalId": PORTAL, "actionDefinitionId": 1, "actionExecutionIndexIdentifier": None},
        "context": {"source": "WORKFLOWS", "workflowId": 987},
        "object": {"objectId": deal_id, "objectType": "DEAL"},
        "inputFields": {},
    }
    event.update(overrides)
    return event


# -- a server implementing the custom-code contract --------------------------------------------------------------


@dataclass
class ContractServer:
    """``/custom-code/create-invoice`` and ``/custom-code/payment-status`` as the contract says; what it saw."""

    secret: str = SECRET
    mode: str = "ok"  # ok | busy | slow | broken
    slow_seconds: float = 1.0
    seen: list[dict[str, Any]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def app(self) -> Flask:
        app = Flask("custom-code-contract")

        def answer(outputs_for: Any) -> Response:
            raw = request.get_data()
            try:
                verify_custom(
                    secret=self.secret,
                    body=raw,
                    signature=request.headers.get(CUSTOM_SIGNATURE_HEADER),
                    timestamp=request.headers.get(CUSTOM_TIMESTAMP_HEADER),
                    now=datetime.now(UTC),
                )
            except SignatureRejected as rejected:
                with self.lock:
                    self.seen.append({"path": request.path, "verified": False})
                return _json(401, {"error": "invalid_signature", "message": str(rejected)})
            body = json.loads(raw)
            with self.lock:
                self.seen.append({"path": request.path, "verified": True, "body": body, "raw": raw})
            if self.mode == "busy":
                return _json(
                    503, {"error": "busy", "message": "the invoice queue is full; try again in a minute"}
                )
            if self.mode == "broken":
                return Response("<html>502 Bad Gateway</html>", status=502, content_type="text/html")
            if self.mode == "slow":
                time.sleep(self.slow_seconds)
            portal, deal = body.get("portalId"), str(body.get("dealId", ""))
            if not isinstance(portal, int) or not deal.isdigit():
                return _json(400, {"error": "invalid_request", "message": 'send {"portalId", "dealId"}'})
            return _json(200, {"outputFields": outputs_for(deal)})

        @app.post("/custom-code/create-invoice")
        def create_invoice() -> Response:
            return answer(lambda deal: dict(CREATED) if deal == "1001" else _invalid())

        @app.post("/custom-code/payment-status")
        def payment_status() -> Response:
            return answer(
                lambda deal: {
                    "freee_invoice_number": "INV-0000000042",
                    "freee_payment_status": "partially_paid",
                    "freee_amount_outstanding": "110000",
                    "freee_due_date": "2026-12-31",
                    "result": "invoiced",
                }
            )

        return app


def _invalid() -> dict[str, str]:
    return {
        "freee_invoice_id": "",
        "freee_invoice_number": "",
        "freee_invoice_url": "",
        "result": "invalid",
        "error_message": "[NO_LINE_ITEMS] 商品項目がありません / the deal has no line items",
    }


def _json(status: int, body: dict[str, Any]) -> Response:
    return Response(json.dumps(body, ensure_ascii=False), status=status, content_type="application/json")


@pytest.fixture(scope="module")
def loopback() -> Iterator[tuple[Switch, ServedApp]]:
    switch = Switch()
    with serve(switch) as served:
        yield switch, served


@pytest.fixture
def server(loopback: tuple[Switch, ServedApp]) -> ContractServer:
    contract = ContractServer()
    loopback[0].app = contract.app()
    return contract


@pytest.fixture
def env(loopback: tuple[Switch, ServedApp]) -> dict[str, str]:
    """The action's secrets, as HubSpot exposes them: environment variables, nothing else."""
    return {"HUBSPOT_FREEE_SECRET": SECRET, "HUBSPOT_FREEE_URL": loopback[1].url}


def closed_port_url() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"


# -- the runtime checks ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("path", [CREATE, STATUS], ids=lambda p: p.name)
def test_each_snippet_uses_only_what_hubspots_python_39_runtime_has(path: Path) -> None:
    assert check_source(path.read_text(encoding="utf-8"), str(path)) == []
    assert load_snippet(path).source.startswith('"""hubspot-freee')


def test_a_snippet_importing_numpy_is_refused_naming_the_line(tmp_path: Path) -> None:
    snippet = tmp_path / "bad.py"
    snippet.write_text("import os\n\nimport numpy as np\n\n\ndef main(event):\n    return {}\n")

    with pytest.raises(SnippetRejected) as refused:
        load_snippet(snippet)

    assert refused.value.problems == [
        "line 3: imports numpy, which HubSpot's runtime does not have (only the standard library, requests and hubspot)"
    ]
    assert "Python 3.9" in str(refused.value)


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        (
            "def main(event):\n    match event:\n        case _:\n            return {}\n",
            "syntax newer than Python 3.9",
        ),
        ("def main(event: dict | None):\n    return {}\n", "X | Y as a type"),
        ("def main(event):\n    return isinstance(event, dict | list)\n", "X | Y as a type"),
        (
            "def main(event):\n    with (open('a') as a, open('b') as b):\n        return {}\n",
            "parenthesised context",
        ),
        ("from pandas import DataFrame\n\ndef main(event):\n    return {}\n", "imports from pandas"),
        ("import tomllib\n\ndef main(event):\n    return {}\n", "imports tomllib"),
        ("from datetime import UTC\n\ndef main(event):\n    return {}\n", "datetime.UTC is newer"),
        ("def handler(event):\n    return {}\n", "no module-level def main(event)"),
    ],
    ids=[
        "match",
        "union-annotation",
        "union-isinstance",
        "with-parens",
        "pandas",
        "tomllib",
        "utc",
        "no-main",
    ],
)
def test_what_would_break_on_the_runtime_is_refused_with_a_clear_message(source: str, expected: str) -> None:
    problems = check_source(source)
    assert problems, source
    assert any(expected in p for p in problems), problems


def test_postponed_annotations_and_string_annotations_may_use_unions() -> None:
    source = "from __future__ import annotations\n\ndef main(event: dict | None) -> 'dict | None':\n    return {}\n"
    assert check_source(source) == []


# -- create-invoice snippet ------------------------------------------------------------------------------------------


def test_create_invoice_snippet_signs_the_deal_and_returns_the_servers_output_fields(
    server: ContractServer, env: dict[str, str], record_property: Any
) -> None:
    run = run_snippet(CREATE, deal_event(1001), env)

    record_property("elapsed_seconds", round(run.elapsed, 3))
    assert run.error is None
    assert run.output == {"outputFields": CREATED}
    assert [s["verified"] for s in server.seen] == [True]
    assert server.seen[0]["path"] == "/custom-code/create-invoice"
    assert server.seen[0]["body"] == {"portalId": PORTAL, "dealId": "1001"}
    assert 0 < run.elapsed < 2.0
    assert run.within_budget
    assert "hubspot-freee: deal 1001 -> created" in run.stdout


def test_an_invalid_deal_comes_back_as_result_invalid_with_the_reasons(
    server: ContractServer, env: dict[str, str]
) -> None:
    run = run_snippet(CREATE, deal_event(2002), env)

    assert run.output_fields["result"] == "invalid"
    assert "NO_LINE_ITEMS" in run.output_fields["error_message"]


def test_portal_and_deal_may_come_from_input_fields_when_the_event_lacks_them(
    server: ContractServer, env: dict[str, str]
) -> None:
    event = deal_event(origin={}, object={}, inputFields={"portal_id": str(PORTAL), "hs_object_id": "1001"})

    run = run_snippet(CREATE, event, env)

    assert run.output_fields["result"] == "created"
    assert server.seen[0]["body"] == {"portalId": PORTAL, "dealId": "1001"}


def test_the_endpoint_base_may_be_an_input_field(server: ContractServer, env: dict[str, str]) -> None:
    event = deal_event(1001, inputFields={"hubspot_freee_url": env["HUBSPOT_FREEE_URL"]})

    run = run_snippet(CREATE, event, {"HUBSPOT_FREEE_SECRET": SECRET})

    assert run.output_fields["result"] == "created"


def test_unreachable_endpoint_fails_clearly_well_inside_the_time_budget() -> None:
    env = {"HUBSPOT_FREEE_SECRET": SECRET, "HUBSPOT_FREEE_URL": closed_port_url()}

    run = run_snippet(CREATE, deal_event(1001), env)

    assert run.error is None
    assert run.output_fields["result"] == "failed"
    assert "could not be reached" in run.output_fields["error_message"]
    assert run.elapsed < 5.0 < TIME_BUDGET_SECONDS


def test_a_server_that_does_not_answer_in_time_gives_failed_not_a_hung_action(
    server: ContractServer, env: dict[str, str]
) -> None:
    server.mode, server.slow_seconds = "slow", 0.6

    run = run_snippet(CREATE, deal_event(1001), env, overrides={"READ_TIMEOUT": 0.1})

    assert run.output_fields["result"] == "failed"
    assert "did not answer in time" in run.output_fields["error_message"]
    assert run.elapsed < 1.0


def test_the_snippets_own_timeouts_fit_inside_hubspots_20_seconds() -> None:
    for path in (CREATE, STATUS):
        namespace: dict[str, Any] = {}
        exec(compile(path.read_text(encoding="utf-8"), str(path), "exec"), namespace)  # noqa: S102
        assert namespace["CONNECT_TIMEOUT"] + namespace["READ_TIMEOUT"] < TIME_BUDGET_SECONDS


def test_wrong_secret_fails_with_the_servers_message(server: ContractServer, env: dict[str, str]) -> None:
    run = run_snippet(CREATE, deal_event(1001), env | {"HUBSPOT_FREEE_SECRET": "not-the-shared-secret"})

    assert run.output_fields["result"] == "failed"
    message = run.output_fields["error_message"]
    assert "refused the signature: signature does not match" in message
    assert "HUBSPOT_FREEE_SECRET" in message
    assert [s["verified"] for s in server.seen] == [False]


def test_a_busy_server_gives_failed_with_its_message(server: ContractServer, env: dict[str, str]) -> None:
    server.mode = "busy"

    run = run_snippet(CREATE, deal_event(1001), env)

    assert run.output_fields["result"] == "failed"
    assert "busy (503): the invoice queue is full" in run.output_fields["error_message"]


def test_a_5xx_without_json_gives_failed_with_the_status(server: ContractServer, env: dict[str, str]) -> None:
    server.mode = "broken"

    run = run_snippet(CREATE, deal_event(1001), env)

    assert run.output_fields["result"] == "failed"
    assert run.output_fields["error_message"].startswith("hubspot-freee answered 502")


def test_without_the_secret_nothing_is_sent_and_the_message_says_what_to_set(
    server: ContractServer, env: dict[str, str]
) -> None:
    run = run_snippet(CREATE, deal_event(1001), {"HUBSPOT_FREEE_URL": env["HUBSPOT_FREEE_URL"]})

    assert run.output_fields["result"] == "failed"
    assert "HUBSPOT_FREEE_SECRET" in run.output_fields["error_message"]
    assert server.seen == []


def test_a_contact_workflow_is_told_to_use_a_deal_workflow(
    server: ContractServer, env: dict[str, str]
) -> None:
    run = run_snippet(CREATE, deal_event(object={"objectId": 5, "objectType": "CONTACT"}), env)

    assert run.output_fields["result"] == "failed"
    assert "deal-based workflow" in run.output_fields["error_message"]
    assert server.seen == []


# -- payment-status snippet ------------------------------------------------------------------------------------------


def test_payment_status_snippet_returns_the_status_fields(
    server: ContractServer, env: dict[str, str], record_property: Any
) -> None:
    run = run_snippet(STATUS, deal_event(1001), env)

    record_property("elapsed_seconds", round(run.elapsed, 3))
    assert run.output_fields == {
        "freee_invoice_number": "INV-0000000042",
        "freee_payment_status": "partially_paid",
        "freee_amount_outstanding": "110000",
        "freee_due_date": "2026-12-31",
        "result": "invoiced",
        "error_message": "",
    }
    assert server.seen[0]["path"] == "/custom-code/payment-status"
    assert server.seen[0]["verified"] is True
    assert run.within_budget


def test_payment_status_with_a_wrong_secret_fails_with_the_servers_message(
    server: ContractServer, env: dict[str, str]
) -> None:
    run = run_snippet(STATUS, deal_event(1001), env | {"HUBSPOT_FREEE_SECRET": "stale"})

    assert run.output_fields["result"] == "failed"
    assert "signature does not match" in run.output_fields["error_message"]


def test_payment_status_unreachable_fails_quickly() -> None:
    run = run_snippet(
        STATUS, deal_event(1001), {"HUBSPOT_FREEE_SECRET": SECRET, "HUBSPOT_FREEE_URL": closed_port_url()}
    )

    assert run.output_fields["result"] == "failed"
    assert run.elapsed < 5.0


# -- the runner itself -----------------------------------------------------------------------------------------------


def test_runner_gives_the_snippet_only_the_environment_given_and_restores_ours(tmp_path: Path) -> None:
    snippet = tmp_path / "env.py"
    snippet.write_text(
        "import os\n\ndef main(event):\n    return {'outputFields': {'keys': sorted(os.environ)}}\n"
    )
    before = dict(os.environ)

    run = run_snippet(snippet, {}, {"HUBSPOT_FREEE_SECRET": "s"})

    assert run.output_fields == {"keys": ["HUBSPOT_FREEE_SECRET"]}
    assert dict(os.environ) == before


def test_runner_reports_an_exception_from_main_instead_of_raising(tmp_path: Path) -> None:
    snippet = tmp_path / "boom.py"
    snippet.write_text("def main(event):\n    print('starting')\n    raise RuntimeError('boom')\n")

    run = run_snippet(snippet, {}, {})

    assert isinstance(run.error, RuntimeError)
    assert run.output is None
    assert run.output_fields == {}
    assert run.stdout == "starting\n"


def test_runner_runs_each_call_in_a_fresh_namespace(tmp_path: Path) -> None:
    snippet = tmp_path / "counter.py"
    snippet.write_text(
        "CALLS = []\n\ndef main(event):\n    CALLS.append(1)\n    return {'outputFields': {'calls': len(CALLS)}}\n"
    )

    first = run_snippet(snippet, {}, {})
    second = run_snippet(snippet, {}, {})

    assert first.output_fields == second.output_fields == {"calls": 1}


# -- end to end: the project's own server (functions.app) with both sandboxes ----------------------------------------


@pytest.fixture
def project(loopback: tuple[Switch, ServedApp], tmp_path: Path) -> Iterator[Any]:
    """The real app (``functions.app.create_app``) over the world's sandboxes, served on the loopback port."""
    from functions.app import Services, create_app
    from local.world import build_world
    from sdk.clock import SystemClock
    from sdk.store.sqlite import SQLiteStore

    world = build_world(
        SQLiteStore(tmp_path / "store.sqlite"), clock=SystemClock(), custom_code_secret=SECRET
    )
    queued: list[dict[str, Any]] = []

    class Queue:
        def send(self, body: dict[str, Any], *, delay: float = 0) -> str:
            queued.append(body)
            return str(len(queued))

    loopback[0].app = create_app(Services(world.context(), Queue()))
    yield world
    world.close()


def test_end_to_end_the_snippets_create_the_invoice_once_and_read_its_status(
    project: Any, env: dict[str, str], record_property: Any
) -> None:
    world = project
    company = world.company()
    deal = world.deal(
        company=company, line_items=[{"name": "会計ソフト導入支援", "quantity": 1, "price": 300000}]
    )
    portal = world.hubspot_box.portal_id

    first = run_snippet(CREATE, deal_event(int(deal), origin={"portalId": portal}), env)
    again = run_snippet(CREATE, deal_event(int(deal), origin={"portalId": portal}), env)
    status = run_snippet(STATUS, deal_event(int(deal), origin={"portalId": portal}), env)

    record_property("elapsed_seconds", round(first.elapsed, 3))
    [invoice] = world.invoices()
    assert first.output_fields["result"] == "created", first.output_fields
    assert first.output_fields["freee_invoice_number"] == invoice["invoice_number"]
    assert first.output_fields["freee_invoice_id"] == str(invoice["id"])
    assert world.deal_props(deal)["freee_invoice_number"] == invoice["invoice_number"]
    assert again.output_fields["result"] == "already_invoiced"
    assert again.output_fields["freee_invoice_number"] == invoice["invoice_number"]
    assert status.output_fields["freee_invoice_number"] == invoice["invoice_number"]
    assert status.output_fields["error_message"] == ""
    assert all(r.within_budget for r in (first, again, status))


def test_end_to_end_a_wrong_secret_is_refused_by_the_project_server(
    project: Any, env: dict[str, str]
) -> None:
    world = project
    deal = world.deal(company=world.company(), line_items=[{"name": "研修", "quantity": 1, "price": 50000}])

    run = run_snippet(
        CREATE,
        deal_event(int(deal), origin={"portalId": world.hubspot_box.portal_id}),
        env | {"HUBSPOT_FREEE_SECRET": "wrong"},
    )

    assert run.output_fields["result"] == "failed"
    assert "signature does not match" in run.output_fields["error_message"]
    assert world.invoices() == []
