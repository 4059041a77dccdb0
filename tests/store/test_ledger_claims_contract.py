"""The ledger's claims over every adapter (SQLite, DynamoDB under moto): who may take a deal, that exactly one
worker does however many ask at once, and the lease its holder renews before each freee write."""

from __future__ import annotations

import threading
from datetime import date, timedelta

import pytest

from sdk.errors import ClaimLost
from sdk.store import (
    Claim,
    Failure,
    Intent,
    LedgerState,
    Store,
)
from tests.store.records import DEAL, LEASE, NOW, PORTAL, claim, created, invoice

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


def test_a_scheduled_row_is_never_claimable_and_keeps_no_claim_or_reasons(store: Store) -> None:
    claim(store, "t1")
    store.record_failure(PORTAL, DEAL, "t1", Failure(LedgerState.INVALID, "bad term"), NOW)
    claim(store, "t2", now=NOW + timedelta(seconds=1))
    row = store.record_scheduled(PORTAL, DEAL, "t2", NOW + timedelta(seconds=2))
    assert (row.state, row.claim_token, row.claim_until, row.reasons, row.last_error, row.invoice) == (
        LedgerState.SCHEDULED,
        None,
        None,
        (),
        None,
        None,
    )
    assert store.get_ledger(PORTAL, DEAL) == row
    refused = claim(store, "t3", now=NOW + timedelta(days=30))
    assert not refused.granted and refused.row.state is LedgerState.SCHEDULED
    with pytest.raises(ClaimLost):  # only the holder of a creating row moves it
        store.record_scheduled(PORTAL, DEAL, "t3", NOW)
    written = store.record_written(PORTAL, DEAL, {"freee_invoice_count": "2"}, NOW)
    assert written.state is LedgerState.SCHEDULED and written.written == {"freee_invoice_count": "2"}


@pytest.mark.parametrize("state", [LedgerState.FAILED, LedgerState.INVALID])
def test_failed_and_invalid_rows_are_claimable_at_once(store: Store, state: LedgerState) -> None:
    claim(store, "t1")
    store.record_failure(PORTAL, DEAL, "t1", Failure(state, "boom"), NOW)
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
    store.note_intent(PORTAL, DEAL, "t1", Intent("c1", 77, first))
    store.record_failure(PORTAL, DEAL, "t1", Failure(LedgerState.FAILED, "lost"), NOW)
    assert claim(store, "t2", now=NOW + timedelta(seconds=1)).row.intents == ((77, first),)
    store.note_intent(PORTAL, DEAL, "t2", Intent("c1", 78, second))
    store.note_intent(PORTAL, DEAL, "t2", Intent("c1", 77, first))
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
