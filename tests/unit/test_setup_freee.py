"""The pieces of ``setup freee`` that decide something: the redirect URI, the callback's checks, the company,
and writing FREEE_COMPANY_ID into a TOML file without disturbing it."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest
import requests

from sdk.freee.client import Company
from sdk.freee.errors import SetupFailed
from sdk.settings import load_settings
from sdk.usecases.setup_freee import (
    CallbackServer,
    FreeeAuthorisation,
    LoopbackRedirect,
    Pasted,
    authorisation_mode,
    choose_company,
    loopback_redirect,
    new_state,
    read_pasted,
    settings_file_in_use,
    state_is_ours,
    write_toml_setting,
)

# --- the redirect URI ------------------------------------------------------------------------------------------


def test_the_out_of_band_uri_with_a_port_becomes_a_loopback_callback():
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
def test_a_redirect_uri_off_this_machine_cannot_be_listened_on_and_says_what_to_do(uri):
    with pytest.raises(SetupFailed, match="FREEE_REDIRECT_URI") as caught:
        loopback_redirect(uri, 9000)
    assert "http://127.0.0.1:9000/callback" in str(caught.value)
    assert "not a loopback address" in str(caught.value) and "paste" in str(caught.value)


# --- listen or paste ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("uri", "port", "paste", "mode", "said"),
    [
        ("http://127.0.0.1:8765/callback", None, False, "listen", "local server"),
        ("http://localhost:9000/cb", None, False, "listen", "local server"),
        ("urn:ietf:wg:oauth:2.0:oob", 0, False, "listen", "local server"),  # --port: listen anyway
        ("urn:ietf:wg:oauth:2.0:oob", None, False, "paste", "freee shows the authorization code"),
        ("https://example.com/callback", None, False, "paste", "not a loopback address"),
        ("http://10.0.0.5:8765/callback", None, False, "paste", "address bar"),
        ("http://127.0.0.1:8765/callback", None, True, "paste", "--paste"),
    ],
)
def test_how_the_code_comes_back(uri, port, paste, mode, said):
    chosen, why = authorisation_mode(uri, port=port, paste=paste)
    assert chosen == mode and said in why


# --- what is pasted -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("  abcDEF123_-x  \n", Pasted("abcDEF123_-x")),
        (
            "http://127.0.0.1:8765/callback?code=c0de&state=s.1",
            Pasted("c0de", "s.1", "http://127.0.0.1:8765/callback"),
        ),
        ("'https://example.com/cb?state=s&code=c0de'", Pasted("c0de", "s", "https://example.com/cb")),
        ("?code=c0de&state=s", Pasted("c0de", "s")),
        ("code=c0de", Pasted("c0de")),
    ],
)
def test_a_code_or_a_redirected_url_is_read(text, expected):
    assert read_pasted(text) == expected


@pytest.mark.parametrize(
    ("text", "said"),
    [
        ("", "nothing was pasted"),
        ("not a code at all", "neither an authorization code nor a URL"),
        ("https://accounts.secure.freee.co.jp/public_api/authorize?client_id=x&state=s", "has no code"),
        ("http://127.0.0.1:8765/callback?error=access_denied&state=s", "認可が拒否されました"),
        ("http://127.0.0.1:8765/callback?error=invalid_scope&error_description=bad", "invalid_scope (bad)"),
    ],
)
def test_what_is_not_a_code_is_explained(text, said):
    with pytest.raises(SetupFailed, match=re.escape(said)):
        read_pasted(text)


def test_the_state_is_signed_with_the_client_secret():
    state = new_state("secret")
    assert state_is_ours(state, "secret")
    assert not state_is_ours(state, "another-secret")
    assert not state_is_ours(state.replace(".", ".0"), "secret")
    assert not state_is_ours("forged", "secret") and new_state("secret") != state


def settings_for(redirect: str) -> object:
    return load_settings(
        freee_client_id="cid",
        freee_client_secret="secret",
        freee_auth_base="https://auth.example",
        freee_redirect_uri=redirect,
    )


def test_a_pasted_url_must_carry_the_state_of_this_run():
    with FreeeAuthorisation(settings_for("urn:ietf:wg:oauth:2.0:oob")) as run:  # type: ignore[arg-type]
        assert run.mode == "paste" and run.server is None
        assert f"state={run.state}" in run.url
        assert run.code_from(f"https://x/cb?code=c1&state={run.state}") == "c1"
        assert run.code_from("c0de-two") == "c0de-two"  # a bare code has no state to check
        with pytest.raises(SetupFailed, match="different `state`"):
            run.code_from(f"https://x/cb?code=c3&state={new_state('secret')}")  # ours, but another run's


def test_a_given_url_of_an_earlier_run_is_exchanged_at_its_own_redirect_uri():
    earlier = FreeeAuthorisation(settings_for("https://example.com/cb"))  # type: ignore[arg-type]
    later = FreeeAuthorisation(settings_for("https://example.com/cb"))  # type: ignore[arg-type]
    url = f"https://example.com/cb?code=c1&state={earlier.state}"
    assert later.code_given(redirected_url=url) == "c1" and later.redirect_uri == "https://example.com/cb"
    with pytest.raises(SetupFailed, match="not made by `setup freee` of this installation"):
        later.code_given(redirected_url="https://example.com/cb?code=c1&state=forged.0")
    assert later.code_given(code="c0de-two") == "c0de-two"


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
    with pytest.raises(SetupFailed, match="cannot listen") as caught:
        CallbackServer(LoopbackRedirect("127.0.0.1", server.port, "/callback"))
    assert f"port {server.port} is in use" in str(caught.value) and "--paste" in str(caught.value)


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
