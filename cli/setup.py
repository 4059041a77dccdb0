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
from sdk.terms import TOKYO

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
    (labels in Japanese and English). Idempotent: what exists is left as it is, except that our dropdowns get
    the options they lack; a property of ours with another type is reported, not changed. First checks the
    access token's portal: another one than HUBSPOT_PORTAL_ID creates nothing (exit 2); with HUBSPOT_PORTAL_ID
    unset, it says which portal to set.

    プロパティグループ freee と連携用プロパティを作成します（作成済みのものはそのまま。足りない選択肢は追加します）。"""
    from sdk.hubspot import HubSpotAuthError, HubSpotClient, HubSpotRequestError, HubSpotRetryable
    from sdk.store import open_store
    from sdk.tenant import token_portal_problem
    from sdk.usecases.setup_hubspot import SCHEMA_SCOPES, setup_hubspot_properties

    settings = settings_from(config)
    try:
        # a public app's token row is in the store; a private app's token needs none
        tokens = open_store(settings.storage_url).hubspot_tokens if settings.hubspot_oauth else None
        client = HubSpotClient.from_settings(settings, token_store=tokens)
    except (SettingsError, ValueError) as exc:
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
        if getattr(
            exc, "fix", None
        ):  # a public app's refresh token refused, or the installation disconnected
            raise fail(str(exc)) from None
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
    table.add_column("options added / 選択肢の追加")
    table.add_column("already there / 作成済み")
    for o in report.objects:
        table.add_row(
            o.object_type,
            Text(verb.split(" /")[0], style="green")
            if o.group_created
            else Text("exists / 作成済み", style="dim"),
            Text("\n".join(o.created)) if o.created else Text("—", style="dim"),
            Text("\n".join(f"{name}: {', '.join(values)}" for name, values in o.options_added))
            if o.options_added
            else Text("—", style="dim"),
            str(len(o.existing)),
        )
    console.print(table)
    for m in report.mismatched:
        err.print(
            Text.assemble(
                ("note: ", "yellow"),
                f"{m.name} exists as {m.found}, not {m.expected}: left as it is (its values are kept and still "
                f"read) / {m.name} は {m.found} のまま変更しません（入力済みの値はそのまま使えます）. "
                "For the dropdown, change its field type in HubSpot / ドロップダウンにするにはHubSpotでフィールドタイプを"
                "変更してください.",
            ),
            soft_wrap=True,
        )
    changed = report.created_count + report.updated_count
    if changed:
        added = "would get options / 選択肢を追加予定" if dry_run else "got options / 選択肢を追加"
        line = Text.assemble(
            (str(report.created_count), "green"),
            f" {verb} (the group counts once per object / グループはオブジェクトごとに1件)",
        )
        if report.updated_count:
            line.append_text(
                Text.assemble(", ", (str(report.updated_count), "green"), f" dropdown(s) {added}")
            )
        console.print(line)
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
        bool, flag("--no-browser", "Print the URL to open instead of opening a browser (keep listening)")
    ] = False,
    paste: Annotated[
        bool,
        flag("--paste", "Remote machine: print the URL, then paste the code or the redirected URL here"),
    ] = False,
    code: Annotated[
        str | None, typer.Option("--code", help="The authorization code, without a prompt")
    ] = None,
    redirected_url: Annotated[
        str | None,
        typer.Option("--redirected-url", help="The whole URL freee redirected to, without a prompt"),
    ] = None,
    timeout: Annotated[
        float, typer.Option(min=1, help="Seconds to wait for the browser to come back")
    ] = 300.0,
    config: ConfigOption = None,
) -> None:
    """Connect freee: authorise this app in the browser (OAuth 2.0), store the tokens where the worker reads
    them, and choose the company. Prints FREEE_COMPANY_ID, or writes it to the settings file in use.

    On this machine the browser comes back to a local server (FREEE_REDIRECT_URI, default
    http://127.0.0.1:8765/callback). On a remote server use --paste: open the URL anywhere, approve, and paste
    the code (FREEE_REDIRECT_URI=urn:ietf:wg:oauth:2.0:oob) or the whole URL the browser was sent to.

    ブラウザでfreeeを認可し、トークンを保存して事業所を選びます。リモートサーバーでは --paste で認可コード
    またはリダイレクト後のURLを貼り付けます。"""
    from sdk.freee.errors import FreeeError, SetupFailed
    from sdk.store import open_store
    from sdk.usecases.setup_freee import (
        FreeeAuthorisation,
        choose_company,
        settings_file_in_use,
        write_toml_setting,
    )

    if code is not None and redirected_url is not None:
        raise fail("give --code or --redirected-url, not both / どちらか一方を指定してください")
    given = code is not None or redirected_url is not None
    settings = settings_from(config)
    try:
        store = open_store(settings.storage_url)
        authorisation = FreeeAuthorisation(settings, port=port, paste=paste or given)
    except (SettingsError, SetupFailed, ValueError) as exc:
        raise fail(str(exc)) from None
    with authorisation:
        try:
            if given:
                obtained = authorisation.code_given(code=code, redirected_url=redirected_url)
            else:
                obtained = _authorise(authorisation, no_browser=no_browser, timeout=timeout)
        except SetupFailed as exc:
            raise fail(str(exc), EXIT_INCOMPLETE) from None
        try:
            connected = authorisation.connect(obtained, store.tokens, store.rate_limits)
        except (SetupFailed, FreeeError) as exc:
            raise fail(str(exc), EXIT_INCOMPLETE) from None

    def ask(companies: Any) -> int:
        for c in companies:
            console.print(Text(f"  {c.id}  {c.name}  ({c.role})"))
        return int(typer.prompt("company id / 事業所ID", type=int))

    try:
        company = choose_company(connected.companies, company_id, ask if sys.stdin.isatty() else None)
    except SetupFailed as exc:
        raise fail(str(exc), EXIT_INCOMPLETE) from None
    table = Table(title="freee connected / freee接続完了", show_header=False)
    table.add_row("company / 事業所", Text(f"{company.id} {company.name}"))
    table.add_row("role / 権限", Text(company.role))
    table.add_row("tokens stored in / トークン保存先", Text(settings.storage_url))
    table.add_row(
        "access token valid until / 有効期限",
        connected.token.tokens.access_expires_at.astimezone(TOKYO).strftime("%Y-%m-%d %H:%M:%S JST"),
    )
    console.print(table)
    target = settings_file_in_use(config)
    if target is None:
        console.print("set this setting / 次の設定をしてください:")
        typer.echo(f"export FREEE_COMPANY_ID={company.id}")
        return
    try:
        write_toml_setting(target, "freee_company_id", company.id)
    except (SetupFailed, OSError) as exc:
        console.print(
            Text.assemble(
                (str(exc), "yellow"),
                f"; set it yourself / 手動で設定してください: export FREEE_COMPANY_ID={company.id}",
            )
        )
        raise typer.Exit(EXIT_INCOMPLETE) from None
    console.print(Text(f"wrote freee_company_id = {company.id} to {target} / 設定ファイルに書き込みました"))
    env = os.environ.get("FREEE_COMPANY_ID")
    if env and env.strip() != str(company.id):
        console.print(
            Text.assemble(
                ("note: ", "yellow"),
                f"the environment has FREEE_COMPANY_ID={env}, which wins over the file; "
                "unset or change it / 環境変数が優先されます",
            )
        )


def _authorise(authorisation: Any, *, no_browser: bool, timeout: float) -> str:
    """The code, from the local server (browser on this machine) or pasted at the prompt; SetupFailed else."""
    import webbrowser

    from sdk.freee.errors import SetupFailed
    from sdk.usecases.setup_freee import PASTE_PROMPT

    if authorisation.mode == "listen":
        console.print(Text.assemble("callback / コールバック: ", (authorisation.redirect_uri, "bold")))
        if authorisation.redirect_differs:
            console.print(
                Text.assemble(
                    ("note: ", "yellow"),
                    "this redirect URI must be registered in the freee app (コールバックURL), "
                    "and FREEE_REDIRECT_URI set to it / このURIをfreeeアプリに登録してください",
                )
            )
        opened = False
        if not no_browser:
            try:
                opened = webbrowser.open(authorisation.url)
            except webbrowser.Error:
                opened = False
            if not opened:  # a server without a desktop: the redirect to its loopback cannot come from here
                authorisation.stop_listening(
                    "no browser could be opened on this machine: open the URL on any machine, approve, and paste "
                    "the whole URL the browser is then sent to (its page may fail to load), or use --no-browser "
                    "with an SSH tunnel / このマシンでブラウザを開けません。別のマシンでURLを開いて承認し、移動先の"
                    "URL全体を貼り付けてください"
                )
        if opened:
            console.print(
                "opened the browser; approve the app there / ブラウザで「許可する」を選んでください"
            )
    if authorisation.mode == "listen":
        console.print(
            Text("open this URL to authorise / このURLを開いて認可してください:\n" + authorisation.url),
            soft_wrap=True,
        )
        with err.status(f"waiting for freee (up to {timeout:.0f}s) / freeeの応答待ち…"):
            return str(authorisation.wait_for_code(timeout))
    console.print(Text.assemble(("note: ", "yellow"), authorisation.why), soft_wrap=True)
    console.print(
        Text(
            f"redirect URI / リダイレクトURI: {authorisation.redirect_uri}\n"
            "open this URL in a browser on any machine and choose 許可する / 任意のマシンのブラウザでこのURLを開き、"
            "「許可する」を選んでください:\n" + authorisation.url
        ),
        soft_wrap=True,
    )
    try:
        pasted = typer.prompt(PASTE_PROMPT, prompt_suffix="\n> ")
    except typer.Abort:  # end of input: nothing typed (a script, or Ctrl-D)
        raise SetupFailed(
            "nothing was pasted; without a terminal pass the code with --code CODE, or the redirected URL with "
            "--redirected-url URL / 認可コードが入力されませんでした。--code または --redirected-url で指定できます"
        ) from None
    return str(authorisation.code_from(pasted))
