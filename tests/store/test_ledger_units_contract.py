"""Ledger rows keyed by billing unit, over every adapter: a deal billed once (``456``), one period of a deal's
billing schedule (``456:3``) and a company's consolidated invoice for a window (``c789:2027-01-31``) are claimed,
recorded and read like any deal, and none of them is mistaken for another, nor for the deal's schedule kept
beside its ledger row."""

from __future__ import annotations

from datetime import date

import pytest

from sdk.store import HistoryEvent, Intent, LedgerState, ScheduleRow, ScheduleState, Store
from tests.store.records import NOW, PORTAL, claim, invoice, orphan

UNITS = ("456", "456:3", "c789:2027-01-31")
BILLED = date(2027, 1, 31)


def invoiced(store: Store, unit: str, invoice_id: int, company: str = "789") -> None:
    assert claim(store, f"t-{unit}", deal=unit).granted
    store.note_intent(PORTAL, unit, f"t-{unit}", Intent(company, 77, BILLED))
    store.record_invoice(PORTAL, unit, f"t-{unit}", invoice(invoice_id), NOW)
    store.record_written(PORTAL, unit, {"freee_invoice_id": str(invoice_id)}, NOW, token=f"t-{unit}")


def test_each_billing_unit_is_a_ledger_row_of_its_own(store: Store) -> None:
    for n, unit in enumerate(UNITS):
        invoiced(store, unit, 501 + n)
    claim(store, "t-4", deal="456:4")  # the next period, claimed and not yet invoiced
    store.save_schedule(ScheduleRow(PORTAL, "456", ScheduleState.ACTIVE, {"periods": 12}, BILLED, "789"), NOW)

    rows = store.get_ledgers(PORTAL, [*UNITS, "456:4", "456:5", "c789"])

    assert sorted(rows) == sorted([*UNITS, "456:4"])
    assert {unit: rows[unit].invoice.invoice_id for unit in UNITS if rows[unit].invoice} == {
        "456": 501,
        "456:3": 502,
        "c789:2027-01-31": 503,
    }
    assert (rows["456:4"].state, rows["456:4"].claim_token) == (LedgerState.CREATING, "t-4")
    assert [r.deal_id for r in store.ledger_for_company(PORTAL, "789")] == sorted(UNITS)
    assert [r.deal_id for r in store.ledger()] == sorted([*UNITS, "456:4"])
    assert [r.deal_id for r in store.ledger(states=frozenset({LedgerState.CREATED}))] == sorted(UNITS)
    assert store.get_ledger(PORTAL, "456") == rows["456"]
    assert store.get_ledger(PORTAL, "456:3") == rows["456:3"]
    assert [s.deal_id for s in store.schedules_for_company(PORTAL, "789")] == ["456"]


@pytest.mark.parametrize("unit", UNITS[1:])
def test_a_billing_unit_is_claimed_once_and_cancelled_on_its_own(store: Store, unit: str) -> None:
    invoiced(store, unit, 601)
    invoiced(store, "456", 600)

    assert not claim(store, "t-again", deal=unit).granted
    cancelled = store.mark_cancelled(PORTAL, unit, NOW)

    assert cancelled.state is LedgerState.CANCELLED
    row = store.get_ledger(PORTAL, "456")
    assert row is not None and row.state is LedgerState.CREATED


def test_a_billing_unit_keeps_its_orphans_and_history(store: Store) -> None:
    store.record_orphan(orphan(deal="456:3"))
    store.append_history(PORTAL, "456:3", HistoryEvent(NOW, "created", "billing", {"period": 3}))

    assert [o.deal_id for o in store.orphans(PORTAL, "456:3")] == ["456:3"]
    assert store.orphans(PORTAL, "456") == []
    assert [e.detail for e in store.history(PORTAL, "456:3")] == [{"period": 3}]
    assert store.history(PORTAL, "456") == []
