"""The store's other roles over every adapter (SQLite, DynamoDB under moto): partner links, the event log, the
history per deal, waiters, the payment sync's lease and the company rollups it remembers."""

from __future__ import annotations

import threading
from datetime import date, timedelta

from sdk.store import (
    HistoryEvent,
    LedgerState,
    Store,
)
from tests.store.records import DEAL, LEASE, NOW, PORTAL, claim, created

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


def test_a_batch_of_events_is_checked_and_recorded_in_one_go(store: Store) -> None:
    keep = NOW + timedelta(days=3)
    ids = [f"batch-{i}" for i in range(250)]
    assert store.seen_any(ids, NOW) == set()
    assert store.seen_any(ids, NOW) == set()  # asking does not record
    store.record_sightings(ids[:120] + ids[:5], NOW, keep)
    assert store.seen_any(ids, NOW + timedelta(hours=1)) == set(ids[:120])
    assert store.seen_any(ids, keep) == set()  # kept until, not beyond


def test_recording_an_event_again_keeps_it_until_the_new_date(store: Store) -> None:
    keep = NOW + timedelta(days=3)
    store.record_sightings(["evt-1"], NOW, keep)
    store.record_sightings(["evt-1", "evt-2"], NOW + timedelta(days=1), keep + timedelta(days=1))
    assert store.seen_any(["evt-1", "evt-2", "evt-3"], keep) == {"evt-1", "evt-2"}


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
