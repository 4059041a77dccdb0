"""The ledger as read, and the orphan list, over every adapter (SQLite, DynamoDB under moto); and a SQLite file
made before a ledger column existed."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, timedelta
from typing import Any

from sdk.store import (
    Failure,
    Intent,
    InvoiceRecord,
    LedgerState,
    Store,
)
from tests.store.records import DEAL, LEASE, NOW, PORTAL, claim, created, invoice, orphan

# ------------------------------------------------------------------------------------------ the ledger


def test_ledger_lists_rows_in_order_and_filters_by_state(store: Store) -> None:
    created(store, "3")
    claim(store, "t1", deal="1")
    claim(store, "t2", deal="2")
    store.record_failure(PORTAL, "2", "t2", Failure(LedgerState.INVALID, "no company"), NOW)
    store.claim(PORTAL - 1, "9", "t9", NOW, NOW + LEASE)

    assert [(r.portal_id, r.deal_id) for r in store.ledger()] == [
        (PORTAL - 1, "9"),
        (PORTAL, "1"),
        (PORTAL, "2"),
        (PORTAL, "3"),
    ]
    assert [r.deal_id for r in store.ledger(states=frozenset({LedgerState.CREATED}))] == ["3"]
    both = frozenset({LedgerState.INVALID, LedgerState.CREATING})
    assert [r.deal_id for r in store.ledger(states=both)] == ["9", "1", "2"]
    assert list(store.ledger(states=frozenset({LedgerState.CANCELLED}))) == []
    assert list(store.ledger(states=frozenset())) == []


def test_get_ledgers_reads_the_rows_of_many_deals_of_one_portal(store: Store) -> None:
    created(store, "3")
    claim(store, "t1", deal="1")
    store.claim(PORTAL - 1, "2", "t9", NOW, NOW + LEASE)  # another portal's deal 2 is not this portal's
    many = [str(n) for n in range(1000, 1250)]  # more than one DynamoDB batch (100 keys) and SQLite IN chunk
    for deal in many[::50]:
        claim(store, "t-many", deal=deal)

    found = store.get_ledgers(PORTAL, ["1", "2", "3", "404", "3", *many])

    assert sorted(found, key=int) == ["1", "3", *many[::50]]
    assert found["3"] == store.get_ledger(PORTAL, "3")
    assert found["3"].state is LedgerState.CREATED
    assert found["1"].state is LedgerState.CREATING
    assert store.get_ledgers(PORTAL, []) == {}
    assert store.get_ledgers(PORTAL - 1, ["1", "2"]).keys() == {"2"}


def test_ledger_rows_round_trip_every_field(store: Store) -> None:
    claim(store, "t1")
    store.note_intent(PORTAL, DEAL, "t1", Intent("c-42", 77, date(2026, 11, 20)))
    store.record_invoice(PORTAL, DEAL, "t1", invoice(due_date=None), NOW)
    store.record_written(PORTAL, DEAL, {"freee_invoice_number": "INV-0000000501"}, NOW, token="t1")
    row = store.get_ledger(PORTAL, DEAL)
    assert row is not None
    assert row.invoice == invoice(due_date=None)
    assert isinstance(row.invoice.amount_total, int)
    assert isinstance(row.portal_id, int)
    assert isinstance(row.version, int)
    assert isinstance(row.partner_id, int)
    assert row.company_id == "c-42"
    assert row.billing_date == date(2026, 11, 20)
    assert row.updated_at == NOW
    assert [r for r in store.ledger() if r.deal_id == DEAL] == [row]


def test_invoice_record_keeps_dates_and_large_integers(store: Store) -> None:
    big = InvoiceRecord(
        invoice_id=2**53 + 1,
        invoice_number="請求書-001",
        invoice_url="https://example.invalid/請求書",
        partner_id=9_876_543_210,
        amount_net=999_999_999_999,
        amount_tax=99_999_999_999,
        amount_total=1_099_999_999_998,
        billing_date=date(2027, 1, 31),
        due_date=date(2027, 2, 28),
    )
    claim(store, "t1")
    assert store.record_invoice(PORTAL, DEAL, "t1", big, NOW).invoice == big
    row = store.get_ledger(PORTAL, DEAL)
    assert row is not None
    assert row.invoice == big


def test_unknown_deal_has_no_row(store: Store) -> None:
    assert store.get_ledger(PORTAL, "missing") is None


def test_orphan_invoices_are_kept_once_listed_and_resolved_once(store: Store) -> None:
    assert store.orphans() == []
    store.record_orphan(orphan(602))
    store.record_orphan(orphan(601))
    store.record_orphan(orphan(700, deal="42"))
    store.record_orphan(orphan(800, portal=1))
    store.record_orphan(replace(orphan(601), found_at=NOW + LEASE, invoice_number="x"))  # kept as it was
    assert store.orphans() == [orphan(800, portal=1), orphan(700, deal="42"), orphan(601), orphan(602)]
    assert store.orphans(PORTAL, DEAL) == [orphan(601), orphan(602)]
    assert store.orphans(PORTAL) == [orphan(700, deal="42"), orphan(601), orphan(602)]
    later = NOW + timedelta(hours=1)
    assert store.resolve_orphan(PORTAL, DEAL, 601, later)
    assert not store.resolve_orphan(PORTAL, DEAL, 601, later + LEASE)  # once
    assert not store.resolve_orphan(PORTAL, DEAL, 999, later)  # no such orphan
    assert store.orphans(PORTAL, DEAL) == [replace(orphan(601), resolved_at=later), orphan(602)]


def test_orphans_are_neither_ledger_rows_nor_history(store: Store) -> None:
    claim(store, "t1")
    before = store.get_ledger(PORTAL, DEAL)
    store.record_orphan(orphan())
    assert store.get_ledger(PORTAL, DEAL) == before
    assert [r.deal_id for r in store.ledger()] == [DEAL]
    assert store.history(PORTAL, DEAL) == []


def test_a_ledger_file_made_before_intents_were_kept_opens_and_keeps_its_rows(tmp_path: Any) -> None:
    import sqlite3

    from sdk.store.sqlite import SQLiteStore

    path = tmp_path / "old.sqlite"
    with sqlite3.connect(path) as db:
        db.execute(
            "CREATE TABLE ledger (portal_id INTEGER NOT NULL, deal_id TEXT NOT NULL, state TEXT NOT NULL,"
            " version INTEGER NOT NULL, attempts INTEGER NOT NULL DEFAULT 0, claim_token TEXT, claim_until TEXT,"
            " company_id TEXT, partner_id INTEGER, billing_date TEXT, invoice TEXT, written TEXT NOT NULL"
            " DEFAULT '{}', last_error TEXT, updated_at TEXT, PRIMARY KEY (portal_id, deal_id))"
        )
        db.execute(
            "INSERT INTO ledger (portal_id, deal_id, state, version, attempts, partner_id, billing_date)"
            " VALUES (?, ?, 'failed', 4, 1, 77, '2026-11-20')",
            (PORTAL, DEAL),
        )
    store = SQLiteStore(path)
    SQLiteStore(path)  # a second process opening it adds nothing twice
    row = store.get_ledger(PORTAL, DEAL)
    assert row is not None
    assert (row.state, row.partner_id, row.billing_date, row.intents) == (
        LedgerState.FAILED,
        77,
        date(2026, 11, 20),
        (),
    )
    assert claim(store, "t1").granted
    store.note_intent(PORTAL, DEAL, "t1", Intent("c1", 78, date(2026, 11, 27)))
    after = store.get_ledger(PORTAL, DEAL)
    assert after is not None and after.intents == ((78, date(2026, 11, 27)),)
