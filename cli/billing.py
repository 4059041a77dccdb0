"""``hubspot-freee billing run | show``: the billing pass over every schedule due, and one deal's schedule.

Thin: parse, call the use case (``sdk/usecases/billing.py``), print lines for a person or ``--json``.
"""

from __future__ import annotations

import json
from datetime import date
from typing import Annotated

import typer
from rich.text import Text

from cli.common import (
    EXIT_INCOMPLETE,
    console,
    context,
    err,
    fail,
    own_portal,
    progress_bar,
    run_guarded,
    settings_from,
)
from cli.options import ConfigOption, JsonOption, flag
from sdk.money import format_yen

billing_app = typer.Typer(
    help="Billing schedules: one invoice per period / 定期・分割請求", no_args_is_help=True
)

STATE_WORDS = {
    "invoiced": "invoiced / 請求済み",
    "cancelled": "cancelled in freee / freeeで取消",
    "creating": "being invoiced / 作成中",
    "failed": "failed, retried / 失敗（再試行）",
    "invalid": "cannot be invoiced / 請求不可",
    "due": "due, not invoiced yet / 請求待ち",
    "upcoming": "upcoming / 予定",
    "nothing_to_bill": "nothing to bill / 請求なし",
    "stopped": "stopped / 停止",
}
SCHEDULE_WORDS = {
    "active": "active / 請求中",
    "ended": "ended, all billed / 請求完了",
    "stopped": "stopped / 停止",
}


def _day(text: str | None) -> date | None:
    if text is None:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise fail(
            f"--date {text!r} is not a date (YYYY-MM-DD) / 日付はYYYY-MM-DDで指定してください"
        ) from None


@billing_app.command("run")
def billing_run(
    on: Annotated[
        str | None,
        typer.Option(
            "--date", help="Bill every period due on or before this day (YYYY-MM-DD; default: today in Tokyo)"
        ),
    ] = None,
    dry_run: Annotated[bool, flag("--dry-run", "List the invoices that would be made; send nothing")] = False,
    as_json: JsonOption = False,
    config: ConfigOption = None,
) -> None:
    """Create every invoice due on or before the date (exactly once per period), within freee's limits."""
    from sdk.terms import tokyo_today
    from sdk.usecases.billing import run_billing

    day = _day(on)
    settings = settings_from(config)
    own_portal(settings, None)
    ctx = context(config)
    day = day or tokyo_today(ctx.now())
    labels = {"deals": "deals due / 請求対象の取引"}
    with progress_bar(labels, quiet=as_json) as report:
        summary = run_guarded(
            lambda: run_billing(
                ctx, day, dry_run=dry_run, progress=lambda done, total: report("deals", done, total)
            )
        )
    if as_json:
        typer.echo(json.dumps(summary.as_dict(), ensure_ascii=False, indent=2))
        raise typer.Exit(0 if summary.ok else EXIT_INCOMPLETE)
    title = "billing run (dry run) / 請求実行（試行）" if dry_run else "billing run / 請求実行"
    counts = " · ".join(f"{k} {v}" for k, v in sorted(summary.outcomes.items())) or "nothing due / 対象なし"
    made = (
        f"would create / 作成予定 {len(summary.planned)}"
        if dry_run
        else f"invoices created / 作成 {summary.invoices_created}"
    )
    console.print(
        Text(
            f"{title}: {summary.on.isoformat()} · deals due / 対象取引 {summary.due_deals} · {made} · {counts}"
        )
    )
    for item in summary.planned:
        console.print(
            Text(
                f"• deal {item['deal_id']} period {item['period']} ({item['label']}): {item['subject']} · "
                f"{format_yen(int(str(item['total'])))} · billing / 請求日 {item['billing_date']} · due / 期日 "
                f"{item['due_date']}"
            ),
            highlight=False,
        )
    for problem in summary.problems:
        err.print(Text(f"• deal {problem['deal_id']}: {problem['error']}"), highlight=False, soft_wrap=True)
    raise typer.Exit(0 if summary.ok else EXIT_INCOMPLETE)


@billing_app.command("show")
def billing_show(
    deal: Annotated[str, typer.Option("--deal", help="HubSpot deal id")],
    as_json: JsonOption = False,
    config: ConfigOption = None,
) -> None:
    """Print a deal's schedule: every period, its dates, state and invoice."""
    from sdk.usecases.billing import schedule_view

    if not (deal.isascii() and deal.isdigit() and len(deal) <= 32):
        raise fail(f"--deal {deal!r} is not a HubSpot deal id (digits) / 取引IDは数字です")
    settings = settings_from(config)
    portal = own_portal(settings, None)
    ctx = context(config)
    view = run_guarded(lambda: schedule_view(ctx, portal, deal))
    if as_json:
        typer.echo(json.dumps(view.as_dict(), ensure_ascii=False, indent=2))
        raise typer.Exit(0)
    console.print(Text(f"deal / 取引 {view.deal_id} {view.deal_name}"), highlight=False)
    if view.plan is None:
        console.print(Text("billed once, no schedule / 単発請求（定期請求なし）"))
    else:
        plan = view.plan
        count = f"{plan.count} periods / {plan.count}回" if plan.count else "until cancelled / 期間の定めなし"
        state = SCHEDULE_WORDS[view.schedule.state.value] if view.schedule else "not stored yet / 未登録"
        console.print(
            Text(
                f"{plan.kind.value} · {plan.frequency.value} ({plan.frequency.label_ja}) · from / 開始 "
                f"{plan.start.isoformat()} · {count} · {plan.timing.value} · {state}"
            ),
            highlight=False,
        )
        if view.schedule is not None and view.schedule.note:
            console.print(Text(view.schedule.note), highlight=False)
    for p in view.periods:
        amount = format_yen(p.amount) if p.amount is not None else "—"
        invoice = f" · {p.invoice_number}" if p.invoice_number else ""
        if p.consolidated_on is not None and not p.invoice_number:
            invoice += f" · consolidated on / 合算請求 {p.consolidated_on.isoformat()}"
        console.print(
            Text(
                f"{p.number:>3}. {p.label} ({p.start.isoformat()}〜{p.end.isoformat()}) · billing / 請求日 "
                f"{p.billing_date.isoformat()} · {amount} · {STATE_WORDS[p.state.value]}{invoice}"
            ),
            highlight=False,
        )
        if p.error:
            console.print(Text(f"     {p.error}"), highlight=False)
    if view.more:
        console.print(Text("  … continues until cancelled / 以降も継続"))
    for problem in view.problems:
        err.print(Text(problem.line()), highlight=False, soft_wrap=True)
    raise typer.Exit(0 if not view.problems else EXIT_INCOMPLETE)
