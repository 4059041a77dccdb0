"""``hubspot-freee sync payments``: payment status from freee onto deals and companies, with a progress bar.

Thin: ``sdk/usecases/sync_payments.py`` does the work; this module shows its progress and its summary.
"""

from __future__ import annotations

import json
from datetime import date
from typing import Annotated

import typer
from rich.table import Table

from cli.common import EXIT_INCOMPLETE, console, context, err, fail, run_guarded
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
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn

    from sdk.usecases.sync_payments import sync_payments

    try:
        start = date.fromisoformat(since) if since else None
    except ValueError:
        raise fail(f"--since must be a date (YYYY-MM-DD), not {since!r}") from None
    ctx = context(config)
    labels = {"freee": "reading freee / freee読込", "deals": "deals / 取引", "companies": "companies / 会社"}
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        console=err,
        transient=True,
        disable=as_json,
    ) as progress:
        tasks: dict[str, TaskID] = {}

        def report(phase: str, done: int, total: int) -> None:
            if phase not in tasks:
                tasks[phase] = progress.add_task(labels.get(phase, phase), total=total)
            progress.update(tasks[phase], completed=done, total=total)

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
                    f"[yellow]•[/] not in HubSpot any more (deleted or merged), skipped / "
                    f"HubSpotにないため未更新 {kind}: {', '.join(ids)}",
                    highlight=False,
                    soft_wrap=True,
                )
        for message in summary.errors:
            err.print(f"[red]•[/] {message}", highlight=False, soft_wrap=True)
    raise typer.Exit(0 if summary.ok else EXIT_INCOMPLETE)
