"""``hubspot-freee``: the operator's command line, put together from one module per command group.

Output is for people (rich tables); ``--json`` is for machines. Exit codes: 0 when everything asked for
happened, 1 when some of it could not be done (e.g. ``--strict`` and an invalid deal), 2 for bad input or
configuration (a missing file, a file that is not what it should be, a bad setting).
"""

from __future__ import annotations

from typing import Annotated

import typer

from cli import actions, billing, doctor, invoice, preview, queue, serve, setup, sync

app = typer.Typer(
    name="hubspot-freee",
    help="HubSpot ⇄ freee quote-to-cash: invoices for won deals, payment status back in the CRM.",
    no_args_is_help=True,
    add_completion=False,
)


#: commands whose JSON log lines are their output (a service's access log, a worker's messages): they log at
#: LOG_LEVEL. Every other command is for a person at a terminal: only warnings and errors are logged, unless
#: --verbose or LOG_LEVEL asks for more.
LOGGING_COMMANDS = frozenset({"serve", "worker"})


@app.callback()
def _main(
    ctx: typer.Context,
    verbose: Annotated[
        bool, typer.Option("--verbose", "-v", help="Also print the JSON log lines (freee and HubSpot calls)")
    ] = False,
) -> None:
    """HubSpot ⇄ freee: 受注した取引からfreeeの請求書を作成し、入金状況をHubSpotに戻します。"""
    import os

    from sdk.log import env_level, set_level

    if verbose:
        set_level("DEBUG" if env_level() == "DEBUG" else "INFO")
    elif "LOG_LEVEL" not in os.environ and ctx.invoked_subcommand not in LOGGING_COMMANDS:
        set_level("WARNING")
    else:
        set_level(None)
    ctx.call_on_close(lambda: set_level(None))


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
app.add_typer(billing.billing_app, name="billing")
app.add_typer(setup.setup_app, name="setup")


def main() -> None:
    app()
