"""What a sales rep reads when a deal has no invoice: every failure kind driven through the real worker (freee
5xx, freee's rate limit, freee refusing our access, freee disconnected, freee refusing the invoice, a deal that
cannot be invoiced, an unexpected exception), and the deal's ``freee_sync_error``, the blocked workflow action's
``error_message``, the ledger's reasons and the balance card each time hold words, never an exception's class
name, an HTTP method and path or a traceback (those are in the log and the ledger's ``last_error``)."""

from __future__ import annotations

import builtins
import inspect
import itertools
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

import sdk.errors
import sdk.freee.errors
import sdk.hubspot.errors
from functions.worker import Disposition, drain
from local.world import World, build_world
from sandbox.faults import FaultKind, FaultRule
from sdk.clock import FakeClock
from sdk.queue import InvoiceJob
from sdk.queue.sqlite import SQLiteQueue
from sdk.store.sqlite import SQLiteStore
from sdk.terms import tokyo_today
from sdk.usecases.balance import balance_card

PORTAL = 24681357
MAX_RECEIVES = 3


def _exception_names() -> set[str]:
    """Every exception class a message could leak: Python's own and this package's."""
    names = {n for n, v in vars(builtins).items() if isinstance(v, type) and issubclass(v, BaseException)}
    for module in (sdk.errors, sdk.freee.errors, sdk.hubspot.errors):
        names |= {n for n, v in inspect.getmembers(module, inspect.isclass) if issubclass(v, BaseException)}
    return names - {"Warning"}  # a plain English word, and never raised here


EXCEPTION_NAME = re.compile(r"\b(" + "|".join(sorted(_exception_names(), key=len, reverse=True)) + r")\b")
TECHNICAL = ("Traceback", "POST /", "GET /", "PUT /", "DELETE /", "/iv/", "/api/1/", 'File "')


def assert_rep_words(text: str, where: str) -> None:
    assert text.strip(), f"{where} is empty"
    found = EXCEPTION_NAME.search(text)
    assert found is None, f"{where} names the exception {found.group(0)!r}: {text!r}"
    for fragment in TECHNICAL:
        assert fragment not in text, f"{where} holds {fragment!r}: {text!r}"
    assert re.search(r"[ぁ-んァ-ン一-龥]", text) and re.search(r"[A-Za-z]{3}", text), f"{where}: ja + en"


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    w = build_world(SQLiteStore(tmp_path / "store.sqlite"))
    yield w
    w.close()


_companies = itertools.count(1)


def won_deal(world: World) -> str:
    return world.deal(
        company=world.company(f"株式会社ことば商事 第{next(_companies)}支店"),
        line_items=[{"name": "導入支援", "quantity": 1, "price": 300000}],
    )


def fail_invoice_posts(world: World, kind: FaultKind, status: int = 503) -> None:
    rule = FaultRule(kind, path_prefix="/iv/invoices", methods=frozenset({"POST"}), status=status)
    world.freee_box.faults.add(rule)


def disconnect(world: World) -> None:
    row = world.store.tokens.load_token()
    assert row is not None
    assert world.store.tokens.mark_disconnected(
        row.version, "freee refused the refresh token", world.clock.now()
    )


class FreeeBreaks:
    """The freee client, with an unexpected exception (a bug) where the invoice is created."""

    def __init__(self, world: World) -> None:
        self._freee = world.freee

    def __getattr__(self, name: str) -> Any:
        return getattr(self._freee, name)

    def create_invoice(self, *args: Any, **kwargs: Any) -> Any:
        raise KeyError("invoice_number in the answer to POST /iv/invoices")


#: kind → (how the world breaks, the code the deal shows, whether a second context replaces the freee client)
KINDS: dict[str, tuple[Callable[[World], None], str]] = {
    "freee_5xx": (lambda w: fail_invoice_posts(w, FaultKind.SERVER_ERROR), "freee.unavailable"),
    "freee_rate_limit": (lambda w: fail_invoice_posts(w, FaultKind.RATE_LIMIT), "freee.rate_limited"),
    "freee_access_denied": (
        lambda w: fail_invoice_posts(w, FaultKind.SERVER_ERROR, 403),
        "freee.access_denied",
    ),
    "freee_disconnected": (disconnect, "freee.disconnected"),
    "freee_refused": (lambda w: fail_invoice_posts(w, FaultKind.SERVER_ERROR, 400), "freee.refused"),
    "deal_invalid": (lambda w: None, "deal.company_missing"),
    "unexpected_exception": (lambda w: None, "internal.unexpected"),
}


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_every_failure_reads_as_words_a_rep_can_act_on(world: World, tmp_path: Path, kind: str) -> None:
    breaks, code = KINDS[kind]
    deal = world.deal(company=None, line_items=[{"name": "x", "quantity": 1, "price": 1}])
    if kind != "deal_invalid":
        deal = won_deal(world)
    breaks(world)
    ctx = world.context(freee=FreeeBreaks(world)) if kind == "unexpected_exception" else world.context()
    queue = SQLiteQueue(tmp_path / "queue.sqlite", max_receives=MAX_RECEIVES, clock=world.clock)
    queue.send(
        InvoiceJob(portal_id=PORTAL, deal_id=deal, trigger="workflow_action", callback_id="cb-1").body()
    )

    shown: list[str] = []
    for _ in range(MAX_RECEIVES):
        batch = drain(ctx, queue)
        if not batch:
            break
        shown.append(world.deal_props(deal).get("freee_sync_error") or "")
        if any(r.disposition in (Disposition.DONE, Disposition.HOLD) for r in batch):
            break
        clock = world.clock
        assert isinstance(clock, FakeClock)
        clock.advance(max(r.delay for r in batch) + 1)

    assert world.invoices() == []
    assert shown, "the worker never ran"
    for attempt, text in enumerate(shown, start=1):
        assert_rep_words(text, f"freee_sync_error after attempt {attempt}")
    assert f"[{code}]" in shown[-1]
    row = world.store.get_ledger(PORTAL, deal)
    assert row is not None and row.reasons, "the ledger keeps the reasons for the card"
    for reason in row.reasons:
        assert_rep_words(f"{reason.ja} / {reason.en}", "the ledger's reason")
    card = balance_card(
        world.store,
        world.settings,
        portal_id=PORTAL,
        object_type="deal",
        object_id=deal,
        today=tokyo_today(world.clock.now()),
    )
    assert [r["code"] for r in card["reasons"]] == [r.code for r in row.reasons]
    for reason in card["reasons"]:
        assert_rep_words(f"{reason['ja']} / {reason['en']}", "the card's reason")
    for callback in world.hubspot_box.callbacks:  # completed when the worker finished (not while held)
        assert callback.output_fields["result"] in ("failed", "invalid")
        assert_rep_words(callback.output_fields["error_message"], "the action's error_message")
    if kind in ("freee_5xx", "unexpected_exception"):  # the operator still has the cause
        assert row.last_error is not None and (
            "FreeeServerError" in row.last_error or "KeyError" in row.last_error
        )
