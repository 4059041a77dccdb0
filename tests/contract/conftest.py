"""The vendors' own OpenAPI documents, loaded once per test session (the accounting one takes seconds)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from openapi_core import OpenAPI
from openapi_core.testing import MockRequest

SPECS = Path(__file__).resolve().parents[2].parent / "shared" / "specs" / "freee"


def _spec(name: str) -> OpenAPI:
    path = SPECS / name
    if not path.is_file():  # pragma: no cover - the specs ship beside the repository
        pytest.fail(f"vendor spec {path} is missing: the contract cannot be checked")
    return OpenAPI.from_file_path(str(path))


@pytest.fixture(scope="session")
def invoice_api() -> OpenAPI:
    return _spec("invoice-api.yml")


@pytest.fixture(scope="session")
def accounting_api() -> OpenAPI:
    return _spec("accounting-api.json")


def freee_request(method: str, path: str, body: dict[str, object]) -> MockRequest:
    return MockRequest(
        "https://api.freee.co.jp", method, path, data=json.dumps(body), content_type="application/json"
    )
