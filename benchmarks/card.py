"""The balance card (``balance_card``: what ``GET /cards/balance`` serves) at ledger sizes, per store.

Seeds a ledger of N deals (spread over companies of ``--per-company`` deals each, a tenth of them partly paid, a
tenth overdue, one in fifty invalid), then times the card for random deals and random companies: p50 / p99 of each
view. DynamoDB is seeded through the store's own methods; SQLite in one transaction of plain inserts with the
adapter's own encodings (through its methods, four transactions per row, 100,000 rows take over ten minutes), and
checked: a seeded row reads back through the store as the methods would have left it. Each view reads only its record's rows (one keyed read: SQLite's
``ledger_company`` index, DynamoDB's ``by_company`` index), so its time should not grow with N; the figure for the
old way (a full read of the ledger filtered in Python, ``--full-read``) shows what it replaced.

SQLite at 1,000 and 100,000 rows; DynamoDB under moto at 1,000 rows by default (moto serves each request in
Python, about 1–2 ms, and seeding takes four requests per row: 100,000 rows would take hours). Moto's timings are
moto's, not DynamoDB's: what they show is that the read does not grow with the table.
Writes ``benchmarks/card.json``. Usage: ``python benchmarks/card.py [--sqlite 1000 100000] [--dynamodb 1000]
[--reads 300]``.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from _record import load, record, stamp

from sdk.errors import Problem
from sdk.settings import load_settings
from sdk.store import Failure, Intent, InvoiceRecord, LedgerState, Store
from sdk.usecases.balance import balance_card

PORTAL = 24681357
NOW = datetime(2026, 12, 25, 1, 0, tzinfo=UTC)
TODAY = date(2026, 12, 25)
LEASE = timedelta(minutes=5)
NO_COMPANY = Problem("deal.company_missing", "associations.company", "会社がありません。", "No company.")


def seed(store: Store, rows: int, per_company: int, rng: random.Random) -> tuple[list[str], list[str]]:
    """``rows`` deals through claim → intent → invoice → write-back (a fiftieth invalid); their ids and companies."""
    deals, companies = [], []
    for n in range(rows):
        deal, company, token = str(10_000_000 + n), str(5_000_000 + n // per_company), f"t{n}"
        store.claim(PORTAL, deal, token, NOW, NOW + LEASE)
        store.note_intent(PORTAL, deal, token, Intent(company, 77, date(2026, 11, 20)))
        deals.append(deal)
        if n % per_company == 0:
            companies.append(company)
        if n % 50 == 49:
            store.record_failure(
                PORTAL, deal, token, Failure(LedgerState.INVALID, "x", reasons=(NO_COMPANY,)), NOW
            )
            continue
        invoice, written = _invoiced(n)
        store.record_invoice(PORTAL, deal, token, invoice, NOW)
        store.record_written(PORTAL, deal, written, NOW, token=token)
    return deals, companies


def seed_sqlite(store: Any, rows: int, per_company: int) -> tuple[list[str], list[str]]:
    """What :func:`seed` leaves, written in one transaction (the columns as ``SQLiteLedger`` writes them)."""
    import json

    from sdk.store.codec import problems_to_plain, to_plain

    deals, companies, values = [], [], []
    for n in range(rows):
        deal, company = str(10_000_000 + n), str(5_000_000 + n // per_company)
        deals.append(deal)
        if n % per_company == 0:
            companies.append(company)
        common = (PORTAL, deal, company, 77, "2026-11-20", '[[77, "2026-11-20"]]', NOW.isoformat())
        if n % 50 == 49:
            reasons = json.dumps(problems_to_plain((NO_COMPANY,)), ensure_ascii=False)
            values.append((*common, "invalid", 3, None, "{}", "x", reasons))
            continue
        invoice, written = _invoiced(n)
        values.append(
            (
                *common,
                "created",
                5,
                json.dumps(to_plain(invoice)),
                json.dumps(written, sort_keys=True),
                None,
                "[]",
            )
        )
    with store.db.transaction(immediate=True) as db:
        db.executemany(
            "INSERT INTO ledger (portal_id, deal_id, company_id, partner_id, billing_date, intents, updated_at,"
            " state, version, invoice, written, last_error, reasons, attempts) VALUES"
            " (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 1)",
            values,
        )
    return deals, companies


def _invoiced(n: int) -> tuple[InvoiceRecord, dict[str, str]]:
    """Deal ``n``'s invoice (overdue for one in ten) and what was written to it (half paid for one in ten)."""
    total = 10_000 + n
    due = date(2026, 12, 20) if n % 10 == 3 else date(2027, 1, 31)
    invoice = InvoiceRecord(
        n + 1, f"INV-{n:010d}", f"https://invoice.example/{n}", 77, total, total // 10, total + total // 10,
        date(2026, 11, 20), due,
    )  # fmt: skip
    paid = invoice.amount_total // 2 if n % 10 == 7 else 0
    written = {"freee_amount_paid": str(paid), "freee_amount_outstanding": str(invoice.amount_total - paid)}
    return invoice, written


def check_seeded(store: Store, per_company: int) -> None:
    """A bulk-seeded SQLite ledger reads back as :func:`seed` leaves one (deals 7 and 49 of a small ledger)."""
    from sdk.store.sqlite import SQLiteStore

    with tempfile.TemporaryDirectory() as tmp:
        reference = SQLiteStore(Path(tmp) / "reference.sqlite")
        seed(reference, 50, per_company, random.Random(0))
        for deal in ("10000007", "10000049"):
            made, bulk = reference.get_ledger(PORTAL, deal), store.get_ledger(PORTAL, deal)
            assert made is not None, deal
            assert bulk is not None, deal
            keep = ("state", "company_id", "invoice", "written", "reasons", "intents", "partner_id")
            assert [getattr(made, k) for k in keep] == [getattr(bulk, k) for k in keep], deal


def timed(read: Callable[[], Any], reads: int) -> dict[str, float]:
    took = []
    for _ in range(reads):
        started = time.perf_counter()
        read()
        took.append((time.perf_counter() - started) * 1000)
    took.sort()
    return {
        "p50_ms": round(statistics.median(took), 3),
        "p99_ms": round(took[min(len(took) - 1, int(len(took) * 0.99))], 3),
        "max_ms": round(took[-1], 3),
        "reads": reads,
    }


def full_read_company(store: Store, company: str) -> list[Any]:
    """The card's read before keyed reads: the whole ledger, filtered in Python."""
    return [r for r in store.ledger() if r.portal_id == PORTAL and r.company_id == company]


def measure(store: Store, rows: int, args: argparse.Namespace, rng: random.Random) -> dict[str, Any]:
    settings = load_settings()
    started = time.perf_counter()
    if hasattr(store, "db"):  # SQLite
        deals, companies = seed_sqlite(store, rows, args.per_company)
        check_seeded(store, args.per_company)
    else:
        deals, companies = seed(store, rows, args.per_company, rng)
    seeded_s = time.perf_counter() - started

    def card(kind: str, ids: list[str]) -> Callable[[], Any]:
        def read() -> Any:
            return balance_card(
                store, settings, portal_id=PORTAL, object_type=kind, object_id=rng.choice(ids), today=TODAY
            )

        return read

    result: dict[str, Any] = {
        "rows": rows,
        "companies": len(companies),
        "deals_per_company": args.per_company,
        "seed_s": round(seeded_s, 1),
        "deal_card": timed(card("deal", deals), args.reads),
        "company_card": timed(card("company", companies), args.reads),
    }
    if args.full_read:
        result["company_rows_by_full_read"] = timed(
            lambda: full_read_company(store, rng.choice(companies)), max(3, args.reads // 50)
        )
    return result


@contextmanager
def sqlite_store() -> Iterator[Store]:
    from sdk.store.sqlite import SQLiteStore

    with tempfile.TemporaryDirectory() as tmp:
        yield SQLiteStore(Path(tmp) / "store.sqlite")


@contextmanager
def dynamodb_store(n: int) -> Iterator[Store]:
    from moto import mock_aws

    for name in ("AWS_PROFILE", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_DYNAMODB"):
        os.environ.pop(name, None)
    os.environ.update(
        AWS_ACCESS_KEY_ID="testing",
        AWS_SECRET_ACCESS_KEY="testing",
        AWS_DEFAULT_REGION="ap-northeast-1",
        AWS_SHARED_CREDENTIALS_FILE="/nonexistent",
    )
    with mock_aws():
        import boto3

        from sdk.store.dynamodb import DynamoStore, create_table

        resource = boto3.resource("dynamodb")
        create_table(resource, f"bench-card-{n}")
        yield DynamoStore(f"bench-card-{n}", resource=resource)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sqlite", type=int, nargs="*", default=[1_000, 100_000])
    parser.add_argument("--dynamodb", type=int, nargs="*", default=[1_000])
    parser.add_argument("--per-company", type=int, default=20)
    parser.add_argument("--reads", type=int, default=300)
    parser.add_argument(
        "--full-read", action=argparse.BooleanOptionalAction, default=True, help="also time the old full read"
    )
    args = parser.parse_args()
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    before = load()
    rng = random.Random(7)
    runs: list[dict[str, Any]] = []
    for n in args.sqlite:
        with sqlite_store() as store:
            runs.append({"store": "sqlite"} | measure(store, n, args, rng))
        print(f"sqlite {n}: {runs[-1]['company_card']}", flush=True)
    for n in args.dynamodb:
        with dynamodb_store(n) as store:
            runs.append({"store": "dynamodb (moto)"} | measure(store, n, args, rng))
        print(f"dynamodb {n}: {runs[-1]['company_card']}", flush=True)
    result = {
        "benchmark": "balance card (balance_card over the store, in process): p50 / p99 per view and ledger size",
        **stamp(before),
        "runs": runs,
        "note": "DynamoDB under moto at the smaller size only: moto answers each request in Python and seeding"
        " takes four requests per row, so 100,000 rows would take hours; its timings are moto's, not AWS's.",
    }
    record("card", result)


if __name__ == "__main__":
    main()
