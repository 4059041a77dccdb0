"""What a doctor check answers (:class:`CheckResult`: its id, its level, what was found and what fixes it, each in
English and Japanese), the titles of the checks, and what every check shares: run guarded, skip with a reason."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING, Any, Final

from sdk.errors import Retryable

if TYPE_CHECKING:
    from sdk.settings import Settings


class Level(StrEnum):
    """A check's verdict. ``error``: something a route, the worker or a command needs is missing or wrong (exit 1);
    ``warning``: works today, will not for long (exit 0); ``skipped``: an earlier error makes the check
    meaningless (e.g. no token), and says which."""

    OK = "ok"
    WARNING = "warning"
    ERROR = "error"
    SKIPPED = "skipped"


@dataclass(frozen=True, slots=True)
class Bilingual:
    """One thing said in English and in Japanese."""

    en: str
    ja: str

    def __str__(self) -> str:
        return " / ".join(part for part in (self.en, self.ja) if part)

    def __contains__(self, text: str) -> bool:
        """Whether either language says ``text`` (for tests and callers that look for a command or a name)."""
        return text in self.en or text in self.ja

    def __bool__(self) -> bool:
        return bool(self.en or self.ja)

    def as_dict(self) -> dict[str, str]:
        return {"en": self.en, "ja": self.ja}


NOTHING: Final = Bilingual("", "")

#: the title of each check of fixed id, in the order :func:`sdk.usecases.doctor.run_doctor` reports them (the
#: route settings' and the properties' checks are one per setting and object type: :func:`title`)
TITLES: Final[dict[str, Bilingual]] = {
    "settings": Bilingual("settings", "設定"),
    "hubspot.connection": Bilingual("HubSpot connection", "HubSpot接続"),
    "hubspot.portal": Bilingual("HubSpot portal", "HubSpotポータル"),
    "hubspot.won_stages": Bilingual("won stages", "受注ステージ"),
    "app.settings": Bilingual("HubSpot app", "HubSpotアプリ"),
    "app.webhook_target": Bilingual("webhook target URL", "Webhook送信先URL"),
    "app.webhook_subscription": Bilingual("webhook subscription", "Webhook購読"),
    "app.workflow_actions": Bilingual("workflow actions", "ワークフローアクション"),
    "store": Bilingual("store", "ストア"),
    "freee.token": Bilingual("freee token", "freeeトークン"),
    "freee.connection": Bilingual("freee connection", "freee接続"),
    "freee.partner_codes": Bilingual("partner codes", "取引先コード"),
    "queue": Bilingual("queue", "キュー"),
    "orphans": Bilingual("orphan invoices", "二重の請求書"),
}


def title(check_id: str) -> Bilingual:
    """A check's title: ``routes.<setting>`` and ``hubspot.properties.<object type>`` are made from their id."""
    if check_id.startswith("routes."):
        return Bilingual(f"routes: {check_id.removeprefix('routes.').upper()}", "ルートの設定")
    if check_id.startswith("hubspot.properties."):
        return Bilingual(f"properties: {check_id.removeprefix('hubspot.properties.')}", "プロパティ")
    return TITLES[check_id]


@dataclass(frozen=True, slots=True)
class CheckResult:
    """One check's answer: ``message`` says what was found, ``fix`` the exact command or setting that fixes it
    (empty when nothing needs fixing)."""

    id: str
    level: Level
    message: Bilingual
    fix: Bilingual = NOTHING

    @property
    def title(self) -> Bilingual:
        return title(self.id)

    @property
    def name(self) -> str:
        """``"settings / 設定"``: the title in both languages."""
        return str(self.title)

    @property
    def detail(self) -> str:
        """The message in both languages, on one line."""
        return str(self.message)

    @property
    def ok(self) -> bool:
        """False only for an error (a warning still works; a skipped check is explained by the error that caused
        it)."""
        return self.level is not Level.ERROR

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "check": self.name,
            "level": self.level.value,
            "message": self.message.as_dict(),
            "fix": self.fix.as_dict() if self.fix else None,
        }


def ok(check_id: str, en: str, ja: str) -> CheckResult:
    return CheckResult(check_id, Level.OK, Bilingual(en, ja))


def error(check_id: str, message: Bilingual, fix: Bilingual) -> CheckResult:
    return CheckResult(check_id, Level.ERROR, message, fix)


def warning(check_id: str, message: Bilingual, fix: Bilingual) -> CheckResult:
    return CheckResult(check_id, Level.WARNING, message, fix)


def skipped(check_id: str, because: Bilingual) -> CheckResult:
    return CheckResult(
        check_id, Level.SKIPPED, Bilingual(f"skipped: {because.en}", f"未実施（{because.ja}）")
    )


def then_skipped(first: CheckResult, check_ids: Iterable[str], because: Bilingual) -> list[CheckResult]:
    """``first`` (an error), then each check of ``check_ids`` skipped ``because`` of it."""
    return [first, *(skipped(check_id, because) for check_id in check_ids)]


REPORT: Final = Bilingual("report this with the output above", "上の出力を添えて開発者に報告してください")


def guarded(check_id: str, check: Callable[[], CheckResult]) -> CheckResult:
    """Run one check; an error it did not expect becomes its error instead of stopping the others."""
    try:
        return check()
    except Exception as exc:
        return unexpected(check_id, exc)


def unexpected(check_id: str, exc: BaseException) -> CheckResult:
    """A check's error for an exception it did not expect."""
    said = f"{type(exc).__name__}: {exc}"
    return error(
        check_id,
        Bilingual(f"the check failed unexpectedly: {said}", f"確認中に予期しないエラー: {said}"),
        REPORT,
    )


def transient_or_other(
    check_id: str, exc: BaseException, service: str, busy: tuple[Bilingual, Bilingual]
) -> CheckResult:
    """How a failure of ``service`` reads once the service's own cases are told: ``busy`` (message, fix) for a
    transient one (rate limit, outage), else the error's own message."""
    if isinstance(exc, Retryable):
        return error(check_id, *busy)
    return error(
        check_id,
        Bilingual(f"{service}: {exc}", f"{service} のエラー: {exc}"),
        Bilingual("see the message above", "上記のメッセージを確認してください"),
    )


def open_store(settings: Settings) -> Any:
    from sdk.store import open_store

    return open_store(settings.storage_url)
