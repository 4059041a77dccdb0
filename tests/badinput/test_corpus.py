"""Every hostile input of :mod:`tests.badinput.corpus` against the real entry points and both sandboxes.

For each case: the expected status / exit code and error; never a 500 or a traceback for anything a caller sent;
JSON bodies for HTTP errors; nothing half written in freee or HubSpot (freee invoices and partners, the ``freee_*``
properties of every deal and company, the queue); and no secret anywhere: the world runs with canary secrets and
every log record, HTTP body, CLI output, queued message and value written to HubSpot is searched for them.

One world (both sandboxes, a SQLite store, canary secrets) serves the whole module; each case measures its own
before and after, so cases stay independent while the corpus runs in seconds.
"""

from __future__ import annotations

import json
import logging
import secrets
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from hubspot.utils.signature import Signature
from typer.testing import CliRunner

from cli.app import app as cli_app
from functions.app import Services, create_app
from functions.worker import handle_message
from local.sandboxes import install
from local.world import FREEE_BASE, World, mounted_freee_client
from sandbox.freee import create_freee_sandbox
from sandbox.hubspot import create_hubspot_sandbox
from sandbox.transport import ServedApp, serve
from sdk.clock import SystemClock
from sdk.hubspot import CallCounter, HubSpotClient
from sdk.log import get_logger
from sdk.queue import Message
from sdk.settings import load_settings
from sdk.signatures import sign_custom
from sdk.store.sqlite import SQLiteStore
from tests.badinput.corpus import CASES, MIN_CASES, PORTAL, Case, Cli, DealSpec, Entry, Http, Job
from tests.factories import RecordingQueue

FREEE_CLIENT_ID = "badinput-client-id"
MAX_WRITTEN_ERROR = 5_000  # what a deal's freee_sync_error may hold (HubSpot's own limit is 65,536)
DEAL_WRITES_WHEN_REFUSED = {"freee_sync_status", "freee_sync_error"}


@dataclass
class Canaries:
    """Distinctive secrets: none of them may appear in anything the package logs, answers or writes."""

    hubspot_token: str = field(default_factory=lambda: "cnry-hs-token-" + secrets.token_hex(12))
    hubspot_client_secret: str = field(default_factory=lambda: "cnry-hs-secret-" + secrets.token_hex(12))
    freee_client_secret: str = field(default_factory=lambda: "cnry-freee-secret-" + secrets.token_hex(12))
    custom_code_secret: str = field(default_factory=lambda: "cnry-custom-" + secrets.token_hex(12))
    developer_api_key: str = field(default_factory=lambda: "cnry-devkey-" + secrets.token_hex(12))
    freee_tokens: list[str] = field(default_factory=list)

    def all(self) -> list[str]:
        return [
            self.hubspot_token,
            self.hubspot_client_secret,
            self.freee_client_secret,
            self.custom_code_secret,
            self.developer_api_key,
            *self.freee_tokens,
        ]


@dataclass
class Env:
    world: World
    canaries: Canaries
    freee_served: ServedApp
    store_path: Path
    queue_path: Path


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Env]:
    root = tmp_path_factory.mktemp("badinput")
    canaries = Canaries()
    clock = SystemClock()
    hubspot_box = create_hubspot_sandbox(
        clock=clock,
        access_token=canaries.hubspot_token,
        client_secret=canaries.hubspot_client_secret,
        developer_api_key=canaries.developer_api_key,
        rate_limit_per_10s=1_000_000,
        daily_limit=100_000_000,
    )
    freee_box = create_freee_sandbox(
        clock=clock,
        client_id=FREEE_CLIENT_ID,
        client_secret=canaries.freee_client_secret,
        rate_limit_per_minute=1_000_000,
        rate_limit_per_hour=100_000_000,
    )
    served, freee_served = serve(hubspot_box.app), serve(freee_box.app)
    store_path = root / "store.sqlite"
    store = SQLiteStore(store_path)
    settings = load_settings(
        hubspot_api_base=served.url,
        hubspot_access_token=canaries.hubspot_token,
        hubspot_client_secret=canaries.hubspot_client_secret,
        hubspot_developer_api_key=canaries.developer_api_key,
        custom_code_secret=canaries.custom_code_secret,
        freee_api_base=FREEE_BASE,
        freee_auth_base=FREEE_BASE,
        freee_client_id=FREEE_CLIENT_ID,
        freee_client_secret=canaries.freee_client_secret,
        freee_company_id=1,
        hubspot_portal_id=PORTAL,
    )
    counter = CallCounter()
    hubspot = HubSpotClient.from_settings(settings, metrics=counter, clock=clock)
    install(freee_box, hubspot, settings, store.tokens, clock)
    # freee_payment_terms as installed before it became a dropdown: a text field passes on whatever was typed
    hubspot_box.state.update_property(
        "companies", "freee_payment_terms", {"type": "string", "fieldType": "text", "options": []}
    )
    stored = store.tokens.load_token()
    assert stored is not None
    canaries.freee_tokens = [stored.tokens.access_token, stored.tokens.refresh_token]
    freee = mounted_freee_client(
        freee_box,
        store,
        clock,
        client_id=FREEE_CLIENT_ID,
        client_secret=canaries.freee_client_secret,
        per_minute=100_000,
        max_attempts=2,
    )
    world = World(clock, store, hubspot_box, freee_box, served, settings, hubspot, freee, counter)
    yield Env(world, canaries, freee_served, store_path, root / "queue.sqlite")
    freee_served.stop()
    world.close()


# ----------------------------------------------------------------------------------------------- observing


class Records(logging.Handler):
    """Every log record of the run, formatted as the package formats it (tracebacks included)."""

    def __init__(self, formatter: logging.Formatter | None) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []
        self.tracebacks: list[str] = []
        if formatter is not None:
            self.setFormatter(formatter)

    def emit(self, record: logging.LogRecord) -> None:
        line = self.format(record)
        self.lines.append(line)
        if record.exc_info:
            self.tracebacks.append(line)


@pytest.fixture
def records() -> Iterator[Records]:
    ours = get_logger()
    formatter = next((h.formatter for h in ours.handlers if h.formatter is not None), None)
    handler = Records(formatter)
    root = logging.getLogger()
    ours.addHandler(handler)
    root.addHandler(handler)
    previous = root.level
    root.setLevel(logging.DEBUG)
    try:
        yield handler
    finally:
        root.setLevel(previous)
        root.removeHandler(handler)
        ours.removeHandler(handler)


@dataclass(frozen=True)
class State:
    invoices: int
    partners: int
    properties: dict[tuple[str, str], dict[str, str | None]]
    ledger_created: int

    @classmethod
    def of(cls, env: Env) -> State:
        box = env.world.hubspot_box
        with box.state.lock:
            properties = {
                (kind, object_id): {k: v for k, v in stored.properties.items() if k.startswith("freee_")}
                for kind in ("deals", "companies")
                for object_id, stored in box.state.objects[kind].items()
            }
        created = sum(1 for row in env.world.store.ledger() if row.invoice is not None)
        return cls(len(env.world.invoices()), len(env.world.partners()), properties, created)

    def writes_since(self, before: State) -> dict[tuple[str, str], dict[str, str | None]]:
        changed = {}
        for key, props in self.properties.items():
            old = before.properties.get(key, {})
            diff = {k: v for k, v in props.items() if old.get(k) != v}
            if diff:
                changed[key] = diff
        return changed


# ----------------------------------------------------------------------------------------------- running


def build_deal(env: Env, spec: DealSpec) -> str:
    world = env.world
    company = world.company(**spec.company) if spec.company is not None else None
    if isinstance(spec.line_items, int):
        items = [{"name": f"品目{n}", "quantity": "1", "price": "1"} for n in range(spec.line_items)]
    else:
        items = list(spec.line_items)
    props = {"amount": None} | spec.props
    return world.deal(company=company, line_items=items, **props)


def fill(text: str, deal: str | None, file: Path | None = None) -> str:
    text = text.replace('"{deal_int}"', deal or "1").replace("{deal}", deal or "1")
    return text.replace("{file}", str(file)) if file is not None else text


PATHS = {
    Entry.WEBHOOK: "/webhooks/hubspot",
    Entry.ACTION: "/actions/create-invoice",
    Entry.CUSTOM_INVOICE: "/custom-code/create-invoice",
    Entry.CUSTOM_STATUS: "/custom-code/payment-status",
    Entry.CARD: "/cards/balance",
}


def encode(body: Any, deal: str | None) -> bytes:
    if body is None:
        return b""
    if isinstance(body, bytes):
        return body
    text = body if isinstance(body, str) else json.dumps(body, ensure_ascii=False)
    return fill(text, deal).encode("utf-8")


def sign(http: Http, env: Env, uri: str, body: bytes) -> dict[str, str]:
    canaries = env.canaries
    stamp = str(int((time.time() + http.skew_seconds) * 1000))
    signed = http.sign_body if http.sign_body is not None else body
    try:
        text = signed.decode("utf-8")
    except UnicodeDecodeError:  # HubSpot would never send it; a forger still sends a signature
        return {"X-HubSpot-Signature-v3": "A" * 44, "X-HubSpot-Request-Timestamp": stamp}
    if http.sign == "v3":
        signature = Signature.get_signature(
            canaries.hubspot_client_secret, text, "v3", http_uri=uri, http_method=http.method, timestamp=stamp
        )
        return {"X-HubSpot-Signature-v3": signature, "X-HubSpot-Request-Timestamp": stamp}
    if http.sign == "v2":
        signature = Signature.get_signature(
            canaries.hubspot_client_secret, text, "v2", http_uri=uri, http_method=http.method
        )
        return {"X-HubSpot-Signature": signature, "X-HubSpot-Signature-Version": "v2"}
    if http.sign == "custom":
        return {
            "X-HubSpot-Freee-Timestamp": stamp,
            "X-HubSpot-Freee-Signature": sign_custom(canaries.custom_code_secret, stamp, signed),
        }
    return {}


@dataclass
class Outcome:
    texts: list[str]  # everything the caller or operator sees, to search for secrets
    status: int | None = None
    exit_code: int | None = None
    body: Any = None
    output: str = ""
    deal: str | None = None
    queued: list[dict[str, Any]] = field(default_factory=list)


def run_http(case: Case, http: Http, env: Env, deal: str | None) -> Outcome:
    queue = RecordingQueue()
    client = create_app(Services(env.world.context(), queue)).test_client()
    path = PATHS[case.entry] + (f"?{http.query}" if http.query else "")
    uri = f"http://localhost{path}"
    body = encode(http.body, deal)
    headers = {"Content-Type": "application/json"} | sign(http, env, uri, body) | http.headers
    headers = {k: v for k, v in headers.items() if k not in http.drop}
    response = client.open(path, method=http.method, data=body, headers=headers)
    raw = response.get_data()
    assert response.status_code < 500, f"{case.id}: {response.status_code} {raw[:500]!r}"
    if response.status_code != 204:
        assert response.content_type.startswith("application/json"), response.content_type
    parsed = json.loads(raw) if raw else None
    return Outcome(
        [raw.decode("utf-8"), json.dumps(queue.sent)],
        status=response.status_code,
        body=parsed,
        deal=deal,
        queued=queue.sent,
    )


runner = CliRunner()


def run_cli(case: Case, cli: Cli, env: Env, tmp_path: Path, deal: str | None) -> Outcome:
    file = tmp_path / "input.json"
    if cli.file is not None:
        if any("{file}.dir" in a for a in cli.args):
            folder = tmp_path / "input.json.dir"
            folder.mkdir()
            (folder / "create-invoice.json").write_bytes(cli.file)
        else:
            file.write_bytes(cli.file)
    canaries = env.canaries
    variables = {
        "HUBSPOT_API_BASE": env.world.served.url,
        "HUBSPOT_ACCESS_TOKEN": canaries.hubspot_token,
        "HUBSPOT_CLIENT_SECRET": canaries.hubspot_client_secret,
        "HUBSPOT_DEVELOPER_API_KEY": canaries.developer_api_key,
        "HUBSPOT_PORTAL_ID": str(PORTAL),
        "CUSTOM_CODE_SECRET": canaries.custom_code_secret,
        "FREEE_API_BASE": env.freee_served.url,
        "FREEE_AUTH_BASE": env.freee_served.url,
        "FREEE_CLIENT_ID": FREEE_CLIENT_ID,
        "FREEE_CLIENT_SECRET": canaries.freee_client_secret,
        "FREEE_COMPANY_ID": "1",
        "STORAGE_URL": f"sqlite:///{env.store_path}",
        "QUEUE_URL": f"sqlite:///{env.queue_path}",
        "LOG_LEVEL": "INFO",
    } | cli.env
    args = [fill(a, deal, file) for a in cli.args]
    result = runner.invoke(cli_app, args, env=variables)
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise AssertionError(f"{case.id}: traceback from the CLI") from result.exception
    output = result.stdout + result.stderr
    return Outcome([output], exit_code=result.exit_code, output=output, deal=deal)


def run_worker(case: Case, env: Env, deal: str) -> Outcome:
    body = {"type": "create_invoice", "portal_id": PORTAL, "deal_id": deal, "trigger": "webhook"}
    env.world.counter.reset()
    result = handle_message(env.world.context(), Message("m-" + case.id, body, 1, "r"), max_receives=5)
    assert result.error is None, f"{case.id}: the worker failed: {result.error}"
    assert result.outcome is not None
    written = env.world.deal_props(deal)
    shown = {
        "result": result.outcome.result.value,
        "codes": [p.code for p in result.outcome.problems],
        "freee_sync_status": written.get("freee_sync_status"),
        "freee_sync_error": written.get("freee_sync_error") or "",
        "line_item_reads": env.world.counter.count("line_items.batch_read"),
    }
    return Outcome([json.dumps(shown, ensure_ascii=False)], body=shown, deal=deal)


def run_job(case: Case, job: Job, env: Env, deal: str | None) -> Outcome:
    """A message put on the queue by hand: dead-lettered at once, with no HubSpot or freee call."""
    body = json.loads(fill(json.dumps(job.body), deal))
    env.world.counter.reset()
    result = handle_message(env.world.context(), Message("m-" + case.id, body, 1, "r"), max_receives=5)
    shown = {
        "disposition": result.disposition.value,
        "result": result.result,
        "error": result.error or "",
        "hubspot_calls": env.world.counter.total,
    }
    return Outcome([json.dumps(shown, ensure_ascii=False)], body=shown, deal=deal)


# ----------------------------------------------------------------------------------------------- checking


def check_expectation(case: Case, outcome: Outcome) -> None:
    if isinstance(case.input, Http):
        assert outcome.status == case.status, f"{case.id}: {outcome.status} {outcome.body}"
        body = outcome.body
        if case.status == 200:
            fields = body["outputFields"]
            assert fields["result"] == case.error, fields
            if case.entry is Entry.ACTION:
                assert fields["hs_execution_state"] == "FAIL_CONTINUE", fields
            if case.message:
                assert case.message in fields["error_message"], fields
        elif case.status != 204:
            assert body["error"] == case.error, body
            assert body["message"], body
            if case.message:
                assert case.message in json.dumps(body, ensure_ascii=False), body
        return
    if isinstance(case.input, Cli):
        assert outcome.exit_code == case.exit_code, f"{case.id}: exit {outcome.exit_code}\n{outcome.output}"
        assert "Traceback" not in outcome.output, outcome.output
        if case.message:
            assert case.message in outcome.output, outcome.output
        return
    shown = outcome.body
    if isinstance(case.input, Job):
        assert (shown["disposition"], shown["result"]) == ("dead", case.error), shown
        assert shown["hubspot_calls"] == 0, shown
        if case.message:
            assert case.message in shown["error"], shown
        return
    error = shown["freee_sync_error"]
    if case.invoiced:
        assert shown["result"] == "created", shown
        assert shown["freee_sync_status"] == "created", shown
        return
    assert shown["result"] == "invalid", shown
    assert shown["freee_sync_status"] == "invalid", shown
    assert case.error in shown["codes"], shown
    assert f"[{case.error}]" in error, error
    assert " / " in error  # Japanese, then English
    assert len(error) <= MAX_WRITTEN_ERROR, f"{case.id}: freee_sync_error is {len(error)} characters"
    if case.message:
        assert case.message in error, error
    if case.max_line_item_reads is not None:
        assert shown["line_item_reads"] <= case.max_line_item_reads, shown


def check_no_partial_write(case: Case, outcome: Outcome, before: State, after: State, env: Env) -> None:
    writes = after.writes_since(before)
    if case.invoiced:
        assert (after.invoices - before.invoices, after.partners - before.partners) == (1, 1)
        invoice = env.world.invoices()[-1]
        spec = case.input
        assert isinstance(spec, DealSpec)
        assert invoice["subject"] == spec.props.get("dealname", invoice["subject"])
        assert env.world.partners()[-1]["name"] == (spec.company or {}).get("name")
        return
    assert (after.invoices, after.partners, after.ledger_created) == (
        before.invoices,
        before.partners,
        before.ledger_created,
    ), f"{case.id}: something was created in freee"
    refused_deal = outcome.deal is not None and (
        isinstance(case.input, DealSpec)
        or case.error in ("invalid", "text.control_characters")
        or case.exit_code == 1
    )
    allowed = {("deals", outcome.deal): DEAL_WRITES_WHEN_REFUSED} if refused_deal else {}
    for key, diff in writes.items():
        assert key in allowed and set(diff) <= allowed[key], f"{case.id}: unexpected write {key}: {diff}"
    assert not outcome.queued, f"{case.id}: queued {outcome.queued}"


def check_no_secret(
    case: Case, outcome: Outcome, records: Records, before: State, after: State, env: Env
) -> None:
    written = json.dumps(
        {f"{k[0]}/{k[1]}": v for k, v in after.writes_since(before).items()}, ensure_ascii=False
    )
    haystacks = {"log": "\n".join(records.lines), "written": written}
    haystacks |= {f"output[{n}]": text for n, text in enumerate(outcome.texts)}
    for where, text in haystacks.items():
        for canary in env.canaries.all():
            assert canary not in text, f"{case.id}: a secret appears in the {where}"


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_hostile_input_is_refused_clearly_without_partial_writes_or_leaks(
    case: Case, env: Env, records: Records, tmp_path: Path
) -> None:
    spec = case.input if isinstance(case.input, DealSpec) else case.input.deal
    deal = build_deal(env, spec) if spec is not None else None
    before = State.of(env)
    if isinstance(case.input, Http):
        outcome = run_http(case, case.input, env, deal)
    elif isinstance(case.input, Cli):
        outcome = run_cli(case, case.input, env, tmp_path, deal)
    elif isinstance(case.input, Job):
        outcome = run_job(case, case.input, env, deal)
    else:
        assert deal is not None
        outcome = run_worker(case, env, deal)
    after = State.of(env)

    check_expectation(case, outcome)
    check_no_partial_write(case, outcome, before, after, env)
    check_no_secret(case, outcome, records, before, after, env)
    assert not records.tracebacks, f"{case.id}: logged a traceback:\n{records.tracebacks[0][:2000]}"


def test_the_corpus_is_large_varied_and_covers_every_entry_point() -> None:
    assert len(CASES) >= MIN_CASES
    assert len({c.id for c in CASES}) == len(CASES), "case ids are unique"
    assert {c.entry for c in CASES} == set(Entry)
    for entry in Entry:
        assert sum(1 for c in CASES if c.entry is entry) >= 3, f"{entry}: at least 3 cases"
    for case in CASES:
        if isinstance(case.input, Http):
            assert case.status is not None and case.error, case.id
        elif isinstance(case.input, Cli):
            assert case.exit_code is not None and case.message, case.id
        else:
            assert case.invoiced or case.error, case.id
    cli_commands = {" ".join(c.input.args[:2]) for c in CASES if isinstance(c.input, Cli)}
    for command in ("preview --file", "invoice create", "invoice show", "sync payments", "dlq redrive"):
        assert command in cli_commands, command
