"""The pieces of ``setup freee`` that decide something: the redirect URI, the callback's checks, the company,
and writing FREEE_COMPANY_ID into a TOML file without disturbing it."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest
import requests

from sdk.freee.client import Company
from sdk.freee.errors import SetupFailed
from sdk.usecases.setup_freee import (
    CallbackServer,
    LoopbackRedirect,
    choose_company,
    loopback_redirect,
    settings_file_in_use,
    write_toml_setting,
)

# --- the redirect URI ------------------------------------------------------------------------------------------


def test_the_default_out_of_band_uri_becomes_a_loopback_callback():
    assert loopback_redirect("urn:ietf:wg:oauth:2.0:oob").uri() == "http://127.0.0.1:8765/callback"
    assert loopback_redirect("urn:ietf:wg:oauth:2.0:oob", 9000).uri() == "http://127.0.0.1:9000/callback"


def test_a_configured_loopback_uri_is_kept_exactly():
    redirect = loopback_redirect("http://localhost:18080/oauth/freee")
    assert redirect.uri() == "http://localhost:18080/oauth/freee"
    assert redirect.bind_host == "127.0.0.1"
    assert loopback_redirect("http://[::1]:5000/cb").bind_host == "::1"


@pytest.mark.parametrize(
    "uri", ["https://example.com/callback", "http://10.0.0.5:8765/callback", "https://127.0.0.1:8765/cb"]
)
def test_a_redirect_uri_off_this_machine_is_refused_with_what_to_set(uri):
    with pytest.raises(SetupFailed, match="FREEE_REDIRECT_URI") as caught:
        loopback_redirect(uri)
    assert "http://127.0.0.1:8765/callback" in str(caught.value)


# --- the callback server ---------------------------------------------------------------------------------------


@pytest.fixture
def server():
    served = CallbackServer(LoopbackRedirect("127.0.0.1", 0, "/callback"))
    served.expected_state = "s-123"
    yield served
    served.close()


def test_the_code_comes_back_with_the_right_state(server):
    answer = requests.get(f"{server.redirect_uri}?code=abc&state=s-123", timeout=5)
    assert answer.status_code == 200 and "freee と接続しました" in answer.text
    assert server.wait(1) == "abc"


def test_another_state_is_refused(server):
    answer = requests.get(f"{server.redirect_uri}?code=abc&state=other", timeout=5)
    assert answer.status_code == 400
    with pytest.raises(SetupFailed, match="state"):
        server.wait(1)


def test_a_denial_is_reported(server):
    requests.get(f"{server.redirect_uri}?error=access_denied&state=s-123", timeout=5)
    with pytest.raises(SetupFailed, match="access_denied"):
        server.wait(1)


def test_other_paths_do_not_end_the_wait(server):
    assert (
        requests.get(server.redirect_uri.replace("/callback", "/favicon.ico"), timeout=5).status_code == 404
    )
    with pytest.raises(SetupFailed, match="no answer from the browser within 0s"):
        server.wait(0.2)


def test_a_busy_port_is_a_clear_error(server):
    with pytest.raises(SetupFailed, match="cannot listen"):
        CallbackServer(LoopbackRedirect("127.0.0.1", server.port, "/callback"))


# --- the company -----------------------------------------------------------------------------------------------

A, B = Company(1, "本社", "admin"), Company(2, "子会社", "read_only")


def test_the_only_company_is_chosen():
    assert choose_company([A], None) == A


def test_the_requested_company_must_be_accessible():
    assert choose_company([A, B], 2) == B
    with pytest.raises(SetupFailed, match="--company-id 3"):
        choose_company([A, B], 3)


def test_several_companies_without_a_prompt_list_them():
    with pytest.raises(SetupFailed, match=r"1 \(本社\), 2 \(子会社\)"):
        choose_company([A, B], None)
    assert choose_company([A, B], None, ask=lambda companies: 2) == B


def test_no_company_at_all():
    with pytest.raises(SetupFailed, match="no company"):
        choose_company([], None)


# --- the TOML file ---------------------------------------------------------------------------------------------


def test_an_existing_key_is_replaced_and_everything_else_kept(tmp_path: Path):
    path = tmp_path / "hubspot-freee.toml"
    path.write_text('# comment\nfreee_company_id = 5  # old\nlog_level = "DEBUG"\n\n[tax]\nrate = "10"\n')
    write_toml_setting(path, "freee_company_id", 42)
    assert path.read_text() == '# comment\nfreee_company_id = 42\nlog_level = "DEBUG"\n\n[tax]\nrate = "10"\n'


def test_a_new_key_goes_before_the_first_table(tmp_path: Path):
    path = tmp_path / "hubspot-freee.toml"
    path.write_text('log_level = "DEBUG"\n\n[won_stages]\nfreee_company_id_note = "not this"\n')
    write_toml_setting(path, "freee_company_id", 7)
    data = tomllib.loads(path.read_text())
    assert data["freee_company_id"] == 7 and data["won_stages"] == {"freee_company_id_note": "not this"}
    assert path.read_text().startswith('log_level = "DEBUG"\nfreee_company_id = 7\n\n[won_stages]')


def test_a_key_inside_a_table_is_not_mistaken_for_the_top_level_one(tmp_path: Path):
    path = tmp_path / "hubspot-freee.toml"
    path.write_text("[other]\nfreee_company_id = 1\n")
    write_toml_setting(path, "freee_company_id", 9)
    assert tomllib.loads(path.read_text()) == {"freee_company_id": 9, "other": {"freee_company_id": 1}}


def test_a_missing_file_is_created_and_a_broken_one_refused(tmp_path: Path):
    fresh = tmp_path / "new.toml"
    write_toml_setting(fresh, "freee_company_id", 3)
    assert fresh.read_text() == "freee_company_id = 3\n"
    broken = tmp_path / "broken.toml"
    broken.write_text("freee_company_id = \n")
    with pytest.raises(SetupFailed, match="not valid TOML"):
        write_toml_setting(broken, "freee_company_id", 3)
    assert broken.read_text() == "freee_company_id = \n"


def test_the_settings_file_in_use(tmp_path: Path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("HUBSPOT_FREEE_CONFIG", raising=False)
    assert settings_file_in_use(None) is None
    (tmp_path / "hubspot-freee.toml").write_text("")
    assert settings_file_in_use(None) == Path("hubspot-freee.toml")
    monkeypatch.setenv("HUBSPOT_FREEE_CONFIG", str(tmp_path / "elsewhere.toml"))
    assert settings_file_in_use(None) == tmp_path / "elsewhere.toml"
    assert settings_file_in_use(Path("given.toml")) == Path("given.toml")
