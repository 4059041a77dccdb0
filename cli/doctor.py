"""``hubspot-freee doctor``: checks the installation and prints a table of OK / problem / how to fix.

Thin: ``sdk/usecases/doctor/`` runs the checks; exit 1 when any of them found a problem.
"""

from __future__ import annotations

import json

import typer
from rich.table import Table
from rich.text import Text

from cli.common import EXIT_INCOMPLETE, console, err
from cli.options import ConfigOption, JsonOption
from sdk.settings import load_settings

_STYLE = {
    "ok": "[green]OK[/]",
    "problem": "[bold red]problem / 問題[/]",
    "skipped": "[yellow]skipped / 未実施[/]",
}


def doctor(as_json: JsonOption = False, config: ConfigOption = None) -> None:
    """Check the installation: settings, both connections, the HubSpot token's portal (= HUBSPOT_PORTAL_ID), won
    stages, properties, freee token, partner codes, queue and dead letters. Exit 1 when any problem is found.

    設定・接続・受注ステージ・プロパティ・トークン・キューを確認します。問題があれば終了コード1。"""
    from sdk.usecases.doctor import run_doctor

    with err.status("checking / 確認中…") if not as_json else _Quiet():
        results = run_doctor(lambda: load_settings(config))
    bad = [r for r in results if not r.ok]
    if as_json:
        typer.echo(
            json.dumps(
                {"ok": not bad, "checks": [r.as_dict() for r in results]}, ensure_ascii=False, indent=2
            )
        )
    else:
        table = Table(title="hubspot-freee doctor", show_header=True, header_style="bold", show_lines=True)
        table.add_column("check / 項目", no_wrap=True)
        table.add_column("result / 結果", no_wrap=True)
        table.add_column("detail / 詳細", overflow="fold")
        table.add_column("how to fix / 対処", overflow="fold")
        for r in results:
            table.add_row(r.name, _STYLE[r.status.value], Text(r.detail), Text(r.fix))
        console.print(table, highlight=False)
        if bad:
            console.print(f"[bold red]{len(bad)} problem(s) / 問題 {len(bad)} 件[/]")
        else:
            console.print("[green]everything is ready / すべて正常です[/]")
    raise typer.Exit(EXIT_INCOMPLETE if bad else 0)


class _Quiet:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: object) -> None:
        return None
