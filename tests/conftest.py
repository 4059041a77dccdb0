from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from sdk.settings import CONFIG_ENV, Settings, load_settings
from sdk.store import Store

TODAY = date(2026, 11, 25)


@pytest.fixture(autouse=True)
def isolated_settings(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No test reads the developer's environment or a hubspot-freee.toml lying around."""
    import os

    settings_names = {name.upper() for name in Settings.model_fields}
    for name in list(os.environ):
        base = name.split("__", 1)[0]
        if base in settings_names or name.startswith(("HUBSPOT_", "FREEE_")):
            monkeypatch.delenv(name, raising=False)
    monkeypatch.delenv(CONFIG_ENV, raising=False)
    monkeypatch.delenv("SECRETS_ID", raising=False)  # no secrets read from anyone's AWS account
    monkeypatch.chdir(tmp_path)  # so no ./hubspot-freee.toml of the developer's is read
    from sdk.log import set_level

    # one logger per process: a CLI run in an earlier test set its level for that command (quiet, --verbose,
    # LOG_LEVEL); each test starts from the environment's (INFO), as a process does
    set_level(None)


@pytest.fixture
def settings() -> Settings:
    return load_settings()


# --- stores: every test that asks for ``store`` runs against each adapter of the Store port -----------------
# DynamoDB runs under moto. One boto3 resource is created inside the mock and shared by the store (and so by
# every thread a test starts), so all of them see one mocked table. DynamoDB applies each request to an item
# atomically; moto handles requests from several threads without a lock, so the ``aws`` fixture serialises
# them to give that guarantee back. The adapter's own races (read, decide, conditional write) stay as they are.

TABLE = "hubspot-freee-test"


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Fake credentials and region, nothing of the developer's AWS setup, and moto intercepting every call."""
    from moto import mock_aws
    from moto.dynamodb.responses import DynamoHandler

    one_request_at_a_time = threading.Lock()
    handle = DynamoHandler.call_action

    def atomic_call_action(self: DynamoHandler) -> Any:
        with one_request_at_a_time:
            return handle(self)

    monkeypatch.setattr(DynamoHandler, "call_action", atomic_call_action)

    for name in ("AWS_PROFILE", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_DYNAMODB", "AWS_CONFIG_FILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_SESSION_TOKEN", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "ap-northeast-1")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent")
    with mock_aws():
        yield


@pytest.fixture(scope="session")
def botocore_session() -> Any:
    """One botocore session for the whole run: it loads the DynamoDB service model once (0.15 s a resource
    otherwise). Credentials and region are read when the first client is made, inside the ``aws`` fixture."""
    import botocore.session

    # moto adds its interception hook to botocore's built-in handlers when it is imported, and a session copies
    # those handlers when it is made: import it first, or a session made before any test imported moto would
    # send its calls to the real AWS endpoint
    import moto  # noqa: F401

    return botocore.session.Session()


@pytest.fixture
def dynamodb(aws: None, botocore_session: Any) -> Any:
    """A boto3 DynamoDB resource on moto."""
    import boto3

    return boto3.Session(botocore_session=botocore_session).resource("dynamodb")


@pytest.fixture(params=["sqlite", "dynamodb"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Store:
    if request.param == "sqlite":
        from sdk.store.sqlite import SQLiteStore

        return SQLiteStore(tmp_path / "store.sqlite")
    from sdk.store.dynamodb import DynamoStore, create_table

    resource = request.getfixturevalue("dynamodb")
    create_table(resource, TABLE)
    return DynamoStore(TABLE, resource=resource)
