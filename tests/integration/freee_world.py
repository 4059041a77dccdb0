"""The world the freee sandbox tests act in: a sandbox on a fake clock and a session that holds a valid token."""

from __future__ import annotations

from typing import Any

import requests

from sandbox.freee import FreeeSandbox, create_freee_sandbox
from sandbox.transport import WSGIAdapter
from sdk.clock import FakeClock

BASE = "http://freee.sandbox"
COMPANY = 1
CLIENT = {"client_id": "sandbox-client-id", "client_secret": "sandbox-client-secret"}
TODAY = "2026-11-25"


class World:
    """A sandbox on a fake clock, and a session mounted on it that holds a valid access token."""

    def __init__(self, **options: Any) -> None:
        self.clock = FakeClock()
        options.setdefault("rate_limit_per_minute", 10_000)
        options.setdefault("rate_limit_per_hour", 100_000)
        self.sandbox: FreeeSandbox = create_freee_sandbox(clock=self.clock, **options)
        self.http = self.session()
        self.http.headers["Authorization"] = f"Bearer {self.sandbox.issue_tokens()['access_token']}"

    def session(self) -> requests.Session:
        session = requests.Session()
        session.mount(BASE, WSGIAdapter(self.sandbox.app))
        return session

    def get(self, path: str, **params: Any) -> requests.Response:
        return self.http.get(f"{BASE}{path}", params={"company_id": COMPANY, **params})

    def post(self, path: str, body: Any) -> requests.Response:
        return self.http.post(f"{BASE}{path}", json=body)

    def token(self, **form: str) -> requests.Response:
        return self.http.post(f"{BASE}/public_api/token", data={**CLIENT, **form})

    def partner(
        self, name: str = "株式会社サンプル商事", code: str | None = "HS-1", **extra: Any
    ) -> dict[str, Any]:
        body = {"company_id": COMPANY, "name": name, **({"code": code} if code else {}), **extra}
        response = self.post("/api/1/partners", body)
        assert response.status_code == 201, response.text
        return response.json()["partner"]

    def invoice_body(
        self, partner_id: int, lines: list[dict[str, Any]] | None = None, **extra: Any
    ) -> dict[str, Any]:
        return {
            "company_id": COMPANY,
            "billing_date": TODAY,
            "payment_date": "2026-12-31",
            "tax_entry_method": "out",
            "tax_fraction": "omit",
            "withholding_tax_entry_method": "out",
            "partner_id": partner_id,
            "partner_title": "御中",
            "lines": lines or [item("導入支援", 1, "100000", 10)],
            **extra,
        }

    def invoice(
        self, partner_id: int, lines: list[dict[str, Any]] | None = None, **extra: Any
    ) -> dict[str, Any]:
        response = self.post("/iv/invoices", self.invoice_body(partner_id, lines, **extra))
        assert response.status_code == 201, response.text
        return response.json()["invoice"]


def item(description: str, quantity: Any, unit_price: str, tax_rate: int, **extra: Any) -> dict[str, Any]:
    return {
        "type": "item",
        "description": description,
        "quantity": quantity,
        "unit_price": unit_price,
        "tax_rate": tax_rate,
        **extra,
    }


def messages(response: requests.Response) -> list[str]:
    return [m for error in response.json()["errors"] for m in error["messages"]]
