"""``GET /cards/balance`` through the Flask app: v3 signatures only, query checks, and the card's data: what the
payment sync wrote to each company, each reason a deal cannot be invoiced, and only keyed reads of the ledger (on
both stores)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, timedelta
from typing import Any

import pytest

from functions.app import Services, create_app
from local.world import World, build_world
from sdk.clock import SystemClock
from sdk.runtime import LambdaRuntime
from sdk.store import Intent, InvoiceRecord, Store
from sdk.usecases.create_invoice import Result, create_invoice_for_deal
from sdk.usecases.sync_payments import sync_payments
from tests.signing import SECRET, v2_headers, v3_headers

PORTAL = 24681357
COMPANY = "5005"


class NoQueue:
    def send(self, body: dict[str, Any], *, delay: float = 0) -> str:
        raise AssertionError("the card endpoint queues nothing")

    def send_many(self, bodies: list[dict[str, Any]]) -> list[str]:
        raise AssertionError("the card endpoint queues nothing")


@pytest.fixture
def world(store: Store) -> Iterator[World]:
    w = build_world(store, clock=SystemClock(), hubspot_client_secret=SECRET)
    yield w
    w.close()


@pytest.fixture
def client(world: World):
    return create_app(Services(world.context(), NoQueue())).test_client()


def invoiced(world: World, deal: str, *, written: dict[str, str], due: date) -> None:
    store, now = world.context().store, world.clock.now()
    token = f"t-{deal}"
    assert store.claim(PORTAL, deal, token, now, now + timedelta(minutes=5)).granted
    store.note_intent(PORTAL, deal, token, Intent(COMPANY, 7, date(2026, 1, 5)))
    record = InvoiceRecord(
        invoice_id=int(deal),
        invoice_number=f"INV-{deal}",
        invoice_url=f"https://invoice.secure.freee.co.jp/reports/invoices/{deal}",
        partner_id=7,
        amount_net=100_000,
        amount_tax=10_000,
        amount_total=110_000,
        billing_date=date(2026, 1, 5),
        due_date=due,
    )
    store.record_invoice(PORTAL, deal, token, record, now)
    store.record_written(PORTAL, deal, written, now, token=token)


def get(client, query: str, headers: dict[str, str] | None = None):
    path = f"/cards/balance?{query}"
    uri = f"http://localhost{path}"
    signed = headers if headers is not None else v3_headers(uri, b"", method="GET")
    return client.get(path, headers=signed)


def test_signed_request_for_an_overdue_deal_answers_its_balance(client, world):
    invoiced(
        world,
        "701",
        written={"freee_amount_paid": "10000", "freee_amount_outstanding": "100000"},
        due=date(2026, 2, 4),
    )

    response = get(
        client, f"objectType=deal&objectId=701&portalId={PORTAL}&userId=1&userEmail=a%40b.jp&appId=9"
    )

    assert response.status_code == 200
    body = response.get_json()
    assert body["hasInvoices"] is True
    assert body["invoice"]["invoiceNumber"] == "INV-701"
    assert body["invoice"]["amountOutstanding"] == 100_000
    assert body["invoice"]["status"] == "overdue"  # due 2026-02-04, long past on the system clock
    assert body["invoice"]["url"] == "https://invoice.secure.freee.co.jp/reports/invoices/701"


def test_company_card_lists_its_invoices_and_rolls_them_up(client, world):
    invoiced(world, "702", written={"freee_amount_outstanding": "110000"}, due=date(2026, 2, 4))
    invoiced(
        world,
        "703",
        written={"freee_amount_paid": "110000", "freee_amount_outstanding": "0"},
        due=date(2026, 2, 4),
    )

    body = get(client, f"objectType=company&objectId={COMPANY}&portalId={PORTAL}").get_json()

    assert body["summary"]["outstandingTotal"] == 110_000
    assert body["summary"]["overdueInvoiceCount"] == 1
    assert [i["invoiceNumber"] for i in body["invoices"]] == ["INV-702", "INV-703"]


def test_unknown_deal_answers_no_invoices_yet(client):
    response = get(client, f"objectType=deal&objectId=999&portalId={PORTAL}")

    assert response.status_code == 200
    assert response.get_json()["hasInvoices"] is False
    assert response.get_json()["message"]["en"] == "No freee invoices yet"


def test_portal_defaults_to_the_configured_one(store):
    w = build_world(store, clock=SystemClock(), hubspot_client_secret=SECRET, hubspot_portal_id=PORTAL)
    try:
        invoiced(w, "704", written={}, due=date(2099, 1, 1))
        client = create_app(Services(w.context(), NoQueue())).test_client()

        body = get(client, "objectType=deal&objectId=704").get_json()

        assert body["portalId"] == PORTAL
        assert body["invoice"]["status"] == "unpaid"
    finally:
        w.close()


@pytest.mark.parametrize(
    ("query", "code"),
    [
        ("objectType=contact&objectId=1&portalId=1", "invalid_object_type"),
        ("objectId=1&portalId=1", "invalid_object_type"),
        ("objectType=deal&objectId=abc&portalId=1", "invalid_object_id"),
        ("objectType=deal&objectId=-5&portalId=1", "invalid_object_id"),
        ("objectType=deal&objectId=" + "9" * 33 + "&portalId=1", "invalid_object_id"),
        ("objectType=deal&objectId=1&portalId=x", "invalid_portal_id"),
        ("objectType=deal&objectId=1&portalId=true", "invalid_portal_id"),
        ("objectType=deal&objectId=1&portalId=1.0", "invalid_portal_id"),
        (f"objectType=deal&objectId=1&portalId={PORTAL}&portalId={PORTAL}", "duplicate_query_parameter"),
    ],
)
def test_bad_query_answers_400_json(client, query, code):
    response = get(client, query)

    assert response.status_code == 400
    assert response.get_json()["error"] == code


def test_bad_signature_answers_401_json(client):
    uri = f"http://localhost/cards/balance?objectType=deal&objectId=1&portalId={PORTAL}"
    forged = v3_headers(uri, b"", method="GET", secret="not-the-secret")

    response = get(client, f"objectType=deal&objectId=1&portalId={PORTAL}", headers=forged)

    assert response.status_code == 401
    assert response.get_json()["error"] == "invalid_signature"


def test_signature_for_another_record_is_refused(client):
    uri = f"http://localhost/cards/balance?objectType=deal&objectId=1&portalId={PORTAL}"

    response = get(
        client, f"objectType=deal&objectId=2&portalId={PORTAL}", headers=v3_headers(uri, b"", method="GET")
    )

    assert response.status_code == 401


@pytest.mark.parametrize("headers", [{}, "v2"])
def test_unsigned_or_v2_signed_request_is_refused(client, headers):
    query = f"objectType=deal&objectId=1&portalId={PORTAL}"
    sent = v2_headers(f"http://localhost/cards/balance?{query}", b"", method="GET") if headers == "v2" else {}

    response = get(client, query, headers=sent)

    assert response.status_code == 401
    assert response.get_json()["error"] == "invalid_signature"


def test_post_is_not_allowed(client):
    assert client.post("/cards/balance").status_code == 405


def test_lambda_handler_serves_the_same_card(monkeypatch, world):
    import functions.cards as cards

    monkeypatch.setattr(cards, "RUNTIME", LambdaRuntime(context=world.context()))
    query = f"objectType=deal&objectId=998&portalId={PORTAL}"
    headers = v3_headers(f"https://api.example.jp/cards/balance?{query}", b"", method="GET")
    event = {
        "rawPath": "/cards/balance",
        "rawQueryString": query,
        "queryStringParameters": {"objectType": "deal", "objectId": "998", "portalId": str(PORTAL)},
        "headers": {**headers, "host": "api.example.jp"},
        "requestContext": {"http": {"method": "GET"}},
    }

    answer = cards.lambda_handler(event, None)

    assert answer["statusCode"] == 200
    assert '"hasInvoices": false' in answer["body"]
    assert cards.lambda_handler({**event, "rawPath": "/cards/other"}, None)["statusCode"] == 404


# ------------------------------------------------------------- the card agrees with what the sync wrote


def test_company_card_shows_exactly_what_the_payment_sync_wrote_to_each_company(store):
    """Every payment situation (paid, partly paid, paid twice, unpaid, cancelled, not registered, not due yet, a
    partial payment on a company with nothing late): after the sync, each company's card summary is its HubSpot
    properties, last payment date included."""
    from tests.integration.test_sync_payments import a_book_of_invoices, rollup

    w = build_world(store, auto_register_deals=False, hubspot_client_secret=SECRET)
    try:
        book = a_book_of_invoices(w)
        summary = sync_payments(w.context())
        assert summary.ok, summary.errors
        client = create_app(Services(w.context(), NoQueue())).test_client()
        stamp = str(int(w.clock.now().timestamp() * 1000))
        for company in (book.a, book.b, book.c):
            query = f"objectType=company&objectId={company}&portalId={PORTAL}"
            uri = f"http://localhost/cards/balance?{query}"
            body = get(client, query, v3_headers(uri, b"", method="GET", timestamp=stamp)).get_json()
            shown = body["summary"]
            assert rollup(w, company) == (
                str(shown["outstandingTotal"]),
                str(shown["overdueTotal"]),
                str(shown["overdueInvoiceCount"]),
                str(shown["oldestOverdueDays"]),
                shown["lastPaymentDate"] or "",
                shown["risk"],
            ), company
        assert body["summary"]["lastPaymentDate"] == "2026-12-05"  # company C: a partial payment only
    finally:
        w.close()


class OnlyKeyedReads:
    """The world's store, refusing a full read of the ledger (and on DynamoDB, any Scan of the table)."""

    def __init__(self, store: Store) -> None:
        self._store = store

    def __getattr__(self, name: str) -> Any:
        return getattr(self._store, name)

    def ledger(self, **_: Any) -> Any:
        raise AssertionError("the card read the whole ledger")


def test_deal_and_company_cards_read_only_their_own_rows(world, store):
    invoiced(world, "705", written={"freee_amount_outstanding": "110000"}, due=date(2026, 2, 4))
    invoiced(world, "706", written={"freee_amount_outstanding": "110000"}, due=date(2026, 2, 4))
    scans: list[str] = []
    table = getattr(store, "_table", None)  # DynamoDB: refuse a Scan at the client itself

    def refuse_scan(**_: Any) -> None:
        scans.append("Scan")
        raise AssertionError("the card scanned the table")

    if table is not None:
        table.meta.client.meta.events.register("before-call.dynamodb.Scan", refuse_scan)
    try:
        client = create_app(Services(world.context(store=OnlyKeyedReads(store)), NoQueue())).test_client()
        deal = get(client, f"objectType=deal&objectId=705&portalId={PORTAL}").get_json()
        company = get(client, f"objectType=company&objectId={COMPANY}&portalId={PORTAL}").get_json()
    finally:
        if table is not None:
            table.meta.client.meta.events.unregister("before-call.dynamodb.Scan", refuse_scan)
    assert deal["invoice"]["invoiceNumber"] == "INV-705"
    assert [i["invoiceNumber"] for i in company["invoices"]] == ["INV-705", "INV-706"]
    assert scans == []


def test_deal_that_cannot_be_invoiced_shows_each_reason(client, world):
    deal = world.deal(company=None, line_items=[], amount="-5")
    outcome = create_invoice_for_deal(world.context(), PORTAL, deal, "webhook")
    assert outcome.result is Result.INVALID

    body = get(client, f"objectType=deal&objectId={deal}&portalId={PORTAL}").get_json()

    assert (body["hasInvoices"], body["state"]) == (False, "invalid")
    assert body["message"]["en"] != "No freee invoices yet"
    assert [r["code"] for r in body["reasons"]] == [p.code for p in outcome.problems]
    assert {"deal.company_missing", "deal.amount_negative"} <= {r["code"] for r in body["reasons"]}
    assert all(r["ja"] and r["en"] for r in body["reasons"])
