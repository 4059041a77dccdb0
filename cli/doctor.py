"""``hubspot-freee doctor``: checks the installation and says, per check, what is wrong and what fixes it.

Thin: ``sdk/usecases/doctor/`` runs the checks (given the route table and the workflow action definitions); this
renders them as blocks of plain text that wrap at the terminal's width (80 columns in a pipe, no colour there), or
as ``--json``. Everything shown is :class:`~rich.text.Text`, never markup: ids, URLs and error messages print as
they are. Exit 1 when any check found an error; warnings alone exit 0.
"""

from __future__ import annotations

import json
import re
from contextlib import nullcontext
from typing import TYPE_CHECKING

import typer
from rich.cells import cell_len
from rich.console import Console
from rich.text import Text

from cli.common import EXIT_INCOMPLETE, err
from cli.options import ConfigOption, JsonOption
from sdk.settings import load_settings

if TYPE_CHECKING:
    from collections.abc import Sequence

    from sdk.usecases.doctor import CheckResult

#: the label and style of each level (``Level`` values)
_LABELS = {
    "ok": ("OK", "green"),
    "warning": ("WARN", "yellow"),
    "error": ("ERROR", "bold red"),
    "skipped": ("SKIP", "dim"),
}
_INDENT = 6


def doctor(as_json: JsonOption = False, config: ConfigOption = None) -> None:
    """Check everything a route or command needs: settings, each route's secrets and HUBSPOT_PORTAL_ID, both
    connections, the token's portal, won stages, properties, the app's webhook target URL, subscription and
    workflow actions, the store, the freee token (and its refresh token's age), the queue and dead letters,
    orphan invoices. Exit 1 on any error; warnings alone exit 0.

    ルート・コマンドに必要な設定と接続をすべて確認し、問題ごとに対処を表示します。エラーがあれば終了コード1。"""
    from cli.actions import ACTIONS_DIR
    from functions.app import ROUTES
    from sdk.usecases.doctor import errors, run_doctor

    quiet = as_json or not err.is_terminal
    with nullcontext() if quiet else err.status("checking / 確認中…"):
        results = run_doctor(lambda: load_settings(config), routes=ROUTES, actions_dir=ACTIONS_DIR)
    if as_json:
        typer.echo(json.dumps(report(results), ensure_ascii=False, indent=2))
    else:
        render(Console(highlight=False), results)
    raise typer.Exit(EXIT_INCOMPLETE if errors(results) else 0)


def report(results: Sequence[CheckResult]) -> dict[str, object]:
    """The ``--json`` answer: ``ok`` (no error), the counts, and every check (id, level, message, fix)."""
    from sdk.usecases.doctor import errors, warnings

    return {
        "ok": not errors(results),
        "errors": len(errors(results)),
        "warnings": len(warnings(results)),
        "checks": [r.as_dict() for r in results],
    }


def render(console: Console, results: Sequence[CheckResult]) -> None:
    """One block per check: the level, title and id, then what was found and (for a problem) the fix, each in
    English and Japanese, indented and wrapped at the console's width (:func:`wrap`); a summary last."""
    from sdk.usecases.doctor import errors, warnings

    width = max(console.width, 40)
    console.print(Text("hubspot-freee doctor", style="bold"))
    for result in results:
        label, style = _LABELS[result.level.value]
        for n, line in enumerate(wrap(f"{result.name} ({result.id})", width - _INDENT)):
            lead = label.ljust(_INDENT) if n == 0 else " " * _INDENT
            console.print(Text(lead + line, style=style), soft_wrap=True)
        said = [(result.message.en, ""), (result.message.ja, "")]
        if result.fix:
            said += [(f"fix: {result.fix.en}", "cyan"), (f"対処: {result.fix.ja}", "cyan")]
        for text, line_style in said:
            for line in wrap(text, width - _INDENT):
                console.print(Text(" " * _INDENT + line, style=line_style), soft_wrap=True)
    failed, warned = len(errors(results)), len(warnings(results))
    if failed:
        summary, style = (
            f"{failed} error(s), {warned} warning(s): fix the errors above / "
            f"エラー {failed} 件、警告 {warned} 件: 上記のエラーを修正してください",
            "bold red",
        )
    elif warned:
        summary, style = (
            f"ready, with {warned} warning(s) to see to / 動作しますが、警告が {warned} 件あります",
            "yellow",
        )
    else:
        summary, style = "everything is ready / すべて正常です", "green"
    for line in wrap(summary, width):
        console.print(Text(line, style=style), soft_wrap=True)


#: a run of characters wrapped as one word: Japanese text breaks between any two of its characters, other text
#: at spaces
_TOKENS = re.compile(
    r"\s+|[\u3000-\u30ff\u3400-\u9fff\uf900-\ufaff\uff00-\uffef]|[^\s\u3000-\u30ff\u3400-\u9fff\uf900-\ufaff\uff00-\uffef]+"
)
#: what never starts a line (closing punctuation), and what never ends one (opening brackets)
_NO_START = frozenset("、。，．）」』】〕：；！？ーぁぃぅぇぉっゃゅょゎァィゥェォッャュョヮヵヶ")
_NO_END = frozenset("（「『【〔")


def wrap(text: str, width: int) -> list[str]:
    """``text`` in lines of at most ``width`` terminal cells (a wide character counts two): English breaks at
    spaces, Japanese between characters but not before closing punctuation or after an opening bracket; a word
    wider than a line (a long URL) is cut. Line breaks in ``text`` are kept."""
    lines: list[str] = []
    for paragraph in text.split("\n"):
        line = ""
        for token in _glued(_TOKENS.findall(paragraph)):
            if token.isspace():
                line += " " if line and not line.endswith(" ") else ""
                continue
            if cell_len(line + token) <= width:
                line += token
                continue
            if line.strip():
                lines.append(line.rstrip())
            while cell_len(token) > width:
                cut = _fits(token, width)
                lines.append(token[:cut])
                token = token[cut:]
            line = token
        lines.append(line.rstrip())
    return lines


def _glued(tokens: list[str]) -> list[str]:
    glued: list[str] = []
    for token in tokens:
        if glued and not glued[-1].isspace() and (token[0] in _NO_START or glued[-1][-1] in _NO_END):
            glued[-1] += token
        else:
            glued.append(token)
    return glued


def _fits(token: str, width: int) -> int:
    """How many characters of ``token`` fit in ``width`` cells (at least one)."""
    used = 0
    for n, char in enumerate(token):
        used += cell_len(char)
        if used > width:
            return max(n, 1)
    return len(token)
