"""``hubspot-freee setup hubspot | setup freee`` as an operator runs them, against the sandboxes served on
loopback (``doctor``: tests/integration/test_cli_doctor.py). The browser is played by ``requests`` following
freee's redirect to the local callback."""

from __future__ import annotations

import json
import threading
import webbrowser
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
import requests
from typer.testing import CliRunner

from cli.app import app
from local.world import HUBSPOT_TOKEN, World, build_world, cli_env
from sandbox.faults import FaultKind, FaultRule
from sandbox.hubspot import create_hubspot_sandbox
from sandbox.transport import ServedApp, serve
from sdk.clock import SystemClock
from sdk.store.sqlite import SQLiteStore

runner = CliRunner()
CLIENT_SECRET = "sandbox-client-secret"


@dataclass
class Setup:
    world: World
    freee: ServedApp
    env: dict[str, str]
    store_path: Path
    tmp: Path

    def run(self, *args: str, **env: str | None) -> Any:  # None: unset that variable
        return runner.invoke(app, list(args), env=self.env | env)


@pytest.fixture
def setup(tmp_path: Path) -> Iterator[Setup]:
    path = tmp_path / "store.sqlite"
    world = build_world(SQLiteStore(path), clock=SystemClock())
    freee = serve(world.freee_box.app)
    env = cli_env(world, freee.url, path, QUEUE_URL=f"sqlite:///{tmp_path / 'queue.sqlite'}")
    yield Setup(world, freee, env, path, tmp_path)
    freee.stop()
    world.close()


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
    assert len(made["deals"]["created"]) == 13 and len(made["companies"]["created"]) == 9
    assert made["line_items"]["created"] == ["freee_tax_rate"]
    assert box.state.properties["deals"]["freee_invoice_id"]["label"] == "freee請求書ID / freee invoice ID"
    assert box.state.properties["deals"]["freee_invoice_id"]["groupName"] == "freee"

    again = runner.invoke(app, ["setup", "hubspot"], env=env)
    assert again.exit_code == 0, again.output
    assert "すべて作成済み" in again.output and "nothing to create" in again.output


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
    requests.get(url, timeout=10)  # freee's consent page redirects to the local callback


def tampered(url: str) -> None:
    answer = requests.get(url, allow_redirects=False, timeout=10)
    location = urlsplit(answer.headers["Location"])
    query = {k: v[0] for k, v in parse_qs(location.query).items()} | {"state": "forged"}
    requests.get(f"{location.scheme}://{location.netloc}{location.path}?{urlencode(query)}", timeout=10)


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


def test_setup_freee_refuses_a_redirect_uri_off_this_machine(fresh_store):
    result = fresh_store.run("setup", "freee", FREEE_REDIRECT_URI="https://example.com/callback")
    assert result.exit_code == 2
    assert "FREEE_REDIRECT_URI" in result.output and "http://127.0.0.1:8765/callback" in result.output
