"""What the store contract suites share: the instant, portal and deal they act on, and small factories."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from sdk.store import Claim, InvoiceRecord, OrphanInvoice, Store

NOW = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)
LEASE = timedelta(minutes=5)
PORTAL = 24681357
DEAL = "9001"


def claim(store: Store, token: str = "t1", now: datetime = NOW, deal: str = DEAL) -> Claim:  # noqa: S107
    return store.claim(PORTAL, deal, token, now, now + LEASE)


def invoice(invoice_id: int = 501, due_date: date | None = date(2026, 12, 31)) -> InvoiceRecord:
    return InvoiceRecord(
        invoice_id=invoice_id,
        invoice_number="INV-0000000501",
        invoice_url=f"https://invoice.secure.freee.co.jp/reports/invoices/{invoice_id}",
        partner_id=77,
        amount_net=100_000,
        amount_tax=10_000,
        amount_total=110_000,
        billing_date=date(2026, 11, 20),
        due_date=due_date,
    )


def created(store: Store, deal: str = DEAL) -> None:
    """A deal whose invoice exists and whose write-back is done (claim released)."""
    claim(store, "t-created", deal=deal)
    store.record_invoice(PORTAL, deal, "t-created", invoice(), NOW)
    store.record_written(PORTAL, deal, {"freee_invoice_id": "501"}, NOW, token="t-created")


def orphan(invoice_id: int = 601, deal: str = DEAL, portal: int = PORTAL) -> OrphanInvoice:
    return OrphanInvoice(
        portal_id=portal,
        deal_id=deal,
        invoice_id=invoice_id,
        invoice_number=f"INV-{invoice_id:010d}",
        partner_id=77,
        billing_date=date(2026, 11, 20),
        amount_total=110_000,
        found_at=NOW,
    )
