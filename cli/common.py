"""What every ``hubspot-freee`` command shares: the consoles, the exit codes, the failure message, the settings
and the guards that turn an expected failure into a message and an exit code.

Exit codes: 0 when everything asked for happened, 1 when some of it could not be done, 2 for bad input or
configuration (a missing file, a file that is not what it should be, a bad setting).
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.text import Text

from sdk.errors import SettingsError
from sdk.settings import Settings, load_settings

#: markup off: a deal name, a memo marker ``[hubspot-freee portal=… deal=…]`` or an error code in brackets is
#: printed as it is, never read as a style; our own styling is given as ``Text`` / ``style=``
console = Console(markup=False)
err = Console(stderr=True, markup=False)

EXIT_INCOMPLETE = 1
EXIT_BAD_INPUT = 2

#: an invoice attempt's or worker's result in a person's words (ja + en)
RESULT_WORDS = {
    "created": "created / 作成",
    "already_invoiced": "already invoiced / 作成済み",
    "invalid": "cannot be invoiced / 請求不可",
    "not_won": "not won / 受注ではない",
    "deal_missing": "deal not in HubSpot / 取引なし",
    "flagged_lost": "left its won stage / 受注取消",
    "cancelled": "invoice cancelled / 請求書取消",
    "retry": "will retry / 再試行",
    "gave_up": "gave up / 断念",
    "refused": "another portal's: refused / 他ポータルのため拒否",
    "malformed": "unreadable message / 読めないメッセージ",
    "held": "held / 保留",
    "scheduled": "scheduled, nothing due yet / 定期請求（未到来）",
    "stopped": "schedule stopped / 定期請求停止",
}


def fail(message: str, code: int = EXIT_BAD_INPUT) -> typer.Exit:
    """Print ``error: message`` on stderr (as text: brackets in it are not markup) and return the exit."""
    err.print(Text.assemble(("error: ", "bold red"), message), highlight=False, soft_wrap=True)
    return typer.Exit(code)


def since_date(since: str | None) -> date | None:
    """A ``--since`` option's date (YYYY-MM-DD); anything else is exit 2 saying so (ja + en)."""
    try:
        return date.fromisoformat(since) if since else None
    except ValueError:
        raise fail(
            f"--since must be a date (YYYY-MM-DD), not {since!r} / --since は日付（YYYY-MM-DD）で指定してください"
        ) from None


def settings_from(config: Path | None) -> Settings:
    """The settings (``config`` or the default file); a bad or missing one is exit 2 naming it."""
    try:
        return load_settings(config)
    except SettingsError as exc:
        raise fail(str(exc)) from None


def context(config: Path | None) -> Any:
    """The use cases' ``Context`` for commands that talk to HubSpot and freee; what is missing is exit 2."""
    from sdk.usecases.context import Context

    settings = settings_from(config)
    try:
        missing = settings.hubspot_auth_error().problems
        missing += settings.missing_error(
            "freee_client_id", "freee_client_secret", "freee_company_id"
        ).problems
        if missing:
            raise SettingsError(missing)
        return Context.from_settings(settings)
    except SettingsError as exc:
        raise fail(str(exc)) from None
    except ValueError as exc:  # e.g. an unusable storage URL
        raise fail(str(exc)) from None


def own_portal(settings: Settings, portal: int | None) -> int:
    """This installation's portal (``HUBSPOT_PORTAL_ID``, required); ``--portal`` may only repeat it."""
    from sdk.tenant import NOT_CONFIGURED_EN, NOT_CONFIGURED_JA
    from sdk.tenant import own_portal as configured_portal

    try:
        own = configured_portal(settings)
    except SettingsError:
        raise fail(f"{NOT_CONFIGURED_EN} / {NOT_CONFIGURED_JA}") from None
    if portal is not None and portal != own:
        raise fail(
            f"--portal {portal} is not this installation's portal (HUBSPOT_PORTAL_ID={own}): nothing was read "
            f"or written; leave --portal out / --portal {portal} はこのインストールのポータル（{own}）ではありません"
        )
    return own


def run_guarded(action: Any) -> Any:
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
        err.print(
            Text.assemble(("temporary failure, try again later / 一時的なエラー: ", "yellow"), str(exc))
        )
        raise typer.Exit(EXIT_INCOMPLETE) from None
    except HubSpotRequestError as exc:
        raise fail(f"HubSpot refused the request: {exc}") from None


def open_queue(settings: Settings, clock: Any = None) -> Any:
    """The invoice queue of ``QUEUE_URL``; an unusable URL is exit 2."""
    from sdk.queue import queue_from_settings

    try:
        return queue_from_settings(settings, clock=clock)
    except ValueError as exc:
        raise fail(str(exc)) from None


@contextmanager
def progress_bar(labels: dict[str, str], *, quiet: bool = False) -> Iterator[Callable[[str, int, int], None]]:
    """A ``progress(phase, done, total)`` callback for a long pass: a bar per phase on a terminal, plain
    ``label: done/total`` lines on standard error in a pipe (at each tenth and at the end), nothing when ``quiet``
    (``--json``). ``labels`` name the phases (ja + en)."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn

    if quiet:
        yield lambda phase, done, total: None
        return
    if not err.is_terminal:
        tenths: dict[str, int] = {}

        def line(phase: str, done: int, total: int) -> None:
            tenth = 10 if done >= total else done * 10 // max(total, 1)
            if tenths.get(phase) != tenth:  # at most eleven lines a phase, whatever the size
                tenths[phase] = tenth
                err.print(Text(f"{labels.get(phase, phase)}: {done}/{total}"), highlight=False)

        yield line
        return
    with Progress(
        TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), console=err, transient=True
    ) as bar:
        tasks: dict[str, TaskID] = {}

        def report(phase: str, done: int, total: int) -> None:
            if phase not in tasks:
                tasks[phase] = bar.add_task(labels.get(phase, phase), total=total)
            bar.update(tasks[phase], completed=done, total=total)

        yield report


@contextmanager
def stopped_by_signals(stop: threading.Event) -> Iterator[threading.Event]:
    """While the block runs, Ctrl-C (SIGINT) and SIGTERM set ``stop`` instead of ending the process, so what runs
    can finish its work and exit 0; the handlers from before come back after it."""
    previous = {sig: signal.signal(sig, lambda *_: stop.set()) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield stop
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
