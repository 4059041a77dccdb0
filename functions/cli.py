"""``hubspot-freee``: the operator's command line.

Output is for people (rich tables); ``--json`` is for machines. Exit codes: 0 when everything asked for
happened, 1 when some of it could not be done (e.g. ``--strict`` and an invalid deal), 2 for bad input or
configuration (a missing file, a file that is not what it should be, a bad setting).
"""

from __future__ import annotations

import dataclasses
import json
from datetime import date
from pathlib import Path
from typing import Annotated, Any

import typer
from pydantic import TypeAdapter, ValidationError
from rich.console import Group
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from functions.cli_common import EXIT_INCOMPLETE, console, err, fail, settings_from
from functions.cli_setup import register as register_setup_commands
from sdk.errors import ForeignPortal, SettingsError, ValidationFailed
from sdk.mapping import build_invoice_request, known_partner
from sdk.models.hubspot import DealBundle
from sdk.money import format_yen, plain
from sdk.settings import Settings
from sdk.tax import TaxRate
from sdk.terms import tokyo_today
from sdk.validation import InvoiceDraft, validate_deal

app = typer.Typer(
    name="hubspot-freee",
    help="HubSpot ⇄ freee quote-to-cash: invoices for won deals, payment status back in the CRM.",
    no_args_is_help=True,
    add_completion=False,
)
_BUNDLES = TypeAdapter(list[DealBundle])
MAX_INPUT_BYTES = 10_000_000  # some thousands of deals; a larger file is refused before it is read


@app.callback()
def _main() -> None:
    """HubSpot ⇄ freee: 受注した取引からfreeeの請求書を作成し、入金状況をHubSpotに戻します。"""


def read_bundles(path: Path) -> list[DealBundle]:
    """Deal bundles from a JSON file; every problem is a clear message, never a traceback."""
    try:
        with path.open("rb") as stream:  # at most one byte past the limit: /dev/zero or 50 MB stop here
            raw = stream.read(MAX_INPUT_BYTES + 1)
        if len(raw) > MAX_INPUT_BYTES:
            raise fail(
                f"{path}: the file is too large (over {MAX_INPUT_BYTES:,} bytes); split it "
                "/ ファイルが大きすぎます。分割してください。"
            )
        text = raw.decode("utf-8")
    except FileNotFoundError:
        raise fail(f"{path}: no such file / ファイルがありません") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise fail(f"{path}: cannot be read as UTF-8 text ({exc.__class__.__name__})") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise fail(f"{path}: not valid JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}") from None
    except RecursionError:
        raise fail(f"{path}: the JSON is nested too deeply to be a list of deals") from None
    try:
        json.dumps(data, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        raise fail(
            f"{path}: contains a \\uD800-\\uDFFF escape (a lone surrogate), which is not text; fix the file "
            "/ 文字として不正なエスケープ（サロゲート）が含まれています"
        ) from None
    if isinstance(data, dict):
        data = [data]
    try:
        return _BUNDLES.validate_python(data)
    except ValidationError as exc:
        lines = [
            f"  - at {'/'.join(str(p) for p in e['loc']) or '(top)'}: {e['msg']}"
            for e in exc.errors(include_url=False)[:20]
        ]
        raise fail(
            f"{path}: not a list of deals (each {{deal, lineItems, company, contact}}):\n" + "\n".join(lines)
        ) from None


@app.command()
def preview(
    file: Annotated[Path, typer.Option("--file", "-f", help="JSON file of deals (see examples/deals.json)")],
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output")] = False,
    today: Annotated[
        str | None, typer.Option(help="Today's date (YYYY-MM-DD) when billing dates come from today")
    ] = None,
    company_id: Annotated[
        int | None, typer.Option(help="freee company id (default: FREEE_COMPANY_ID)")
    ] = None,
    strict: Annotated[bool, typer.Option(help="Exit 1 when any deal cannot be invoiced")] = False,
    config: Annotated[Path | None, typer.Option(help="Settings file (default: ./hubspot-freee.toml)")] = None,
) -> None:
    """Show the freee invoice each deal would become, or every reason it cannot. Sends nothing."""
    settings = settings_from(config)
    try:
        on = date.fromisoformat(today) if today else tokyo_today()
    except ValueError:
        raise fail(f"--today {today!r} is not a date (YYYY-MM-DD)") from None
    bundles = read_bundles(file)
    freee_company = company_id or settings.freee_company_id
    results = [_preview_one(bundle, settings, on, freee_company) for bundle in bundles]
    invalid = sum(1 for r in results if r["status"] == "invalid")
    if as_json:
        typer.echo(json.dumps(results, ensure_ascii=False, indent=2))
    else:
        for bundle, result in zip(bundles, results, strict=True):
            _render(bundle, result)
        console.print(
            f"\n[bold]{len(results)}[/] deals: [green]{len(results) - invalid} ready to invoice[/], "
            f"[red]{invalid} cannot be invoiced[/] / 請求可能 {len(results) - invalid} 件・不備 {invalid} 件"
        )
        if freee_company is None:
            err.print(
                "note: FREEE_COMPANY_ID is not set, so the freee request bodies are not shown (--json)."
            )
    if strict and invalid:
        raise typer.Exit(EXIT_INCOMPLETE)


def _preview_one(bundle: DealBundle, settings: Settings, on: date, company_id: int | None) -> dict[str, Any]:
    base: dict[str, Any] = {
        "portal_id": bundle.portal_id,
        "deal_id": bundle.deal.id,
        "deal_name": bundle.deal.name,
    }
    try:
        draft = validate_deal(bundle, settings, today=on)
    except ValidationFailed as exc:
        return base | {"status": "invalid", "problems": [p.as_dict() for p in exc.problems]}
    request = None
    if company_id is not None and bundle.company is not None:
        partner = known_partner(bundle.company, settings)
        request = build_invoice_request(draft, settings, company_id=company_id, partner=partner).to_json()
    return base | {
        "status": "ok",
        "draft": _draft_json(draft),
        "warnings": [w.as_dict() for w in draft.warnings],
        "freee_request": request,
    }


def _draft_json(draft: InvoiceDraft) -> dict[str, Any]:
    return {
        "subject": draft.subject,
        "company": draft.company_name,
        "billing_date": draft.billing_date.isoformat(),
        "due_date": draft.due_date.isoformat(),
        "payment_terms": draft.terms.code,
        "lines": [
            {
                "description": line.description,
                "quantity": plain(line.quantity),
                "unit_price": plain(line.unit_price),
                "amount": line.amount,
                "tax_rate": line.rate.value,
                "kind": line.kind,
            }
            for line in draft.lines
        ],
        "tax": [
            {"rate": r.rate.value, "net": r.net, "tax": r.tax, "gross": r.gross} for r in draft.tax.rates
        ],
        "entry_method": draft.tax.entry_method.value,
        "net": draft.tax.net,
        "tax_total": draft.tax.tax,
        "total": draft.tax.gross,
    }


def _render(bundle: DealBundle, result: dict[str, Any]) -> None:
    title = f"deal {bundle.deal.id} · {bundle.deal.name or '(no name)'}"
    if result["status"] == "invalid":
        body = Text()
        for index, p in enumerate(result["problems"]):
            if index:
                body.append("\n")
            body.append("✗ ", style="red")
            body.append(p["code"], style="bold red")
            body.append(f"  ({p['field']})\n", style="dim")
            body.append(f"  {p['ja']}\n")
            body.append(f"  {p['en']}", style="dim")
        console.print(
            Panel(body, title=f"[red]✗ {title}[/]", subtitle="請求書を作成できません / cannot be invoiced")
        )
        return
    draft = result["draft"]
    lines = Table(show_header=True, header_style="bold", expand=True)
    lines.add_column("品目 / description")
    lines.add_column("数量", justify="right")
    lines.add_column("単価", justify="right")
    lines.add_column("税率", justify="right")
    lines.add_column("金額", justify="right")
    for line in draft["lines"]:
        lines.add_row(
            line["description"],
            line["quantity"],
            line["unit_price"],
            TaxRate(line["tax_rate"]).label_ja,
            format_yen(line["amount"]),
        )
    taxes = Table(show_header=True, header_style="bold")
    taxes.add_column("税率 / rate")
    taxes.add_column("税抜 / net", justify="right")
    taxes.add_column("消費税 / tax", justify="right")
    taxes.add_column("税込 / gross", justify="right")
    for r in draft["tax"]:
        taxes.add_row(
            TaxRate(r["rate"]).label_ja, format_yen(r["net"]), format_yen(r["tax"]), format_yen(r["gross"])
        )
    taxes.add_row(
        "[bold]合計 / total[/]",
        format_yen(draft["net"]),
        format_yen(draft["tax_total"]),
        f"[bold]{format_yen(draft['total'])}[/]",
    )
    header = (
        f"請求先 [bold]{draft['company']}[/] 御中 · 件名 {draft['subject']}\n"
        f"請求日 {draft['billing_date']} · 期日 [bold]{draft['due_date']}[/] ({draft['payment_terms']}) · "
        f"{'外税' if draft['entry_method'] == 'out' else '内税'}"
    )
    parts: list[Any] = [header, lines, taxes]
    for w in result["warnings"]:
        parts.append(f"[yellow]⚠ {w['code']}: {w['ja']} / {w['en']}[/]")
    console.print(Panel(Group(*parts), title=f"[green]✓ {title}[/]"))


@app.command()
def sandbox(
    host: Annotated[str, typer.Option(help="Address to listen on (loopback by default)")] = "127.0.0.1",
    freee_port: Annotated[int, typer.Option(help="freee sandbox port (0: any free port)")] = 0,
    hubspot_port: Annotated[int, typer.Option(help="HubSpot sandbox port (0: any free port)")] = 0,
    webhook_url: Annotated[
        str | None, typer.Option(help="Where the HubSpot sandbox delivers deal-stage webhooks")
    ] = None,
    speed: Annotated[float, typer.Option(help="Clock speed: 60 makes a minute pass every second")] = 1.0,
    rate_limit_per_minute: Annotated[int, typer.Option(help="freee sandbox requests per minute")] = 30,
) -> None:
    """Serve stateful freee and HubSpot sandboxes on loopback until interrupted (Ctrl-C).

    Prints the settings that point this package at them. Reset or seed them through /_sandbox on each.
    """
    import signal
    import threading

    from local.sandboxes import sandbox_env
    from sandbox.freee import create_freee_sandbox
    from sandbox.hubspot import create_hubspot_sandbox
    from sandbox.transport import serve
    from sdk.clock import ScaledClock, SystemClock

    if speed <= 0:
        raise fail("--speed must be positive")
    clock = SystemClock() if speed == 1.0 else ScaledClock(speed)
    freee = create_freee_sandbox(clock=clock, rate_limit_per_minute=rate_limit_per_minute)
    hubspot = create_hubspot_sandbox(clock=clock, webhook_url=webhook_url)
    try:
        served_freee = serve(freee.app, host, freee_port)
        served_hubspot = serve(hubspot.app, host, hubspot_port)
    except OSError as exc:
        raise fail(f"cannot listen on {host}: {exc.strerror or exc}") from None
    env = sandbox_env(served_freee.url, served_hubspot.url)
    table = Table(title="sandboxes / サンドボックス", show_header=True, header_style="bold")
    table.add_column("service")
    table.add_column("url")
    table.add_column("admin")
    table.add_row("freee", served_freee.url, f"{served_freee.url}/_sandbox/state")
    table.add_row("HubSpot", served_hubspot.url, f"{served_hubspot.url}/_sandbox/state")
    console.print(table)
    console.print("[bold]settings for these sandboxes[/] (sandbox credentials, not secrets):")
    for name, value in env.items():
        typer.echo(f"export {name}={value}")
    console.print("Ctrl-C to stop / 停止は Ctrl-C", style="dim")
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        while not stop.wait(0.5):
            pass
    except KeyboardInterrupt:
        pass
    finally:
        served_hubspot.stop()
        served_freee.stop()
        hubspot.close()


invoice_app = typer.Typer(help="Invoices for won deals / 受注取引の請求書", no_args_is_help=True)
app.add_typer(invoice_app, name="invoice")


def _context(config: Path | None) -> Any:
    from sdk.usecases.context import Context

    settings = settings_from(config)
    try:
        settings.require("hubspot_access_token", "freee_client_id", "freee_client_secret", "freee_company_id")
        return Context.from_settings(settings)
    except SettingsError as exc:
        raise fail(str(exc)) from None
    except ValueError as exc:  # e.g. an unusable storage URL
        raise fail(str(exc)) from None


def _deal_id(deal: str) -> str:
    if not (deal.isascii() and deal.isdigit() and len(deal) <= 32):
        raise fail(f"--deal {deal!r} is not a HubSpot deal id (digits) / 取引IDは数字です")
    return deal


def _portal(settings: Settings, portal: int | None) -> int:
    """This installation's portal (``HUBSPOT_PORTAL_ID``, required); ``--portal`` may only repeat it."""
    from sdk.tenant import NOT_CONFIGURED_EN, NOT_CONFIGURED_JA, own_portal

    try:
        own = own_portal(settings)
    except SettingsError:
        raise fail(f"{NOT_CONFIGURED_EN} / {NOT_CONFIGURED_JA}") from None
    if portal is not None and portal != own:
        raise fail(
            f"--portal {portal} is not this installation's portal (HUBSPOT_PORTAL_ID={own}): nothing was read "
            f"or written; leave --portal out / --portal {portal} はこのインストールのポータル（{own}）ではありません"
        )
    return own


def _run_guarded(action: Any) -> Any:
    """Run a use case; every expected failure becomes a message and an exit code, never a traceback."""
    from sdk.errors import AuthError, Retryable
    from sdk.hubspot import HubSpotNotFound, HubSpotRequestError

    try:
        return action()
    except HubSpotNotFound as exc:
        raise fail(f"not found in HubSpot / HubSpotに見つかりません: {exc}") from None
    except AuthError as exc:
        raise fail(f"not authorised / 認証エラー: {exc}") from None
    except Retryable as exc:
        err.print(f"[yellow]temporary failure, try again later / 一時的なエラー:[/] {exc}")
        raise typer.Exit(EXIT_INCOMPLETE) from None
    except HubSpotRequestError as exc:
        raise fail(f"HubSpot refused the request: {exc}") from None


@invoice_app.command("create")
def invoice_create(
    deal: Annotated[str, typer.Option("--deal", help="HubSpot deal id")],
    portal: Annotated[int | None, typer.Option(help="HubSpot portal id (default: HUBSPOT_PORTAL_ID)")] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Show the freee request and deal write; send nothing")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output")] = False,
    config: Annotated[Path | None, typer.Option(help="Settings file")] = None,
) -> None:
    """Create the freee invoice of one won deal (exactly once) and write it back onto the deal."""
    from sdk.usecases.create_invoice import Result, create_invoice_for_deal, plan_invoice_for_deal

    _deal_id(deal)
    portal_id = _portal(settings_from(config), portal)
    ctx = _context(config)
    if dry_run:
        plan = _run_guarded(lambda: plan_invoice_for_deal(ctx, portal_id, deal))
        data = {
            "deal_id": deal,
            "won": plan.won,
            "ledger_state": plan.ledger.state.value if plan.ledger else None,
            "partner": plan.partner,
            "freee_request": plan.freee_request,
            "hubspot_deal_write": plan.deal_write,
            "problems": [p.as_dict() for p in plan.problems],
        }
        if as_json:
            typer.echo(json.dumps(data, ensure_ascii=False, indent=2))
        else:
            console.print(
                Panel(
                    Group(
                        f"won stage / 受注: {'yes' if plan.won else '[red]no[/]'} · ledger: {data['ledger_state'] or '-'}"
                        f" · partner: {plan.partner or '-'}",
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
    outcome = _run_guarded(lambda: create_invoice_for_deal(ctx, portal_id, deal, "cli"))
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
    for problem in outcome.problems:
        console.print(
            f"  ✗ [bold]{problem.code}[/] ({problem.field})\n    {problem.ja}\n    [dim]{problem.en}[/]"
        )


@invoice_app.command("show")
def invoice_show(
    deal: Annotated[str, typer.Option("--deal", help="HubSpot deal id")],
    portal: Annotated[int | None, typer.Option(help="HubSpot portal id (default: HUBSPOT_PORTAL_ID)")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output")] = False,
    config: Annotated[Path | None, typer.Option(help="Settings file")] = None,
) -> None:
    """The deal's ledger row, its history (what happened, when, by which trigger) and any second invoice freee
    holds for it (an orphan, to cancel in freee)."""
    from sdk.store import open_store
    from sdk.usecases.orphans import describe, open_orphans

    _deal_id(deal)
    settings = settings_from(config)
    portal_id = _portal(settings, portal)
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
            table.add_row(key, "" if value is None else str(value))
        console.print(table)
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
    failed: Annotated[
        bool, typer.Option("--failed", help="Re-run every deal whose last attempt failed")
    ] = False,
    invalid: Annotated[bool, typer.Option("--invalid", help="Also re-check deals that were invalid")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output")] = False,
    config: Annotated[Path | None, typer.Option(help="Settings file")] = None,
) -> None:
    """Run the invoice again for failed (and with --invalid, invalid) deals, with a progress bar."""
    from rich.progress import Progress

    from sdk.errors import Retryable
    from sdk.store import LedgerState
    from sdk.usecases.create_invoice import Result, create_invoice_for_deal

    if not (failed or invalid):
        raise fail(
            "say which deals: --failed and/or --invalid / 対象を --failed か --invalid で指定してください"
        )
    _portal(settings_from(config), None)
    ctx = _context(config)
    states = frozenset({LedgerState.FAILED} if failed else set()) | frozenset(
        {LedgerState.INVALID} if invalid else set()
    )
    rows = list(ctx.store.ledger(states=states))
    results: list[dict[str, Any]] = []
    with Progress(console=err, transient=True, disable=as_json) as progress:
        task = progress.add_task("retrying / 再実行中", total=len(rows))
        for row in rows:
            try:
                outcome = create_invoice_for_deal(ctx, row.portal_id, row.deal_id, "retry")
                message = outcome.error_message or (outcome.invoice.invoice_number if outcome.invoice else "")
                results.append({"deal_id": row.deal_id, "result": outcome.result.value, "message": message})
            except Retryable as exc:
                results.append({"deal_id": row.deal_id, "result": "failed", "message": str(exc)})
            except ForeignPortal as exc:  # a row of another portal: refused untouched
                results.append({"deal_id": row.deal_id, "result": "foreign_portal", "message": str(exc)})
            progress.advance(task)
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


actions_app = typer.Typer(
    help="Custom workflow actions / カスタムワークフローアクション", no_args_is_help=True
)
app.add_typer(actions_app, name="actions")

_ACTIONS_DIR = Path(__file__).resolve().parent.parent / "workflows" / "actions"


@actions_app.command("register")
def actions_register(
    app_id: Annotated[
        int | None, typer.Option("--app-id", help="HubSpot app id (default: HUBSPOT_APP_ID)")
    ] = None,
    base_url: Annotated[
        str | None,
        typer.Option("--base-url", help="Public URL of this deployment (default: PUBLIC_BASE_URL)"),
    ] = None,
    definitions: Annotated[
        Path, typer.Option("--definitions", help="Folder of action definitions (*.json)")
    ] = _ACTIONS_DIR,
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output")] = False,
    config: Annotated[Path | None, typer.Option(help="Settings file")] = None,
) -> None:
    """Create or update the app's custom workflow actions; an unchanged definition is left as it is.

    Authenticates with the developer account's API key (HUBSPOT_DEVELOPER_API_KEY)."""
    from sdk.errors import DefinitionFileError
    from sdk.hubspot import HubSpotClient
    from sdk.usecases.register_actions import Registration, register_actions

    settings = settings_from(config)
    chosen_app = app_id if app_id is not None else settings.hubspot_app_id
    base = base_url or getattr(settings, "public_base_url", None)
    missing = list(settings.missing_error("hubspot_developer_api_key").problems)
    if chosen_app is None:
        missing += [f"{p} (or pass --app-id)" for p in settings.missing_error("hubspot_app_id").problems]
    if not base:
        missing.append("public_base_url: missing; pass --base-url https://... or set PUBLIC_BASE_URL")
    if missing or chosen_app is None or not base:
        raise fail(str(SettingsError(missing)))
    try:
        client = HubSpotClient.for_developer_account(settings)
        done = _run_guarded(lambda: register_actions(client, chosen_app, base, definitions))
    except (DefinitionFileError, SettingsError) as exc:
        raise fail(str(exc)) from None
    except ValueError as exc:  # the official client's models refused a definition before sending it
        raise fail(f"a definition is not valid for HubSpot: {exc}") from None
    if as_json:
        typer.echo(json.dumps([r.as_dict() for r in done], ensure_ascii=False, indent=2))
        return
    colours = {Registration.CREATED: "green", Registration.UPDATED: "yellow", Registration.UNCHANGED: "dim"}
    table = Table(title=f"workflow actions · app {chosen_app}", show_header=True, header_style="bold")
    for column in ("file", "status", "definition", "revision", "action", "url", "changed"):
        table.add_column(column)
    for r in done:
        table.add_row(
            r.name,
            f"[{colours[r.status]}]{r.status.value}[/]",
            r.definition_id,
            r.revision_id,
            r.action_name + ("" if r.published else " [dim](unpublished)[/]"),
            r.action_url,
            ", ".join(r.changed),
        )
    console.print(table)


# --- the invoice worker and its dead-letter queue --------------------------------------------------------------


def _open_queue(settings: Settings, clock: Any = None) -> Any:
    from sdk.queue import queue_from_settings

    try:
        return queue_from_settings(settings, clock=clock)
    except ValueError as exc:
        raise fail(str(exc)) from None


def _on_queue(queue: Any, action: Any) -> Any:
    """Run a queue operation; a queue that cannot be reached is a message and exit code 2, not a traceback."""
    try:
        return action()
    except Exception as exc:
        raise fail(f"the queue {queue!r} cannot be used / キューを利用できません: {exc}") from None


def _worker_json(result: Any) -> dict[str, Any]:
    outcome = result.outcome
    invoice = outcome.invoice if outcome is not None else None
    return {
        "message_id": result.message_id,
        "deal_id": result.deal_id,
        "portal_id": result.job.portal_id if result.job else None,
        "trigger": result.job.trigger if result.job else None,
        "attempt": result.attempts,
        "result": result.result,
        "disposition": result.disposition.value,
        "invoice_number": invoice.invoice_number if invoice else None,
        "retry_in": result.delay if result.disposition.value in ("retry", "hold") else None,
        "error": result.error or (outcome.error_message if outcome is not None else None) or None,
    }


_WORKER_STYLES = {"done": "green", "retry": "yellow", "dead": "red", "hold": "magenta"}


def _worker_line(result: Any) -> str:
    data = _worker_json(result)
    style = _WORKER_STYLES[data["disposition"]]
    what = f"deal {data['deal_id']}" if data["deal_id"] else f"message {data['message_id']}"
    line = f"[{style}]{data['result']}[/] {what} (attempt {data['attempt']})"
    if data["invoice_number"]:
        line += f" freee {data['invoice_number']}"
    if data["retry_in"] is not None:
        line += f" · retry in {data['retry_in']:.0f}s"
    if data["disposition"] == "dead":
        line += " · [red]dead-lettered[/]"
    if data["disposition"] == "hold":
        line += " · [magenta]held: freee is disconnected, run `hubspot-freee setup freee`[/]"
    if data["error"] and data["disposition"] != "done":
        line += f"\n    [dim]{data['error']}[/]"
    return line


@app.command()
def worker(
    once: Annotated[
        bool, typer.Option("--once", help="Handle what is queued now, then exit (exit 1 if any is not done)")
    ] = False,
    poll_interval: Annotated[
        float, typer.Option(min=0.1, help="Seconds between polls of an empty queue")
    ] = 1.0,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON line per message")] = False,
    config: Annotated[Path | None, typer.Option(help="Settings file")] = None,
) -> None:
    """Run the invoice worker: take deals off the queue (QUEUE_URL) and invoice them, until Ctrl-C or SIGTERM.

    It holds one message at a time (none waits out its visibility timeout behind a slow one); run more workers
    for more at once. キューの取引を1件ずつ請求書にします。Ctrl-C で停止します。"""
    import signal
    import threading

    from functions.worker import Disposition, drain, run_worker

    ctx = _context(config)
    _portal(ctx.settings, None)  # without it every job would be refused
    queue = _open_queue(ctx.settings, ctx.clock)

    def report(result: Any) -> None:
        if as_json:
            typer.echo(json.dumps(_worker_json(result), ensure_ascii=False))
        else:
            console.print(_worker_line(result), highlight=False)

    if once:
        results = _on_queue(queue, lambda: drain(ctx, queue, on_result=report))
        done = sum(1 for r in results if r.disposition is Disposition.DONE)
        if not as_json:
            console.print(
                f"handled {len(results)} message(s): [green]{done} done[/], "
                f"[yellow]{sum(1 for r in results if r.disposition is Disposition.RETRY)} to retry[/], "
                f"[red]{sum(1 for r in results if r.disposition is Disposition.DEAD)} dead-lettered[/], "
                f"[magenta]{sum(1 for r in results if r.disposition is Disposition.HOLD)} held[/]"
                f" / 処理 {len(results)} 件"
            )
        raise typer.Exit(0 if done == len(results) else EXIT_INCOMPLETE)

    stop = threading.Event()
    previous = {sig: signal.signal(sig, lambda *_: stop.set()) for sig in (signal.SIGINT, signal.SIGTERM)}
    if not as_json:
        console.print(f"worker on {queue!r}; Ctrl-C to stop / 停止は Ctrl-C", style="dim")
    try:
        handled = run_worker(ctx, queue, stop=stop, poll_interval=poll_interval, on_result=report)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    if not as_json:
        console.print(f"stopped after {handled} message(s) / 停止しました", style="dim")


dlq_app = typer.Typer(
    help="The dead-letter queue: messages the worker gave up on / デッドレターキュー", no_args_is_help=True
)
app.add_typer(dlq_app, name="dlq")


@dlq_app.command("list")
def dlq_list(
    limit: Annotated[int, typer.Option(min=1, help="At most this many")] = 100,
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output")] = False,
    config: Annotated[Path | None, typer.Option(help="Settings file")] = None,
) -> None:
    """The messages in the dead-letter queue, oldest first; nothing is taken off it."""
    queue = _open_queue(settings_from(config))
    dead = _on_queue(queue, lambda: queue.dead_letters(limit))
    if as_json:
        rows = [{"message_id": m.id, "attempts": m.attempts, "body": m.body} for m in dead]
        typer.echo(json.dumps(rows, ensure_ascii=False, indent=2))
        return
    table = Table(title=f"dead letters · {len(dead)}", show_header=True, header_style="bold")
    deals = ["" if m.body.get("deal_id") is None else str(m.body["deal_id"]) for m in dead]
    table.add_column("message id", no_wrap=True, min_width=max((len(m.id) for m in dead), default=10))
    table.add_column("deal", no_wrap=True, min_width=max((len(d) for d in deals), default=4))
    table.add_column("attempts", justify="right", no_wrap=True, min_width=8)
    table.add_column("body", overflow="fold")
    for m, deal in zip(dead, deals, strict=True):
        body = json.dumps(m.body, ensure_ascii=False, separators=(",", ":"))
        table.add_row(m.id, deal, str(m.attempts), body if len(body) <= 120 else body[:119] + "…")
    console.print(table)
    if dead:
        console.print(
            "replay after fixing the cause / 原因を解消後に再実行: hubspot-freee dlq redrive --all (or --id ID)",
            style="dim",
        )


@dlq_app.command("redrive")
def dlq_redrive(
    ids: Annotated[
        list[str] | None, typer.Option("--id", help="A dead letter's message id (repeatable)")
    ] = None,
    redrive_all: Annotated[bool, typer.Option("--all", help="Every dead letter")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output")] = False,
    config: Annotated[Path | None, typer.Option(help="Settings file")] = None,
) -> None:
    """Put dead letters back on the queue with their attempts reset (after the cause is fixed)."""
    if bool(ids) == redrive_all:
        raise fail(
            "say which: --id ID (repeatable) or --all, not both / --id か --all のどちらかを指定してください"
        )
    queue = _open_queue(settings_from(config))
    wanted = None if redrive_all else list(dict.fromkeys(ids or []))
    moved = _on_queue(queue, lambda: queue.redrive(wanted))
    missing = 0 if wanted is None else len(wanted) - moved
    if as_json:
        typer.echo(json.dumps({"redriven": moved, "not_found": missing}))
    else:
        console.print(f"[green]{moved}[/] message(s) back on the queue / キューに戻しました")
        if missing:
            err.print(
                f"[yellow]{missing} id(s) not in the dead-letter queue / 見つからないID {missing} 件[/]"
            )
    raise typer.Exit(EXIT_INCOMPLETE if missing else 0)


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Address to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port (0: any free port)")] = 8080,
    no_worker: Annotated[
        bool, typer.Option("--no-worker", help="Serve only; run `hubspot-freee worker` apart")
    ] = False,
    config: Annotated[Path | None, typer.Option(help="Settings file")] = None,
) -> None:
    """The local server: every route (webhooks, workflow action, custom code, /healthz) and, unless
    --no-worker, the invoice worker in the same process. Runs until Ctrl-C or SIGTERM."""
    import signal
    import threading

    from werkzeug.serving import make_server

    from functions.app import ROUTES, Services, create_app
    from functions.worker import WorkerThread
    from sdk.log import get_logger
    from sdk.queue import queue_from_settings

    ctx = _context(config)
    _portal(ctx.settings, None)  # the tenant boundary needs the portal: refuse to start without it
    try:
        queue = queue_from_settings(ctx.settings)
    except ValueError as exc:
        raise fail(str(exc)) from None
    get_logger()  # built here, once, before any request or worker thread can ask for it
    stop = threading.Event()
    worker = None if no_worker else WorkerThread(ctx, queue, stop=stop)
    checks, notes = ([worker.problems], [worker.notes]) if worker is not None else ([], [])
    web = create_app(Services(ctx, queue, health_checks=checks, health_notes=notes))
    try:
        server = make_server(host, port, web, threaded=True)
    except OSError as exc:
        raise fail(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
    serving = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.2}, daemon=True)
    serving.start()
    if worker is not None:
        worker.start()
    base = f"http://{host}:{server.port}"
    table = Table(title=f"hubspot-freee on {base}", show_header=True, header_style="bold")
    table.add_column("method")
    table.add_column("url")
    for route in ROUTES:
        table.add_row(route.method, f"{base}{route.path}")
    console.print(table)
    console.print(
        f"worker: {'separate (--no-worker)' if no_worker else 'in this process'} · Ctrl-C to stop / 停止は Ctrl-C"
    )
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        while not stop.wait(0.5):
            if worker is not None:
                worker.check()  # a worker thread that died is started again (and /healthz says so)
    except KeyboardInterrupt:
        stop.set()
    finally:
        server.shutdown()
        serving.join(timeout=10)
        if worker is not None:
            worker.join(timeout=10)


sync_app = typer.Typer(help="Payment status from freee into HubSpot / 入金状況の同期", no_args_is_help=True)
app.add_typer(sync_app, name="sync")


@sync_app.command("payments")
def sync_payments_command(
    since: Annotated[
        str | None, typer.Option("--since", help="Only invoices billed on or after this date (YYYY-MM-DD)")
    ] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Read freee and show what would change; write nothing")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output")] = False,
    config: Annotated[Path | None, typer.Option(help="Settings file")] = None,
) -> None:
    """Read payment status from freee and write it onto deals and companies (only what changed)."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn

    from sdk.usecases.sync_payments import sync_payments

    try:
        start = date.fromisoformat(since) if since else None
    except ValueError:
        raise fail(f"--since must be a date (YYYY-MM-DD), not {since!r}") from None
    ctx = _context(config)
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

        summary = _run_guarded(lambda: sync_payments(ctx, since=start, dry_run=dry_run, progress=report))
    if as_json:
        typer.echo(json.dumps(summary.as_dict(), ensure_ascii=False, indent=2, default=str))
    else:
        title = "payment sync (dry run) / 入金同期（試行）" if dry_run else "payment sync / 入金同期"
        table = Table(title=title, show_header=True, header_style="bold")
        table.add_column("checked / 確認")
        table.add_column("changed deals / 変更取引")
        table.add_column("changed companies / 変更会社")
        table.add_column("written calls / 書込")
        table.add_column("errors / エラー")
        table.add_row(
            str(summary.checked),
            str(summary.changed_deals),
            str(summary.changed_companies),
            str(summary.written_calls),
            str(len(summary.errors)),
        )
        console.print(table)
        for message in summary.errors:
            err.print(f"[red]•[/] {message}", highlight=False, soft_wrap=True)
    raise typer.Exit(0 if summary.ok else EXIT_INCOMPLETE)


@app.command()
def demo() -> None:
    """The whole loop on this machine, no account needed: sandboxes, the local server and worker, deals won
    in HubSpot, invoices in freee, payments, the payment sync, then deals and company balances as tables.
    Exits non-zero if any step did not do what it should. / 全体の流れをこのマシンだけで実演します。"""
    import os

    os.environ.setdefault(
        "LOG_LEVEL", "WARNING"
    )  # the steps and tables are the output; logs only for trouble
    from local.demo import DemoFailed, run_demo

    try:
        run = run_demo(console)
    except DemoFailed as failed:
        raise fail(str(failed)) from None
    if run.problems:
        for problem in run.problems:
            err.print(f"[red]•[/] {problem}", highlight=False, soft_wrap=True)
        raise fail(f"{len(run.problems)} values differ from the plan / 想定と異なる値があります")
    console.print("[bold green]demo finished: every step did what it should / デモ完了[/]")


register_setup_commands(app)  # setup hubspot | setup freee | doctor (functions/cli_setup.py)


def main() -> None:
    app()


if __name__ == "__main__":
    main()
