"""The ledger's writes over every adapter (SQLite, DynamoDB under moto): each only from the state the port allows
(:data:`sdk.store.HELD` under the writer's claim, :data:`sdk.store.CANCELLABLE`), so a status never goes back."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import date, timedelta

import pytest

from sdk.errors import ClaimLost
from sdk.store import (
    FAILURES,
    Failure,
    Intent,
    LedgerState,
    Store,
)
from tests.store.records import DEAL, LEASE, NOW, PORTAL, claim, created, invoice

# ------------------------------------------------------------------------------- writes under a claim


def _note_intent(store: Store, token: str) -> object:
    store.note_intent(PORTAL, DEAL, token, Intent("c1", 77, date(2026, 11, 20)))
    return None


@pytest.mark.parametrize(
    "write",
    [
        pytest.param(_note_intent, id="note_intent"),
        pytest.param(lambda s, t: s.record_invoice(PORTAL, DEAL, t, invoice(), NOW), id="record_invoice"),
        pytest.param(
            lambda s, t: s.record_failure(PORTAL, DEAL, t, Failure(LedgerState.FAILED, "x"), NOW),
            id="record_failure",
        ),
        pytest.param(
            lambda s, t: s.record_written(PORTAL, DEAL, {"a": "b"}, NOW, token=t), id="record_written"
        ),
        pytest.param(lambda s, t: s.renew_claim(PORTAL, DEAL, t, NOW, NOW + 2 * LEASE), id="renew_claim"),
    ],
)
def test_a_write_with_a_lost_claim_raises_and_changes_nothing(
    store: Store, write: Callable[[Store, str], object]
) -> None:
    claim(store, "t1")
    taken_over = claim(store, "t2", now=NOW + LEASE)
    assert taken_over.granted
    with pytest.raises(ClaimLost):
        write(store, "t1")
    assert store.get_ledger(PORTAL, DEAL) == taken_over.row


def test_a_write_on_an_absent_row_is_a_lost_claim(store: Store) -> None:
    with pytest.raises(ClaimLost):
        _note_intent(store, "t1")
    assert store.get_ledger(PORTAL, DEAL) is None


def test_note_intent_remembers_where_the_invoice_will_be(store: Store) -> None:
    claim(store, "t1")
    store.note_intent(PORTAL, DEAL, "t1", Intent("c1", 77, date(2026, 11, 20)))
    row = store.get_ledger(PORTAL, DEAL)
    assert row is not None
    assert (row.company_id, row.partner_id, row.billing_date) == ("c1", 77, date(2026, 11, 20))
    assert row.claim_token == "t1"
    assert row.version == 2


def test_record_invoice_keeps_the_claim_until_the_write_back_releases_it(store: Store) -> None:
    claim(store, "t1")
    recorded = store.record_invoice(PORTAL, DEAL, "t1", invoice(), NOW + timedelta(seconds=5))
    assert recorded.state is LedgerState.CREATED
    assert recorded.invoice == invoice()
    assert (recorded.partner_id, recorded.billing_date) == (77, date(2026, 11, 20))
    assert recorded.claim_token == "t1"
    assert recorded.updated_at == NOW + timedelta(seconds=5)
    assert store.get_ledger(PORTAL, DEAL) == recorded

    written = store.record_written(PORTAL, DEAL, {"freee_invoice_id": "501"}, NOW, token="t1")
    assert (written.claim_token, written.claim_until) == (None, None)
    assert written.state is LedgerState.CREATED
    assert written.written == {"freee_invoice_id": "501"}


def test_record_invoice_clears_the_last_error(store: Store) -> None:
    claim(store, "t1")
    store.record_failure(PORTAL, DEAL, "t1", Failure(LedgerState.FAILED, "429 from freee"), NOW)
    claim(store, "t2", now=NOW + timedelta(seconds=1))
    recorded = store.record_invoice(PORTAL, DEAL, "t2", invoice(), NOW)
    assert recorded.last_error is None


@pytest.mark.parametrize("state", [LedgerState.FAILED, LedgerState.INVALID])
def test_record_failure_releases_the_claim_with_the_error(store: Store, state: LedgerState) -> None:
    claim(store, "t1")
    failed = store.record_failure(
        PORTAL, DEAL, "t1", Failure(state, "金額が0円です"), NOW + timedelta(seconds=3)
    )
    assert (failed.state, failed.last_error) == (state, "金額が0円です")
    assert (failed.claim_token, failed.claim_until) == (None, None)
    assert failed.updated_at == NOW + timedelta(seconds=3)
    assert store.get_ledger(PORTAL, DEAL) == failed


def test_record_failure_remembers_what_the_attempt_wrote_on_the_deal(store: Store) -> None:
    created(store, deal="other")  # another row, untouched
    claim(store, "t1")
    store.record_written(PORTAL, DEAL, {"freee_sync_status": "pending", "note": "kept"}, NOW)
    shown = {"freee_sync_status": "failed", "freee_sync_error": "一時的なエラー / temporary"}
    failed = store.record_failure(PORTAL, DEAL, "t1", Failure(LedgerState.FAILED, "503", shown), NOW)
    assert failed.written == {"note": "kept", **shown}
    assert (failed.state, failed.claim_token) == (LedgerState.FAILED, None)
    assert store.get_ledger(PORTAL, DEAL) == failed
    assert store.get_ledger(PORTAL, "other").written == {"freee_invoice_id": "501"}  # type: ignore[union-attr]


@pytest.mark.parametrize("state", [LedgerState.FAILED, LedgerState.INVALID])
def test_a_created_row_never_goes_back_to_a_failure_even_for_the_claim_that_created_it(
    store: Store, state: LedgerState
) -> None:
    claim(store, "t1")
    recorded = store.record_invoice(PORTAL, DEAL, "t1", invoice(), NOW)  # the claim is kept for write-back
    with pytest.raises(ClaimLost):
        store.record_failure(
            PORTAL, DEAL, "t1", Failure(state, "a late failure", {"freee_sync_status": "x"}), NOW
        )
    assert store.get_ledger(PORTAL, DEAL) == recorded
    written = store.record_written(PORTAL, DEAL, {"freee_sync_status": "created"}, NOW, token="t1")
    with pytest.raises(ClaimLost):
        store.record_failure(PORTAL, DEAL, "t1", Failure(state, "a later failure"), NOW)
    assert store.get_ledger(PORTAL, DEAL) == written


def test_a_failure_is_recorded_once_per_claim(store: Store) -> None:
    claim(store, "t1")
    failed = store.record_failure(PORTAL, DEAL, "t1", Failure(LedgerState.FAILED, "first"), NOW)
    with pytest.raises(ClaimLost):
        store.record_failure(PORTAL, DEAL, "t1", Failure(LedgerState.INVALID, "second"), NOW)
    assert store.get_ledger(PORTAL, DEAL) == failed


def test_record_invoice_needs_a_creating_row(store: Store) -> None:
    claim(store, "t1")
    recorded = store.record_invoice(PORTAL, DEAL, "t1", invoice(), NOW)
    with pytest.raises(ClaimLost):
        store.record_invoice(PORTAL, DEAL, "t1", invoice(invoice_id=502), NOW)
    assert store.get_ledger(PORTAL, DEAL) == recorded


def test_an_intent_is_noted_only_on_a_creating_row(store: Store) -> None:
    claim(store, "t1")
    recorded = store.record_invoice(PORTAL, DEAL, "t1", invoice(), NOW)  # the claim is kept for write-back
    with pytest.raises(ClaimLost):
        _note_intent(store, "t1")
    assert store.get_ledger(PORTAL, DEAL) == recorded


def test_a_cancelled_row_takes_no_failure_and_no_invoice(store: Store) -> None:
    claim(store, "t1")
    store.record_invoice(PORTAL, DEAL, "t1", invoice(), NOW)  # claim kept (write-back not done)
    cancelled = store.mark_cancelled(PORTAL, DEAL, NOW)
    with pytest.raises(ClaimLost):
        store.record_failure(PORTAL, DEAL, "t1", Failure(LedgerState.FAILED, "late"), NOW)
    with pytest.raises(ClaimLost):
        store.record_invoice(PORTAL, DEAL, "t1", invoice(invoice_id=502), NOW)
    assert store.get_ledger(PORTAL, DEAL) == cancelled


SETTLE = timedelta(seconds=60)


def test_a_lost_answer_keeps_the_deal_claimed_until_the_settling_period_ends(store: Store) -> None:
    claim(store, "t1")
    shown = {"freee_sync_status": "failed"}
    settling = store.record_failure(
        PORTAL,
        DEAL,
        "t1",
        Failure(LedgerState.FAILED, "FreeeOutcomeUnknown", shown, settle_until=NOW + SETTLE),
        NOW,
    )
    assert (settling.state, settling.last_error, dict(settling.written)) == (
        LedgerState.FAILED,
        "FreeeOutcomeUnknown",
        shown,
    )
    assert (settling.claim_token, settling.claim_until) == ("t1", NOW + SETTLE)
    assert settling.claimed(NOW + SETTLE - timedelta(seconds=1))
    refused = claim(store, "t2", now=NOW + SETTLE - timedelta(seconds=1))
    assert not refused.granted
    assert refused.row == settling
    after = claim(store, "t3", now=NOW + SETTLE)
    assert after.granted
    assert after.resumed  # so the next attempt looks for the invoice by its marker first
    assert (after.row.state, after.row.claim_token, after.row.attempts) == (LedgerState.CREATING, "t3", 2)


def test_a_settling_row_takes_nothing_more_from_the_attempt_that_lost_its_answer(store: Store) -> None:
    claim(store, "t1")
    settling = store.record_failure(
        PORTAL, DEAL, "t1", Failure(LedgerState.FAILED, "lost", settle_until=NOW + SETTLE), NOW
    )
    with pytest.raises(ClaimLost):
        store.record_failure(
            PORTAL, DEAL, "t1", Failure(LedgerState.FAILED, "again", settle_until=NOW + SETTLE * 2), NOW
        )
    with pytest.raises(ClaimLost):
        store.record_invoice(PORTAL, DEAL, "t1", invoice(), NOW)
    assert store.get_ledger(PORTAL, DEAL) == settling


def test_only_a_failed_attempt_settles() -> None:
    with pytest.raises(ValueError, match="settles"):
        Failure(LedgerState.INVALID, "x", settle_until=NOW + SETTLE)


@pytest.mark.parametrize("state", sorted(set(LedgerState) - FAILURES))
def test_a_failure_is_invalid_or_failed(state: LedgerState) -> None:
    with pytest.raises(ValueError, match="invalid or failed"):
        Failure(state, "x")


def test_record_written_without_a_token_keeps_the_claim_as_it_is(store: Store) -> None:
    claim(store, "t1")
    store.record_invoice(PORTAL, DEAL, "t1", invoice(), NOW)
    values = {"freee_payment_status": "paid", "freee_sync_error": "", "note": "入金済み"}
    row = store.record_written(PORTAL, DEAL, values, NOW + timedelta(minutes=1))
    assert row.written == values
    assert (row.claim_token, row.claim_until) == ("t1", NOW + LEASE)
    assert row.updated_at == NOW + timedelta(minutes=1)
    assert store.get_ledger(PORTAL, DEAL) == row


def test_record_written_replaces_the_keys_it_is_given_and_keeps_the_others(store: Store) -> None:
    created(store)
    row = store.record_written(PORTAL, DEAL, {"freee_payment_status": "unpaid", "freee_sync_error": ""}, NOW)
    assert row.written == {
        "freee_invoice_id": "501",
        "freee_payment_status": "unpaid",
        "freee_sync_error": "",
    }
    row = store.record_written(PORTAL, DEAL, {"freee_payment_status": "paid"}, NOW)
    assert row.written == {"freee_invoice_id": "501", "freee_payment_status": "paid", "freee_sync_error": ""}
    assert store.get_ledger(PORTAL, DEAL) == row


def test_a_writer_holding_a_stale_copy_of_the_row_cannot_drop_a_newer_value(store: Store) -> None:
    """A payment sync read the row, then an error was written onto the deal and remembered; the sync then records
    what it wrote from its old copy: the error stays remembered, so a later write-back knows to clear it."""
    created(store)
    stale = store.get_ledger(PORTAL, DEAL)
    assert stale is not None
    store.record_written(PORTAL, DEAL, {"freee_sync_error": "受注から外れました"}, NOW)
    synced = {"freee_payment_status": "paid"}
    row = store.record_written(PORTAL, DEAL, synced, NOW + timedelta(seconds=1))
    assert row.written == {**stale.written, "freee_sync_error": "受注から外れました", **synced}


def test_record_written_keeps_property_names_as_they_are(store: Store) -> None:
    created(store)
    odd = {"freee.sync-status": "failed", "name with spaces": "値", "#x": ":y"}
    row = store.record_written(PORTAL, DEAL, odd, NOW)
    assert row.written == {"freee_invoice_id": "501", **odd}


def test_record_written_with_an_invoice_remembers_its_accounting_deal(store: Store) -> None:
    created(store)
    assert store.get_ledger(PORTAL, DEAL).invoice.accounting_deal_id is None
    learned = replace(invoice(), accounting_deal_id=2**40, due_date=date(2027, 1, 31))
    row = store.record_written(PORTAL, DEAL, {"freee_payment_status": "paid"}, NOW, invoice=learned)
    assert row.invoice == learned
    assert row.written == {"freee_invoice_id": "501", "freee_payment_status": "paid"}
    assert store.get_ledger(PORTAL, DEAL) == row
    again = store.record_written(PORTAL, DEAL, {"freee_payment_status": "paid"}, NOW)
    assert again.invoice == learned  # without ``invoice`` the record is kept as it is


def test_record_written_for_an_unknown_deal_raises_key_error(store: Store) -> None:
    with pytest.raises(KeyError):
        store.record_written(PORTAL, "nope", {"a": "b"}, NOW)
    assert store.get_ledger(PORTAL, "nope") is None


def test_cancelling_needs_a_created_invoice(store: Store) -> None:
    with pytest.raises(ValueError, match="no invoice"):
        store.mark_cancelled(PORTAL, DEAL, NOW)
    assert store.get_ledger(PORTAL, DEAL) is None
    claim(store, "t1")
    with pytest.raises(ValueError, match="no invoice"):
        store.mark_cancelled(PORTAL, DEAL, NOW)
    store.record_invoice(PORTAL, DEAL, "t1", invoice(), NOW)
    cancelled = store.mark_cancelled(PORTAL, DEAL, NOW + timedelta(days=1))
    assert cancelled.state is LedgerState.CANCELLED
    assert cancelled.invoice == invoice()
    assert cancelled.updated_at == NOW + timedelta(days=1)
    with pytest.raises(ValueError, match="no invoice"):
        store.mark_cancelled(PORTAL, DEAL, NOW)
    assert store.get_ledger(PORTAL, DEAL) == cancelled


def test_every_write_moves_the_version(store: Store) -> None:
    versions = [claim(store, "t1").row.version]
    _note_intent(store, "t1")
    versions.append(store.get_ledger(PORTAL, DEAL).version)  # type: ignore[union-attr]
    versions.append(store.record_invoice(PORTAL, DEAL, "t1", invoice(), NOW).version)
    versions.append(store.record_written(PORTAL, DEAL, {}, NOW, token="t1").version)
    versions.append(store.mark_cancelled(PORTAL, DEAL, NOW).version)
    assert versions == sorted(set(versions))
