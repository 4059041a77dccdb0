"""The app card's data (``balance_card``) from ledger rows put through the store's own methods: invoices with their
amounts and standing, deals that cannot be invoiced with each reason, warnings, company rollups, keyed reads."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from sdk.errors import Problem
from sdk.settings import Settings, load_settings
from sdk.store import Failure, Intent, InvoiceRecord, LedgerState
from sdk.store.sqlite import SQLiteStore
from sdk.usecases.balance import (
    BEING_CREATED,
    CANNOT_INVOICE,
    NO_INVOICES,
    NOT_CREATED_YET,
    balance_card,
    parse_object_type,
)

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
    store.record_invoice(portal, deal, token, record(deal, total=total, due=due), NOW)
    store.record_written(portal, deal, written or {}, NOW, token=token)


def record(deal: str, *, total: int = 110_000, due: date | None = date(2026, 12, 20)) -> InvoiceRecord:
    return InvoiceRecord(
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
        "unit": "101",
        "period": None,
        "label": "",
        "consolidated": False,
        "invoiceNumber": "INV-101",
        "billingDate": "2026-11-20",
        "url": "https://invoice.secure.freee.co.jp/reports/invoices/101",
        "status": "overdue",
        "amountInvoiced": 110_000,
        "amountPaid": 50_000,
        "amountOutstanding": 60_000,
        "dueDate": "2026-12-20",
        "daysOverdue": 5,  # moved with the calendar since the sync wrote 3
        "paidDate": None,
    }
    assert answer["invoices"] == [answer["invoice"]]  # one invoice: the deal is that invoice
    assert answer["summary"] == {
        "status": "overdue",
        "invoiceCount": 1,
        "amountInvoiced": 110_000,
        "amountPaid": 50_000,
        "amountOutstanding": 60_000,
        "dueDate": "2026-12-20",
        "daysOverdue": 5,
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


def failed(
    store: SQLiteStore,
    deal: str,
    state: LedgerState,
    reasons: tuple[Problem, ...],
    *,
    company: str | None = None,
    warnings: tuple[Problem, ...] = (),
) -> None:
    token = f"t-{deal}"
    assert store.claim(PORTAL, deal, token, NOW, NOW + timedelta(minutes=5)).granted
    if company is not None:
        store.note_intent(PORTAL, deal, token, Intent(company, 77, date(2026, 11, 20), warnings))
    failure = Failure(state, "FreeeServerError: freee answered 503 to POST /iv/invoices", reasons=reasons)
    store.record_failure(PORTAL, deal, token, failure, NOW)


NO_COMPANY = Problem("deal.company_missing", "associations.company", "会社がありません。", "No company.")
NO_NAME = Problem("deal.name_missing", "dealname", "取引名が空です。", "The deal has no name.")
FREEE_DOWN = Problem("freee.unavailable", "freee", "freeeが利用できませんでした。", "freee was unavailable.")
MISMATCH = Problem("deal.amount_mismatch", "amount", "金額が一致しません。", "The amounts differ.")


def test_deal_that_cannot_be_invoiced_shows_each_reason_instead_of_no_invoices_yet(store, settings):
    failed(store, "106", LedgerState.INVALID, (NO_COMPANY, NO_NAME))

    answer = card(store, settings, "deal", "106")

    assert answer["hasInvoices"] is False
    assert answer["state"] == "invalid"
    assert answer["message"] == CANNOT_INVOICE != NO_INVOICES
    assert answer["reasons"] == [NO_COMPANY.as_dict(), NO_NAME.as_dict()]
    assert answer["invoice"] is None


def test_deal_whose_attempt_failed_shows_why_in_a_rep_s_words_not_the_exception(store, settings):
    failed(store, "107", LedgerState.FAILED, (FREEE_DOWN,), company=COMPANY)

    answer = card(store, settings, "deal", "107")

    assert (answer["state"], answer["message"]) == ("failed", NOT_CREATED_YET)
    assert answer["reasons"] == [FREEE_DOWN.as_dict()]
    assert "FreeeServerError" not in str(answer) and "POST /" not in str(answer)


def test_a_row_kept_before_reasons_were_says_where_to_read_them(store, settings):
    failed(store, "108", LedgerState.INVALID, ())

    assert [r["code"] for r in card(store, settings, "deal", "108")["reasons"]] == ["deal.invalid"]


def test_deal_being_invoiced_says_so(store, settings):
    assert store.claim(PORTAL, "109", "t-109", NOW, NOW + timedelta(minutes=5)).granted

    answer = card(store, settings, "deal", "109")

    assert (answer["hasInvoices"], answer["state"], answer["message"]) == (False, "creating", BEING_CREATED)
    assert answer["reasons"] == []


def test_invoiced_deal_shows_what_validation_warned_about(store, settings):
    token = "t-110"
    assert store.claim(PORTAL, "110", token, NOW, NOW + timedelta(minutes=5)).granted
    store.note_intent(PORTAL, "110", token, Intent(COMPANY, 77, date(2026, 11, 20), (MISMATCH,)))
    store.record_invoice(PORTAL, "110", token, record("110"), NOW)
    store.record_written(PORTAL, "110", {}, NOW, token=token)

    answer = card(store, settings, "deal", "110")

    assert answer["hasInvoices"] is True
    assert answer["warnings"] == [MISMATCH.as_dict()]
    assert answer["reasons"] == []


def test_company_lists_its_deals_that_cannot_be_invoiced_with_why(store, settings):
    invoiced(store, "111", written=paid_state("unpaid", 0, 110_000))
    failed(store, "112", LedgerState.FAILED, (FREEE_DOWN,), company=COMPANY)
    failed(store, "113", LedgerState.FAILED, (FREE_DOWN_ELSEWHERE,), company="other")

    answer = card(store, settings, "company", COMPANY)

    assert [i["dealId"] for i in answer["invoices"]] == ["111"]
    assert answer["notInvoiced"] == [{"dealId": "112", "state": "failed", "reasons": [FREEE_DOWN.as_dict()]}]


FREE_DOWN_ELSEWHERE = replace(FREEE_DOWN, ja="別の会社", en="another company")


def test_a_partly_paid_invoice_gives_the_company_its_last_payment_date(store, settings):
    """The payment sync writes the latest payment of any invoice to the company, a partial one included (the deal
    has no paid date then): the card shows the same date, from what the sync kept on the invoice."""
    invoiced(store, "114", written=paid_state("partially_paid", 10_000, 100_000))
    row = store.get_ledger(PORTAL, "114")
    assert row is not None and row.invoice is not None
    store.record_written(
        PORTAL, "114", {}, NOW, invoice=replace(row.invoice, last_payment_date=date(2026, 12, 5))
    )

    summary = card(store, settings, "company", COMPANY)["summary"]

    assert summary["lastPaymentDate"] == "2026-12-05"


class OnlyKeyedReads:
    """The store, refusing a full read of the ledger."""

    def __init__(self, store: SQLiteStore) -> None:
        self.store = store

    def get_ledger(self, portal_id: int, deal_id: str) -> Any:
        return self.store.get_ledger(portal_id, deal_id)

    def ledger_for_company(self, portal_id: int, company_id: str) -> Any:
        return self.store.ledger_for_company(portal_id, company_id)

    def ledger(self, **_: Any) -> Any:
        raise AssertionError("the card read the whole ledger")


@pytest.mark.parametrize(("object_type", "object_id"), [("deal", "115"), ("company", COMPANY)])
def test_each_view_reads_only_its_own_rows(store, settings, object_type, object_id):
    invoiced(store, "115", written=paid_state("unpaid", 0, 110_000))

    answer = balance_card(
        OnlyKeyedReads(store),
        settings,
        portal_id=PORTAL,
        object_type=object_type,
        object_id=object_id,
        today=TODAY,
    )

    assert answer["hasInvoices"] is True


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
        "unit": "203",
        "period": None,
        "label": "",
        "consolidated": False,
        "invoiceNumber": "INV-203",
        "billingDate": "2026-11-20",
        "url": "https://invoice.secure.freee.co.jp/reports/invoices/203",
        "status": "overdue",
        "amountInvoiced": 55_000,
        "amountPaid": 0,
        "amountOutstanding": 55_000,
        "dueDate": "2026-11-30",
        "daysOverdue": 25,
        "paidDate": None,
    }
    assert answer["notInvoiced"] == []


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
