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
from rich.panel import Panel
from rich.text import Text

from cli.common import (
    EXIT_INCOMPLETE,
    RESULT_WORDS,
    console,
    context,
    err,
    fail,
    open_queue,
    own_portal,
    progress_bar,
    run_guarded,
    settings_from,
    since_date,
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
                        Text.assemble(
                            "won stage / 受注: ",
                            ("yes / はい", "green") if plan.won else ("no / いいえ", "red"),
                            f" · ledger / 台帳: {_state_words(data['ledger_state'])}"
                            f" · partner / 取引先: {plan.partner or '-'}",
                        ),
                        *_problem_lines(plan.problems, plan.warnings),
                        Text("freee POST /iv/invoices (not sent / 未送信)", style="bold"),
                        Text(
                            json.dumps(plan.freee_request, ensure_ascii=False, indent=2)
                            if plan.freee_request
                            else "(none / なし)"
                        ),
                        Text("HubSpot deal write (not sent / 未送信)", style="bold"),
                        Text(json.dumps(plan.deal_write, ensure_ascii=False, indent=2)),
                    ),
                    title=Text(f"dry run / 試行 · deal {deal}"),
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
    words = RESULT_WORDS.get(outcome.result.value, outcome.result.value)
    if invoice is not None:
        console.print(
            Text.assemble(
                (words, "green"),
                f" · deal {outcome.deal_id}: freee {invoice.invoice_number} {format_yen(invoice.amount_total)}"
                f" · due / 期日 {invoice.due_date or '-'} · {invoice.invoice_url}",
                (" (found in freee from an earlier attempt / 前回の試行で作成済み)", "dim")
                if outcome.adopted
                else "",
            )
        )
    else:
        console.print(Text.assemble((words, "red"), f" · deal {outcome.deal_id}"))
    for line in _problem_lines(outcome.problems, outcome.warnings):
        console.print(line)


def _problem_lines(problems: tuple[Problem, ...], warnings: tuple[Problem, ...]) -> list[Text]:
    """Each problem (✗) and warning (⚠) as the deal shows them: code, field, Japanese, English."""
    return [
        Text.assemble("  ", mark, " ", (p.code, "bold"), f" ({p.field})\n    {p.ja}\n    ", (p.en, "dim"))
        for mark, group in ((("✗", "red"), problems), (("⚠", "yellow"), warnings))
        for p in group
    ]


def _state_words(state: str | None) -> str:
    """A ledger state in the words the deal's ``freee_sync_status`` dropdown uses (``creating`` shows there as
    ``pending``)."""
    from sdk.properties import SYNC_STATUS

    labels = dict(SYNC_STATUS)
    return "-" if state is None else labels.get("pending" if state == "creating" else state, state)


def _tokyo(moment: Any) -> str:
    """An instant as Tokyo wall-clock time, to the second."""
    from sdk.terms import TOKYO

    return str(moment.astimezone(TOKYO).strftime("%Y-%m-%d %H:%M:%S JST"))


@invoice_app.command("show")
def invoice_show(
    deal: DealOption,
    portal: PortalOption = None,
    as_json: JsonOption = False,
    config: ConfigOption = None,
) -> None:
    """The deal's ledger row, every invoice it has (one per period for a deal billed per period, a charge on a
    consolidated invoice for its share) with its status, its history (what happened, when, by which trigger) and
    any second invoice freee holds for it (an orphan, to cancel in freee)."""
    from sdk.store import open_store
    from sdk.terms import tokyo_today
    from sdk.usecases.balance import deal_invoices
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
    found = deal_invoices(store, settings, portal_id, deal, tokyo_today())
    if as_json:
        shown = _row_json(row, history) | {
            "invoices": [i.as_dict() for i in found.invoices],
            "summary": found.summary() if found.invoices else None,
            "orphans": [dataclasses.asdict(o) for o in orphans],
        }
        typer.echo(json.dumps(shown, ensure_ascii=False, indent=2, default=str))
        return
    if row is not None:
        _print_row(deal, row)
    if found.invoices:
        _print_invoices(found)
    console.print(Text("history / 履歴", style="bold"))
    for event in history:  # one line each, Tokyo time; detail as JSON text
        detail = json.dumps(dict(event.detail), ensure_ascii=False, default=str)
        console.print(
            Text.assemble(
                f"  {_tokyo(event.at)} · ",
                (event.event, "bold"),
                f" · trigger / きっかけ: {event.trigger}",
                (f" · {detail}" if event.detail else "", "dim"),
            )
        )
    for orphan in orphans:
        console.print(Text.assemble(("✗ orphan invoice / 二重の請求書 ", "red"), describe(orphan)))


def _print_row(deal: str, row: Any) -> None:
    """The ledger row for a person: state, invoice (¥, dates), who holds it until when (Tokyo), the last error,
    the reasons and warnings, and the values last written to the deal."""
    console.print(
        Text.assemble(
            (f"deal {deal}", "bold"),
            f" · {_state_words(row.state.value)} · attempts / 試行 {row.attempts}"
            f" · company / 会社 {row.company_id or '-'} · partner / 取引先 {row.partner_id or '-'}",
        )
    )
    invoice = row.invoice
    if invoice is not None:
        console.print(
            Text(
                f"  invoice / 請求書 {invoice.invoice_number}: {format_yen(invoice.amount_total)}"
                f" (net / 税抜 {format_yen(invoice.amount_net)} + tax / 消費税 {format_yen(invoice.amount_tax)})"
                f" · billed / 請求日 {invoice.billing_date} · due / 期日 {invoice.due_date or '-'}"
                f"\n  {invoice.invoice_url}"
            )
        )
    if row.claim_until is not None:
        console.print(Text(f"  held until / 処理中の期限 {_tokyo(row.claim_until)}"))
    if row.last_error:
        console.print(Text(f"  last error (operator) / 最後のエラー（運用者向け）: {row.last_error}"))
    for line in _problem_lines(row.reasons, row.warnings):
        console.print(line)
    if row.written:
        console.print(Text("  written to the deal / 取引に書いた値:", style="bold"))
        for key, value in sorted(row.written.items()):
            console.print(Text(f"    {key}: {value}"))


STATUS_WORDS = {
    "paid": "paid / 入金済",
    "partially_paid": "partially paid / 一部入金",
    "unpaid": "unpaid / 未入金",
    "overdue": "overdue / 期日超過",
    "cancelled": "cancelled / 取消",
}


def _print_invoices(found: Any) -> None:
    """Every invoice of the deal, oldest first, one line each: period, number, amount, status, outstanding, due
    date; then the deal over all of them (what the payment sync writes to it)."""
    console.print(Text(f"invoices / 請求書 ({len(found.invoices)})", style="bold"))
    for item in found.invoices:
        data = item.as_dict()
        what = data["label"] or (f"period / 期間 {data['period']}" if data["period"] else "")
        inside = " (consolidated / 合算請求書の内訳)" if data["consolidated"] else ""
        console.print(
            Text(
                f"  {what + ' · ' if what else ''}{data['invoiceNumber']}{inside} · {format_yen(data['amountInvoiced'])}"
                f" · {STATUS_WORDS.get(data['status'], data['status'])}"
                f" · outstanding / 未回収 {format_yen(data['amountOutstanding'])}"
                f" · due / 期日 {data['dueDate'] or '-'}"
            ),
            highlight=False,
        )
    total = found.summary()
    console.print(
        Text(
            f"  deal / 取引: {STATUS_WORDS.get(total['status'], total['status'])} · invoiced / 請求"
            f" {format_yen(total['amountInvoiced'])} · paid / 入金 {format_yen(total['amountPaid'])}"
            f" · outstanding / 未回収 {format_yen(total['amountOutstanding'])} · due / 期日 {total['dueDate'] or '-'}"
        ),
        highlight=False,
    )


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
        console.print(Text(f"retried / 再実行 {len(results)} · invoiced / 作成 {ok}", style="bold"))
        for r in results:  # one line each: error codes in brackets stay as they are
            console.print(
                Text.assemble(
                    f"  deal {r['deal_id']} · ",
                    (RESULT_WORDS.get(r["result"], r["result"]), "bold"),
                    f"\n    {r['message']}" if r["message"] else "",
                )
            )
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
    from sdk.usecases.sweep import Action, sweep

    start = since_date(since)
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
