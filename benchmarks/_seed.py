"""Seeding for benchmarks: freee invoices made straight in the freee sandbox (no limits, no worker) with the ledger
rows the worker would have left, for benchmarks that start from many invoiced deals (payment sync, sweep)."""

from __future__ import annotations

import uuid
from datetime import date, timedelta
from typing import Any

import requests

from local.world import FREEE_BASE, World
from sandbox import PORTAL_ID
from sandbox.transport import WSGIAdapter
from sdk.store import Intent, InvoiceRecord

UNLIMITED = ((10**9, 60.0), (10**9, 3600.0))


def freee_session(world: World) -> requests.Session:
    """A session on the in-process freee sandbox, authorised, with its rate limits lifted for seeding."""
    box = world.freee_box
    box.state.limiter.windows = UNLIMITED
    session = requests.Session()
    session.mount(FREEE_BASE, WSGIAdapter(box.app))
    session.headers["Authorization"] = f"Bearer {box.issue_tokens()['access_token']}"
    return session


def invoiced_deal(
    world: World,
    session: requests.Session,
    *,
    deal: str,
    company: str,
    partner_id: int,
    billing: date,
    unit_price: int,
    written: dict[str, str] | None = None,
) -> dict[str, Any]:
    """The deal's invoice in freee (with its marker, due 30 days after billing) and its ledger row as the worker
    leaves it (``written``: what it wrote on the deal); returns freee's invoice."""
    body = {
        "company_id": 1,
        "billing_date": billing.isoformat(),
        "payment_date": (billing + timedelta(days=30)).isoformat(),
        "tax_entry_method": "out",
        "tax_fraction": "omit",
        "withholding_tax_entry_method": "out",
        "partner_title": "御中",
        "partner_id": partner_id,
        "memo": f"[hubspot-freee portal={PORTAL_ID} deal={deal}]",
        "lines": [
            {
                "type": "item",
                "description": "サービス",
                "quantity": 1,
                "unit_price": str(unit_price),
                "tax_rate": 10,
            }
        ],
    }
    answer = session.post(f"{FREEE_BASE}/iv/invoices", json=body, timeout=10)
    answer.raise_for_status()
    invoice: dict[str, Any] = answer.json()["invoice"]
    now, token = world.clock.now(), uuid.uuid4().hex
    world.store.claim(PORTAL_ID, deal, token, now, now + timedelta(minutes=5))
    world.store.note_intent(PORTAL_ID, deal, token, Intent(company, partner_id, billing))
    record = InvoiceRecord(
        invoice["id"],
        invoice["invoice_number"],
        invoice["report_url"],
        partner_id,
        int(invoice["amount_excluding_tax"]),
        int(invoice["amount_tax"]),
        int(invoice["total_amount"]),
        billing,
        billing + timedelta(days=30),
    )
    world.store.record_invoice(PORTAL_ID, deal, token, record, now)
    world.store.record_written(PORTAL_ID, deal, written or {}, now, token=token)
    return invoice


def companies_with_partners(world: World, count: int, prefix: str) -> list[tuple[str, int]]:
    """``count`` HubSpot companies, each linked to its freee partner (code ``HS-{company}``)."""
    companies = []
    for n in range(count):
        company = world.hubspot_box.create_company(name=f"{prefix}{n:04d}")
        partner = world.freee_box.add_partner(f"{prefix}{n:04d}", code=f"HS-{company}")
        world.store.link_partner(PORTAL_ID, company, partner["id"])
        companies.append((company, partner["id"]))
    return companies
