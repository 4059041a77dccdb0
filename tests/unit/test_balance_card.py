"""The app card's data (``balance_card``) from ledger rows put through the store's own methods."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from sdk.settings import Settings, load_settings
from sdk.store import Intent, InvoiceRecord
from sdk.store.sqlite import SQLiteStore
from sdk.usecases.balance import NO_INVOICES, balance_card, parse_object_type

PORTAL = 24681357
COMPANY = "9001"
TODAY = date(2026, 12, 25)
NOW = datetime(2026, 12, 25, 1, 0, tzinfo=UTC)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SQLiteStore]:
    s = SQLiteStore(tmp_path / "ledger.sqlite")
    yield s
    close = getattr(s, "close", None)
    if close is not None:
        close()


@pytest.fixture
def settings() -> Settings:
    return load_settings()


def invoiced(
    store: SQLiteStore,
    deal: str,
    *,
    total: int = 110_000,
    due: date | None = date(2026, 12, 20),
    company: str = COMPANY,
    written: dict[str, str] | None = None,
    portal: int = PORTAL,
) -> None:
    """claim → note the company → record the invoice → record what was written to the deal."""
    token = f"t-{deal}"
    claim = store.claim(portal, deal, token, NOW, NOW + timedelta(minutes=5))
    assert claim.granted
    store.note_intent(portal, deal, token, Intent(company, 77, date(2026, 11, 20)))
    record = InvoiceRecord(
        invoice_id=int(deal),
        invoice_number=f"INV-{deal}",
        invoice_url=f"https://invoice.secure.freee.co.jp/reports/invoices/{deal}",
        partner_id=77,
        amount_net=total * 10 // 11,
        amount_tax=total - total * 10 // 11,
        amount_total=total,
        billing_date=date(2026, 11, 20),
        due_date=due,
    )
    store.record_invoice(portal, deal, token, record, NOW)
    store.record_written(portal, deal, written or {}, NOW, token=token)


def paid_state(
    status: str, paid: int, outstanding: int, paid_date: str = "", days: int = 0
) -> dict[str, str]:
    return {
        "freee_payment_status": status,
        "freee_amount_paid": str(paid),
        "freee_amount_outstanding": str(outstanding),
        "freee_paid_date": paid_date,
        "freee_days_overdue": str(days),
    }


def card(
    store: SQLiteStore, settings: Settings, object_type: str, object_id: str, today: date = TODAY
) -> dict:
    return balance_card(
        store,
        settings,
        portal_id=PORTAL,
        object_type=object_type,  # type: ignore[arg-type]
        object_id=object_id,
        today=today,
    )


def test_partly_paid_deal_shows_its_invoice_amounts_and_days_overdue(store, settings):
    invoiced(store, "101", written=paid_state("overdue", 50_000, 60_000, days=3))

    answer = card(store, settings, "deal", "101")

    assert answer["hasInvoices"] is True
    assert answer["message"] is None
    assert answer["invoice"] == {
        "dealId": "101",
        "invoiceNumber": "INV-101",
        "url": "https://invoice.secure.freee.co.jp/reports/invoices/101",
        "status": "overdue",
        "amountInvoiced": 110_000,
        "amountPaid": 50_000,
        "amountOutstanding": 60_000,
        "dueDate": "2026-12-20",
        "daysOverdue": 5,  # moved with the calendar since the sync wrote 3
        "paidDate": None,
    }


def test_deal_not_synced_yet_is_unpaid_for_its_whole_amount_until_due(store, settings):
    invoiced(store, "102")

    answer = card(store, settings, "deal", "102", today=date(2026, 12, 1))

    invoice = answer["invoice"]
    assert (invoice["status"], invoice["amountOutstanding"], invoice["amountPaid"]) == ("unpaid", 110_000, 0)
    assert invoice["daysOverdue"] == 0


def test_unpaid_deal_past_its_due_date_shows_overdue_before_the_next_sync(store, settings):
    invoiced(store, "103", written=paid_state("unpaid", 0, 110_000))

    assert card(store, settings, "deal", "103")["invoice"]["status"] == "overdue"


def test_paid_deal_is_never_overdue(store, settings):
    invoiced(store, "104", written=paid_state("paid", 110_000, 0, paid_date="2026-12-22"))

    invoice = card(store, settings, "deal", "104")["invoice"]

    assert (invoice["status"], invoice["amountOutstanding"], invoice["daysOverdue"]) == ("paid", 0, 0)
    assert invoice["paidDate"] == "2026-12-22"


def test_cancelled_invoice_shows_cancelled_with_no_balance(store, settings):
    invoiced(store, "105", written=paid_state("unpaid", 0, 110_000))
    store.mark_cancelled(PORTAL, "105", NOW)

    invoice = card(store, settings, "deal", "105")["invoice"]

    assert (invoice["status"], invoice["amountOutstanding"]) == ("cancelled", 0)


@pytest.mark.parametrize("object_type", ["deal", "company"])
def test_unknown_record_answers_no_invoices_yet(store, settings, object_type):
    answer = card(store, settings, object_type, "424242")

    assert answer["hasInvoices"] is False
    assert answer["message"] == NO_INVOICES
    assert answer["objectType"] == object_type and answer["objectId"] == "424242"


def test_deal_whose_invoice_failed_has_no_invoices_yet(store, settings):
    token = "t-106"
    store.claim(PORTAL, "106", token, NOW, NOW + timedelta(minutes=5))
    from sdk.store import Failure, LedgerState

    store.record_failure(PORTAL, "106", token, Failure(LedgerState.INVALID, "no company"), NOW)

    assert card(store, settings, "deal", "106")["hasInvoices"] is False


def test_company_rolls_up_its_invoices_with_overdue_first(store, settings):
    invoiced(store, "201", due=date(2027, 1, 31), written=paid_state("unpaid", 0, 110_000))
    invoiced(store, "202", due=date(2026, 12, 20), written=paid_state("partially_paid", 10_000, 100_000))
    invoiced(
        store, "203", due=date(2026, 11, 30), written=paid_state("overdue", 0, 55_000, days=10), total=55_000
    )
    invoiced(store, "204", written=paid_state("paid", 110_000, 0, paid_date="2026-12-10"))
    invoiced(store, "205", company="other", written=paid_state("overdue", 0, 999, days=99), total=999)
    invoiced(store, "206", company=COMPANY, portal=PORTAL + 1, written=paid_state("unpaid", 0, 1))

    answer = card(store, settings, "company", COMPANY)

    assert answer["hasInvoices"] is True
    assert answer["summary"] == {
        "outstandingTotal": 265_000,
        "overdueTotal": 155_000,
        "overdueInvoiceCount": 2,
        "oldestOverdueDays": 25,
        "lastPaymentDate": "2026-12-10",
        "risk": "overdue",
    }
    listed = answer["invoices"]
    assert [i["invoiceNumber"] for i in listed] == ["INV-203", "INV-202", "INV-201", "INV-204"]
    assert [i["status"] for i in listed] == ["overdue", "overdue", "unpaid", "paid"]
    assert listed[0] == {
        "dealId": "203",
        "invoiceNumber": "INV-203",
        "url": "https://invoice.secure.freee.co.jp/reports/invoices/203",
        "status": "overdue",
        "amountOutstanding": 55_000,
        "dueDate": "2026-11-30",
        "daysOverdue": 25,
    }


def test_company_with_everything_paid_has_no_risk(store, settings):
    invoiced(store, "301", written=paid_state("paid", 110_000, 0, paid_date="2026-12-01"))

    summary = card(store, settings, "company", COMPANY)["summary"]

    assert (summary["outstandingTotal"], summary["overdueInvoiceCount"], summary["risk"]) == (0, 0, "none")


def test_unknown_object_type_is_refused(store, settings):
    with pytest.raises(ValueError, match="deal or company"):
        card(store, settings, "contact", "1")


@pytest.mark.parametrize(
    ("raw", "parsed"),
    [
        ("deal", "deal"),
        ("DEALS", "deal"),
        (" Company ", "company"),
        ("companies", "company"),
        ("0-3", None),
        (None, None),
    ],
)
def test_object_type_names_accepted_from_the_query(raw, parsed):
    assert parse_object_type(raw) == parsed
