"""What the custom-code endpoints answer: the payment-status snippet's fields from the ledger, and the create-invoice
snippet's (the workflow action's without ``hs_execution_state``), including a queued deal's ``pending``."""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from typing import Any

import pytest

from sdk.errors import Problem
from sdk.settings import PropertyNames
from sdk.store import InvoiceRecord, LedgerRow, LedgerState
from sdk.usecases.action_outputs import (
    OUTPUT_FIELDS,
    action_output_fields,
    custom_code_output_fields,
    pending_output_fields,
    typed_outputs,
)
from sdk.usecases.create_invoice import InvoiceOutcome, Result
from sdk.usecases.payment_status_outputs import payment_status_output_fields

MISMATCH = Problem("deal.amount_mismatch", "amount", "金額が一致しません。", "The amounts differ.")
NO_COMPANY = Problem("deal.company_missing", "associations.company", "会社がありません。", "No company.")

NAMES = PropertyNames()
INVOICE = InvoiceRecord(
    501,
    "INV-501",
    "https://example/501",
    77,
    100_000,
    10_000,
    110_000,
    date(2026, 11, 20),
    date(2026, 12, 31),
)


def row(**changes: Any) -> LedgerRow:
    return replace(LedgerRow(24681357, "101", LedgerState.CREATED, 3, invoice=INVOICE), **changes)


def test_a_deal_never_seen_or_never_invoiced_answers_not_invoiced_with_empty_fields() -> None:
    empty = {
        "result": "not_invoiced",
        "freee_invoice_number": "",
        "freee_payment_status": "",
        "freee_amount_outstanding": "",
        "freee_due_date": "",
    }
    assert payment_status_output_fields(None, NAMES) == empty
    assert payment_status_output_fields(row(state=LedgerState.INVALID, invoice=None), NAMES) == empty


def test_before_the_first_sync_the_invoice_is_unpaid_for_its_whole_total() -> None:
    assert payment_status_output_fields(row(), NAMES) == {
        "result": "created",
        "freee_invoice_number": "INV-501",
        "freee_payment_status": "unpaid",
        "freee_amount_outstanding": "110000",
        "freee_due_date": "2026-12-31",
    }


def test_after_a_sync_the_fields_are_what_it_wrote_on_the_deal_under_the_configured_names() -> None:
    names = PropertyNames(deal_payment_status="x_status", deal_amount_outstanding="x_left")
    synced = row(
        written={"x_status": "partially_paid", "x_left": "60000"}, invoice=replace(INVOICE, due_date=None)
    )

    fields = payment_status_output_fields(synced, names)

    assert (fields["freee_payment_status"], fields["freee_amount_outstanding"]) == ("partially_paid", "60000")
    assert fields["freee_due_date"] == ""
    assert (
        payment_status_output_fields(synced, NAMES)["freee_payment_status"] == "unpaid"
    )  # other names: unseen


def test_a_cancelled_invoice_says_so_in_result() -> None:
    assert payment_status_output_fields(row(state=LedgerState.CANCELLED), NAMES)["result"] == "cancelled"


def test_a_queued_deal_blocks_the_workflow_action_with_result_pending() -> None:
    fields = pending_output_fields()

    assert tuple(fields) == OUTPUT_FIELDS
    assert (fields["result"], fields["hs_execution_state"]) == ("pending", "BLOCK")
    assert fields["freee_invoice_id"] == fields["freee_invoice_number"] == ""
    assert fields["error_message"] == fields["warning_message"] == ""  # waiting is not failing


def test_warnings_go_out_beside_the_invoice_and_reasons_as_the_error() -> None:
    warned = InvoiceOutcome(Result.CREATED, 24681357, "101", INVOICE, warnings=(MISMATCH,))
    refused = InvoiceOutcome(Result.INVALID, 24681357, "102", problems=(NO_COMPANY,), warnings=(MISMATCH,))

    created, invalid = action_output_fields(warned, None), action_output_fields(refused, None)

    assert (created["result"], created["error_message"]) == ("created", "")
    assert created["warning_message"] == MISMATCH.line()
    assert (invalid["error_message"], invalid["warning_message"]) == (NO_COMPANY.line(), MISMATCH.line())
    assert action_output_fields(None, "down")["warning_message"] == ""


def test_the_custom_code_snippet_gets_the_actions_fields_without_the_execution_state() -> None:
    failed = action_output_fields(None, "freee is down")

    fields = custom_code_output_fields(failed)

    assert fields == {k: v for k, v in failed.items() if k != "hs_execution_state"}
    assert (fields["result"], fields["error_message"]) == ("failed", "freee is down")
    assert custom_code_output_fields(pending_output_fields())["result"] == "pending"


def test_a_callback_completions_typed_outputs_are_the_definitions_output_fields_typed() -> None:
    failed = action_output_fields(None, "freee is down")

    typed = typed_outputs(failed)

    assert typed == {
        k: v for k, v in failed.items() if k != "hs_execution_state"
    }  # all text: string, enumeration
    assert (
        "hs_execution_state" not in typed
    )  # an instruction to HubSpot, not an output field of the definition


def test_a_result_outside_the_definitions_options_is_not_sent_as_a_typed_output() -> None:
    with pytest.raises(ValueError, match="'done' is not a valid ActionResult"):
        typed_outputs({"result": "done"})


def test_a_scheduled_deal_answers_over_all_its_invoices_as_the_deal_shows_them() -> None:
    names = PropertyNames()
    waiting = row(state=LedgerState.SCHEDULED, invoice=None)
    assert payment_status_output_fields(waiting, names) == {
        "result": "scheduled",
        "freee_invoice_number": "",
        "freee_payment_status": "",
        "freee_amount_outstanding": "",
        "freee_due_date": "",
    }
    billed = replace(
        waiting,
        written={
            names.deal_invoice_number: "INV-3",
            names.deal_amount_invoiced: "165000",
            names.deal_due_date: "2027-02-28",
        },
    )
    assert payment_status_output_fields(billed, names) == {
        "result": "scheduled",
        "freee_invoice_number": "INV-3",
        "freee_payment_status": "unpaid",
        "freee_amount_outstanding": "165000",
        "freee_due_date": "2027-02-28",
    }
    synced = replace(
        billed,
        written={
            **billed.written,
            names.deal_payment_status: "overdue",
            names.deal_amount_outstanding: "55000",
        },
    )
    answer = payment_status_output_fields(synced, names)
    assert (answer["freee_payment_status"], answer["freee_amount_outstanding"]) == ("overdue", "55000")


def test_every_outcome_has_an_action_result_a_scheduled_deal_succeeds_a_stopped_one_says_why() -> None:
    for result in Result:  # no outcome the use case can return may break the action's answer
        action_output_fields(InvoiceOutcome(result, 24681357, "101"), None)
    scheduled = action_output_fields(InvoiceOutcome(Result.SCHEDULED, 24681357, "101"), None)
    assert (scheduled["result"], scheduled["hs_execution_state"], scheduled["error_message"]) == (
        "scheduled",
        "SUCCESS",
        "",
    )
    stop = Problem("schedule.stopped", "dealstage", "停止しました。", "It stopped.")
    stopped = action_output_fields(InvoiceOutcome(Result.STOPPED, 24681357, "101", problems=(stop,)), None)
    assert (stopped["result"], stopped["error_message"]) == ("invalid", stop.line())
