"""``hubspot-freee``: the operator's command line, put together from one module per command group.

Output is for people (rich tables); ``--json`` is for machines. Exit codes: 0 when everything asked for
happened, 1 when some of it could not be done (e.g. ``--strict`` and an invalid deal), 2 for bad input or
configuration (a missing file, a file that is not what it should be, a bad setting).
"""

from __future__ import annotations

import typer

from cli import actions, doctor, invoice, preview, queue, serve, setup, sync

app = typer.Typer(
    name="hubspot-freee",
    help="HubSpot ⇄ freee quote-to-cash: invoices for won deals, payment status back in the CRM.",
    no_args_is_help=True,
    add_completion=False,
)


@app.callback()
def _main() -> None:
    """HubSpot ⇄ freee: 受注した取引からfreeeの請求書を作成し、入金状況をHubSpotに戻します。"""


app.command()(preview.preview)
app.command()(serve.sandbox)
app.command()(queue.worker)
app.command()(serve.serve)
app.command()(serve.demo)
app.command()(doctor.doctor)
app.add_typer(invoice.invoice_app, name="invoice")
app.add_typer(actions.actions_app, name="actions")
app.add_typer(queue.dlq_app, name="dlq")
app.add_typer(sync.sync_app, name="sync")
app.add_typer(setup.setup_app, name="setup")


def main() -> None:
    app()
