"""The Store port's contract, one suite over every adapter (SQLite, DynamoDB under moto): the ledger and its
claims, partner links, seen events, history, and the token and rate-limit ports reached through the store."""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from sdk.clock import FakeClock
from sdk.errors import ClaimLost
from sdk.freee.ratelimit import RateLimiter, RateLimitStore, Window
from sdk.freee.tokens import TokenSet
from sdk.store import (
    Claim,
    HistoryEvent,
    InvoiceRecord,
    LedgerState,
    OrphanInvoice,
    Store,
    open_store,
)

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


# ---------------------------------------------------------------------------------------------- claims


def test_claim_on_an_absent_row_grants_a_fresh_claim(store: Store) -> None:
    answer = claim(store)
    assert answer.granted
    assert not answer.resumed
    row = answer.row
    assert (row.portal_id, row.deal_id, row.state) == (PORTAL, DEAL, LedgerState.CREATING)
    assert (row.version, row.attempts, row.claim_token, row.claim_until) == (1, 1, "t1", NOW + LEASE)
    assert row.claimed(NOW)
    assert store.get_ledger(PORTAL, DEAL) == row


def test_second_claim_during_a_live_lease_is_refused_and_shows_the_holder(store: Store) -> None:
    first = claim(store, "t1")
    second = claim(store, "t2", now=NOW + LEASE - timedelta(seconds=1))
    assert not second.granted
    assert second.row == first.row
    assert second.row.claim_token == "t1"
    assert store.get_ledger(PORTAL, DEAL) == first.row


def test_claim_after_the_lease_expired_resumes_with_one_more_attempt(store: Store) -> None:
    first = claim(store, "t1")
    later = NOW + LEASE  # the lease ends at `until`: claimable from that instant on
    second = claim(store, "t2", now=later)
    assert second.granted
    assert second.resumed
    assert second.row.claim_token == "t2"
    assert second.row.claim_until == later + LEASE
    assert second.row.attempts == 2
    assert second.row.version > first.row.version
    assert second.row.state is LedgerState.CREATING


def test_created_and_cancelled_rows_are_never_claimable(store: Store) -> None:
    created(store)
    much_later = NOW + timedelta(days=30)
    refused = claim(store, "t2", now=much_later)
    assert not refused.granted
    assert refused.row.state is LedgerState.CREATED
    store.mark_cancelled(PORTAL, DEAL, much_later)
    refused = claim(store, "t3", now=much_later)
    assert not refused.granted
    assert refused.row.state is LedgerState.CANCELLED


def test_created_row_still_holding_its_claim_is_not_claimable_after_the_lease(store: Store) -> None:
    claim(store, "t1")
    store.record_invoice(PORTAL, DEAL, "t1", invoice(), NOW)  # crash before write-back: claim kept
    refused = claim(store, "t2", now=NOW + LEASE * 2)
    assert not refused.granted
    assert refused.row.claim_token == "t1"


@pytest.mark.parametrize("state", [LedgerState.FAILED, LedgerState.INVALID])
def test_failed_and_invalid_rows_are_claimable_at_once(store: Store, state: LedgerState) -> None:
    claim(store, "t1")
    store.record_failure(PORTAL, DEAL, "t1", state, "boom", NOW)
    again = claim(store, "t2", now=NOW + timedelta(seconds=1))
    assert again.granted
    assert again.resumed
    assert (again.row.state, again.row.attempts, again.row.claim_token) == (LedgerState.CREATING, 2, "t2")
    assert again.row.last_error == "boom"  # kept for the operator until the next outcome


def test_eight_workers_claiming_one_deal_at_once_leave_exactly_one_holder(store: Store) -> None:
    barrier = threading.Barrier(8)
    answers: list[Claim] = []
    errors: list[BaseException] = []

    def race(token: str) -> None:
        try:
            barrier.wait()
            answers.append(claim(store, token))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=race, args=(f"w{i}",)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    winners = [a for a in answers if a.granted]
    assert len(answers) == 8
    assert len(winners) == 1
    row = store.get_ledger(PORTAL, DEAL)
    assert row is not None
    assert row.claim_token == winners[0].row.claim_token
    assert row.attempts == 1


def test_eight_workers_taking_over_an_expired_claim_leave_exactly_one_holder(store: Store) -> None:
    claim(store, "crashed")
    later = NOW + LEASE * 2
    barrier = threading.Barrier(8)
    answers: list[Claim] = []

    def race(token: str) -> None:
        barrier.wait()
        answers.append(claim(store, token, now=later))

    threads = [threading.Thread(target=race, args=(f"w{i}",)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert [a.resumed for a in answers if a.granted] == [True]
    row = store.get_ledger(PORTAL, DEAL)
    assert row is not None
    assert row.attempts == 2


# ------------------------------------------------------------------------------- writes under a claim


def _note_intent(store: Store, token: str) -> object:
    store.note_intent(PORTAL, DEAL, token, company_id="c1", partner_id=77, billing_date=date(2026, 11, 20))
    return None


@pytest.mark.parametrize(
    "write",
    [
        pytest.param(_note_intent, id="note_intent"),
        pytest.param(lambda s, t: s.record_invoice(PORTAL, DEAL, t, invoice(), NOW), id="record_invoice"),
        pytest.param(
            lambda s, t: s.record_failure(PORTAL, DEAL, t, LedgerState.FAILED, "x", NOW), id="record_failure"
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
    store.note_intent(PORTAL, DEAL, "t1", company_id="c1", partner_id=77, billing_date=date(2026, 11, 20))
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
    store.record_failure(PORTAL, DEAL, "t1", LedgerState.FAILED, "429 from freee", NOW)
    claim(store, "t2", now=NOW + timedelta(seconds=1))
    recorded = store.record_invoice(PORTAL, DEAL, "t2", invoice(), NOW)
    assert recorded.last_error is None


@pytest.mark.parametrize("state", [LedgerState.FAILED, LedgerState.INVALID])
def test_record_failure_releases_the_claim_with_the_error(store: Store, state: LedgerState) -> None:
    claim(store, "t1")
    failed = store.record_failure(PORTAL, DEAL, "t1", state, "金額が0円です", NOW + timedelta(seconds=3))
    assert (failed.state, failed.last_error) == (state, "金額が0円です")
    assert (failed.claim_token, failed.claim_until) == (None, None)
    assert failed.updated_at == NOW + timedelta(seconds=3)
    assert store.get_ledger(PORTAL, DEAL) == failed


def test_record_failure_remembers_what_the_attempt_wrote_on_the_deal(store: Store) -> None:
    created(store, deal="other")  # another row, untouched
    claim(store, "t1")
    store.record_written(PORTAL, DEAL, {"freee_sync_status": "pending", "note": "kept"}, NOW)
    shown = {"freee_sync_status": "failed", "freee_sync_error": "一時的なエラー / temporary"}
    failed = store.record_failure(PORTAL, DEAL, "t1", LedgerState.FAILED, "503", NOW, written=shown)
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
            PORTAL, DEAL, "t1", state, "a late failure", NOW, written={"freee_sync_status": "x"}
        )
    assert store.get_ledger(PORTAL, DEAL) == recorded
    written = store.record_written(PORTAL, DEAL, {"freee_sync_status": "created"}, NOW, token="t1")
    with pytest.raises(ClaimLost):
        store.record_failure(PORTAL, DEAL, "t1", state, "a later failure", NOW)
    assert store.get_ledger(PORTAL, DEAL) == written


def test_a_failure_is_recorded_once_per_claim(store: Store) -> None:
    claim(store, "t1")
    failed = store.record_failure(PORTAL, DEAL, "t1", LedgerState.FAILED, "first", NOW)
    with pytest.raises(ClaimLost):
        store.record_failure(PORTAL, DEAL, "t1", LedgerState.INVALID, "second", NOW)
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
        store.record_failure(PORTAL, DEAL, "t1", LedgerState.FAILED, "late", NOW)
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
        LedgerState.FAILED,
        "FreeeOutcomeUnknown",
        NOW,
        written=shown,
        settle_until=NOW + SETTLE,
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
        PORTAL, DEAL, "t1", LedgerState.FAILED, "lost", NOW, settle_until=NOW + SETTLE
    )
    with pytest.raises(ClaimLost):
        store.record_failure(
            PORTAL, DEAL, "t1", LedgerState.FAILED, "again", NOW, settle_until=NOW + SETTLE * 2
        )
    with pytest.raises(ClaimLost):
        store.record_invoice(PORTAL, DEAL, "t1", invoice(), NOW)
    assert store.get_ledger(PORTAL, DEAL) == settling


def test_only_a_failed_attempt_settles(store: Store) -> None:
    claim(store, "t1")
    before = store.get_ledger(PORTAL, DEAL)
    with pytest.raises(ValueError, match="settles"):
        store.record_failure(PORTAL, DEAL, "t1", LedgerState.INVALID, "x", NOW, settle_until=NOW + SETTLE)
    assert store.get_ledger(PORTAL, DEAL) == before


def test_record_failure_refuses_a_state_that_is_not_a_failure(store: Store) -> None:
    claim(store, "t1")
    before = store.get_ledger(PORTAL, DEAL)
    with pytest.raises(ValueError, match="invalid or failed"):
        store.record_failure(PORTAL, DEAL, "t1", LedgerState.CREATED, "x", NOW)
    assert store.get_ledger(PORTAL, DEAL) == before


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


# ------------------------------------------------------------------------------------------ the ledger


def test_ledger_lists_rows_in_order_and_filters_by_state(store: Store) -> None:
    created(store, "3")
    claim(store, "t1", deal="1")
    claim(store, "t2", deal="2")
    store.record_failure(PORTAL, "2", "t2", LedgerState.INVALID, "no company", NOW)
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


def test_ledger_rows_round_trip_every_field(store: Store) -> None:
    claim(store, "t1")
    store.note_intent(PORTAL, DEAL, "t1", company_id="c-42", partner_id=77, billing_date=date(2026, 11, 20))
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


# -------------------------------------------------------------------------------------------- partners


def test_the_first_partner_linked_to_a_company_wins(store: Store) -> None:
    assert store.partner_for_company(PORTAL, "c1") is None
    assert store.link_partner(PORTAL, "c1", 77) == 77
    assert store.link_partner(PORTAL, "c1", 88) == 77
    assert store.partner_for_company(PORTAL, "c1") == 77
    assert store.link_partner(PORTAL, "c2", 88) == 88
    assert store.partner_for_company(PORTAL + 1, "c1") is None  # portals are separate


def test_partners_linked_at_once_agree_on_one(store: Store) -> None:
    barrier = threading.Barrier(6)
    answers: list[int] = []

    def link(partner_id: int) -> None:
        barrier.wait()
        answers.append(store.link_partner(PORTAL, "c1", partner_id))

    threads = [threading.Thread(target=link, args=(100 + i,)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(set(answers)) == 1
    assert store.partner_for_company(PORTAL, "c1") == answers[0]


# ------------------------------------------------------------------------------------ events, history


def test_an_event_is_new_once_until_it_may_be_forgotten(store: Store) -> None:
    keep = NOW + timedelta(days=3)
    assert store.first_sighting("evt-1", NOW, keep)
    assert not store.first_sighting("evt-1", NOW + timedelta(minutes=5), keep + timedelta(minutes=5))
    assert not store.first_sighting("evt-1", keep - timedelta(seconds=1), keep + timedelta(days=3))
    assert store.first_sighting("evt-2", NOW, keep)  # ids are separate
    later = keep + timedelta(seconds=1)
    assert store.first_sighting("evt-1", later, later + timedelta(days=3))  # forgotten: new again
    assert not store.first_sighting("evt-1", later, later + timedelta(days=3))


def test_seen_reads_without_recording(store: Store) -> None:
    keep = NOW + timedelta(days=3)
    assert not store.seen("evt-9", NOW)
    assert not store.seen("evt-9", NOW)  # asking does not record
    assert store.first_sighting("evt-9", NOW, keep)
    assert store.seen("evt-9", NOW + timedelta(days=1))
    assert not store.seen("evt-9", keep)  # kept until, not beyond


def test_a_batch_of_events_is_checked_and_recorded_in_one_go(store: Store) -> None:
    keep = NOW + timedelta(days=3)
    ids = [f"batch-{i}" for i in range(250)]
    assert store.seen_any(ids, NOW) == set()
    store.record_sightings(ids[:120] + ids[:5], NOW, keep)
    assert store.seen_any(ids, NOW + timedelta(hours=1)) == set(ids[:120])
    assert store.seen(ids[0], NOW)
    assert not store.first_sighting(ids[1], NOW, keep)
    assert store.seen_any(ids, keep) == set()  # kept until, not beyond


def test_redelivered_event_seen_by_several_workers_at_once_is_new_for_one(store: Store) -> None:
    barrier = threading.Barrier(6)
    answers: list[bool] = []

    def see() -> None:
        barrier.wait()
        answers.append(store.first_sighting("evt-9", NOW, NOW + timedelta(days=1)))

    threads = [threading.Thread(target=see) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(answers) == [False] * 5 + [True]


def test_history_keeps_events_in_order_with_japanese_details(store: Store) -> None:
    events = [
        HistoryEvent(NOW, "triggered", "webhook", {"subscription": "deal.propertyChange"}),
        HistoryEvent(NOW, "claimed", "webhook", {"attempt": 1}),  # same instant: append order kept
        HistoryEvent(
            NOW + timedelta(seconds=2),
            "invalid",
            "webhook",
            {"errors": [{"ja": "取引先の適格請求書発行事業者登録番号が不正です", "en": "bad number"}]},
        ),
        HistoryEvent(
            NOW + timedelta(minutes=1), "created", "workflow", {"invoice_id": 501, "amount": 110000}
        ),
    ]
    for event in events:
        store.append_history(PORTAL, DEAL, event)
    store.append_history(PORTAL, "other", HistoryEvent(NOW, "triggered", "webhook"))

    assert store.history(PORTAL, DEAL) == events
    assert store.history(PORTAL, "other") == [HistoryEvent(NOW, "triggered", "webhook", {})]
    assert store.history(PORTAL, "none") == []


def test_history_lives_beside_the_ledger_row_without_disturbing_it(store: Store) -> None:
    claimed = claim(store, "t1").row
    store.append_history(PORTAL, DEAL, HistoryEvent(NOW, "claimed", "webhook", {"token": "t1"}))
    assert store.get_ledger(PORTAL, DEAL) == claimed
    assert [r.deal_id for r in store.ledger()] == [DEAL]
    assert [e.event for e in store.history(PORTAL, DEAL)] == ["claimed"]


def test_history_detail_values_that_json_cannot_hold_come_back_as_text(store: Store) -> None:
    store.append_history(PORTAL, DEAL, HistoryEvent(NOW, "created", "cli", {"due": date(2026, 12, 31)}))
    assert store.history(PORTAL, DEAL)[0].detail == {"due": "2026-12-31"}


# -------------------------------------------------------------------------------- tokens (store.tokens)


def tokens(n: int) -> TokenSet:
    return TokenSet(
        f"access-{n}",
        f"refresh-{n}",
        NOW + timedelta(hours=6),
        company_id=1,
        scope="read write",
        refresh_issued_at=NOW - timedelta(days=n),
    )


def test_token_rows_are_versioned(store: Store) -> None:
    port = store.tokens
    assert port.load_token() is None
    first = port.save_token(tokens(1), expected_version=None)
    assert first is not None
    assert first.version == 1
    assert port.save_token(tokens(9), expected_version=None) is None  # someone else connected first
    second = port.save_token(tokens(2), expected_version=1)
    assert second is not None
    assert second.version == 2
    assert port.save_token(tokens(3), expected_version=1) is None  # stale writer loses
    row = port.load_token()
    assert row is not None
    assert (row.version, row.tokens) == (2, tokens(2))


def test_one_token_refresh_claim_at_a_time_until_the_lease_ends(store: Store) -> None:
    port = store.tokens
    assert not port.claim_refresh(1, "a", NOW, NOW + timedelta(seconds=30))  # never connected
    port.save_token(tokens(1), expected_version=None)
    until = NOW + timedelta(seconds=30)
    assert port.claim_refresh(1, "a", NOW, until)
    row = port.load_token()
    assert row is not None
    assert (row.claim_holder, row.claim_until) == ("a", until)
    assert not port.claim_refresh(1, "b", NOW + timedelta(seconds=10), until)
    assert not port.claim_refresh(2, "b", NOW, until)  # wrong version
    assert port.claim_refresh(1, "b", NOW + timedelta(seconds=31), NOW + timedelta(seconds=61))  # lease over
    saved = port.save_token(tokens(2), expected_version=1)
    assert saved is not None
    assert saved.claim_holder is None
    row = port.load_token()
    assert row is not None
    assert (row.claim_holder, row.claim_until) == (None, None)
    assert port.claim_refresh(2, "c", NOW, until)  # saving cleared the claim


def test_token_refresh_claims_are_exclusive_across_threads(store: Store) -> None:
    store.tokens.save_token(tokens(1), expected_version=None)
    winners: list[str] = []
    barrier = threading.Barrier(8)

    def race(name: str) -> None:
        barrier.wait()
        if store.tokens.claim_refresh(1, name, NOW, NOW + timedelta(seconds=30)):
            winners.append(name)

    threads = [threading.Thread(target=race, args=(f"w{i}",)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(winners) == 1


def test_a_refresh_claim_is_released_only_by_its_holder_at_its_version(store: Store) -> None:
    port = store.tokens
    port.release_refresh(1, "a")  # no row: nothing happens
    port.save_token(tokens(1), expected_version=None)
    until = NOW + timedelta(seconds=30)
    assert port.claim_refresh(1, "a", NOW, until)
    port.release_refresh(1, "b")  # not the holder
    port.release_refresh(2, "a")  # not the version
    row = port.load_token()
    assert row is not None
    assert (row.claim_holder, row.claim_until) == ("a", until)
    port.release_refresh(1, "a")
    row = port.load_token()
    assert row is not None
    assert (row.claim_holder, row.claim_until, row.version) == (None, None, 1)
    assert port.claim_refresh(1, "b", NOW, until)  # claimable again at once, not after the lease


def test_a_disconnected_row_keeps_its_first_reason_until_a_new_pair_is_saved(store: Store) -> None:
    port = store.tokens
    assert not port.mark_disconnected(1, "refused", NOW)  # never connected
    port.save_token(tokens(1), expected_version=None)
    assert port.claim_refresh(1, "a", NOW, NOW + timedelta(seconds=30))
    assert not port.mark_disconnected(2, "refused", NOW)  # another version
    reason = "freee refused the refresh token (invalid_grant) / リフレッシュトークンが拒否されました"
    assert port.mark_disconnected(1, reason, NOW)
    assert port.mark_disconnected(1, "later", NOW + timedelta(hours=1))  # already marked: the first is kept
    row = port.load_token()
    assert row is not None
    assert (row.disconnected, row.disconnected_reason, row.disconnected_at) == (True, reason, NOW)
    assert (row.claim_holder, row.claim_until, row.version, row.tokens) == (None, None, 1, tokens(1))
    saved = port.save_token(tokens(2), expected_version=1)  # setup freee: connected again
    assert saved is not None
    assert (saved.version, saved.disconnected) == (2, False)
    row = port.load_token()
    assert row is not None
    assert (row.disconnected, row.disconnected_reason, row.disconnected_at) == (False, None, None)


def test_a_token_file_made_before_the_disconnected_state_opens_and_keeps_its_pair(tmp_path: Any) -> None:
    import sqlite3

    from sdk.freee.tokens import SQLiteTokenStore

    path = tmp_path / "old.sqlite"
    with sqlite3.connect(path) as db:
        db.execute(
            "CREATE TABLE freee_token (id INTEGER PRIMARY KEY CHECK (id = 1), data TEXT NOT NULL,"
            " version INTEGER NOT NULL, claim_holder TEXT, claim_until TEXT)"
        )
        db.execute("INSERT INTO freee_token VALUES (1, ?, 3, NULL, NULL)", (tokens(1).to_json(),))
    port = SQLiteTokenStore(path)
    SQLiteTokenStore(path)  # a second process opening it adds nothing twice
    row = port.load_token()
    assert row is not None
    assert (row.version, row.tokens, row.disconnected) == (3, tokens(1), False)
    assert port.mark_disconnected(3, "refused", NOW)
    row = port.load_token()
    assert row is not None and row.disconnected_at == NOW


# ---------------------------------------------------------------------- rate limits (store.rate_limits)


def test_sliding_window_admits_the_limit_then_says_how_long_to_wait(store: Store) -> None:
    port = store.rate_limits
    windows = [(3, 60.0)]
    assert [port.try_acquire("k", windows, t) for t in (0.0, 1.0, 2.0)] == [0, 0, 0]
    assert port.try_acquire("k", windows, 3.0) == pytest.approx(57.0)
    assert port.try_acquire("other", windows, 3.0) == 0  # keys are separate
    assert port.try_acquire("k", windows, 60.5) == 0  # the call at 0.0 left the window
    assert port.try_acquire("k", windows, 60.6) == pytest.approx(0.4)


def test_every_window_must_have_room(store: Store) -> None:
    port = store.rate_limits
    windows = [(2, 10.0), (3, 100.0)]
    assert port.try_acquire("k", windows, 0.0) == 0
    assert port.try_acquire("k", windows, 1.0) == 0
    assert port.try_acquire("k", windows, 2.0) == pytest.approx(8.0)  # minute-like window full
    assert port.try_acquire("k", windows, 10.5) == 0
    assert port.try_acquire("k", windows, 20.0) == pytest.approx(80.0)  # hour-like window full


def test_real_clock_timestamps_keep_their_precision(store: Store) -> None:
    port = store.rate_limits
    start = NOW.timestamp() + 0.123456
    windows = [(1, 60.0)]
    assert port.try_acquire("k", windows, start) == 0
    assert port.try_acquire("k", windows, start + 59.5) == pytest.approx(0.5, abs=1e-6)
    assert port.try_acquire("k", windows, start + 60.0) == pytest.approx(0.0, abs=1e-6)


class Recording:
    """A rate-limit store that remembers when it let each call through, whatever the adapter."""

    def __init__(self, inner: RateLimitStore) -> None:
        self.inner = inner
        self.granted: list[float] = []
        self._lock = threading.Lock()

    def try_acquire(self, key: str, windows: Sequence[Window], now: float) -> float:
        wait = self.inner.try_acquire(key, windows, now)
        if wait <= 0:
            with self._lock:
                self.granted.append(now)
        return wait


def test_limiter_spaces_calls_to_the_bound(store: Store) -> None:
    clock = FakeClock()
    limiter = RateLimiter(store.rate_limits, clock, [(10, 60.0)], margin=0)
    start = clock.monotonic()
    for _ in range(40):
        limiter.acquire()
    assert clock.monotonic() - start == pytest.approx((40 / 10 - 1) * 60, abs=0.1)


def test_limiter_shared_by_threads_never_exceeds_the_window(store: Store) -> None:
    clock = FakeClock()
    recording = Recording(store.rate_limits)
    # the long second window keeps every call in the log: a thread may ask with a `now` that others' sleeps have
    # already moved past, and must still see the calls before it
    limiter = RateLimiter(recording, clock, [(5, 60.0), (1000, 86400.0)], margin=0)

    def work() -> None:
        for _ in range(5):
            limiter.acquire()

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    stamps = sorted(recording.granted)
    assert len(stamps) == 20
    for i in range(len(stamps) - 5):
        assert stamps[i + 5] - stamps[i] >= 60.0 - 1e-6  # never 6 calls inside one 60 s window


# ---------------------------------------------------------------------------------------------- wiring


@pytest.mark.usefixtures("aws")
def test_open_store_reaches_a_dynamodb_table_by_url() -> None:
    import boto3

    from sdk.store.dynamodb import DynamoStore, create_table

    create_table(boto3.resource("dynamodb"), "from-url")
    opened = open_store("dynamodb://from-url")
    assert isinstance(opened, DynamoStore)
    assert opened.table_name == "from-url"
    assert claim(opened).granted
    assert not claim(opened, "t2").granted
    again = open_store("dynamodb://from-url")  # another worker, same table
    assert again.get_ledger(PORTAL, DEAL) == opened.get_ledger(PORTAL, DEAL)


def test_create_table_enables_ttl_on_expires_at(dynamodb: Any) -> None:
    from sdk.store.dynamodb import create_table

    resource = dynamodb
    table = create_table(resource, "ttl-check")
    ttl = resource.meta.client.describe_time_to_live(TableName="ttl-check")["TimeToLiveDescription"]
    assert ttl == {"TimeToLiveStatus": "ENABLED", "AttributeName": "expires_at"}
    assert table.billing_mode_summary["BillingMode"] == "PAY_PER_REQUEST"
    assert {k["AttributeName"]: k["KeyType"] for k in table.key_schema} == {"pk": "HASH", "sk": "RANGE"}


def test_an_event_kept_past_its_ttl_but_not_yet_deleted_counts_as_absent(dynamodb: Any) -> None:
    """DynamoDB deletes expired items up to days late; the store must not mistake one for a redelivery."""
    from sdk.store.dynamodb import DynamoStore, create_table

    resource = dynamodb
    create_table(resource, "lazy-ttl")
    store = DynamoStore("lazy-ttl", resource=resource)
    assert store.first_sighting("evt-1", NOW, NOW + timedelta(hours=1))
    item = resource.Table("lazy-ttl").get_item(Key={"pk": "EVENT#evt-1", "sk": "EVENT"})["Item"]
    assert int(item["expires_at"]) == int((NOW + timedelta(hours=1)).timestamp())
    assert store.first_sighting("evt-1", NOW + timedelta(hours=2), NOW + timedelta(hours=3))


# --------------------------------------------------------------------------------------------- waiters
# A blocked workflow action waiting on a deal (sdk.usecases.waiters): taken, and so completed, exactly once.

WEEK = timedelta(days=7)


def test_take_waiters_returns_every_live_waiter_of_the_deal_once(store: Store) -> None:
    store.add_waiter(PORTAL, DEAL, "cb-2", NOW + WEEK)
    store.add_waiter(PORTAL, DEAL, "cb-1", NOW + WEEK)
    store.add_waiter(PORTAL, "9002", "cb-other-deal", NOW + WEEK)
    store.add_waiter(PORTAL + 1, DEAL, "cb-other-portal", NOW + WEEK)
    assert store.take_waiters(PORTAL, DEAL, NOW) == ["cb-1", "cb-2"]
    assert store.take_waiters(PORTAL, DEAL, NOW) == []
    assert store.take_waiters(PORTAL, "9002", NOW) == ["cb-other-deal"]
    assert store.take_waiters(PORTAL + 1, DEAL, NOW) == ["cb-other-portal"]


def test_take_waiter_is_true_once_and_only_for_a_waiter_that_was_added(store: Store) -> None:
    store.add_waiter(PORTAL, DEAL, "cb-1", NOW + WEEK)
    store.add_waiter(PORTAL, DEAL, "cb-2", NOW + WEEK)
    assert not store.take_waiter(PORTAL, DEAL, "cb-never", NOW)
    assert not store.take_waiter(PORTAL, "9002", "cb-1", NOW)  # another deal's
    assert store.take_waiter(PORTAL, DEAL, "cb-1", NOW)
    assert not store.take_waiter(PORTAL, DEAL, "cb-1", NOW)
    assert store.take_waiters(PORTAL, DEAL, NOW) == ["cb-2"]
    assert not store.take_waiter(PORTAL, DEAL, "cb-2", NOW)  # taken with the others


def test_an_expired_waiter_is_never_taken_and_is_dropped(store: Store) -> None:
    store.add_waiter(PORTAL, DEAL, "cb-old", NOW + LEASE)
    store.add_waiter(PORTAL, DEAL, "cb-new", NOW + 3 * LEASE)
    later = NOW + LEASE  # a waiter ends at `until`
    assert not store.take_waiter(PORTAL, DEAL, "cb-old", later)
    assert store.take_waiters(PORTAL, DEAL, later) == ["cb-new"]
    assert store.take_waiters(PORTAL, DEAL, NOW) == []  # the expired one is gone too


def test_adding_a_waiter_again_keeps_one_with_the_new_until(store: Store) -> None:
    store.add_waiter(PORTAL, DEAL, "cb-1", NOW + LEASE)
    # put back after a completion HubSpot did not take
    store.add_waiter(PORTAL, DEAL, "cb-1", NOW + 3 * LEASE)
    assert store.take_waiters(PORTAL, DEAL, NOW + 2 * LEASE) == ["cb-1"]
    assert store.take_waiters(PORTAL, DEAL, NOW) == []


def test_eight_workers_taking_waiters_at_once_get_each_callback_once(store: Store) -> None:
    callbacks = [f"cb-{i:02d}" for i in range(12)]
    for callback_id in callbacks:
        store.add_waiter(PORTAL, DEAL, callback_id, NOW + WEEK)
    barrier = threading.Barrier(8)
    taken: list[str] = []
    errors: list[BaseException] = []

    def take(worker: int) -> None:
        try:
            barrier.wait()
            if worker % 2:
                taken.extend(store.take_waiters(PORTAL, DEAL, NOW))
            else:  # a queued message taking its own waiter back
                taken.extend(c for c in callbacks[worker::2] if store.take_waiter(PORTAL, DEAL, c, NOW))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=take, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert sorted(taken) == callbacks  # every callback, none twice
    assert store.take_waiters(PORTAL, DEAL, NOW) == []


def test_waiters_are_neither_ledger_rows_nor_history(store: Store) -> None:
    created(store)
    store.add_waiter(PORTAL, DEAL, "cb-1", NOW + WEEK)
    store.add_waiter(PORTAL, "9002", "cb-2", NOW + WEEK)
    assert [r.deal_id for r in store.ledger()] == [DEAL]
    assert store.get_ledger(PORTAL, "9002") is None
    assert store.history(PORTAL, DEAL) == []
    row = store.get_ledger(PORTAL, DEAL)
    assert row is not None
    assert row.state is LedgerState.CREATED


# ---------------------------------------------------------------------------------------- payment sync


def test_sync_lease_is_held_by_one_holder_until_released_or_expired(store: Store) -> None:
    assert store.acquire_lease("payment-sync", "a", NOW, NOW + LEASE)
    assert not store.acquire_lease("payment-sync", "b", NOW + LEASE - timedelta(seconds=1), NOW + 2 * LEASE)
    assert store.acquire_lease("payment-sync", "a", NOW + timedelta(seconds=1), NOW + LEASE * 2)  # renewed
    store.release_lease("payment-sync", "b")  # not b's: nothing happens
    assert not store.acquire_lease("payment-sync", "b", NOW + LEASE, NOW + 2 * LEASE)
    store.release_lease("payment-sync", "a")
    assert store.acquire_lease("payment-sync", "b", NOW, NOW + LEASE)
    assert store.acquire_lease("payment-sync", "c", NOW + LEASE, NOW + 2 * LEASE)  # b's lease expired
    assert store.acquire_lease("other-sync", "d", NOW, NOW + LEASE)  # leases are named


def test_two_holders_racing_for_the_sync_lease_one_wins(store: Store) -> None:
    results: list[bool] = []
    barrier = threading.Barrier(8)

    def take(holder: str) -> None:
        barrier.wait()
        results.append(store.acquire_lease("payment-sync", holder, NOW, NOW + LEASE))

    threads = [threading.Thread(target=take, args=(f"h{i}",)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == [False] * 7 + [True]


def test_sync_cursor_is_absent_then_kept_and_replaced(store: Store) -> None:
    assert store.get_cursor("payment-sync") is None
    store.put_cursor("payment-sync", "2026-11-25T09:00:00+00:00")
    store.put_cursor("payment-sync", "2026-11-26T09:00:00+00:00")
    assert store.get_cursor("payment-sync") == "2026-11-26T09:00:00+00:00"
    assert store.get_cursor("other") is None


def test_company_written_values_are_kept_per_portal_and_company(store: Store) -> None:
    assert store.companies_written(PORTAL) == {}
    store.record_company_written(PORTAL, "501", {"freee_outstanding_total": "1000"}, NOW)
    store.record_company_written(PORTAL, "502", {"freee_payment_risk": "none"}, NOW)
    store.record_company_written(PORTAL, "501", {"freee_outstanding_total": "0", "x": "未入金"}, NOW)
    store.record_company_written(PORTAL + 1, "501", {"freee_outstanding_total": "5"}, NOW)
    store.link_partner(PORTAL, "501", 77)  # the partner link of the same company stays apart
    assert store.companies_written(PORTAL) == {
        "501": {"freee_outstanding_total": "0", "x": "未入金"},
        "502": {"freee_payment_risk": "none"},
    }
    assert store.partner_for_company(PORTAL, "501") == 77
    created(store)
    assert [r.deal_id for r in store.ledger()] == [DEAL]  # none of these rows is a ledger row


# ------------------------------------------------------- the lease renewed before a freee write (issue 14)


def test_renewing_moves_the_holders_lease_so_nobody_else_can_claim(store: Store) -> None:
    claim(store, "t1")
    later = NOW + LEASE - timedelta(seconds=1)
    renewed = store.renew_claim(PORTAL, DEAL, "t1", later, later + LEASE)
    assert (renewed.claim_token, renewed.claim_until, renewed.state) == (
        "t1",
        later + LEASE,
        LedgerState.CREATING,
    )
    assert renewed.version == 2
    assert store.get_ledger(PORTAL, DEAL) == renewed
    # past the first lease, not the renewed one
    refused = claim(store, "t2", now=NOW + LEASE + timedelta(seconds=1))
    assert not refused.granted
    assert refused.row.claim_token == "t1"


def test_a_lease_that_ran_out_untaken_is_still_the_holders_to_renew(store: Store) -> None:
    claim(store, "t1")
    late = NOW + 2 * LEASE
    assert store.renew_claim(PORTAL, DEAL, "t1", late, late + LEASE).claim_until == late + LEASE
    assert not claim(store, "t2", now=late).granted


def test_only_a_creating_row_is_renewed(store: Store) -> None:
    claim(store, "t1")
    store.record_invoice(PORTAL, DEAL, "t1", invoice(), NOW)  # created, its claim kept for the write-back
    with pytest.raises(ClaimLost):
        store.renew_claim(PORTAL, DEAL, "t1", NOW, NOW + LEASE)
    row = store.get_ledger(PORTAL, DEAL)
    assert row is not None
    assert (row.state, row.claim_until) == (LedgerState.CREATED, NOW + LEASE)


def test_every_place_any_attempt_noted_is_kept(store: Store) -> None:
    first, second = date(2026, 11, 20), date(2026, 11, 30)
    claim(store, "t1")
    store.note_intent(PORTAL, DEAL, "t1", company_id="c1", partner_id=77, billing_date=first)
    store.record_failure(PORTAL, DEAL, "t1", LedgerState.FAILED, "lost", NOW)
    assert claim(store, "t2", now=NOW + timedelta(seconds=1)).row.intents == ((77, first),)
    store.note_intent(PORTAL, DEAL, "t2", company_id="c1", partner_id=78, billing_date=second)
    store.note_intent(PORTAL, DEAL, "t2", company_id="c1", partner_id=77, billing_date=first)
    row = store.get_ledger(PORTAL, DEAL)
    assert row is not None
    assert row.intents == ((77, first), (78, second))
    assert (row.partner_id, row.billing_date) == (77, first)  # the latest
    store.record_invoice(PORTAL, DEAL, "t2", invoice(), NOW)
    after = store.get_ledger(PORTAL, DEAL)
    assert after is not None
    assert after.intents == ((77, first), (78, second))


def test_a_row_with_no_intent_has_none(store: Store) -> None:
    assert claim(store).row.intents == ()


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
    store.note_intent(PORTAL, DEAL, "t1", company_id="c1", partner_id=78, billing_date=date(2026, 11, 27))
    after = store.get_ledger(PORTAL, DEAL)
    assert after is not None and after.intents == ((78, date(2026, 11, 27)),)
