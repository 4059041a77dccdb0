"""The options several ``hubspot-freee`` commands share (``--config``, ``--json``), and :func:`flag` for a
command's own on/off switches (``--dry-run``, ``--once``, ...): declared once, each reads as one line."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

ConfigOption = Annotated[Path | None, typer.Option(help="Settings file (default: ./hubspot-freee.toml)")]
JsonOption = Annotated[bool, typer.Option("--json", help="Machine-readable output")]


def flag(name: str, help: str) -> Any:
    """An on/off option spelled ``name`` (e.g. ``--dry-run``), off unless given; ``help`` says what it does."""
    return typer.Option(name, help=help)
