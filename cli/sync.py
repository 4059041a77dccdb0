"""``hubspot-freee sync payments``: payment status from freee onto deals and companies, with a progress bar.

Thin: ``sdk/usecases/sync_payments.py`` does the work; this module shows its progress and its summary.
"""

from __future__ import annotations

import json
from typing import Annotated

import typer
from rich.table import Table
from rich.text import Text

from cli.common import EXIT_INCOMPLETE, console, context, err, progress_bar, run_guarded, since_date
from cli.options import ConfigOption, JsonOption, flag

sync_app = typer.Typer(help="Payment status from freee into HubSpot / 入金状況の同期", no_args_is_help=True)


@sync_app.command("payments")
def sync_payments_command(
    since: Annotated[
        str | None, typer.Option("--since", help="Only invoices billed on or after this date (YYYY-MM-DD)")
    ] = None,
    dry_run: Annotated[
        bool, flag("--dry-run", "Read freee and show what would change; write nothing")
    ] = False,
    as_json: JsonOption = False,
    config: ConfigOption = None,
) -> None:
    """Read payment status from freee and write it onto deals and companies (only what changed)."""
    from sdk.usecases.sync_payments import sync_payments

    start = since_date(since)
    ctx = context(config)
    labels = {"freee": "reading freee / freee読込", "deals": "deals / 取引", "companies": "companies / 会社"}
    with progress_bar(labels, quiet=as_json) as report:
        summary = run_guarded(lambda: sync_payments(ctx, since=start, dry_run=dry_run, progress=report))
    if as_json:
        typer.echo(json.dumps(summary.as_dict(), ensure_ascii=False, indent=2, default=str))
    else:
        title = "payment sync (dry run) / 入金同期（試行）" if dry_run else "payment sync / 入金同期"
        table = Table(title=title, show_header=True, header_style="bold")
        table.add_column("checked / 確認")
        table.add_column("changed deals / 変更取引")
        table.add_column("changed companies / 変更会社")
        table.add_column("written calls / 書込")
        table.add_column("gone from HubSpot / 削除済み")
        table.add_column("errors / エラー")
        table.add_row(
            str(summary.checked),
            str(summary.changed_deals),
            str(summary.changed_companies),
            str(summary.written_calls),
            str(len(summary.gone_deals) + len(summary.gone_companies)),
            str(len(summary.errors)),
        )
        console.print(table)
        for kind, ids in (("deal / 取引", summary.gone_deals), ("company / 会社", summary.gone_companies)):
            if ids:
                err.print(
                    Text.assemble(
                        ("• ", "yellow"),
                        "not in HubSpot any more (deleted or merged), skipped / "
                        f"HubSpotにないため未更新 {kind}: {', '.join(ids)}",
                    ),
                    soft_wrap=True,
                )
        for message in summary.errors:
            err.print(Text.assemble(("• ", "red"), message), soft_wrap=True)
    raise typer.Exit(0 if summary.ok else EXIT_INCOMPLETE)
