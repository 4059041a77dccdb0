"""One company's ledger rows by a keyed read (``ledger_for_company``), over every adapter, and proof that it is
keyed: on DynamoDB no Scan is sent, on SQLite the query plan searches the ``ledger_company`` index. Also the
reasons and warnings a row keeps for the sales rep, and an invoice's last payment date, round-trip."""

from __future__ import annotations

import sqlite3
from dataclasses import replace
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest

from sdk.errors import Problem
from sdk.store import Failure, Intent, LedgerState, Store
from tests.store.records import NOW, PORTAL, claim, invoice

BILLED = date(2026, 11, 20)
WARNING = Problem(
    "deal.amount_mismatch", "amount", "取引の金額と明細の合計が一致しません。", "The amounts differ."
)
REASON = Problem("freee.unavailable", "freee", "freeeに接続できませんでした。", "freee could not be reached.")


def invoiced(store: Store, deal: str, company: str, portal: int = PORTAL) -> None:
    store.claim(portal, deal, f"t{deal}", NOW, NOW.replace(hour=10))
    store.note_intent(portal, deal, f"t{deal}", Intent(company, 77, BILLED))
    store.record_invoice(portal, deal, f"t{deal}", invoice(int(deal)), NOW)
    store.record_written(portal, deal, {"freee_invoice_id": deal}, NOW, token=f"t{deal}")


def test_a_company_s_rows_are_exactly_its_deals_in_its_portal_ordered_by_deal(store: Store) -> None:
    for deal, company in (("12", "c-1"), ("3", "c-2"), ("11", "c-1"), ("40", "c-1")):
        invoiced(store, deal, company)
    invoiced(store, "13", "c-1", portal=PORTAL + 1)  # the same company id in another portal
    claim(store, "t-none", deal="50")  # claimed, no company noted yet
    store.claim(PORTAL, "41", "t41", NOW, NOW.replace(hour=10))
    store.note_intent(PORTAL, "41", "t41", Intent("c-1", 77, BILLED))
    store.record_failure(PORTAL, "41", "t41", Failure(LedgerState.FAILED, "x", reasons=(REASON,)), NOW)

    rows = store.ledger_for_company(PORTAL, "c-1")

    assert [r.deal_id for r in rows] == ["11", "12", "40", "41"]
    assert [r.state for r in rows][-2:] == [LedgerState.CREATED, LedgerState.FAILED]
    assert rows[-1].reasons == (REASON,)
    assert rows[0] == store.get_ledger(PORTAL, "11")
    assert [r.deal_id for r in store.ledger_for_company(PORTAL + 1, "c-1")] == ["13"]
    assert store.ledger_for_company(PORTAL, "c-9") == []


def test_partner_links_and_rollups_of_the_company_are_not_ledger_rows(store: Store) -> None:
    invoiced(store, "11", "c-1")
    store.link_partner(PORTAL, "c-1", 77)
    store.record_company_written(PORTAL, "c-1", {"freee_outstanding_total": "110000"}, NOW)

    assert [r.deal_id for r in store.ledger_for_company(PORTAL, "c-1")] == ["11"]


def test_a_failure_keeps_its_reasons_until_the_invoice_is_recorded(store: Store) -> None:
    claim(store, "t1")
    store.note_intent(PORTAL, "9001", "t1", Intent("c-1", 77, BILLED, warnings=(WARNING,)))
    failed = store.record_failure(
        PORTAL, "9001", "t1", Failure(LedgerState.FAILED, "FreeeUnavailable: GET /x", reasons=(REASON,)), NOW
    )
    assert (failed.reasons, failed.warnings, failed.last_error) == (
        (REASON,),
        (WARNING,),
        "FreeeUnavailable: GET /x",
    )
    assert store.get_ledger(PORTAL, "9001") == failed

    assert claim(store, "t2").granted
    row = store.record_invoice(PORTAL, "9001", "t2", invoice(), NOW)
    assert (row.reasons, row.warnings) == ((), (WARNING,))
    assert store.get_ledger(PORTAL, "9001") == row


def test_an_intent_replaces_the_warnings(store: Store) -> None:
    claim(store, "t1")
    store.note_intent(PORTAL, "9001", "t1", Intent("c-1", 77, BILLED, warnings=(WARNING,)))
    store.note_intent(PORTAL, "9001", "t1", Intent("c-1", 77, BILLED))
    row = store.get_ledger(PORTAL, "9001")
    assert row is not None and row.warnings == ()


def test_a_consolidated_row_keeps_the_charges_its_first_intent_named_until_new_ones_are_given(
    store: Store,
) -> None:
    key = "c789:2027-01-31"
    assert store.claim(PORTAL, key, "t1", NOW, NOW + timedelta(seconds=90)).granted
    charges = (("456:1", 55000), ("457", 110000))
    store.note_intent(PORTAL, key, "t1", Intent("789", 77, BILLED, charges=charges))
    store.note_intent(PORTAL, key, "t1", Intent("789", 77, BILLED))  # no charges given: kept
    row = store.get_ledger(PORTAL, key)
    assert row is not None and row.charges == charges
    again = (("456:1", 55000),)
    store.note_intent(PORTAL, key, "t1", Intent("789", 77, BILLED, charges=again))
    recorded = store.record_invoice(PORTAL, key, "t1", invoice(), NOW)
    assert recorded.charges == again == store.get_ledger(PORTAL, key).charges  # type: ignore[union-attr]
    assert store.ledger_for_company(PORTAL, "789")[0].charges == again
    assert store.get_ledger(PORTAL, "9001") is None or store.get_ledger(PORTAL, "9001").charges == ()  # type: ignore[union-attr]


def test_an_invoice_keeps_its_last_payment_date(store: Store) -> None:
    invoiced(store, "11", "c-1")
    paid = replace(invoice(11), accounting_deal_id=9, last_payment_date=date(2026, 12, 3))
    store.record_written(PORTAL, "11", {}, NOW, invoice=paid)
    row = store.get_ledger(PORTAL, "11")
    assert row is not None and row.invoice == paid
    assert store.ledger_for_company(PORTAL, "c-1")[0].invoice == paid


# ------------------------------------------------------------------------------------ keyed, never a scan


def test_on_dynamodb_a_company_s_rows_are_a_query_never_a_scan(dynamodb: Any) -> None:
    from sdk.store.dynamodb import DynamoStore, create_table

    create_table(dynamodb, "keyed")
    store = DynamoStore("keyed", resource=dynamodb)
    for deal in ("11", "12"):
        invoiced(store, deal, "c-1")
    sent: list[str] = []

    def record(event_name: str, **_: Any) -> None:
        sent.append(event_name.rsplit(".", 1)[-1])

    def refuse_scan(**_: Any) -> None:
        raise AssertionError("a Scan was sent for one company's rows")

    events = dynamodb.meta.client.meta.events
    events.register("before-call.dynamodb.*", record)
    events.register("before-call.dynamodb.Scan", refuse_scan)
    try:
        rows = store.ledger_for_company(PORTAL, "c-1")
        with pytest.raises(AssertionError, match="Scan"):  # the guard is live: the full read is refused
            list(store.ledger())
    finally:
        events.unregister("before-call.dynamodb.*", record)
        events.unregister("before-call.dynamodb.Scan", refuse_scan)

    assert [r.deal_id for r in rows] == ["11", "12"]
    assert sent == ["Query", "Scan"]


def test_on_sqlite_a_company_s_rows_are_searched_by_the_company_index(tmp_path: Path) -> None:
    from sdk.store.sqlite import SQLiteStore
    from sdk.store.sqlite.ledger import COMPANY_ROWS

    store = SQLiteStore(tmp_path / "store.sqlite")
    invoiced(store, "11", "c-1")
    with sqlite3.connect(store.path) as db:
        plan = " ".join(str(r[-1]) for r in db.execute(f"EXPLAIN QUERY PLAN {COMPANY_ROWS}", (PORTAL, "c-1")))
    assert "USING INDEX ledger_company" in plan or "USING COVERING INDEX ledger_company" in plan, plan
    assert "SCAN" not in plan and "TEMP B-TREE" not in plan, plan


def test_a_file_made_before_the_company_index_gets_it_on_open(tmp_path: Path) -> None:
    from sdk.store.sqlite import SQLiteStore

    path = tmp_path / "old.sqlite"
    with sqlite3.connect(path) as db:
        db.execute(
            "CREATE TABLE ledger (portal_id INTEGER NOT NULL, deal_id TEXT NOT NULL, state TEXT NOT NULL,"
            " version INTEGER NOT NULL, attempts INTEGER NOT NULL DEFAULT 0, claim_token TEXT, claim_until TEXT,"
            " company_id TEXT, partner_id INTEGER, billing_date TEXT, invoice TEXT, written TEXT NOT NULL"
            " DEFAULT '{}', last_error TEXT, updated_at TEXT, intents TEXT NOT NULL DEFAULT '[]',"
            " PRIMARY KEY (portal_id, deal_id))"
        )
        db.execute(
            "INSERT INTO ledger (portal_id, deal_id, state, version, company_id, last_error)"
            " VALUES (?, '11', 'failed', 2, 'c-1', 'FreeeServerError: 503')",
            (PORTAL,),
        )
    store = SQLiteStore(path)
    with sqlite3.connect(path) as db:
        indexes = {r[1] for r in db.execute("PRAGMA index_list(ledger)")}
    assert "ledger_company" in indexes
    (row,) = store.ledger_for_company(PORTAL, "c-1")
    assert (row.state, row.reasons, row.warnings) == (LedgerState.FAILED, (), ())


@pytest.mark.parametrize("state", [LedgerState.INVALID, LedgerState.FAILED])
def test_a_failure_without_reasons_keeps_none(store: Store, state: LedgerState) -> None:
    claim(store, "t1")
    row = store.record_failure(PORTAL, "9001", "t1", Failure(state, "why"), NOW)
    assert row.reasons == ()
