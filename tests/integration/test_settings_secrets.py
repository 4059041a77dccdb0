"""Settings on Lambda: secrets read at cold start from Secrets Manager (moto), named by ``SECRETS_ID``."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import pytest

from sdk.errors import SettingsError
from sdk.settings import SECRETS_ENV, load_settings

HUBSPOT = {
    "HUBSPOT_ACCESS_TOKEN": "pat-na1-0000",
    "HUBSPOT_CLIENT_SECRET": "client-secret-value",
    "CUSTOM_CODE_SECRET": "custom-code-value",
}
FREEE = {"FREEE_CLIENT_ID": "freee-id", "FREEE_CLIENT_SECRET": "freee-secret-value", "FREEE_COMPANY_ID": 42}


@pytest.fixture
def secrets(aws: None) -> Iterator[Any]:
    """A Secrets Manager client under moto; Powertools' cache is emptied before and after."""
    import boto3
    from aws_lambda_powertools.utilities import parameters

    parameters.clear_caches()
    yield boto3.client("secretsmanager")
    parameters.clear_caches()


def put(client: Any, name: str, value: Any) -> str:
    text = value if isinstance(value, str) else json.dumps(value)
    return str(client.create_secret(Name=name, SecretString=text)["ARN"])


def test_settings_come_from_the_secrets_named_by_secrets_id(secrets, monkeypatch):
    put(secrets, "hubspot-freee/ci/hubspot", HUBSPOT)
    freee_arn = put(secrets, "hubspot-freee/ci/freee", FREEE)
    monkeypatch.setenv(SECRETS_ENV, f"hubspot-freee/ci/hubspot, {freee_arn}")
    monkeypatch.setenv("STORAGE_URL", "dynamodb://hubspot-freee-ci")

    settings = load_settings()

    assert settings.hubspot_access_token is not None
    assert settings.hubspot_access_token.get_secret_value() == "pat-na1-0000"
    assert settings.custom_code_secret is not None
    assert settings.custom_code_secret.get_secret_value() == "custom-code-value"
    assert settings.freee_client_id == "freee-id"
    assert settings.freee_company_id == 42
    assert settings.storage_url == "dynamodb://hubspot-freee-ci"  # the rest still from the environment
    assert "pat-na1-0000" not in repr(settings)


def test_explicit_overrides_beat_secrets(secrets, monkeypatch):
    put(secrets, "s", {"FREEE_COMPANY_ID": 42})
    monkeypatch.setenv(SECRETS_ENV, "s")
    assert load_settings(freee_company_id=7).freee_company_id == 7


def test_a_setting_in_both_the_environment_and_a_secret_is_refused(secrets, monkeypatch):
    put(secrets, "hubspot-freee/ci/hubspot", HUBSPOT)
    monkeypatch.setenv(SECRETS_ENV, "hubspot-freee/ci/hubspot")
    monkeypatch.setenv("HUBSPOT_ACCESS_TOKEN", "from-the-environment")

    with pytest.raises(SettingsError) as raised:
        load_settings()

    message = str(raised.value)
    assert "HUBSPOT_ACCESS_TOKEN is also set in the environment" in message
    assert "hubspot-freee/ci/hubspot" in message
    assert "pat-na1-0000" not in message
    assert "from-the-environment" not in message


def test_every_problem_names_the_secret_and_key_but_no_value(secrets, monkeypatch):
    put(secrets, "a", {**FREEE, "HUBSPOT_ACESS_TOKEN": "typo-value", "FREEE_CLIENT_ID": {"nested": "x"}})
    put(secrets, "b", {"FREEE_CLIENT_SECRET": "second-copy"})
    put(secrets, "c", "not json: secret-text")
    monkeypatch.setenv(SECRETS_ENV, "a,b,c,missing")

    with pytest.raises(SettingsError) as raised:
        load_settings()

    problems = raised.value.problems
    assert any("'a': HUBSPOT_ACESS_TOKEN is not a setting" in p for p in problems)
    assert any("'a': FREEE_CLIENT_ID must be a string or a number" in p for p in problems)
    assert any("'b': FREEE_CLIENT_SECRET is also in secret 'a'" in p for p in problems)
    assert any("'c' is not a JSON object" in p for p in problems)
    assert any("'missing' could not be read" in p and "ResourceNotFound" in p for p in problems)
    text = str(raised.value)
    for value in ("typo-value", "second-copy", "secret-text", "freee-secret-value"):
        assert value not in text


def test_secrets_are_read_once_per_process(secrets, monkeypatch):
    put(secrets, "s", {"FREEE_COMPANY_ID": 1})
    monkeypatch.setenv(SECRETS_ENV, "s")
    assert load_settings().freee_company_id == 1
    secrets.put_secret_value(SecretId="s", SecretString=json.dumps({"FREEE_COMPANY_ID": 2}))
    assert load_settings().freee_company_id == 1  # cached (SECRETS_MAX_AGE_SECONDS): one read per cold start


def test_without_secrets_id_settings_import_no_aws_sdk():
    code = (
        "import sys; from sdk.settings import load_settings; load_settings(); "
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('boto3', 'botocore')))"
    )
    out = subprocess.run(  # noqa: S603 (our own interpreter and code)
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert out.stdout.strip() == "[]"
