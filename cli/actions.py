"""``hubspot-freee actions register``: the app's custom workflow actions, created or updated in HubSpot.

Thin: the definitions in ``workflows/actions/``, ``sdk/usecases/register_actions.py``, a table or ``--json``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.text import Text

from cli.common import console, fail, run_guarded, settings_from
from cli.options import ConfigOption, JsonOption
from sdk.errors import SettingsError

actions_app = typer.Typer(
    help="Custom workflow actions / カスタムワークフローアクション", no_args_is_help=True
)

ACTIONS_DIR = Path(__file__).resolve().parent.parent / "workflows" / "actions"


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
    ] = ACTIONS_DIR,
    as_json: JsonOption = False,
    config: ConfigOption = None,
) -> None:
    """Create or update the app's custom workflow actions; an unchanged definition is left as it is.

    Authenticates as the app's developer account: HUBSPOT_DEVELOPER_ACCESS_TOKEN (OAuth, scopes developers-read and
    developers-write, as HubSpot's current reference lists), else the legacy HUBSPOT_DEVELOPER_API_KEY."""
    from sdk.errors import DefinitionFileError
    from sdk.hubspot import HubSpotClient
    from sdk.usecases.register_actions import Registration, register_actions

    settings = settings_from(config)
    chosen_app = app_id if app_id is not None else settings.hubspot_app_id
    base = base_url or getattr(settings, "public_base_url", None)
    missing = settings.missing_developer_credentials()
    if chosen_app is None:
        missing += [f"{p} (or pass --app-id)" for p in settings.missing_error("hubspot_app_id").problems]
    if not base:
        missing.append("public_base_url: missing; pass --base-url https://... or set PUBLIC_BASE_URL")
    if missing or chosen_app is None or not base:
        raise fail(str(SettingsError(missing)))
    try:
        client = HubSpotClient.for_developer_account(settings)
        done = run_guarded(lambda: register_actions(client, chosen_app, base, definitions))
    except (DefinitionFileError, SettingsError) as exc:
        raise fail(str(exc)) from None
    except ValueError as exc:  # the official client's models refused a definition before sending it
        raise fail(f"a definition is not valid for HubSpot: {exc}") from None
    if as_json:
        typer.echo(json.dumps([r.as_dict() for r in done], ensure_ascii=False, indent=2))
        return
    colours = {Registration.CREATED: "green", Registration.UPDATED: "yellow", Registration.UNCHANGED: "dim"}
    words = {
        Registration.CREATED: "created / 作成",
        Registration.UPDATED: "updated / 更新",
        Registration.UNCHANGED: "unchanged / 変更なし",
    }
    console.print(Text(f"workflow actions / ワークフローアクション · app {chosen_app}", style="bold"))
    for r in done:  # one block each: readable at 80 columns and in a pipe, names never read as markup
        console.print(
            Text.assemble(
                "• ",
                (r.name, "bold"),
                ": ",
                (words[r.status], colours[r.status]),
                f" · definition / 定義 {r.definition_id} · revision / 版 {r.revision_id}",
            )
        )
        console.print(
            Text.assemble(
                f"    {r.action_name}",
                ("" if r.published else " (unpublished / 未公開)", "dim"),
                f"\n    {r.action_url}",
                f"\n    changed / 変更: {', '.join(r.changed)}" if r.changed else "",
            )
        )


# --- the invoice worker and its dead-letter queue --------------------------------------------------------------
