"""``hubspot-freee invoice create | show | retry | sweep``: one deal's invoice, its ledger row and history, retries,
and the reconciliation sweep over every won deal.

Thin: parse, call the use case (``sdk/usecases/create_invoice.py``, ``orphans.py``), print a table or ``--json``.
"""

from __future__ import annotations

import dataclasses
import json
from typing import Annotated, Any

import typer
from rich.console import Group
from rich.markup import escape
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from cli.common import (
    EXIT_INCOMPLETE,
    console,
    context,
    err,
    fail,
    open_queue,
    own_portal,
    progress_bar,
    run_guarded,
    settings_from,
)
from cli.options import ConfigOption, JsonOption, flag
from sdk.errors import ForeignPortal, Problem
from sdk.money import format_yen

DealOption = Annotated[str, typer.Option("--deal", help="HubSpot deal id")]
PortalOption = Annotated[int | None, typer.Option(help="HubSpot portal id (default: HUBSPOT_PORTAL_ID)")]

invoice_app = typer.Typer(help="Invoices for won deals / 受注取引の請求書", no_args_is_help=True)


def _deal_id(deal: str) -> str:
    if not (deal.isascii() and deal.isdigit() and len(deal) <= 32):
        raise fail(f"--deal {deal!r} is not a HubSpot deal id (digits) / 取引IDは数字です")
    return deal


@invoice_app.command("create")
def invoice_create(
    deal: DealOption,
    portal: PortalOption = None,
    dry_run: Annotated[
        bool, flag("--dry-run", "Show the freee request and deal write; send nothing")
    ] = False,
    as_json: JsonOption = False,
    config: ConfigOption = None,
) -> None:
    """Create the freee invoice of one won deal (exactly once) and write it back onto the deal."""
    from sdk.usecases.create_invoice import Result, create_invoice_for_deal, plan_invoice_for_deal

    _deal_id(deal)
    portal_id = own_portal(settings_from(config), portal)
    ctx = context(config)
    if dry_run:
        plan = run_guarded(lambda: plan_invoice_for_deal(ctx, portal_id, deal))
        data = {
            "deal_id": deal,
            "won": plan.won,
            "ledger_state": plan.ledger.state.value if plan.ledger else None,
            "partner": plan.partner,
            "freee_request": plan.freee_request,
            "hubspot_deal_write": plan.deal_write,
            "problems": [p.as_dict() for p in plan.problems],
            "warnings": [w.as_dict() for w in plan.warnings],
        }
        if as_json:
            typer.echo(json.dumps(data, ensure_ascii=False, indent=2))
        else:
            console.print(
                Panel(
                    Group(
                        f"won stage / 受注: {'yes' if plan.won else '[red]no[/]'} · ledger: {data['ledger_state'] or '-'}"
                        f" · partner: {plan.partner or '-'}",
                        *_problem_lines(plan.problems, plan.warnings),
                        "[bold]freee POST /iv/invoices[/] (not sent / 未送信)",
                        json.dumps(plan.freee_request, ensure_ascii=False, indent=2)
                        if plan.freee_request
                        else "(none)",
                        "[bold]HubSpot deal write[/] (not sent / 未送信)",
                        json.dumps(plan.deal_write, ensure_ascii=False, indent=2),
                    ),
                    title=f"dry run · deal {deal}",
                )
            )
        raise typer.Exit(EXIT_INCOMPLETE if plan.problems or not plan.won else 0)
    outcome = run_guarded(lambda: create_invoice_for_deal(ctx, portal_id, deal, "cli"))
    if outcome.result is Result.DEAL_MISSING:
        raise fail(f"deal {deal} not found in HubSpot / 取引 {deal} がHubSpotに見つかりません")
    data = {
        "deal_id": deal,
        "result": outcome.result.value,
        "invoice_id": outcome.invoice.invoice_id if outcome.invoice else None,
        "invoice_number": outcome.invoice.invoice_number if outcome.invoice else None,
        "invoice_url": outcome.invoice.invoice_url if outcome.invoice else None,
        "total": outcome.invoice.amount_total if outcome.invoice else None,
        "adopted": outcome.adopted,
        "problems": [p.as_dict() for p in outcome.problems],
        "warnings": [w.as_dict() for w in outcome.warnings],
    }
    if as_json:
        typer.echo(json.dumps(data, ensure_ascii=False, indent=2))
    else:
        _print_outcome(outcome)
    done = outcome.result in (Result.CREATED, Result.ALREADY_INVOICED)
    raise typer.Exit(0 if done else EXIT_INCOMPLETE)


def _print_outcome(outcome: Any) -> None:
    invoice = outcome.invoice
    if invoice is not None:
        console.print(
            f"[green]{outcome.result.value}[/] deal {outcome.deal_id}: freee {invoice.invoice_number} "
            f"{format_yen(invoice.amount_total)} (期日 {invoice.due_date}) {invoice.invoice_url}"
            + (" [dim](found in freee from an earlier attempt)[/]" if outcome.adopted else "")
        )
    else:
        console.print(f"[red]{outcome.result.value}[/] deal {outcome.deal_id}")
    for line in _problem_lines(outcome.problems, outcome.warnings):
        console.print(line, highlight=False)


def _problem_lines(problems: tuple[Problem, ...], warnings: tuple[Problem, ...]) -> list[str]:
    """Each problem (✗) and warning (⚠) as the deal shows them: code, field, Japanese, English."""
    return [
        f"  {mark} [bold]{p.code}[/] ({p.field})\n    {escape(p.ja)}\n    [dim]{escape(p.en)}[/]"
        for mark, group in (("[red]✗[/]", problems), ("[yellow]⚠[/]", warnings))
        for p in group
    ]


@invoice_app.command("show")
def invoice_show(
    deal: DealOption,
    portal: PortalOption = None,
    as_json: JsonOption = False,
    config: ConfigOption = None,
) -> None:
    """The deal's ledger row, its history (what happened, when, by which trigger) and any second invoice freee
    holds for it (an orphan, to cancel in freee)."""
    from sdk.store import open_store
    from sdk.usecases.orphans import describe, open_orphans

    _deal_id(deal)
    settings = settings_from(config)
    portal_id = own_portal(settings, portal)
    try:
        store = open_store(settings.storage_url)
    except ValueError as exc:
        raise fail(str(exc)) from None
    row = store.get_ledger(portal_id, deal)
    history = store.history(portal_id, deal)
    if row is None and not history:
        raise fail(
            f"deal {deal} has no ledger row: it was never triggered / この取引はまだ処理されていません"
        )
    orphans = open_orphans(store, portal_id, deal)
    if as_json:
        shown = _row_json(row, history) | {"orphans": [dataclasses.asdict(o) for o in orphans]}
        typer.echo(json.dumps(shown, ensure_ascii=False, indent=2, default=str))
        return
    if row is not None:
        table = Table(title=f"ledger · deal {deal}", show_header=False)
        for key, value in _row_json(row, [])["ledger"].items():
            if key not in ("reasons", "warnings"):
                table.add_row(key, "" if value is None else str(value))
        console.print(table)
        for line in _problem_lines(row.reasons, row.warnings):
            console.print(line, highlight=False)
    events = Table(title="history / 履歴", show_header=True, header_style="bold")
    for column in ("at", "event", "trigger", "detail"):
        events.add_column(column)
    for event in history:
        events.add_row(
            event.at.isoformat(timespec="seconds"),
            event.event,
            event.trigger,
            json.dumps(dict(event.detail), ensure_ascii=False, default=str),
        )
    console.print(events)
    for orphan in orphans:
        console.print(f"[red]✗ orphan invoice / 二重の請求書[/] {describe(orphan)}", highlight=False)


def _row_json(row: Any, history: list[Any]) -> dict[str, Any]:
    ledger = None
    if row is not None:
        invoice = row.invoice
        ledger = {
            "state": row.state.value,
            "attempts": row.attempts,
            "claimed_until": row.claim_until.isoformat() if row.claim_until else None,
            "company_id": row.company_id,
            "partner_id": row.partner_id,
            "invoice_id": invoice.invoice_id if invoice else None,
            "invoice_number": invoice.invoice_number if invoice else None,
            "invoice_url": invoice.invoice_url if invoice else None,
            "amount_total": invoice.amount_total if invoice else None,
            "due_date": invoice.due_date.isoformat() if invoice and invoice.due_date else None,
            "last_error": row.last_error,
            "reasons": [p.as_dict() for p in row.reasons],
            "warnings": [w.as_dict() for w in row.warnings],
            "written": dict(row.written),
        }
    return {
        "ledger": ledger,
        "history": [
            {"at": e.at.isoformat(), "event": e.event, "trigger": e.trigger, "detail": dict(e.detail)}
            for e in history
        ],
    }


@invoice_app.command("retry")
def invoice_retry(
    failed: Annotated[bool, flag("--failed", "Re-run every deal whose last attempt failed")] = False,
    invalid: Annotated[bool, flag("--invalid", "Also re-check deals that were invalid")] = False,
    as_json: JsonOption = False,
    config: ConfigOption = None,
) -> None:
    """Run the invoice again for failed (and with --invalid, invalid) deals, with a progress bar."""

    from sdk.errors import Retryable
    from sdk.store import LedgerState
    from sdk.usecases.create_invoice import Result, create_invoice_for_deal

    if not (failed or invalid):
        raise fail(
            "say which deals: --failed and/or --invalid / 対象を --failed か --invalid で指定してください"
        )
    own_portal(settings_from(config), None)
    ctx = context(config)
    states = frozenset({LedgerState.FAILED} if failed else set()) | frozenset(
        {LedgerState.INVALID} if invalid else set()
    )
    rows = list(ctx.store.ledger(states=states))
    results: list[dict[str, Any]] = []
    with progress_bar({"retry": "retrying / 再実行中"}, quiet=as_json) as report:
        for done, row in enumerate(rows, start=1):
            try:
                outcome = create_invoice_for_deal(ctx, row.portal_id, row.deal_id, "retry")
                message = outcome.error_message or (outcome.invoice.invoice_number if outcome.invoice else "")
                results.append({"deal_id": row.deal_id, "result": outcome.result.value, "message": message})
            except Retryable as exc:
                results.append({"deal_id": row.deal_id, "result": "failed", "message": str(exc)})
            except ForeignPortal as exc:  # a row of another portal: refused untouched
                results.append({"deal_id": row.deal_id, "result": "foreign_portal", "message": str(exc)})
            report("retry", done, len(rows))
    ok = sum(1 for r in results if r["result"] in (Result.CREATED.value, Result.ALREADY_INVOICED.value))
    if as_json:
        typer.echo(
            json.dumps({"retried": len(results), "done": ok, "deals": results}, ensure_ascii=False, indent=2)
        )
    else:
        table = Table(title=f"retried {len(results)} · invoiced {ok}", show_header=True, header_style="bold")
        for column in ("deal", "result", "detail"):
            table.add_column(column)
        for r in results:
            table.add_row(r["deal_id"], r["result"], r["message"])
        console.print(table)
    raise typer.Exit(0 if ok == len(results) else EXIT_INCOMPLETE)


@invoice_app.command("sweep")
def invoice_sweep(
    since: Annotated[
        str | None,
        typer.Option(
            "--since",
            help="Won deals closed on or after this date (YYYY-MM-DD; default: SWEEP_LOOKBACK_DAYS ago)",
        ),
    ] = None,
    dry_run: Annotated[
        bool, flag("--dry-run", "Say what would be queued or repaired; change nothing")
    ] = False,
    skip_freee: Annotated[
        bool,
        flag("--skip-freee", "HubSpot only: do not list freee's invoices (as the hourly scheduled pass)"),
    ] = False,
    as_json: JsonOption = False,
    config: ConfigOption = None,
) -> None:
    """Find won deals without an invoice and queue them; repair invoiced deals that disagree with the ledger."""
    from datetime import date

    from sdk.usecases.sweep import Action, sweep

    try:
        start = date.fromisoformat(since) if since else None
    except ValueError:
        raise fail(
            f"--since must be a date (YYYY-MM-DD), not {since!r} / --since は日付（YYYY-MM-DD）です"
        ) from None
    settings = settings_from(config)
    own_portal(settings, None)
    ctx = context(config)
    queue = open_queue(settings, ctx.clock)
    labels = {"hubspot": "won deals / 受注取引", "freee": "freee invoices / freee請求書"}
    with progress_bar(labels, quiet=as_json) as report:
        result = run_guarded(
            lambda: sweep(
                ctx, queue, since=start, dry_run=dry_run, check_freee=not skip_freee, progress=report
            )
        )
    if as_json:
        typer.echo(json.dumps(result.as_dict(), ensure_ascii=False, indent=2))
        raise typer.Exit(0 if result.ok else EXIT_INCOMPLETE)
    title = "reconciliation sweep (dry run) / 照合（試行）" if dry_run else "reconciliation sweep / 照合"
    console.print(
        Text(
            f"{title}: since {result.since} · won deals / 受注取引 {result.won_deals} · in order / 正常 "
            f"{result.in_order} · queued / 投入 {len(result.queued)} · repaired / 修復 "
            f"{len(result.of(Action.REPAIRED))} · for a person / 要確認 {len(result.of(Action.LISTED))}"
        )
    )
    actions = {
        Action.QUEUED: "queued / 投入済み",
        Action.REPAIRED: "repaired / 修復済み",
        Action.LISTED: "for a person / 要確認",
        Action.RECENTLY_QUEUED: "queued earlier / 投入済み（前回）",
        Action.WOULD_QUEUE: "would queue / 投入予定",
        Action.WOULD_REPAIR: "would repair / 修復予定",
    }
    for item in result.items:  # one line each: readable at 80 columns and in a pipe
        line = Text.assemble(
            ("• ", "red" if item.action is Action.LISTED else ""),
            (f"deal {item.deal_id}", "bold"),
            f" {item.deal_name}: " if item.deal_name else ": ",
            item.message,
            " → ",
            (actions[item.action], "bold"),
            f" ({item.detail})" if item.detail else "",
        )
        console.print(line, highlight=False)
    for message in result.errors:
        err.print(Text.assemble(("• ", "red"), message), highlight=False, soft_wrap=True)
    raise typer.Exit(0 if result.ok else EXIT_INCOMPLETE)
