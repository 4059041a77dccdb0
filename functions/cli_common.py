"""What every ``hubspot-freee`` command shares: the consoles, the exit codes, the failure message, the settings.

Exit codes: 0 when everything asked for happened, 1 when some of it could not be done, 2 for bad input or
configuration (a missing file, a file that is not what it should be, a bad setting).
"""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console
from rich.text import Text

from sdk.errors import SettingsError
from sdk.settings import Settings, load_settings

console = Console()
err = Console(stderr=True)

EXIT_INCOMPLETE = 1
EXIT_BAD_INPUT = 2


def fail(message: str, code: int = EXIT_BAD_INPUT) -> typer.Exit:
    """Print ``error: message`` on stderr (as text: brackets in it are not markup) and return the exit."""
    err.print(Text.assemble(("error: ", "bold red"), message), highlight=False, soft_wrap=True)
    return typer.Exit(code)


def settings_from(config: Path | None) -> Settings:
    """The settings (``config`` or the default file); a bad or missing one is exit 2 naming it."""
    try:
        return load_settings(config)
    except SettingsError as exc:
        raise fail(str(exc)) from None
