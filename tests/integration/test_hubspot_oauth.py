"""A public app's OAuth token against the HubSpot sandbox on loopback, on both stores: seeded from
HUBSPOT_REFRESH_TOKEN, refreshed before it expires by one worker at a time, refreshed once on a 401, and a revoked
refresh token said plainly; a private app's token works as it always did."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from datetime import timedelta

import pytest

from sandbox.hubspot import HubSpotSandbox, create_hubspot_sandbox
from sandbox.transport import ServedApp, serve
from sdk.clock import FakeClock
from sdk.errors import SettingsError
from sdk.hubspot import CallCounter, HubSpotClient, HubSpotDisconnected, HubSpotTokenRefused
from sdk.hubspot.tokens import REFRESH_BEFORE_SECONDS, fingerprint
from sdk.settings import Settings, load_settings
from sdk.store import Store

PRIVATE_TOKEN = "private-app-token"
CLIENT_ID = "oauth-client-id"
CLIENT_SECRET = "oauth-client-secret"


class FrozenClock(FakeClock):
    """Time moves only when a test advances it; a worker waiting for another's refresh really waits."""

    def sleep(self, seconds: float) -> None:
        time.sleep(seconds)


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock()


def make_box(clock: FakeClock, **options: object) -> HubSpotSandbox:
    return create_hubspot_sandbox(
        clock=clock,
        access_token=PRIVATE_TOKEN,
        client_id=CLIENT_ID,
        client_secret=CLIENT_SECRET,
        **options,  # type: ignore[arg-type]
    )


@pytest.fixture
def box(clock: FrozenClock) -> Iterator[HubSpotSandbox]:
    sandbox = make_box(clock)
    yield sandbox
    sandbox.close()


@pytest.fixture
def served(box: HubSpotSandbox) -> Iterator[ServedApp]:
    with serve(box.app) as app:
        yield app


def public_app(served: ServedApp, refresh_token: str, **more: object) -> Settings:
    return load_settings(
        hubspot_api_base=served.url,
        hubspot_client_id=CLIENT_ID,
        hubspot_client_secret=CLIENT_SECRET,
        hubspot_refresh_token=refresh_token,
        **more,
    )


def client_for(settings: Settings, store: Store, clock: FakeClock, **options: object) -> HubSpotClient:
    return HubSpotClient.from_settings(
        settings,
        clock=clock,
        token_store=store.hubspot_tokens,
        **options,  # type: ignore[arg-type]
    )


def statuses(box: HubSpotSandbox, path: str = "/crm/v3/pipelines/deals") -> list[int]:
    return [call.status for call in box.api_calls if call.path == path]


# -- a private app: as before --------------------------------------------------------------------------------------


def test_a_private_app_token_works_unchanged_and_touches_no_token_row(served, box, store, clock):
    settings = load_settings(hubspot_api_base=served.url, hubspot_access_token=PRIVATE_TOKEN)
    client = client_for(settings, store, clock)
    assert client.tokens is None
    assert client.read_pipelines()
    clock.advance(24 * 3600)  # a private app's token never expires
    assert client.read_pipelines(refresh=True)
    assert store.hubspot_tokens.load_token() is None
    assert box.token_calls == {}
    assert store.tokens.load_token() is None  # nor freee's


# -- a public app --------------------------------------------------------------------------------------------------


def test_the_configured_refresh_token_seeds_the_row_and_one_refresh_serves_many_calls(
    served, box, store, clock
):
    seed = box.install_app()
    client = client_for(public_app(served, seed), store, clock)
    assert client.read_pipelines()
    assert client.read_account_details().portal_id == box.portal_id  # through the ApiClient itself
    assert client.read_pipelines(refresh=True)
    assert box.token_calls == {"refresh_token": 1}
    row = store.hubspot_tokens.load_token()
    assert row is not None and row.tokens.access_token.startswith("sandbox-oauth-")
    assert row.tokens.access_expires_at == clock.now() + timedelta(seconds=1800)
    assert row.tokens.origin == fingerprint(seed) and row.tokens.refresh_token == seed
    assert 401 not in statuses(box)


def test_a_token_nearing_expiry_is_refreshed_before_hubspot_refuses_it(served, box, store, clock):
    client = client_for(public_app(served, box.install_app()), store, clock)
    client.read_pipelines()
    first = store.hubspot_tokens.load_token()
    clock.advance(1800 - REFRESH_BEFORE_SECONDS - 1)  # still more than five minutes to go
    client.read_pipelines(refresh=True)
    assert box.token_calls == {"refresh_token": 1}
    clock.advance(2)  # under five minutes left: refreshed now, while the old one still works
    client.read_pipelines(refresh=True)
    assert box.token_calls == {"refresh_token": 2}
    row = store.hubspot_tokens.load_token()
    assert first is not None and row is not None
    assert row.version == first.version + 1 and row.tokens.access_token != first.tokens.access_token
    assert 401 not in statuses(box)


def test_two_clients_refresh_once_and_share_the_token(served, box, store, clock):
    settings = public_app(served, box.install_app())
    clients = [client_for(settings, store, clock) for _ in range(2)]
    clients[0].read_pipelines()
    clock.advance(1800 - 60)  # both see a token about to expire
    barrier = threading.Barrier(len(clients))
    errors: list[BaseException] = []

    def work(client: HubSpotClient) -> None:
        try:
            barrier.wait()
            client.read_pipelines(refresh=True)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(c,)) for c in clients]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert box.token_calls == {"refresh_token": 2}  # the first use, then one refresh for both
    row = store.hubspot_tokens.load_token()
    assert row is not None and row.version == 3  # seed, first token, the one refresh
    assert 401 not in statuses(box)


def test_a_401_refreshes_once_and_tries_again(served, box, store, clock):
    metrics = CallCounter()
    client = client_for(public_app(served, box.install_app()), store, clock, metrics=metrics)
    client.read_pipelines()
    box.expire_access_tokens()  # HubSpot ends the token before the time it gave
    assert client.read_pipelines(refresh=True)
    assert box.token_calls == {"refresh_token": 2}
    assert statuses(box) == [200, 401, 200]
    assert metrics.count("pipelines.get_all") == 3  # the refused call counts: it was made


def test_a_401_after_the_refresh_is_not_refreshed_again(served, box, store, clock, monkeypatch):
    client = client_for(public_app(served, box.install_app()), store, clock)
    client.read_pipelines()
    monkeypatch.setattr(box.oauth, "check", lambda token: "The OAuth token used to make this call expired.")
    with pytest.raises(Exception, match="401"):
        client.read_pipelines(refresh=True)
    assert box.token_calls == {"refresh_token": 2}  # one refresh for the call, not a loop
    assert statuses(box)[-2:] == [401, 401]


def test_a_revoked_refresh_token_disconnects_with_the_fix_and_a_new_one_reconnects(served, box, store, clock):
    seed = box.install_app()
    client = client_for(public_app(served, seed), store, clock)
    client.read_pipelines()
    box.uninstall_app()
    clock.advance(1800)
    with pytest.raises(HubSpotDisconnected) as raised:
        client.read_pipelines(refresh=True)
    message = str(raised.value)
    assert "BAD_REFRESH_TOKEN" in message and "HUBSPOT_REFRESH_TOKEN" in message
    assert "HubSpot接続が切れています" in message and "再インストール" in message  # ja + en, naming the fix
    assert seed not in message and CLIENT_SECRET not in message
    row = store.hubspot_tokens.load_token()
    assert row is not None and row.disconnected
    with pytest.raises(HubSpotDisconnected):  # at once: HubSpot is not asked again
        client.read_pipelines(refresh=True)
    assert box.token_calls == {"refresh_token": 2}

    again = client_for(public_app(served, box.install_app()), store, clock)  # installed again, new token set
    assert again.read_pipelines(refresh=True)
    row = store.hubspot_tokens.load_token()
    assert row is not None and not row.disconnected


def test_a_rotated_refresh_token_is_kept(served, store, clock):
    rotating = make_box(clock, rotate_refresh_tokens=True)
    with serve(rotating.app) as app:
        seed = rotating.install_app()
        client = client_for(public_app(app, seed), store, clock)
        client.read_pipelines()
        row = store.hubspot_tokens.load_token()
        assert row is not None and row.tokens.refresh_token != seed  # HubSpot answered another one
        clock.advance(1800)
        assert client.read_pipelines(refresh=True)  # refreshed with the stored one: the seed is spent
        assert rotating.token_calls == {"refresh_token": 2}
    rotating.close()


def test_wrong_app_credentials_name_the_settings_and_keep_the_row(served, box, store, clock):
    settings = public_app(served, box.install_app()).model_copy(update={"hubspot_client_id": "someone-else"})
    client = client_for(settings, store, clock)
    with pytest.raises(HubSpotTokenRefused) as raised:
        client.read_pipelines()
    assert "BAD_CLIENT_ID" in str(raised.value) and "HUBSPOT_CLIENT_ID" in str(raised.value)
    row = store.hubspot_tokens.load_token()
    assert row is not None and not row.disconnected and row.claim_holder is None  # not the token's fault


def test_a_public_app_needs_its_id_secret_and_the_store(served, store, clock):
    with pytest.raises(SettingsError, match="hubspot_client_id") as raised:
        HubSpotClient.from_settings(
            load_settings(hubspot_api_base=served.url, hubspot_refresh_token="r"),
            token_store=store.hubspot_tokens,
        )
    assert "HUBSPOT_CLIENT_ID" in str(raised.value) and "HUBSPOT_CLIENT_SECRET" in str(raised.value)
    with pytest.raises(ValueError, match="hubspot_tokens"):
        HubSpotClient.from_settings(public_app(served, "r"), clock=clock)
    with pytest.raises(SettingsError, match="HUBSPOT_REFRESH_TOKEN"):  # neither kind of app
        HubSpotClient.from_settings(load_settings(hubspot_api_base=served.url))
