"""What a "Create freee invoice" workflow action answers HubSpot: its output fields.

One function for every path that finishes the action: the action endpoint answering at once, and the invoice
worker completing a blocked action's callback (``POST /automation/v4/actions/callbacks/{callbackId}/complete``).
Later workflow steps branch on ``result``; ``hs_execution_state`` tells HubSpot whether the action succeeded
(``SUCCESS``) or failed and the workflow should go on (``FAIL_CONTINUE``), or that it waits for the callback
(``BLOCK``, :func:`pending_output_fields`: no message at all, the deal is not failing, only waiting). The
custom-code "create invoice" snippet gets the same fields without ``hs_execution_state``
(:func:`custom_code_output_fields`): it branches on ``result``.

``error_message`` says why there is no invoice, ``warning_message`` what validation warned about an invoice that
can be (or was) made — the deal amount differs from its line items, … — as the deal's ``freee_sync_warning`` does;
both in Japanese and English, in words a rep can act on.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from typing import Final

from sdk.usecases.create_invoice import InvoiceOutcome, Result

SUCCESS: Final = "SUCCESS"
FAIL_CONTINUE: Final = "FAIL_CONTINUE"
BLOCK: Final = "BLOCK"
EXECUTION_STATE: Final = "hs_execution_state"
OUTPUT_FIELDS: Final = (
    "freee_invoice_id",
    "freee_invoice_number",
    "freee_invoice_url",
    "result",
    "error_message",
    "warning_message",
    EXECUTION_STATE,
)


#: the output fields of the "Create freee invoice" definition (``workflows/actions/create_invoice.json``) and their
#: ``type`` there: a callback completion's ``typedOutputs`` carries each with a value of that type
OUTPUT_FIELD_TYPES: Final = {
    "freee_invoice_id": "string",
    "freee_invoice_number": "string",
    "freee_invoice_url": "string",
    "result": "enumeration",
    "error_message": "string",
    "warning_message": "string",
}


class ActionResult(StrEnum):
    """The ``result`` output field (an enumeration in the action definition)."""

    CREATED = "created"
    ALREADY_INVOICED = "already_invoiced"
    INVALID = "invalid"
    FAILED = "failed"
    PENDING = "pending"  # queued; the action answered BLOCK and the worker completes it later
    SCHEDULED = "scheduled"  # billed by schedule or consolidated invoice: nothing due yet (not a failure)


_RESULTS: Final = {
    Result.CREATED: ActionResult.CREATED,
    Result.ALREADY_INVOICED: ActionResult.ALREADY_INVOICED,
    Result.INVALID: ActionResult.INVALID,
    Result.NOT_WON: ActionResult.INVALID,
    Result.DEAL_MISSING: ActionResult.FAILED,
    Result.FLAGGED_LOST: ActionResult.INVALID,
    Result.CANCELLED: ActionResult.INVALID,
    Result.SCHEDULED: ActionResult.SCHEDULED,
    Result.STOPPED: ActionResult.INVALID,
}

_EXPLAINED: Final = {
    Result.NOT_WON: "取引が受注ステージにないため、請求書を作成しませんでした。"
    " / The deal is not in a won stage, so no invoice was created.",
    Result.FLAGGED_LOST: "請求書作成後に取引が受注ステージから外れました。freeeの請求書の取消は経理が行ってください。"
    " / The deal left its won stage after invoicing: accounting must cancel the freee invoice.",
    Result.CANCELLED: "この取引のfreeeの請求書は取り消されています。"
    " / This deal's freee invoice has been cancelled.",
}

_FAILED: Final = "請求書を作成できませんでした。 / The invoice could not be created."


def action_output_fields(outcome: InvoiceOutcome | None, error: str | None) -> dict[str, str]:
    """The output fields for ``outcome`` (``None``: the attempt failed, with ``error`` saying why).

    ``error``, when given, is the ``error_message`` shown whatever the outcome.
    """
    if outcome is None:
        result = ActionResult.FAILED
        message = error or _FAILED
    else:
        result = _RESULTS[outcome.result]
        message = error or outcome.error_message or _EXPLAINED.get(outcome.result, "")
    invoice = outcome.invoice if outcome is not None else None
    succeeded = result in (ActionResult.CREATED, ActionResult.ALREADY_INVOICED, ActionResult.SCHEDULED)
    return {
        "freee_invoice_id": str(invoice.invoice_id) if invoice else "",
        "freee_invoice_number": invoice.invoice_number if invoice else "",
        "freee_invoice_url": invoice.invoice_url if invoice else "",
        "result": result.value,
        "error_message": message,
        "warning_message": outcome.warning_message if outcome is not None else "",
        EXECUTION_STATE: SUCCESS if succeeded else FAIL_CONTINUE,
    }


def pending_output_fields() -> dict[str, str]:
    """The deal is queued: ``result`` ``pending``, no message (nothing failed: the deal waits its turn), and
    HubSpot is told ``BLOCK`` (the worker, or whoever reaches the deal's outcome first, completes the callback)."""
    fields = dict.fromkeys(OUTPUT_FIELDS, "")
    fields["result"] = ActionResult.PENDING.value
    fields[EXECUTION_STATE] = BLOCK
    return fields


def typed_outputs(fields: Mapping[str, str]) -> dict[str, str]:
    """A callback completion's ``typedOutputs``: each output field of the definition with a value of its type.
    Every one is text (``string``; ``result`` an ``enumeration``, whose value must be one of its options).
    ``hs_execution_state`` is an instruction to HubSpot, not an output field of the definition: it stays in
    ``outputFields`` only."""
    typed: dict[str, str] = {}
    for name, kind in OUTPUT_FIELD_TYPES.items():
        if name in fields:
            typed[name] = ActionResult(fields[name]).value if kind == "enumeration" else str(fields[name])
    return typed


def custom_code_output_fields(fields: dict[str, str]) -> dict[str, str]:
    """The action's fields as the custom-code snippet gets them: no ``hs_execution_state`` (it branches on
    ``result`` instead)."""
    return {name: value for name, value in fields.items() if name != EXECUTION_STATE}


__all__ = [
    "BLOCK",
    "FAIL_CONTINUE",
    "OUTPUT_FIELDS",
    "OUTPUT_FIELD_TYPES",
    "SUCCESS",
    "ActionResult",
    "action_output_fields",
    "custom_code_output_fields",
    "pending_output_fields",
    "typed_outputs",
]
