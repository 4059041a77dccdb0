"""What a doctor check answers (:class:`CheckResult`: ok, a problem with its fix, or skipped), the names of the
checks in the order they are reported, and what every check shares: run guarded, describe a failure."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING, Any, Final

from sdk.errors import Retryable
from sdk.properties import property_definitions
from sdk.settings import PropertyNames

if TYPE_CHECKING:
    from sdk.settings import Settings

#: every check, in the order run_doctor reports them
CHECK_NAMES: Final = (
    "settings / 設定",
    "HubSpot connection / HubSpot接続",
    "HubSpot portal / HubSpotポータル",
    "won stages / 受注ステージ",
    *(f"properties: {t} / プロパティ" for t in property_definitions(PropertyNames())),
    "freee token / freeeトークン",
    "freee connection / freee接続",
    "partner codes / 取引先コード",
    "queue / キュー",
    "orphan invoices / 二重の請求書",
)


class Status(StrEnum):
    """A check's verdict; ``skipped`` when an earlier problem makes the check meaningless (e.g. no token)."""

    OK = "ok"
    PROBLEM = "problem"
    SKIPPED = "skipped"


@dataclass(frozen=True, slots=True)
class CheckResult:
    """One line of the doctor's table. ``detail`` says what was found, ``fix`` what to do (both ja + en)."""

    name: str
    status: Status
    detail: str
    fix: str = ""

    @property
    def ok(self) -> bool:
        """False only for a problem (a skipped check is explained by the problem that caused it)."""
        return self.status is not Status.PROBLEM

    def as_dict(self) -> dict[str, str]:
        return {"check": self.name, "status": self.status.value, "detail": self.detail, "fix": self.fix}


def ok(name: str, detail: str) -> CheckResult:
    return CheckResult(name, Status.OK, detail)


def problem(name: str, detail: str, fix: str) -> CheckResult:
    return CheckResult(name, Status.PROBLEM, detail, fix)


def skipped(name: str, because: str) -> CheckResult:
    return CheckResult(name, Status.SKIPPED, f"skipped because {because} / 前のチェックの問題のため未実施")


def then_skipped(first: CheckResult, names: Iterable[str], because: str) -> list[CheckResult]:
    """``first`` (a failure), then each check of ``names`` skipped ``because`` of it."""
    return [first, *(skipped(name, because) for name in names)]


def guarded(name: str, check: Callable[[], CheckResult]) -> CheckResult:
    """Run one check; an error it did not expect becomes its problem instead of stopping the others."""
    try:
        return check()
    except Exception as exc:
        return problem(
            name,
            f"the check failed unexpectedly: {type(exc).__name__}: {exc}",
            "report this with the output above",
        )


def transient_or_other(name: str, exc: BaseException, service: str, busy: tuple[str, str]) -> CheckResult:
    """How a failure of ``service`` reads once the service's own cases are told: ``busy`` (detail, fix) for a
    transient one (rate limit, outage), else the error's own message."""
    if isinstance(exc, Retryable):
        return problem(name, *busy)
    return problem(name, f"{service}: {exc}", "see the message above / 上記のメッセージを確認してください")


def open_store(settings: Settings) -> Any:
    from sdk.store import open_store

    return open_store(settings.storage_url)
