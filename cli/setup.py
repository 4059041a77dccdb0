"""``hubspot-freee setup hubspot | setup freee``: installing the HubSpot properties and the freee connection.

Thin: parse, call the SDK use case (``sdk/usecases/setup_hubspot.py``, ``setup_freee.py``), print.
Exit codes as everywhere: 0 done, 1 could not be done (refused, timed out), 2 bad settings.
"""

from __future__ import annotations

import json
import os
import sys
from typing import Annotated, Any

import typer
from rich.table import Table
from rich.text import Text

from cli.common import EXIT_INCOMPLETE, console, err, fail, settings_from
from cli.options import ConfigOption, JsonOption, flag
from sdk.errors import SettingsError

setup_app = typer.Typer(
    help="Install: HubSpot properties, the freee connection / 初期設定（HubSpotプロパティ・freee接続）",
    no_args_is_help=True,
)


# --- setup hubspot ---------------------------------------------------------------------------------------------


@setup_app.command("hubspot")
def setup_hubspot(
    dry_run: Annotated[bool, flag("--dry-run", "Show what would be created; create nothing")] = False,
    as_json: JsonOption = False,
    config: ConfigOption = None,
) -> None:
    """Create the `freee` property group and every property it owns on deals, companies and line items
    (labels in Japanese and English). Idempotent: what exists is left as it is. First checks the access token's
    portal: another one than HUBSPOT_PORTAL_ID creates nothing (exit 2); with HUBSPOT_PORTAL_ID unset, it says
    which portal to set.

    プロパティグループ freee と連携用プロパティを作成します（作成済みのものはそのまま）。"""
    from sdk.hubspot import HubSpotAuthError, HubSpotClient, HubSpotRequestError, HubSpotRetryable
    from sdk.tenant import token_portal_problem
    from sdk.usecases.setup_hubspot import SCHEMA_SCOPES, setup_hubspot_properties

    settings = settings_from(config)
    try:
        client = HubSpotClient.from_settings(settings)
    except SettingsError as exc:
        raise fail(str(exc)) from None
    try:
        token_portal = client.read_account_details().portal_id
        mismatch = token_portal_problem(token_portal, settings.hubspot_portal_id)
        if mismatch is not None and settings.hubspot_portal_id is not None:
            raise fail(f"{mismatch.detail}. Nothing was created. {mismatch.fix}")
        report = setup_hubspot_properties(client, settings, dry_run=dry_run)
    except HubSpotAuthError as exc:
        if exc.status == 403:
            scopes = ", ".join(s for scopes in SCHEMA_SCOPES.values() for s in scopes)
            raise fail(
                f"HubSpot refused for missing scopes (403) / スコープが不足しています. Give the private app these "
                f"scopes: {scopes}. ({exc})"
            ) from None
        raise fail(
            "HubSpot refused the access token (401): set HUBSPOT_ACCESS_TOKEN to the private app's token / "
            f"アクセストークンが拒否されました ({settings.hubspot_api_base})"
        ) from None
    except HubSpotRetryable as exc:
        where = "unreachable / 接続できません" if exc.status is None else f"answered {exc.status}"
        raise fail(f"HubSpot {where} at {settings.hubspot_api_base}: {exc}", EXIT_INCOMPLETE) from None
    except HubSpotRequestError as exc:
        raise fail(
            f"HubSpot refused a property / HubSpotがプロパティを拒否しました: {exc}", EXIT_INCOMPLETE
        ) from None
    if mismatch is not None:  # HUBSPOT_PORTAL_ID unset: say which portal the token belongs to
        err.print(Text.assemble(("note: ", "yellow"), f"{mismatch.detail}. {mismatch.fix}"), soft_wrap=True)
    if as_json:
        portal = {"token_portal_id": token_portal, "configured_portal_id": settings.hubspot_portal_id}
        typer.echo(json.dumps(report.as_dict() | {"portal": portal}, ensure_ascii=False, indent=2))
        return
    verb = "would create / 作成予定" if dry_run else "created / 作成"
    title = f"HubSpot properties, group {report.group!r}" + (" (dry run / 試行)" if dry_run else "")
    table = Table(title=title, show_header=True, header_style="bold")
    table.add_column("object / オブジェクト")
    table.add_column("group / グループ")
    table.add_column(verb)
    table.add_column("already there / 作成済み")
    for o in report.objects:
        table.add_row(
            o.object_type,
            f"[green]{verb.split(' /')[0]}[/]" if o.group_created else "[dim]exists[/]",
            "\n".join(o.created) or "[dim]—[/]",
            str(len(o.existing)),
        )
    console.print(table)
    if report.created_count:
        console.print(f"[green]{report.created_count}[/] {verb} (the group counts once per object)")
    else:
        console.print("nothing to create: everything already exists / すべて作成済みです（変更なし）")


# --- setup freee -----------------------------------------------------------------------------------------------


@setup_app.command("freee")
def setup_freee(
    company_id: Annotated[
        int | None, typer.Option("--company-id", help="freee company (事業所ID) to invoice from")
    ] = None,
    port: Annotated[
        int | None,
        typer.Option(help="Local callback port (default: from FREEE_REDIRECT_URI, else 8765)"),
    ] = None,
    no_browser: Annotated[
        bool, flag("--no-browser", "Print the URL to open instead of opening a browser")
    ] = False,
    timeout: Annotated[
        float, typer.Option(min=1, help="Seconds to wait for the browser to come back")
    ] = 300.0,
    config: ConfigOption = None,
) -> None:
    """Connect freee: authorise this app in the browser (OAuth 2.0), store the tokens where the worker reads
    them, and choose the company. Prints FREEE_COMPANY_ID, or writes it to the settings file in use.

    ブラウザでfreeeを認可し、トークンを保存して事業所を選びます。"""
    import webbrowser

    from sdk.freee.errors import FreeeError, SetupFailed
    from sdk.store import open_store
    from sdk.usecases.setup_freee import (
        FreeeAuthorisation,
        choose_company,
        settings_file_in_use,
        write_toml_setting,
    )

    settings = settings_from(config)
    try:
        store = open_store(settings.storage_url)
        authorisation = FreeeAuthorisation(settings, port=port)
    except (SettingsError, SetupFailed, ValueError) as exc:
        raise fail(str(exc)) from None
    with authorisation:
        console.print(f"callback / コールバック: [bold]{authorisation.redirect_uri}[/]", highlight=False)
        if authorisation.redirect_differs:
            console.print(
                "[yellow]note:[/] this redirect URI must be registered in the freee app (コールバックURL), "
                "and FREEE_REDIRECT_URI set to it / このURIをfreeeアプリに登録してください",
                highlight=False,
            )
        opened = False
        if not no_browser:
            try:
                opened = webbrowser.open(authorisation.url)
            except webbrowser.Error:
                opened = False
        if opened:
            console.print(
                "opened the browser; approve the app there / ブラウザで「許可する」を選んでください"
            )
        console.print(
            "open this URL to authorise / このURLを開いて認可してください:\n" + authorisation.url,
            highlight=False,
            soft_wrap=True,
        )
        with err.status(f"waiting for freee (up to {timeout:.0f}s) / freeeの応答待ち…"):
            try:
                code = authorisation.wait_for_code(timeout)
            except SetupFailed as exc:
                raise fail(str(exc), EXIT_INCOMPLETE) from None
        try:
            connected = authorisation.connect(code, store.tokens, store.rate_limits)
        except (SetupFailed, FreeeError) as exc:
            raise fail(str(exc), EXIT_INCOMPLETE) from None

    def ask(companies: Any) -> int:
        for c in companies:
            console.print(f"  {c.id}  {c.name}  ({c.role})", highlight=False)
        return int(typer.prompt("company id / 事業所ID", type=int))

    try:
        company = choose_company(connected.companies, company_id, ask if sys.stdin.isatty() else None)
    except SetupFailed as exc:
        raise fail(str(exc), EXIT_INCOMPLETE) from None
    table = Table(title="freee connected / freee接続完了", show_header=False)
    table.add_row("company / 事業所", f"{company.id} {company.name}")
    table.add_row("role / 権限", company.role)
    table.add_row("tokens stored in / トークン保存先", settings.storage_url)
    table.add_row("access token valid until / 有効期限", connected.token.tokens.access_expires_at.isoformat())
    console.print(table)
    target = settings_file_in_use(config)
    if target is None:
        console.print("set this setting / 次の設定をしてください:")
        typer.echo(f"export FREEE_COMPANY_ID={company.id}")
        return
    try:
        write_toml_setting(target, "freee_company_id", company.id)
    except (SetupFailed, OSError) as exc:
        console.print(f"[yellow]{exc}[/]; set it yourself: export FREEE_COMPANY_ID={company.id}")
        raise typer.Exit(EXIT_INCOMPLETE) from None
    console.print(f"wrote freee_company_id = {company.id} to {target} / 設定ファイルに書き込みました")
    env = os.environ.get("FREEE_COMPANY_ID")
    if env and env.strip() != str(company.id):
        console.print(
            f"[yellow]note:[/] the environment has FREEE_COMPANY_ID={env}, which wins over the file; "
            "unset or change it / 環境変数が優先されます"
        )
