"""``hubspot-freee setup hubspot | setup freee`` and ``doctor`` as an operator runs them, against the sandboxes
served on loopback. The browser is played by ``requests`` following freee's redirect to the local callback."""

from __future__ import annotations

import io
import json
import socket
import threading
import webbrowser
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import click.testing
import pytest
import requests
import typer.main
from typer.testing import CliRunner

from cli.app import app
from local.world import HUBSPOT_TOKEN, World, build_world, cli_env
from sandbox.faults import FaultKind, FaultRule
from sandbox.hubspot import create_hubspot_sandbox
from sandbox.transport import ServedApp, serve
from sdk.clock import SystemClock
from sdk.freee.oauth import OAuthClient
from sdk.properties import PAYMENT_TERMS_OPTIONS
from sdk.store.sqlite import SQLiteStore
from sdk.terms import parse_terms
from tests.consent import answer_consent, code_on_page

runner = CliRunner()
CLIENT_SECRET = "sandbox-client-secret"
OOB = "urn:ietf:wg:oauth:2.0:oob"


@dataclass
class Setup:
    world: World
    freee: ServedApp
    env: dict[str, str]
    store_path: Path
    tmp: Path

    def run(self, *args: str, **env: str | None) -> Any:  # None: unset that variable
        return runner.invoke(app, list(args), env=self.env | env)

    def secrets(self) -> list[str]:
        row = self.world.store.tokens.load_token()
        stored = [row.tokens.access_token, row.tokens.refresh_token] if row else []
        return [HUBSPOT_TOKEN, CLIENT_SECRET, *stored]


@pytest.fixture
def setup(tmp_path: Path) -> Iterator[Setup]:
    path = tmp_path / "store.sqlite"
    world = build_world(SQLiteStore(path), clock=SystemClock())
    freee = serve(world.freee_box.app)
    env = cli_env(world, freee.url, path, QUEUE_URL=f"sqlite:///{tmp_path / 'queue.sqlite'}")
    yield Setup(world, freee, env, path, tmp_path)
    freee.stop()
    world.close()


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def assert_no_secret(output: str, secrets: list[str]) -> None:
    for secret in secrets:
        assert secret not in output


# --- setup hubspot ---------------------------------------------------------------------------------------------


@pytest.fixture
def empty_portal() -> Iterator[tuple[Any, dict[str, str]]]:
    box = create_hubspot_sandbox(access_token=HUBSPOT_TOKEN)
    served = serve(box.app)
    yield box, {"HUBSPOT_API_BASE": served.url, "HUBSPOT_ACCESS_TOKEN": HUBSPOT_TOKEN, "LOG_LEVEL": "ERROR"}
    served.stop()
    box.close()


def test_setup_hubspot_dry_run_then_create_then_nothing_left(empty_portal):
    box, env = empty_portal
    dry = runner.invoke(app, ["setup", "hubspot", "--dry-run", "--json"], env=env)
    assert dry.exit_code == 0, dry.output
    plan = json.loads(dry.stdout)
    deals = next(o for o in plan["objects"] if o["object_type"] == "deals")
    assert plan["dry_run"] is True and deals["group_created"] is True
    assert "freee_invoice_id" in deals["created"] and deals["existing"] == []
    assert "freee_invoice_id" not in box.state.properties["deals"]  # a dry run creates nothing

    first = runner.invoke(app, ["setup", "hubspot", "--json"], env=env)
    assert first.exit_code == 0, first.output
    made = {o["object_type"]: o for o in json.loads(first.stdout)["objects"]}
    assert len(made["deals"]["created"]) == 18 and len(made["companies"]["created"]) == 11
    assert made["line_items"]["created"] == ["freee_tax_rate"]
    assert box.state.properties["deals"]["freee_invoice_id"]["label"] == "freee請求書ID / freee invoice ID"
    assert box.state.properties["deals"]["freee_invoice_id"]["groupName"] == "freee"

    again = runner.invoke(app, ["setup", "hubspot"], env=env)
    assert again.exit_code == 0, again.output
    assert "すべて作成済み" in again.output and "nothing to create" in again.output


def writes(box: Any) -> list[str]:
    """The property definitions written so far (create and update calls)."""
    return [
        f"{c.method} {c.path}"
        for c in box.api_calls
        if c.method in ("POST", "PATCH") and "/properties/" in c.path
    ]


def test_setup_hubspot_makes_payment_terms_a_dropdown_of_codes_with_japanese_labels(empty_portal):
    box, env = empty_portal
    result = runner.invoke(app, ["setup", "hubspot", "--json"], env=env)
    assert result.exit_code == 0, result.output
    stored = box.state.properties["companies"]["freee_payment_terms"]
    assert (stored["type"], stored["fieldType"]) == ("enumeration", "select")
    options = {o["value"]: o["label"] for o in stored["options"]}
    assert [o["value"] for o in stored["options"]] == [code for code, _, _ in PAYMENT_TERMS_OPTIONS]
    assert options["month_end_next_month_end"] == "月末締め翌月末払い"
    assert options["close_20_next_month_day_10"] == "20日締め翌月10日払い"
    assert options["net_30"] == "請求日から30日後"
    for code, label in options.items():
        assert parse_terms(label) == parse_terms(code) and parse_terms(code).code == code
    assert box.state.properties["line_items"]["freee_tax_rate"]["options"][1]["value"] == "8_reduced"


def test_setup_hubspot_creates_the_billing_schedule_properties_once(empty_portal):
    box, env = empty_portal
    first = runner.invoke(app, ["setup", "hubspot", "--json"], env=env)
    assert first.exit_code == 0, first.output
    made = {o["object_type"]: o for o in json.loads(first.stdout)["objects"]}
    assert {
        "freee_billing_plan",
        "freee_next_billing_date",
        "freee_invoice_count",
        "freee_billing_status",
    } <= set(made["deals"]["created"])
    assert {"freee_billing_mode", "freee_closing_day"} <= set(made["companies"]["created"])
    deals, companies = box.state.properties["deals"], box.state.properties["companies"]
    kinds = {
        name: (found["type"], found["fieldType"])
        for name, found in (deals | companies).items()
        if name in ("freee_billing_plan", "freee_next_billing_date", "freee_invoice_count")
    }
    assert kinds == {
        "freee_billing_plan": ("number", "number"),
        "freee_next_billing_date": ("date", "date"),
        "freee_invoice_count": ("number", "number"),
    }
    dropdowns = {
        "freee_billing_status": ["one_off", "scheduled", "ended", "stopped"],
        "freee_billing_mode": ["per_deal", "consolidated"],
        "freee_closing_day": ["month_end", "5", "10", "15", "20", "25"],
    }
    for name, values in dropdowns.items():
        stored = (deals | companies)[name]
        assert (stored["type"], stored["fieldType"]) == ("enumeration", "select")
        assert [o["value"] for o in stored["options"]] == values
    assert companies["freee_closing_day"]["options"][1]["label"] == "5日締め / closes on the 5th"
    company = box.create_company(
        name="株式会社月締め", freee_billing_mode="consolidated", freee_closing_day="20"
    )  # the dropdowns take our values
    assert box.properties_of("companies", company)["freee_closing_day"] == "20"

    before = writes(box)
    again = runner.invoke(app, ["setup", "hubspot", "--json"], env=env)
    assert again.exit_code == 0, again.output
    report = json.loads(again.stdout)
    assert (report["created"], report["updated"]) == (0, 0)
    assert writes(box) == before  # a second run writes no definition


def test_setup_hubspot_leaves_an_older_text_payment_terms_property_as_it_is_and_says_so(empty_portal):
    box, env = empty_portal
    box.define_property(
        "companies", "freee_payment_terms", group="freee"
    )  # text, as an older version made it
    company = box.create_company(name="株式会社テキスト", freee_payment_terms="末締め翌月末")

    first = runner.invoke(app, ["setup", "hubspot", "--json"], env=env)
    assert first.exit_code == 0, first.output
    companies = next(o for o in json.loads(first.stdout)["objects"] if o["object_type"] == "companies")
    assert companies["mismatched"] == [
        {"name": "freee_payment_terms", "found": "string/text", "expected": "enumeration/select"}
    ]
    assert "freee_payment_terms" in companies["existing"] and companies["options_added"] == {}
    assert box.state.properties["companies"]["freee_payment_terms"]["type"] == "string"
    assert (
        box.properties_of("companies", company)["freee_payment_terms"] == "末締め翌月末"
    )  # still there, still read

    before = writes(box)
    again = runner.invoke(app, ["setup", "hubspot"], env=env)
    assert again.exit_code == 0, again.output
    assert "freee_payment_terms exists as string/text" in again.stderr and "フィールドタイプ" in again.stderr
    assert "nothing to create" in again.output
    assert writes(box) == before


def test_setup_hubspot_adds_missing_payment_terms_options_once_keeping_the_portals_own(empty_portal):
    box, env = empty_portal
    box.define_property(
        "companies",
        "freee_payment_terms",
        type="enumeration",
        field_type="select",
        group="freee",
        options=["month_end_next_month_end", "net_30", "our_own_terms"],
    )
    missing = [
        code for code, _, _ in PAYMENT_TERMS_OPTIONS if code not in ("month_end_next_month_end", "net_30")
    ]

    dry = runner.invoke(app, ["setup", "hubspot", "--dry-run", "--json"], env=env)
    companies = next(o for o in json.loads(dry.stdout)["objects"] if o["object_type"] == "companies")
    assert companies["options_added"] == {"freee_payment_terms": missing}
    assert (
        len(box.state.properties["companies"]["freee_payment_terms"]["options"]) == 3
    )  # a dry run changes nothing

    first = runner.invoke(app, ["setup", "hubspot", "--json"], env=env)
    assert first.exit_code == 0, first.output
    report = json.loads(first.stdout)
    companies = next(o for o in report["objects"] if o["object_type"] == "companies")
    assert companies["options_added"] == {"freee_payment_terms": missing} and report["updated"] == 1
    stored = box.state.properties["companies"]["freee_payment_terms"]["options"]
    assert [o["value"] for o in stored] == ["month_end_next_month_end", "net_30", "our_own_terms", *missing]
    assert stored[2]["label"] == "our_own_terms"  # the portal's own option, as it was
    assert {o["value"]: o["label"] for o in stored}["close_20_next_month_end"] == "20日締め翌月末払い"
    assert [o["displayOrder"] for o in stored] == list(range(len(stored)))

    before = writes(box)
    again = runner.invoke(app, ["setup", "hubspot", "--json"], env=env)
    assert json.loads(again.stdout)["updated"] == 0 and json.loads(again.stdout)["created"] == 0
    assert writes(box) == before  # a second run writes nothing
    human = runner.invoke(app, ["setup", "hubspot"], env=env)
    assert "すべて作成済み" in human.output


def test_setup_hubspot_without_a_portal_id_says_which_portal_the_token_belongs_to(empty_portal):
    box, env = empty_portal
    result = runner.invoke(app, ["setup", "hubspot", "--json"], env=env)
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["portal"] == {
        "token_portal_id": box.portal_id,
        "configured_portal_id": None,
    }
    assert f"HUBSPOT_PORTAL_ID={box.portal_id}" in result.stderr


def test_setup_hubspot_for_a_token_of_another_portal_creates_nothing(empty_portal):
    box, env = empty_portal
    result = runner.invoke(app, ["setup", "hubspot"], env=env | {"HUBSPOT_PORTAL_ID": "13572468"})
    assert result.exit_code == 2
    assert str(box.portal_id) in result.output and "13572468" in result.output
    assert "Nothing was created" in result.output and "HUBSPOT_ACCESS_TOKEN" in result.output
    assert "freee_invoice_id" not in box.state.properties["deals"]


def test_setup_hubspot_wrong_token_is_a_clear_error(empty_portal):
    _, env = empty_portal
    result = runner.invoke(app, ["setup", "hubspot"], env=env | {"HUBSPOT_ACCESS_TOKEN": "pat-wrong-0000"})
    assert result.exit_code == 2
    assert "401" in result.output and "HUBSPOT_ACCESS_TOKEN" in result.output
    assert "pat-wrong-0000" not in result.output
    assert "Traceback" not in result.output


def test_setup_hubspot_with_a_public_app_refreshes_its_token_and_says_when_it_is_revoked(
    empty_portal, tmp_path
):
    box, env = empty_portal
    public = {k: v for k, v in env.items() if k != "HUBSPOT_ACCESS_TOKEN"} | {
        "HUBSPOT_REFRESH_TOKEN": box.install_app(),
        "HUBSPOT_CLIENT_ID": "sandbox-hubspot-client-id",
        "HUBSPOT_CLIENT_SECRET": "sandbox-hubspot-client-secret",
        "STORAGE_URL": f"sqlite:///{tmp_path / 'store.sqlite'}",
    }
    dry = runner.invoke(app, ["setup", "hubspot", "--dry-run", "--json"], env=public)
    assert dry.exit_code == 0, dry.output
    assert box.token_calls == {"refresh_token": 1}
    row = SQLiteStore(tmp_path / "store.sqlite").hubspot_tokens.load_token()
    assert row is not None and row.tokens.access_token
    box.uninstall_app()
    box.expire_access_tokens()
    revoked = runner.invoke(app, ["setup", "hubspot", "--dry-run"], env=public)
    assert revoked.exit_code == 2
    assert "BAD_REFRESH_TOKEN" in revoked.output and "HUBSPOT_REFRESH_TOKEN" in revoked.output
    assert "HubSpot接続が切れています" in revoked.output
    assert public["HUBSPOT_REFRESH_TOKEN"] not in revoked.output and "Traceback" not in revoked.output


def test_setup_hubspot_missing_scopes_names_them(empty_portal):
    box, env = empty_portal
    box.faults.add(FaultRule(FaultKind.SERVER_ERROR, status=403, path_prefix="/crm/v3/properties"))
    result = runner.invoke(app, ["setup", "hubspot"], env=env)
    assert result.exit_code == 2
    assert "403" in result.output
    for scope in ("crm.schemas.deals.write", "crm.schemas.companies.write", "e-commerce"):
        assert scope in result.output


# --- setup freee -----------------------------------------------------------------------------------------------


def browser(approve: Callable[[str], None]) -> Callable[..., bool]:
    """A stand-in for ``webbrowser.open``: the 'user' acts on the URL in another thread, as a browser would."""

    def open_url(url: str, *args: Any, **kwargs: Any) -> bool:
        threading.Thread(target=approve, args=(url,), daemon=True).start()
        return True

    return open_url


def follow(url: str) -> None:
    answer_consent(url, follow=True)  # 許可する: freee's consent page redirects to the local callback


def tampered(url: str) -> None:
    answer = answer_consent(url)
    location = urlsplit(answer.headers["Location"])
    query = {k: v[0] for k, v in parse_qs(location.query).items()} | {"state": "forged"}
    requests.get(f"{location.scheme}://{location.netloc}{location.path}?{urlencode(query)}", timeout=10)


class Typed(io.RawIOBase):
    """Standard input whose line is typed when the command first reads it: by then the authorisation URL has been
    built, and ``answer`` acts on it as the operator would (approve in a browser, copy the code or the URL)."""

    def __init__(self, answer: Callable[[str], str], urls: list[str]) -> None:
        self.answer, self.urls, self.typed = answer, urls, None
        self.data: bytes | None = None

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        if not len(buffer):
            return 0
        if self.data is None:
            assert self.urls, "the command read standard input before building the authorisation URL"
            self.typed = self.answer(self.urls[-1])
            self.data = f"{self.typed}\n".encode()
        n = min(len(buffer), len(self.data))
        buffer[:n], self.data = self.data[:n], self.data[n:]
        return n


@pytest.fixture
def urls(monkeypatch) -> list[str]:
    """Every authorisation URL ``setup freee`` builds (what it prints for the operator to open)."""
    built: list[str] = []
    original = OAuthClient.authorization_url

    def spy(self: OAuthClient, state: str | None = None) -> tuple[str, str]:
        url, sent = original(self, state)
        built.append(url)
        return url, sent

    monkeypatch.setattr(OAuthClient, "authorization_url", spy)
    return built


def typing(args: list[str], env: dict[str, str], typed: Typed, **more: str) -> Any:
    """Run the command with ``typed`` as its standard input (click's runner: it takes a stream, typer's a string)."""
    return click.testing.CliRunner().invoke(typer.main.get_command(app), args, env=env | more, input=typed)


def paste_code(url: str) -> str:
    """The operator opens the URL, chooses 許可する, and copies the code freee shows (out-of-band URI)."""
    return code_on_page(answer_consent(url))


def paste_redirected_url(url: str) -> str:
    """The operator opens the URL, chooses 許可する, and copies the URL the browser was sent to (which may not
    load: the laptop's own 127.0.0.1)."""
    return str(answer_consent(url).headers["Location"])


@pytest.fixture
def fresh_store(setup: Setup) -> Setup:
    """The setup's environment pointed at an empty store: freee is not connected yet."""
    setup.env["STORAGE_URL"] = f"sqlite:///{setup.tmp / 'fresh.sqlite'}"
    return setup


def test_setup_freee_connects_stores_tokens_and_writes_the_company(fresh_store, monkeypatch):
    setup = fresh_store
    config = setup.tmp / "hubspot-freee.toml"
    config.write_text(
        '# our settings\npayment_terms_default = "net_30"\nfreee_company_id = 999\n\n[tax]\nrounding = "round"\n',
        encoding="utf-8",
    )
    monkeypatch.setattr(webbrowser, "open", browser(follow))
    result = setup.run("setup", "freee", "--port", "0", "--config", str(config), FREEE_COMPANY_ID=None)
    assert result.exit_code == 0, result.output
    assert "http://127.0.0.1:" in result.output and "/callback" in result.output
    assert "wrote freee_company_id = 1" in result.output
    text = config.read_text(encoding="utf-8")
    assert text == (
        '# our settings\npayment_terms_default = "net_30"\nfreee_company_id = 1\n\n[tax]\nrounding = "round"\n'
    )
    row = SQLiteStore(setup.tmp / "fresh.sqlite").tokens.load_token()
    assert row is not None and row.tokens.access_token
    assert setup.world.freee_box.token_calls.get("authorization_code") == 1
    assert_no_secret(result.output, [CLIENT_SECRET, row.tokens.access_token, row.tokens.refresh_token])


def test_setup_freee_without_a_settings_file_prints_the_setting(fresh_store, monkeypatch):
    setup = fresh_store
    monkeypatch.chdir(setup.tmp)
    monkeypatch.setattr(webbrowser, "open", browser(follow))
    result = setup.run("setup", "freee", "--port", "0", "--company-id", "1")
    assert result.exit_code == 0, result.output
    assert "export FREEE_COMPANY_ID=1" in result.output
    assert not (setup.tmp / "hubspot-freee.toml").exists()


def test_setup_freee_refuses_an_answer_with_another_state(fresh_store, monkeypatch):
    setup = fresh_store
    monkeypatch.setattr(webbrowser, "open", browser(tampered))
    result = setup.run("setup", "freee", "--port", "0")
    assert result.exit_code == 1
    assert "state" in result.output and "setup freee" in result.output
    assert SQLiteStore(setup.tmp / "fresh.sqlite").tokens.load_token() is None
    assert setup.world.freee_box.token_calls.get("authorization_code") is None  # the code was never used


def test_setup_freee_reports_a_denied_consent(fresh_store, monkeypatch):
    setup = fresh_store
    setup.world.freee_box.deny_consent()
    monkeypatch.setattr(webbrowser, "open", browser(follow))
    result = setup.run("setup", "freee", "--port", "0")
    assert result.exit_code == 1
    assert "access_denied" in result.output and "認可が拒否されました" in result.output
    assert SQLiteStore(setup.tmp / "fresh.sqlite").tokens.load_token() is None


def test_setup_freee_times_out_with_the_url_and_what_to_check(fresh_store, monkeypatch):
    setup = fresh_store
    opened: list[str] = []
    monkeypatch.setattr(webbrowser, "open", lambda url, *a, **k: opened.append(url) or True)
    result = setup.run("setup", "freee", "--port", "0", "--no-browser", "--timeout", "1")
    assert result.exit_code == 1
    assert opened == []  # --no-browser
    assert "/public_api/authorize?" in result.output
    assert "no answer from the browser within 1s" in result.output
    assert "redirect" in result.output
    # what probably happened on a remote server, and the two ways out
    assert "another machine" in result.output and "--paste" in result.output
    assert (
        "ssh -L" in result.output
        and "127.0.0.1" in result.output
        and "応答がありませんでした" in result.output
    )


def test_setup_freee_with_a_busy_port_says_so_and_sends_nothing(fresh_store):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = fresh_store.run("setup", "freee", FREEE_REDIRECT_URI=f"http://127.0.0.1:{port}/callback")
    assert result.exit_code == 2
    assert f"port {port} is in use" in result.output and "使用中" in result.output
    assert "--paste" in result.output
    assert fresh_store.world.freee_box.state.codes == {}


# --- setup freee on a remote machine: paste the code or the redirected URL ------------------------------------


def stored_row(setup: Setup) -> Any:
    return SQLiteStore(setup.tmp / "fresh.sqlite").tokens.load_token()


def test_setup_freee_pastes_the_code_freee_shows_for_the_out_of_band_uri(fresh_store, urls, monkeypatch):
    setup = fresh_store
    monkeypatch.setattr(webbrowser, "open", lambda *a, **k: pytest.fail("no browser on a remote server"))
    typed = Typed(paste_code, urls)
    result = typing(["setup", "freee", "--company-id", "1"], setup.env, typed, FREEE_REDIRECT_URI=OOB)
    assert result.exit_code == 0, result.output
    assert urls[-1] in result.output  # printed whole, to open anywhere
    assert "認可コード、またはリダイレクト後のURL全体を貼り付けてください" in result.output
    assert "Paste the authorization code or the whole redirected URL" in result.output
    assert "freee shows the authorization code on its own page" in result.output
    assert "redirect_uri=urn%3Aietf%3Awg%3Aoauth%3A2.0%3Aoob" in urls[-1]
    row = stored_row(setup)
    assert row is not None and row.version == 1 and row.tokens.access_token
    assert setup.world.freee_box.token_calls.get("authorization_code") == 1
    assert_no_secret(result.output, [CLIENT_SECRET, row.tokens.access_token, row.tokens.refresh_token])


def test_setup_freee_paste_takes_the_whole_url_of_a_redirect_that_went_nowhere(fresh_store, urls):
    setup = fresh_store
    nowhere = f"http://127.0.0.1:{closed_port()}/callback"  # the laptop's own loopback: nothing listens
    typed = Typed(paste_redirected_url, urls)
    result = typing(
        ["setup", "freee", "--paste", "--company-id", "1"], setup.env, typed, FREEE_REDIRECT_URI=nowhere
    )
    assert result.exit_code == 0, result.output
    assert typed.typed is not None and typed.typed.startswith(f"{nowhere}?code=")
    assert stored_row(setup) is not None
    assert setup.world.freee_box.token_calls.get("authorization_code") == 1


def test_setup_freee_pastes_for_a_redirect_uri_off_this_machine(fresh_store, urls):
    setup = fresh_store
    typed = Typed(paste_redirected_url, urls)
    result = typing(
        ["setup", "freee", "--company-id", "1"],
        setup.env,
        typed,
        FREEE_REDIRECT_URI="https://example.com/callback",
    )
    assert result.exit_code == 0, result.output
    assert "https://example.com/callback is not a loopback address of this machine" in result.output
    assert "アドレスバー" in result.output
    assert stored_row(setup) is not None


def test_setup_freee_without_a_browser_falls_back_to_pasting(fresh_store, urls, monkeypatch):
    setup = fresh_store
    monkeypatch.setattr(webbrowser, "open", lambda *a, **k: False)  # a server without a desktop
    typed = Typed(paste_redirected_url, urls)
    result = typing(["setup", "freee", "--port", "0", "--company-id", "1"], setup.env, typed)
    assert result.exit_code == 0, result.output
    assert "no browser could be opened on this machine" in result.output
    assert typed.typed is not None and "?code=" in typed.typed
    assert stored_row(setup) is not None


def test_setup_freee_refuses_a_pasted_url_with_another_state(fresh_store, urls):
    setup = fresh_store

    def forged(url: str) -> str:
        location = urlsplit(paste_redirected_url(url))
        query = {k: v[0] for k, v in parse_qs(location.query).items()} | {"state": "forged"}
        return f"{location.scheme}://{location.netloc}{location.path}?{urlencode(query)}"

    result = typing(["setup", "freee", "--paste"], setup.env, Typed(forged, urls))
    assert result.exit_code == 1
    assert "different `state`" in result.output and "state が一致しない" in result.output
    assert stored_row(setup) is None
    assert setup.world.freee_box.token_calls.get("authorization_code") is None  # the code was never used


def test_setup_freee_explains_a_pasted_url_saying_access_denied(fresh_store, urls):
    setup = fresh_store

    def denied(url: str) -> str:
        return str(answer_consent(url, "deny").headers["Location"])

    result = typing(["setup", "freee", "--paste"], setup.env, Typed(denied, urls))
    assert result.exit_code == 1
    assert "access_denied" in result.output and "認可が拒否されました" in result.output
    assert "許可する" in result.output
    assert stored_row(setup) is None


def test_setup_freee_paste_without_input_names_the_options_for_scripts(fresh_store):
    result = fresh_store.run("setup", "freee", "--paste")
    assert result.exit_code == 1
    assert "/public_api/authorize?" in result.output
    assert "--code" in result.output and "--redirected-url" in result.output


def test_setup_freee_takes_the_redirected_url_of_an_earlier_run_without_a_prompt(fresh_store, urls):
    setup = fresh_store
    first = setup.run("setup", "freee", "--paste")  # a script: print the URL, nothing typed
    assert first.exit_code == 1 and urls[-1] in first.output
    location = paste_redirected_url(urls[-1])  # the operator approves, later, in any browser
    forged = location.replace("state=", "state=x")
    refused = setup.run("setup", "freee", "--redirected-url", forged)
    assert refused.exit_code == 1 and "was not made by `setup freee` of this installation" in refused.output
    done = setup.run("setup", "freee", "--redirected-url", location, "--company-id", "1")
    assert done.exit_code == 0, done.output
    assert stored_row(setup) is not None
    assert setup.world.freee_box.token_calls.get("authorization_code") == 1


def test_setup_freee_takes_a_code_without_a_prompt(fresh_store, urls):
    setup = fresh_store
    oob = {"FREEE_REDIRECT_URI": OOB}
    assert setup.run("setup", "freee", **oob).exit_code == 1  # prints the URL; nothing typed
    code = paste_code(urls[-1])
    done = setup.run("setup", "freee", "--code", code, "--company-id", "1", **oob)
    assert done.exit_code == 0, done.output
    assert code not in done.output
    assert stored_row(setup) is not None


# --- doctor ----------------------------------------------------------------------------------------------------


def doctor(setup: Setup, **env: str | None) -> tuple[int, dict[str, dict[str, str]], str]:
    result = setup.run("doctor", "--json", **env)
    data = json.loads(result.stdout)
    assert data["ok"] is (result.exit_code == 0)
    return result.exit_code, {c["check"].split(" /")[0]: c for c in data["checks"]}, result.output
