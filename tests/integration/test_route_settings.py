"""The route table says what each route needs (``Route.admission``), and ``doctor`` trusts it to name the routes a
missing setting leaves answering 503 ``not_configured``: each handler is held to it here. Unset one setting at a
time; a route answers 503 ``not_configured`` exactly when the setting is its scheme's secret or
``HUBSPOT_PORTAL_ID`` (otherwise it goes on to refuse the unsigned request, 401)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from functions.app import ROUTES, Route, Services, create_app
from local.world import World, build_world
from sdk.store.sqlite import SQLiteStore
from sdk.usecases.doctor.routes_checks import route_checks
from tests.factories import RecordingQueue

SETTINGS = {
    "hubspot_client_secret": "route-settings-client-secret",
    "custom_code_secret": "route-settings-custom-secret",
}
UNSET = ("hubspot_client_secret", "custom_code_secret", "hubspot_portal_id")


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    w = build_world(SQLiteStore(tmp_path_factory.mktemp("routes") / "store.sqlite"), **SETTINGS)
    yield w
    w.close()


def call(world: World, route: Route, unset: str | None) -> Any:
    settings = world.settings.model_copy(update={unset: None} if unset else {})
    client = create_app(Services(world.context(settings=settings), RecordingQueue())).test_client()
    if route.method == "GET":
        return client.get(route.path, query_string={"objectType": "deal", "objectId": "1", "portalId": "1"})
    return client.post(route.path, data=b"{}", content_type="application/json")


def needs(route: Route, setting: str) -> bool:
    scheme = route.admission
    return scheme is not None and setting in (scheme.secret_env.lower(), "hubspot_portal_id")


@pytest.mark.parametrize("route", ROUTES, ids=lambda r: f"{r.method} {r.path}")
@pytest.mark.parametrize("setting", UNSET)
def test_a_route_answers_503_not_configured_exactly_for_the_settings_its_admission_names(
    world, route, setting
):
    answer = call(world, route, setting)
    not_configured = answer.status_code == 503 and (answer.get_json() or {}).get("error") == "not_configured"
    assert not_configured is needs(route, setting), (answer.status_code, answer.get_data(as_text=True))


@pytest.mark.parametrize("route", [r for r in ROUTES if r.admission is not None], ids=lambda r: r.path)
def test_with_every_setting_an_unsigned_request_is_refused_not_unconfigured(world, route):
    assert call(world, route, None).status_code == 401


@pytest.mark.parametrize("setting", UNSET)
def test_doctor_names_every_route_a_missing_setting_leaves_answering_503(world, setting):
    settings = world.settings.model_copy(update={setting: None})
    check_id = f"routes.{setting}"
    [found] = [r for r in route_checks(settings, ROUTES) if r.id == check_id]
    assert found.level.value == "error" and "503 not_configured" in found.message.en
    for route in ROUTES:
        assert (f"{route.method} {route.path}" in found.message.en) is needs(route, setting)
    assert setting.upper() in found.fix.en and setting.upper() in found.fix.ja
