"""``hubspot-freee preview``: the freee invoice each deal of a JSON file would become, or why it cannot.

Reads the file (``read_bundles``: every problem a clear message, never a traceback), validates and maps each deal
with the SDK, and prints a panel per deal or ``--json``: a deal with a billing schedule shows every period's
invoice (``sdk.billing.preview``), a consolidated company's deal the closing window of each charge. Sends nothing.
"""

from __future__ import annotations

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

from cli.common import EXIT_INCOMPLETE, console, err, fail, settings_from
from cli.options import ConfigOption, JsonOption
from sdk.billing.preview import first_invoice, preview_schedule
from sdk.errors import ValidationFailed
from sdk.mapping import build_invoice_request, known_partner
from sdk.models.hubspot import DealBundle
from sdk.money import format_yen, plain
from sdk.settings import Settings
from sdk.tax import TaxRate
from sdk.terms import tokyo_today
from sdk.validation import InvoiceDraft, validate_deal

_BUNDLES = TypeAdapter(list[DealBundle])
MAX_INPUT_BYTES = 10_000_000  # some thousands of deals; a larger file is refused before it is read


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


def example_file() -> Path:
    """The example deals shipped inside the package (``cli/examples/deals.json``), wherever it is installed."""
    from importlib.resources import files

    return Path(str(files("cli") / "examples" / "deals.json"))


def preview(
    file: Annotated[
        Path | None, typer.Option("--file", "-f", help="JSON file of deals (see --example for the shape)")
    ] = None,
    example: Annotated[
        bool, typer.Option("--example", help="The example deals installed with the package")
    ] = False,
    as_json: JsonOption = False,
    today: Annotated[
        str | None, typer.Option(help="Today's date (YYYY-MM-DD) when billing dates come from today")
    ] = None,
    company_id: Annotated[
        int | None, typer.Option(help="freee company id (default: FREEE_COMPANY_ID)")
    ] = None,
    strict: Annotated[bool, typer.Option(help="Exit 1 when any deal cannot be invoiced")] = False,
    config: ConfigOption = None,
) -> None:
    """Show the freee invoice each deal would become, or every reason it cannot. Sends nothing."""
    settings = settings_from(config)
    try:
        on = date.fromisoformat(today) if today else tokyo_today()
    except ValueError:
        raise fail(f"--today {today!r} is not a date (YYYY-MM-DD)") from None
    if (file is None) == (not example):
        raise fail(
            "give --file FILE or --example (one of them) / --file か --example のどちらかを指定してください"
        )
    bundles = read_bundles(file if file is not None else example_file())
    freee_company = company_id or settings.freee_company_id
    results = [_preview_one(bundle, settings, on, freee_company) for bundle in bundles]
    invalid = sum(1 for r in results if r["status"] == "invalid")
    if as_json:
        typer.echo(json.dumps(results, ensure_ascii=False, indent=2))
    else:
        for bundle, result in zip(bundles, results, strict=True):
            _render(bundle, result)
        console.print(
            Text.assemble(
                f"\n{len(results)} deals: ",
                (f"{len(results) - invalid} ready to invoice", "green"),
                ", ",
                (f"{invalid} cannot be invoiced", "red"),
                f" / 請求可能 {len(results) - invalid} 件・不備 {invalid} 件",
            )
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
        schedule = preview_schedule(bundle, draft, settings)
    except ValidationFailed as exc:
        return base | {"status": "invalid", "problems": [p.as_dict() for p in exc.problems]}
    request = None
    first = first_invoice(schedule, draft, settings)
    if company_id is not None and bundle.company is not None and first is not None:
        partner = known_partner(bundle.company, settings)
        request = build_invoice_request(first, settings, company_id=company_id, partner=partner).to_json()
    return base | {
        "status": "ok",
        "draft": _draft_json(draft),
        "warnings": [w.as_dict() for w in draft.warnings],
        "schedule": [p.as_dict() for p in schedule.periods],
        "schedule_plan": schedule.plan_dict(),
        "billing": schedule.billing_dict(),
        "freee_request": request,
    }


def _draft_json(draft: InvoiceDraft) -> dict[str, Any]:
    return {
        "subject": draft.subject,
        "company": draft.company_name,
        "billing_date": draft.billing_date.isoformat(),
        "due_date": draft.due_date.isoformat(),
        "payment_terms": draft.terms.code,
        "payment_terms_ja": draft.terms.label_ja,
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
            Panel(
                body,
                title=Text(f"✗ {title}", style="red"),
                subtitle=Text("請求書を作成できません / cannot be invoiced"),
            )
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
            Text(line["description"]),
            Text(line["quantity"]),
            Text(line["unit_price"]),
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
        Text("合計 / total", style="bold"),
        format_yen(draft["net"]),
        format_yen(draft["tax_total"]),
        Text(format_yen(draft["total"]), style="bold"),
    )
    header = Text.assemble(
        "請求先 ",
        (str(draft["company"]), "bold"),
        f" 御中 · 件名 {draft['subject']}\n請求日 {draft['billing_date']} · 期日 ",
        (str(draft["due_date"]), "bold"),
        f" ({draft['payment_terms_ja']}) · {'外税' if draft['entry_method'] == 'out' else '内税'}",
    )
    parts: list[Any] = [header, lines, taxes, *_schedule_parts(result)]
    for w in result["warnings"]:
        parts.append(Text(f"⚠ {w['code']}: {w['ja']} / {w['en']}", style="yellow"))
    console.print(Panel(Group(*parts), title=Text(f"✓ {title}", style="green")))


def _schedule_parts(result: dict[str, Any]) -> list[Any]:
    """The schedule: a line per period (its invoice's dates, amounts and subject) and the totals, and where a
    consolidated company's charges go."""
    plan, billing, periods = result["schedule_plan"], result["billing"], result["schedule"]
    parts: list[Any] = []
    consolidated = billing["mode"] == "consolidated"
    if consolidated:
        parts.append(
            Text(
                "月締め合算請求: この取引の請求は会社の締め日ごとの合算請求書に載ります（取引単独の請求書は作りません） "
                "/ consolidated: its charges go on the company's invoice for each closing window, none of its own",
                style="cyan",
            )
        )
    once = billing["consolidated"]
    if once is not None:
        parts.append(
            Text(
                f"→ {once['window_label']} 合算請求書 · 締め日 / closing {once['closing_date']} · "
                f"期日 / due {once['due_date']}"
            )
        )
    if plan is None:
        return parts
    count = (
        f"{plan['count']}回 / {plan['count']} periods"
        if plan["count"]
        else "期間の定めなし / until cancelled"
    )
    parts.append(
        Text.assemble(
            ("請求スケジュール / schedule", "bold"),
            f" · {plan['kind']} · {plan['frequency_ja']} ({plan['frequency']}) · 開始 / from {plan['start']} · {count}",
        )
    )
    for p in periods:
        closing = p["consolidated"]
        if not p["lines"]:
            parts.append(Text(f"{p['period']:>3}. {p['label']} · 請求なし / nothing to bill", style="dim"))
            continue
        if closing is not None:
            dates = (
                f"請求日 {p['billing_date']} → 合算 {closing['window_label']}（締め日 {closing['closing_date']}・"
                f"期日 {closing['due_date']}）"
            )
        else:
            dates = f"請求日 {p['billing_date']} · 期日 {p['due_date']}"
        parts.append(
            Text.assemble(
                (f"{p['period']:>3}. {p['label']}", "bold"),
                f" · {dates} · {format_yen(p['net'])} + 税 {format_yen(p['tax'])} = ",
                (format_yen(p["total"]), "bold"),
                ("\n     件名 " + p["subject"], "dim"),
            )
        )
    label = f"最初の{plan['listed']}回 / first {plan['listed']}" if plan["continues"] else "合計 / total"
    parts.append(
        Text.assemble(
            (f"     {label}: ", "bold"),
            f"税抜 / net {format_yen(plan['net'])} + 税 / tax {format_yen(plan['tax'])} = ",
            (format_yen(plan["total"]), "bold"),
        )
    )
    if plan["continues"]:
        parts.append(
            Text(f"以降も解約まで{plan['frequency_ja']}請求します / continues until cancelled", style="dim")
        )
    return parts
