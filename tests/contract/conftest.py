"""The vendors' own OpenAPI documents, loaded once per test session (the accounting one takes seconds)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest
import requests
from openapi_core import Config, OpenAPI
from openapi_core.testing import MockRequest, MockResponse

SPECS = Path(__file__).resolve().parents[2] / "specs" / "freee"  # in the repository: specs/README.md
HOST = "https://api.freee.co.jp"  # the documents' server; the invoice API's is HOST + "/iv"


def _spec(name: str) -> OpenAPI:
    path = SPECS / name
    if not path.is_file():  # pragma: no cover - the specs are tracked in specs/freee
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


def _problem_json(value: bytes, **parameters: str) -> Any:
    return json.loads(value)


def _variant(api: OpenAPI, *, strict: bool) -> OpenAPI:
    """The session's document with ``application/problem+json`` readable (freee請求書 answers errors in it)."""
    return OpenAPI(
        api.spec,
        config=Config(
            spec_validator_cls=None,  # already checked when the session loaded it
            extra_media_type_deserializers={"application/problem+json": _problem_json},
            additional_properties_default_policy="forbid" if strict else "allow",
        ),
    )


@dataclass
class Contract:
    lenient: dict[str, OpenAPI]
    strict: dict[str, OpenAPI]

    def mocks(
        self, response: requests.Response, as_path: str | None = None
    ) -> tuple[MockRequest, MockResponse]:
        sent = response.request
        url = urlsplit(sent.url or "")
        body = sent.body.encode() if isinstance(sent.body, str) else sent.body
        mock_request = MockRequest(
            HOST,
            sent.method or "GET",
            as_path or url.path,
            args=dict(parse_qsl(url.query)),
            headers=dict(sent.headers),
            data=body or None,
            content_type=sent.headers.get("Content-Type", "application/json"),
        )
        mock_response = MockResponse(
            data=response.content,
            status_code=response.status_code,
            content_type=response.headers["Content-Type"],
        )
        return mock_request, mock_response

    def check(self, response: requests.Response, *, as_path: str | None = None) -> Any:
        """Validate the answer (and, for a success, the request and the answer strictly); return its JSON."""
        mock_request, mock_response = self.mocks(response, as_path)
        api = "invoice" if mock_request.path.startswith("/iv/") else "accounting"
        self.lenient[api].validate_response(mock_request, mock_response)
        if response.status_code < 300:
            self.strict[api].validate_response(mock_request, mock_response)
            if as_path is None:
                self.lenient[api].validate_request(mock_request)
        assert response.headers["X-Freee-Request-ID"]
        return response.json()


@pytest.fixture(scope="module")
def contract(invoice_api: OpenAPI, accounting_api: OpenAPI) -> Contract:
    apis = {"invoice": invoice_api, "accounting": accounting_api}
    return Contract(
        lenient={k: _variant(v, strict=False) for k, v in apis.items()},
        strict={k: _variant(v, strict=True) for k, v in apis.items()},
    )
