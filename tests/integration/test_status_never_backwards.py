"""A status written to a deal never goes backwards (issue 14, point 1), and a lost answer settles before anyone
creates (point 4): every failure is written onto the deal while a claim is held — by the attempt that failed, by
give-up and by the worker's "retrying" note alike — so no other attempt can invoice the deal underneath it; what
was written is remembered per key, so a writer holding a stale copy of the row cannot make the ledger forget it.

Each race is played out deterministically: at the moment the failure is about to reach HubSpot, another attempt
(a duplicate webhook, the workflow action) runs to its end. Both stores."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from datetime import timedelta
from typing import Any

import pytest

from local.world import World, build_world
from sdk.errors import DealBusy, Retryable
from sdk.freee.errors import FreeeOutcomeUnknown, FreeeServerError
from sdk.hubspot.errors import HubSpotRetryable
from sdk.queue import InvoiceJob
from sdk.store import LedgerState, Store
from sdk.usecases.create_invoice import InvoiceOutcome, Result, create_invoice_for_deal
from sdk.usecases.give_up import give_up, show_retrying
from sdk.usecases.sync_payments import sync_payments

PORTAL = 24681357
HUBSPOT_503 = HubSpotRetryable("HubSpot answered 503", status=503, operation="deals.batch_update")


@pytest.fixture
def world(store: Store) -> Iterator[World]:
    w = build_world(store)
    yield w
    w.close()


def items() -> list[dict[str, Any]]:
    return [{"name": "会計ソフト導入支援", "quantity": 1, "price": 300000}]


class Meanwhile:
    """The HubSpot client, except that right before the first deal write whose ``freee_sync_status`` is
    ``status``, ``step`` runs (another attempt reaching the deal at that moment)."""

    def __init__(self, world: World, status: str, step: Callable[[], object]) -> None:
        self._world = world
        self._status = status
        self._step: Callable[[], object] | None = step
        self.answer: object = None

    def __getattr__(self, name: str) -> Any:
        return getattr(self._world.hubspot, name)

    def update_deals(self, updates: Mapping[str, Mapping[str, Any]]) -> Any:
        step, status = self._step, self._world.settings.properties.deal_sync_status
        if step is not None and any(v.get(status) == self._status for v in updates.values()):
            self._step = None
            self.answer = step()
        return self._world.hubspot.update_deals(updates)


def another_attempt(world: World, deal: str) -> Callable[[], object]:
    """A whole second attempt at the deal (a duplicate webhook): its outcome, or the DealBusy it was told."""

    def run() -> InvoiceOutcome | DealBusy:
        try:
            return create_invoice_for_deal(world.context(), PORTAL, deal, "workflow_action")
        except DealBusy as busy:
            return busy

    return run


class FreeeFailsOnce:
    """freee's invoice POST fails once with ``error`` (before or after committing, as ``commit`` says)."""

    def __init__(self, world: World, error: Exception, *, commit: bool = False) -> None:
        self._world, self._error, self._commit = world, error, commit
        self.failed = False

    def __getattr__(self, name: str) -> Any:
        return getattr(self._world.freee, name)

    def create_invoice(self, request: Any, **kwargs: Any) -> Any:
        if self.failed:
            return self._world.freee.create_invoice(request, **kwargs)
        self.failed = True
        if self._commit:
            self._world.freee.create_invoice(request, **kwargs)
        raise self._error


def shows(world: World, deal: str) -> str | None:
    return world.deal_props(deal).get("freee_sync_status")


def consistent(world: World, deal: str) -> None:
    """The deal shows ``created`` exactly when its invoice exists, and the ledger remembers what the deal shows."""
    row = world.store.get_ledger(PORTAL, deal)
    assert row is not None
    invoiced = bool(world.invoices())
    assert (shows(world, deal) == "created") == invoiced, (shows(world, deal), world.invoices())
    assert (row.state is LedgerState.CREATED) == invoiced
    assert row.written.get("freee_sync_status") == shows(world, deal)


# ------------------------------------------------------------------------------ failures under the claim


def test_a_transient_failure_reaches_the_deal_before_another_attempt_may_invoice_it(world: World):
    deal = world.deal(company=world.company(), line_items=items())
    hubspot = Meanwhile(world, "failed", another_attempt(world, deal))
    freee = FreeeFailsOnce(world, FreeeServerError("freee answered 503", status=503))
    with pytest.raises(Retryable):
        create_invoice_for_deal(world.context(hubspot=hubspot, freee=freee), PORTAL, deal, "webhook")
    consistent(world, deal)
    assert isinstance(hubspot.answer, DealBusy)  # the failing attempt still held the deal
    assert world.invoices() == []
    assert shows(world, deal) == "failed"
    row = world.store.get_ledger(PORTAL, deal)
    assert (row.state, row.claim_token) == (LedgerState.FAILED, None)  # released once the deal says so
    assert create_invoice_for_deal(world.context(), PORTAL, deal, "retry").result is Result.CREATED
    consistent(world, deal)


def test_a_refusal_reaches_the_deal_before_a_fixed_deal_may_be_invoiced(world: World):
    deal = world.deal(company=world.company(), line_items=[], amount="-5")

    def fixed_and_triggered() -> object:
        world.hubspot_box.update("deals", deal, amount="300000")
        return another_attempt(world, deal)()

    hubspot = Meanwhile(world, "invalid", fixed_and_triggered)
    outcome = create_invoice_for_deal(world.context(hubspot=hubspot), PORTAL, deal, "webhook")
    assert outcome.result is Result.INVALID
    assert (shows(world, deal) == "created") == bool(world.invoices())
    assert isinstance(hubspot.answer, DealBusy)
    assert shows(world, deal) == "invalid"
    row = world.store.get_ledger(PORTAL, deal)
    assert (row.state, row.claim_token, row.written["freee_sync_status"]) == (
        LedgerState.INVALID,
        None,
        "invalid",
    )
    assert world.invoices() == []
    assert create_invoice_for_deal(world.context(), PORTAL, deal, "retry").result is Result.CREATED
    consistent(world, deal)
    assert world.deal_props(deal)["freee_sync_error"] == ""


def test_giving_up_claims_the_deal_before_it_says_failed(world: World):
    deal = world.deal(company=world.company(), line_items=items())
    hubspot = Meanwhile(world, "failed", another_attempt(world, deal))
    job = InvoiceJob(portal_id=PORTAL, deal_id=deal, trigger="webhook")
    give_up(world.context(hubspot=hubspot), job, 5, HUBSPOT_503)
    consistent(world, deal)
    assert isinstance(hubspot.answer, DealBusy)
    assert world.invoices() == []
    assert "Gave up" in (world.deal_props(deal)["freee_sync_error"] or "")
    assert create_invoice_for_deal(world.context(), PORTAL, deal, "redrive").result is Result.CREATED
    consistent(world, deal)


def test_the_retrying_note_claims_the_deal_before_it_says_failed(world: World):
    deal = world.deal(company=world.company(), line_items=items())
    hubspot = Meanwhile(world, "failed", another_attempt(world, deal))
    job = InvoiceJob(portal_id=PORTAL, deal_id=deal, trigger="webhook")
    show_retrying(world.context(hubspot=hubspot), job, 1, HUBSPOT_503)
    consistent(world, deal)
    assert isinstance(hubspot.answer, DealBusy)
    assert world.invoices() == []
    assert "will be retried" in (world.deal_props(deal)["freee_sync_error"] or "")
    assert create_invoice_for_deal(world.context(), PORTAL, deal, "retry").result is Result.CREATED
    consistent(world, deal)


@pytest.mark.parametrize("note", [give_up, show_retrying], ids=["give_up", "show_retrying"])
def test_no_failure_is_written_over_an_invoiced_deal(world: World, note: Callable[..., None]):
    deal = world.deal(company=world.company(), line_items=items())
    create_invoice_for_deal(world.context(), PORTAL, deal, "webhook")
    world.counter.reset()
    note(world.context(), InvoiceJob(portal_id=PORTAL, deal_id=deal, trigger="webhook"), 5, HUBSPOT_503)
    assert world.counter.count("deals.batch_update") == 0
    assert world.store.get_ledger(PORTAL, deal).state is LedgerState.CREATED
    consistent(world, deal)


def test_a_failure_shown_under_the_claim_is_not_written_again_by_the_retrying_note(world: World):
    deal = world.deal(company=world.company(), line_items=items())
    freee = FreeeFailsOnce(world, FreeeServerError("freee answered 503", status=503))
    with pytest.raises(Retryable):
        create_invoice_for_deal(world.context(freee=freee), PORTAL, deal, "webhook")
    world.counter.reset()
    show_retrying(
        world.context(), InvoiceJob(portal_id=PORTAL, deal_id=deal, trigger="webhook"), 1, HUBSPOT_503
    )
    assert world.counter.count("deals.batch_update") == 0


def test_a_failure_the_deal_could_not_show_is_shown_by_the_retrying_note(world: World):
    deal = world.deal(company=world.company(), line_items=items())

    class HubSpotWritesFail:
        def __getattr__(self, name: str) -> Any:
            return getattr(world.hubspot, name)

        def update_deals(self, updates: Any) -> Any:
            raise Retryable("HubSpot answered 503")

    freee = FreeeFailsOnce(world, FreeeServerError("freee answered 503", status=503))
    with pytest.raises(Retryable):
        create_invoice_for_deal(
            world.context(freee=freee, hubspot=HubSpotWritesFail()), PORTAL, deal, "webhook"
        )
    assert not shows(world, deal)
    show_retrying(
        world.context(), InvoiceJob(portal_id=PORTAL, deal_id=deal, trigger="webhook"), 1, HUBSPOT_503
    )
    assert shows(world, deal) == "failed"
    consistent(world, deal)


# ----------------------------------------------------------------------- written values, merged per key


def test_a_sync_that_read_the_row_before_an_error_was_written_does_not_make_the_ledger_forget_it(
    world: World,
):
    deal = world.deal(company=world.company(freee_payment_terms="net_30"), line_items=items())
    create_invoice_for_deal(world.context(), PORTAL, deal, "webhook")

    def left_the_won_stage() -> object:  # while the sync writes, the deal is moved to lost and flagged
        world.hubspot_box.update("deals", deal, dealstage="closedlost")
        return create_invoice_for_deal(world.context(), PORTAL, deal, "webhook")

    class DuringTheSync(Meanwhile):
        def update_deals(self, updates: Mapping[str, Mapping[str, Any]]) -> Any:
            if self._step is not None:
                step, self._step = self._step, None
                self.answer = step()
            return self._world.hubspot.update_deals(updates)

    hubspot = DuringTheSync(world, "", left_the_won_stage)
    summary = sync_payments(world.context(hubspot=hubspot))
    assert summary.changed_deals == 1
    assert isinstance(hubspot.answer, InvoiceOutcome)
    assert hubspot.answer.result is Result.FLAGGED_LOST
    flagged = world.deal_props(deal)["freee_sync_error"] or ""
    assert "accounting must cancel" in flagged
    assert world.store.get_ledger(PORTAL, deal).written["freee_sync_error"] == flagged

    world.hubspot_box.update("deals", deal, dealstage="closedwon")  # back in the won stage: the flag goes
    assert create_invoice_for_deal(world.context(), PORTAL, deal, "webhook").result is Result.ALREADY_INVOICED
    assert world.deal_props(deal)["freee_sync_error"] == ""
    consistent(world, deal)


# ------------------------------------------------------------------------ settling after a lost answer


class FreeeListLags:
    """freee's invoice list shows an invoice only ``lag`` seconds after it was created (the sandbox at once)."""

    def __init__(self, world: World, lag: float) -> None:
        self._world, self._lag = world, lag
        self._shown_from: dict[int, Any] = {}

    def __getattr__(self, name: str) -> Any:
        return getattr(self._world.freee, name)

    def create_invoice(self, request: Any, **kwargs: Any) -> Any:
        try:
            return self._world.freee.create_invoice(request, **kwargs)
        finally:
            for invoice in self._world.invoices():
                self._shown_from.setdefault(
                    invoice["id"], self._world.clock.now() + timedelta(seconds=self._lag)
                )

    def list_invoices(self, **kwargs: Any) -> list[Any]:
        now = self._world.clock.now()
        found = self._world.freee.list_invoices(**kwargs)
        return [i for i in found if self._shown_from.get(i.id, now) <= now]


def test_after_a_lost_answer_no_attempt_creates_until_the_settling_period_ends(world: World):
    deal = world.deal(company=world.company(), line_items=items())
    world.freee_box.faults.script("timeout_after_commit", path_prefix="/iv/invoices", methods={"POST"})
    freee = FreeeListLags(world, lag=20)
    with pytest.raises(FreeeOutcomeUnknown):
        create_invoice_for_deal(world.context(freee=freee), PORTAL, deal, "webhook")
    assert len(world.invoices()) == 1  # committed in freee, not yet in its list, unknown to the ledger

    world.clock.advance(5)  # a duplicate webhook a moment later: it would not find the invoice yet
    world.freee_calls.clear()
    with pytest.raises(DealBusy) as busy:
        create_invoice_for_deal(world.context(freee=freee), PORTAL, deal, "workflow_action")
    assert len(world.invoices()) == 1
    assert world.freee_calls == []
    settle = world.settings.freee_settle_seconds
    assert settle == 60
    assert busy.value.retry_after == pytest.approx(settle - 5)
    row = world.store.get_ledger(PORTAL, deal)
    assert (row.state, row.claim_until) == (
        LedgerState.FAILED,
        world.clock.now() + timedelta(seconds=settle - 5),
    )
    assert (shows(world, deal), row.written["freee_sync_status"]) == ("failed", "failed")

    world.clock.advance(settle - 5)
    outcome = create_invoice_for_deal(world.context(freee=freee), PORTAL, deal, "retry")
    assert (outcome.result, outcome.adopted) == (Result.CREATED, True)
    assert len(world.invoices()) == 1
    consistent(world, deal)


def test_while_a_lost_answer_settles_nothing_else_writes_on_the_deal(world: World):
    deal = world.deal(company=world.company(), line_items=items())
    freee = FreeeFailsOnce(world, FreeeOutcomeUnknown("no answer to POST /iv/invoices"), commit=True)
    with pytest.raises(FreeeOutcomeUnknown):
        create_invoice_for_deal(world.context(freee=freee), PORTAL, deal, "webhook")
    world.counter.reset()
    job = InvoiceJob(portal_id=PORTAL, deal_id=deal, trigger="webhook")
    lost = FreeeOutcomeUnknown("no answer to POST /iv/invoices")
    show_retrying(world.context(), job, 1, lost)
    give_up(world.context(), job, 5, lost)
    assert world.counter.count("deals.batch_update") == 0
    assert shows(world, deal) == "failed"
    world.clock.advance(world.settings.freee_settle_seconds)
    assert create_invoice_for_deal(world.context(), PORTAL, deal, "retry").adopted
    consistent(world, deal)


def test_other_failures_do_not_settle(world: World):
    deal = world.deal(company=world.company(), line_items=items())
    freee = FreeeFailsOnce(world, FreeeServerError("freee answered 503", status=503))
    with pytest.raises(Retryable):
        create_invoice_for_deal(world.context(freee=freee), PORTAL, deal, "webhook")
    assert create_invoice_for_deal(world.context(), PORTAL, deal, "retry").result is Result.CREATED


def test_a_settling_period_of_zero_lets_the_next_attempt_reconcile_at_once(store: Store):
    world = build_world(store, freee_settle_seconds=0)
    try:
        deal = world.deal(company=world.company(), line_items=items())
        world.freee_box.faults.script("timeout_after_commit", path_prefix="/iv/invoices", methods={"POST"})
        with pytest.raises(FreeeOutcomeUnknown):
            create_invoice_for_deal(world.context(), PORTAL, deal, "webhook")
        outcome = create_invoice_for_deal(world.context(), PORTAL, deal, "retry")
        assert (outcome.result, outcome.adopted) == (Result.CREATED, True)
        assert len(world.invoices()) == 1
    finally:
        world.close()
