"""Deals' billing schedules (the ``Schedules`` role), over every adapter: a save is conditioned on the version read
(exactly one of racing writers wins), the schedules due by a date are the active ones in (date, deal) order, read a
page at a time, and one company's schedules are its own, never its ledger rows. Each read is keyed: on DynamoDB no
Scan is sent (a query on the sparse ``by_due`` index, or on ``by_company``), on SQLite the query plan searches an
index."""

from __future__ import annotations

import sqlite3
import threading
from dataclasses import replace
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest

from sdk.errors import ScheduleConflict
from sdk.store import Intent, ScheduleRow, ScheduleState, Store
from tests.store.records import NOW, PORTAL, claim, invoice

ON = date(2027, 1, 31)
PLAN: dict[str, Any] = {
    "kind": "monthly",
    "periods": [{"n": 1, "billing_date": "2027-01-31", "amount": 110_000}, {"n": 2, "amount": 110_000}],
    "term": None,
    "memo": "月額保守（12か月）",
}


def schedule(
    deal: str = "456",
    state: ScheduleState = ScheduleState.ACTIVE,
    next_due: date | None = ON,
    company: str | None = "789",
    portal: int = PORTAL,
    plan: dict[str, Any] | None = None,
) -> ScheduleRow:
    return ScheduleRow(portal, deal, state, PLAN if plan is None else plan, next_due, company_id=company)


def saved(store: Store, *rows: ScheduleRow) -> list[ScheduleRow]:
    return [store.save_schedule(row, NOW) for row in rows]


# ------------------------------------------------------------------------------------------------ saving


def test_a_new_schedule_is_saved_at_version_1_and_reads_back_whole(store: Store) -> None:
    row = replace(schedule(), consolidated=True, note="解約のため停止 / stopped: subscription cancelled")

    stored = store.save_schedule(row, NOW)

    assert stored == replace(row, version=1, updated_at=NOW)
    assert store.get_schedule(PORTAL, "456") == stored
    assert store.get_schedule(PORTAL, "457") is None
    assert store.get_schedule(PORTAL + 1, "456") is None


def test_a_plan_comes_back_as_json_reads_it(store: Store) -> None:
    stored = store.save_schedule(schedule(plan={"periods": (1, 2), "big": 10**15, "yen": "¥"}), NOW)
    assert stored.plan == {"periods": [1, 2], "big": 10**15, "yen": "¥"}
    assert store.get_schedule(PORTAL, "456") == stored


def test_a_plan_json_cannot_hold_is_refused_and_nothing_is_stored(store: Store) -> None:
    with pytest.raises(TypeError):
        store.save_schedule(schedule(plan={"from": ON}), NOW)
    assert store.get_schedule(PORTAL, "456") is None


def test_each_save_moves_the_version_by_one(store: Store) -> None:
    first = store.save_schedule(schedule(), NOW)
    later = NOW + timedelta(days=31)

    second = store.save_schedule(replace(first, next_due=date(2027, 2, 28), company_id=None), later)

    assert (second.version, second.updated_at, second.next_due, second.company_id) == (
        2,
        later,
        date(2027, 2, 28),
        None,
    )
    assert store.get_schedule(PORTAL, "456") == second


def test_a_save_from_a_stale_version_is_refused_and_changes_nothing(store: Store) -> None:
    first = store.save_schedule(schedule(), NOW)
    second = store.save_schedule(replace(first, note="n2"), NOW)

    with pytest.raises(ScheduleConflict, match="another writer") as refused:
        store.save_schedule(replace(first, state=ScheduleState.STOPPED), NOW)

    assert (refused.value.deal_id, refused.value.expected, refused.value.found) == ("456", 1, 2)
    assert "version 1" in str(refused.value) and "version 2 is stored" in str(refused.value)
    assert store.get_schedule(PORTAL, "456") == second


def test_a_new_schedule_is_refused_when_one_is_stored_already(store: Store) -> None:
    store.save_schedule(schedule(), NOW)
    with pytest.raises(ScheduleConflict) as refused:
        store.save_schedule(schedule(next_due=None), NOW)
    assert (refused.value.expected, refused.value.found) == (0, 1)


def test_a_save_of_a_version_never_stored_is_refused(store: Store) -> None:
    with pytest.raises(ScheduleConflict, match="none is stored") as refused:
        store.save_schedule(replace(schedule(), version=3), NOW)
    assert refused.value.found is None
    assert store.get_schedule(PORTAL, "456") is None


@pytest.mark.parametrize("version", [0, 1])
def test_eight_writers_saving_from_one_version_leave_exactly_one_winner(store: Store, version: int) -> None:
    if version:
        store.save_schedule(schedule(), NOW)
    barrier = threading.Barrier(8)
    won: list[ScheduleRow] = []
    lost: list[ScheduleConflict] = []
    errors: list[BaseException] = []

    def race(note: str) -> None:
        try:
            barrier.wait()
            won.append(store.save_schedule(replace(schedule(), note=note, version=version), NOW))
        except ScheduleConflict as exc:
            lost.append(exc)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=race, args=(f"w{i}",)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    assert errors == []
    assert (len(won), len(lost)) == (1, 7)
    assert {exc.found for exc in lost} == {version + 1}
    assert store.get_schedule(PORTAL, "456") == won[0]
    assert won[0].version == version + 1


def test_get_schedules_reads_many_deals_of_one_portal(store: Store) -> None:
    many = [str(n) for n in range(1000, 1250)]  # more than one DynamoDB batch (100 keys)
    saved(store, *(schedule(deal) for deal in many[::2]))
    saved(store, schedule("1001", portal=PORTAL + 1))

    found = store.get_schedules(PORTAL, [*many, *many[:10], "none"])

    assert sorted(found) == sorted(many[::2])
    assert found["1000"] == store.get_schedule(PORTAL, "1000")
    assert store.get_schedules(PORTAL, []) == {}


# ------------------------------------------------------------------------------------------------ due


def test_due_schedules_are_the_active_ones_due_on_or_before_the_date_by_date_then_deal(store: Store) -> None:
    saved(
        store,
        schedule("20", next_due=ON),
        schedule("9", next_due=ON),  # deal ids order as strings: "20" < "9"
        schedule("31", next_due=ON - timedelta(days=40)),
        schedule("40", next_due=ON + timedelta(days=1)),  # due tomorrow
        schedule("41", next_due=None),  # nothing left to bill
        schedule("42", state=ScheduleState.STOPPED, next_due=ON - timedelta(days=1)),
        schedule("43", state=ScheduleState.ENDED, next_due=ON - timedelta(days=1)),
        schedule("44", next_due=ON - timedelta(days=1), company=None),
        schedule("50", next_due=ON, portal=PORTAL + 1),
    )

    due = list(store.due_schedules(PORTAL, ON))

    assert [(r.deal_id, r.next_due) for r in due] == [
        ("31", date(2026, 12, 22)),
        ("44", date(2027, 1, 30)),
        ("20", ON),
        ("9", ON),
    ]
    assert due[0] == store.get_schedule(PORTAL, "31")
    assert [r.deal_id for r in store.due_schedules(PORTAL, ON - timedelta(days=41))] == []
    assert [r.deal_id for r in store.due_schedules(PORTAL + 1, ON)] == ["50"]


def test_a_schedule_leaves_the_due_ones_when_it_stops_ends_or_has_nothing_left(store: Store) -> None:
    a, b, c = saved(store, schedule("1"), schedule("2"), schedule("3"))

    stopped, _, emptied = saved(
        store,
        replace(a, state=ScheduleState.STOPPED, note="取引が受注から外れました / moved out of won"),
        replace(b, state=ScheduleState.ENDED),
        replace(c, next_due=None),
    )
    assert list(store.due_schedules(PORTAL, ON)) == []

    resumed = store.save_schedule(replace(stopped, state=ScheduleState.ACTIVE), NOW)
    moved = store.save_schedule(replace(emptied, next_due=date(2027, 1, 2)), NOW)
    assert list(store.due_schedules(PORTAL, ON)) == [moved, resumed]


def test_a_schedule_saved_while_the_due_ones_are_read_is_met_once(store: Store) -> None:
    """More schedules than one page (SQLite reads 200 at a time), each moved past the date as it is met: the read
    goes on after the last one met, in a transaction of its own per page, so the saves neither block it nor are
    met twice."""
    saved(store, *(schedule(f"{n:04d}", next_due=ON - timedelta(days=n % 7)) for n in range(230)))

    met = []
    for row in store.due_schedules(PORTAL, ON):
        met.append(row.deal_id)
        store.save_schedule(replace(row, next_due=ON + timedelta(days=30)), NOW)

    assert sorted(met) == [f"{n:04d}" for n in range(230)]
    assert len(met) == 230
    assert list(store.due_schedules(PORTAL, ON)) == []


# ------------------------------------------------------------------------------------------------ company


def test_a_company_s_schedules_are_its_own_and_never_its_ledger_rows(store: Store) -> None:
    saved(
        store,
        schedule("12", company="c-1"),
        schedule("3", company="c-2"),
        schedule("11", company="c-1", state=ScheduleState.ENDED, next_due=None),
        schedule("13", company="c-1", portal=PORTAL + 1),
        schedule("14", company=None),
    )
    for deal in ("12", "20"):  # deal 12 has a ledger row too, beside its schedule
        claim(store, f"t{deal}", deal=deal)
        store.note_intent(PORTAL, deal, f"t{deal}", Intent("c-1", 77, ON))
        store.record_invoice(PORTAL, deal, f"t{deal}", invoice(int(deal)), NOW)
    store.link_partner(PORTAL, "c-1", 77)
    store.record_company_written(PORTAL, "c-1", {"freee_outstanding_total": "110000"}, NOW)

    schedules = store.schedules_for_company(PORTAL, "c-1")

    assert [(r.deal_id, r.state) for r in schedules] == [
        ("11", ScheduleState.ENDED),
        ("12", ScheduleState.ACTIVE),
    ]
    assert schedules[1] == store.get_schedule(PORTAL, "12")
    assert [r.deal_id for r in store.ledger_for_company(PORTAL, "c-1")] == ["12", "20"]
    assert [r.deal_id for r in store.schedules_for_company(PORTAL + 1, "c-1")] == ["13"]
    assert store.schedules_for_company(PORTAL, "c-9") == []


def test_a_schedule_moved_to_another_company_leaves_the_first(store: Store) -> None:
    (row,) = saved(store, schedule("12", company="c-1"))
    store.save_schedule(replace(row, company_id="c-2"), NOW)
    assert store.schedules_for_company(PORTAL, "c-1") == []
    assert [r.deal_id for r in store.schedules_for_company(PORTAL, "c-2")] == ["12"]


# ------------------------------------------------------------------------------------ keyed, never a scan


def test_on_dynamodb_schedules_are_read_by_key_and_query_never_a_scan(dynamodb: Any) -> None:
    from sdk.store.dynamodb import DynamoStore, create_table

    create_table(dynamodb, "keyed")
    store = DynamoStore("keyed", resource=dynamodb)
    saved(
        store, schedule("11", company="c-1"), schedule("12", company="c-1", next_due=ON - timedelta(days=3))
    )
    sent: list[str] = []

    def record(event_name: str, **_: Any) -> None:
        sent.append(event_name.rsplit(".", 1)[-1])

    def refuse_scan(**_: Any) -> None:
        raise AssertionError("a Scan was sent for schedules")

    events = dynamodb.meta.client.meta.events
    events.register("before-call.dynamodb.*", record)
    events.register("before-call.dynamodb.Scan", refuse_scan)
    try:
        due = list(store.due_schedules(PORTAL, ON))
        company = store.schedules_for_company(PORTAL, "c-1")
        many = store.get_schedules(PORTAL, ["11", "12", "13"])
        with pytest.raises(AssertionError, match="Scan"):  # the guard is live: the full read is refused
            list(store.ledger())
    finally:
        events.unregister("before-call.dynamodb.*", record)
        events.unregister("before-call.dynamodb.Scan", refuse_scan)

    assert [r.deal_id for r in due] == ["12", "11"]
    assert [r.deal_id for r in company] == ["11", "12"]
    assert sorted(many) == ["11", "12"]
    assert sent == ["Query", "Query", "BatchGetItem", "Scan"]


def test_on_dynamodb_the_due_index_holds_only_due_schedules(dynamodb: Any) -> None:
    from sdk.store.dynamodb import DynamoStore, create_table
    from sdk.store.dynamodb.table import DUE_INDEX

    create_table(dynamodb, "sparse")
    store = DynamoStore("sparse", resource=dynamodb)
    a, _, _ = saved(
        store, schedule("1"), schedule("2", next_due=None), schedule("3", state=ScheduleState.STOPPED)
    )
    store.save_schedule(replace(a, state=ScheduleState.ENDED), NOW)
    saved(store, schedule("4", next_due=date(2027, 3, 1)))

    indexed = dynamodb.Table("sparse").scan(IndexName=DUE_INDEX)["Items"]

    assert [(i["due_pk"], i["due_sk"]) for i in indexed] == [(f"DUE#{PORTAL}", "2027-03-01#4")]


def test_on_dynamodb_due_schedules_page_past_one_megabyte(dynamodb: Any) -> None:
    from sdk.store.dynamodb import DynamoStore, create_table

    create_table(dynamodb, "paged")
    store = DynamoStore("paged", resource=dynamodb)
    big = {"lines": ["x" * 1000] * 10}  # about 10 KB a schedule: 300 of them are about 3 MB
    deals = [f"{n:03d}" for n in range(300)]
    saved(store, *(schedule(deal, plan=big) for deal in deals))
    queries: list[str] = []

    def record(**_: Any) -> None:
        queries.append("Query")

    events = dynamodb.meta.client.meta.events
    events.register("before-call.dynamodb.Query", record)
    try:
        due = list(store.due_schedules(PORTAL, ON))
    finally:
        events.unregister("before-call.dynamodb.Query", record)

    assert [r.deal_id for r in due] == deals
    assert due[-1].plan == big
    assert len(queries) >= 3  # one page holds at most 1 MB


def test_on_sqlite_schedules_are_searched_by_their_indexes(tmp_path: Path) -> None:
    from sdk.store.sqlite import SQLiteStore
    from sdk.store.sqlite.schedules import COMPANY_SCHEDULES, DUE_PAGE, DUE_ROWS

    store = SQLiteStore(tmp_path / "store.sqlite")
    saved(store, schedule("11", company="c-1"))
    reads = (
        (DUE_ROWS, (PORTAL, "active", ON.isoformat(), "2027-01-01", "10", DUE_PAGE), "schedules_due"),
        (COMPANY_SCHEDULES, (PORTAL, "c-1"), "schedules_company"),
    )
    with sqlite3.connect(store.path) as db:
        for sql, args, index in reads:
            plan = " ".join(str(r[-1]) for r in db.execute(f"EXPLAIN QUERY PLAN {sql}", args))
            assert f"USING INDEX {index}" in plan or f"USING COVERING INDEX {index}" in plan, plan
            assert "SCAN" not in plan and "TEMP B-TREE" not in plan, plan


def test_a_sqlite_file_made_before_schedules_gets_them_on_open(tmp_path: Path) -> None:
    from sdk.store.sqlite import SQLiteStore
    from sdk.store.sqlite.store import schema_gaps

    path = tmp_path / "old.sqlite"
    SQLiteStore(path)
    with sqlite3.connect(path) as db:
        db.execute("DROP TABLE schedules")
    assert schema_gaps(path) == ["table schedules"]

    store = SQLiteStore(path)

    assert schema_gaps(path) == []
    with sqlite3.connect(path) as db:
        indexes = {r[1] for r in db.execute("PRAGMA index_list(schedules)")}
    assert {"schedules_due", "schedules_company"} <= indexes
    assert store.save_schedule(schedule(), NOW).version == 1
