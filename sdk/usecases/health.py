"""Is this installation able to do its work right now? The rule behind ``GET /healthz``.

:func:`check_health` runs a list of checks, each a callable returning the problems it sees (none: healthy), and
answers a :class:`HealthReport`: ``ok`` when no check saw a problem. A check that raises is itself a problem (a
health answer never fails). The standard check is :func:`freee_connection` (the token row marked disconnected:
freee refused its refresh token and an operator must run ``hubspot-freee setup freee``); a caller adds its own
(e.g. the local server: a worker thread that had to be restarted) as further callables.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sdk.freee.errors import SETUP_FREEE

if TYPE_CHECKING:
    from sdk.freee.tokens import TokenStore


@dataclass(frozen=True, slots=True)
class HealthProblem:
    """One reason the installation is not healthy: a stable ``code``, what is wrong (ja / en), since when."""

    code: str
    ja: str
    en: str
    since: datetime | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "ja": self.ja,
            "en": self.en,
            "since": self.since.isoformat() if self.since else None,
        }


#: a check: the problems it sees now (empty when all is well)
HealthCheck = Callable[[], Iterable[HealthProblem]]


#: what an operator should know though nothing is wrong now (e.g. a worker thread that died and was restarted)
HealthNotes = Callable[[], Iterable[str]]


@dataclass(frozen=True, slots=True)
class HealthReport:
    problems: tuple[HealthProblem, ...] = ()
    notes: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        return not self.problems

    def as_dict(self) -> dict[str, Any]:
        """``{"status": "ok"}``, or ``{"status": "unhealthy", "reason": …, "problems": […]}``; with ``"notes"``
        when there are any."""
        notes = {"notes": list(self.notes)} if self.notes else {}
        if self.ok:
            return {"status": "ok", **notes}
        return {
            "status": "unhealthy",
            "reason": "; ".join(p.en for p in self.problems),
            "problems": [p.as_dict() for p in self.problems],
            **notes,
        }


def check_health(checks: Sequence[HealthCheck], notes: Sequence[HealthNotes] = ()) -> HealthReport:
    """Run every check; a check that fails to run counts as a problem of its own. ``notes`` add what the
    operator should know without making the answer unhealthy."""
    noted: list[str] = []
    for note in notes:
        with contextlib.suppress(Exception):
            noted.extend(note())
    problems: list[HealthProblem] = []
    for check in checks:
        try:
            problems.extend(check())
        except Exception as exc:
            name = getattr(check, "__name__", "check")
            problems.append(
                HealthProblem(
                    "check_failed",
                    f"ヘルスチェック {name} を実行できませんでした（{type(exc).__name__}）",
                    f"the health check {name} could not run ({type(exc).__name__})",
                )
            )
    return HealthReport(tuple(problems), tuple(noted))


def freee_connection(tokens: TokenStore) -> HealthCheck:
    """The check that freee is connected: a problem while the token row is marked disconnected (never connected
    at all is ``setup``'s business, reported by ``doctor``, not an outage)."""

    def freee_connection() -> list[HealthProblem]:
        row = tokens.load_token()
        if row is None or not row.disconnected:
            return []
        reason = row.disconnected_reason or "freee refused the refresh token"
        return [
            HealthProblem(
                "freee_disconnected",
                f"freee接続が切れています（{reason}）。`{SETUP_FREEE}` で再接続してください。",
                f"freee is disconnected ({reason}): run `{SETUP_FREEE}` to reconnect",
                row.disconnected_at,
            )
        ]

    return freee_connection


__all__ = ["HealthCheck", "HealthNotes", "HealthProblem", "HealthReport", "check_health", "freee_connection"]
