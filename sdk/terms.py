"""Payment terms (支払条件) → due date, on Asia/Tokyo calendar dates.

Two shapes of terms cover what Japanese companies write:

* **closing terms** (締め日・支払月・支払日): the billing date falls into a closing period that ends on the
  closing day N (1–28) or at month end; the invoice is due 1–3 months after the month of that closing date, on
  day D (a day past that month's end → its last day) or at month end. ``20日締め翌月10日払い``: billed on
  11-20 → closes 11-20 → due 12-10; billed on 11-21 → closes 12-20 → due 01-10.
* **net terms**: N days (0–366) after the billing date (``請求日から30日``, ``net_30``). ``納品後N日`` is read the
  same way: the product bills on the deal's close date, which stands for the delivery (納品) date.

Each terms has one canonical ASCII ``code`` (what the HubSpot dropdown stores, round-trips through
:func:`parse_terms`) and a canonical Japanese ``label_ja``:

==========================================  ========================  =======================================
code                                        Japanese                  due date for billing date 2026-11-20
==========================================  ========================  =======================================
``month_end_next_month_end``                月末締め翌月末払い        2026-12-31
``month_end_next_next_month_end``           月末締め翌々月末払い      2027-01-31
``day_10_next_month``                       月末締め翌月10日払い      2026-12-10
``close_20_next_month_day_10``              20日締め翌月10日払い      2026-12-10 (billed 11-21: 2027-01-10)
``close_15_next_next_month_end``            15日締め翌々月末払い      2027-02-28 (billed 11-15: 2027-01-31)
``net_30``                                  請求日から30日後          2026-12-20
==========================================  ========================  =======================================

:func:`parse_terms` also reads the written forms (``末締め翌月末``, ``翌月末``, ``翌々月末払い``,
``20日〆翌月10日払``, ``納品後30日``, ``請求後30日以内``, ``30日後``, ``NET30``, full-width digits, spaces, a
trailing 払い/支払い/まで/以内). The due date is never before the billing date.
"""

from __future__ import annotations

import calendar
import re
import unicodedata
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from enum import StrEnum
from typing import Final
from zoneinfo import ZoneInfo

from sdk.errors import HubSpotFreeeError

TOKYO = ZoneInfo("Asia/Tokyo")
MAX_NET_DAYS: Final = 366
#: closing day / pay day meaning "the last day of the month" (a day is clamped to the month's length)
MONTH_END: Final = 31
MAX_CLOSE_DAY: Final = 28
MAX_MONTHS: Final = 3

_MONTHS_JA: Final = {1: "翌月", 2: "翌々月", 3: "翌々々月"}
_MONTHS_CODE: Final = {1: "next_month", 2: "next_next_month", 3: "next_next_next_month"}
_MONTHS_EN: Final = {1: "the next month", 2: "the month after next", 3: "the third month after"}

ACCEPTED_EN: Final = (
    "accepted: month_end_next_month_end, month_end_next_next_month_end, day_D_next_month, net_N "
    f"(N 0-{MAX_NET_DAYS}), close_N_next_month_day_D or close_N_next_month_end (N 1-{MAX_CLOSE_DAY} or month_end; "
    "next_month, next_next_month or next_next_next_month; D 1-31), or Japanese such as 月末締め翌月末払い, "
    "20日締め翌月10日払い, 翌々月末, 翌月10日, 請求日から30日, 納品後30日, NET30"
)
ACCEPTED_JA: Final = (
    f"使える形式：月末締め翌月末払い・20日締め翌月10日払い・15日締め翌々月末払い（締め日は1〜{MAX_CLOSE_DAY}日"
    "または月末、支払は翌月・翌々月・翌々々月のD日または末）、翌月末・翌月10日（月末締め）、"
    f"請求日から30日・請求後30日以内・納品後30日・30日後・NET30（0〜{MAX_NET_DAYS}日）、"
    "または month_end_next_month_end・net_30 などのコード"
)


class IssueDateSource(StrEnum):
    """Where an invoice's billing date (請求日) comes from: the deal's close date, or the day it is created."""

    CLOSE_DATE = "close_date"
    TODAY = "today"


class TermsKind(StrEnum):
    """The two shapes of payment terms: a closing day with a pay month and day, or N days after billing."""

    CLOSING = "closing"
    NET = "net"


class TermsError(HubSpotFreeeError, ValueError):
    """Payment terms that cannot be read: what is wrong (``problem_ja`` / ``problem_en``) and the accepted forms;
    a ``ValueError`` too, for pydantic (``payment_terms_default``)."""

    def __init__(self, text: str, problem_en: str, problem_ja: str) -> None:
        self.text = text
        self.problem_en = problem_en
        self.problem_ja = problem_ja
        short = text if len(text) <= 40 else text[:40] + "…"
        shown = "".join(ch if ch.isprintable() else f"\\u{ord(ch):04x}" for ch in short)
        super().__init__(
            f"payment terms '{shown}': {problem_en}; {ACCEPTED_EN} / 支払条件「{shown}」：{problem_ja}。{ACCEPTED_JA}"
        )


@dataclass(frozen=True, slots=True)
class PaymentTerms:
    """One payment terms. Build with :meth:`closing` or :meth:`net` (or :func:`parse_terms`); the fields are
    checked, so two equal terms always give the same due dates and the same ``code``."""

    kind: TermsKind
    days: int = 0  # NET: days after the billing date
    close_day: int = MONTH_END  # CLOSING: 1-28, or MONTH_END
    months: int = 1  # CLOSING: due month = closing month + months (1-3)
    pay_day: int = MONTH_END  # CLOSING: 1-31 (a day past the month's end is its last day: 31 is month end)

    def __post_init__(self) -> None:
        if self.kind is TermsKind.NET:
            closing_fields = (self.close_day, self.months, self.pay_day)
            if not 0 <= self.days <= MAX_NET_DAYS or closing_fields != (MONTH_END, 1, MONTH_END):
                raise ValueError(f"net terms take 0-{MAX_NET_DAYS} days and nothing else, not {self!r}")
            return
        if self.days != 0 or not (1 <= self.close_day <= MAX_CLOSE_DAY or self.close_day == MONTH_END):
            raise ValueError(f"closing terms close on day 1-{MAX_CLOSE_DAY} or at month end, not {self!r}")
        if not 1 <= self.months <= MAX_MONTHS or not 1 <= self.pay_day <= MONTH_END:
            raise ValueError(f"closing terms pay 1-{MAX_MONTHS} months later on day 1-31, not {self!r}")

    @classmethod
    def closing(cls, close_day: int = MONTH_END, months: int = 1, pay_day: int = MONTH_END) -> PaymentTerms:
        return cls(TermsKind.CLOSING, close_day=close_day, months=months, pay_day=pay_day)

    @classmethod
    def net(cls, days: int) -> PaymentTerms:
        return cls(TermsKind.NET, days=days)

    @property
    def code(self) -> str:
        """The canonical ASCII code: the historical codes where one exists, else ``close_N_<months>_<day>``."""
        if self.kind is TermsKind.NET:
            return f"net_{self.days}"
        if self.close_day == MONTH_END and self.pay_day == MONTH_END and self.months <= 2:
            return f"month_end_{_MONTHS_CODE[self.months]}_end"
        if self.close_day == MONTH_END and self.months == 1:
            return f"day_{self.pay_day}_next_month"
        close = "month_end" if self.close_day == MONTH_END else str(self.close_day)
        pay = "end" if self.pay_day == MONTH_END else f"day_{self.pay_day}"
        return f"close_{close}_{_MONTHS_CODE[self.months]}_{pay}"

    @property
    def label_ja(self) -> str:
        """The canonical Japanese: ``20日締め翌月10日払い``, ``月末締め翌々月末払い``, ``請求日から30日後``."""
        if self.kind is TermsKind.NET:
            return f"請求日から{self.days}日後"
        close = "月末" if self.close_day == MONTH_END else f"{self.close_day}日"
        pay = "末" if self.pay_day == MONTH_END else f"{self.pay_day}日"
        return f"{close}締め{_MONTHS_JA[self.months]}{pay}払い"

    @property
    def label_en(self) -> str:
        if self.kind is TermsKind.NET:
            return f"{self.days} days after the billing date"
        close = "at month end" if self.close_day == MONTH_END else f"on day {self.close_day}"
        pay = "at the end" if self.pay_day == MONTH_END else f"on day {self.pay_day}"
        return f"closing {close}, due {pay} of {_MONTHS_EN[self.months]}"

    def closing_date(self, billing: date) -> date:
        """The last day of the closing period ``billing`` falls into (CLOSING terms; NET: the billing date)."""
        if self.kind is TermsKind.NET:
            return billing
        this_month = _on_day(billing.replace(day=1), self.close_day)
        if billing <= this_month:
            return this_month
        return _on_day(_add_months(billing, 1), self.close_day)

    def due_date(self, billing: date) -> date:
        """The due date (期日) for an invoice billed on ``billing``: never before it."""
        if self.kind is TermsKind.NET:
            return billing + timedelta(days=self.days)
        return _on_day(_add_months(self.closing_date(billing), self.months), self.pay_day)


def _add_months(day: date, months: int) -> date:
    """The first day of the month ``months`` after ``day``'s month."""
    index = day.year * 12 + (day.month - 1) + months
    return date(index // 12, index % 12 + 1, 1)


def _on_day(first: date, day: int) -> date:
    """Day ``day`` of ``first``'s month, or its last day when the month is shorter."""
    return first.replace(day=min(day, calendar.monthrange(first.year, first.month)[1]))


# --- Tokyo calendar dates -----------------------------------------------------------------------------------


def tokyo_today(now: datetime | None = None) -> date:
    """Today's calendar date in Tokyo (``now`` must be timezone-aware; default: the system clock)."""
    moment = now if now is not None else datetime.now(UTC)
    if moment.tzinfo is None:
        raise ValueError("a naive datetime has no place in Tokyo; pass an aware one")
    return moment.astimezone(TOKYO).date()


def parse_hubspot_date(value: str) -> date:
    """A HubSpot date or datetime property as a Tokyo calendar date.

    HubSpot sends ``closedate`` as ISO 8601 in UTC (``2026-11-20T15:30:00Z`` is the 21st in Tokyo), older
    payloads as epoch milliseconds, and date-only properties as ``2026-11-20``.
    """
    text = value.strip()
    if not text:
        raise ValueError("empty date")
    if text.isdigit():
        return datetime.fromtimestamp(int(text) / 1000, tz=UTC).astimezone(TOKYO).date()
    if len(text) == 10:
        return date.fromisoformat(text)
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(TOKYO).date()


# --- parsing ---------------------------------------------------------------------------------------------------

_N = r"(\d{1,4})"
_CODE_NET = re.compile(rf"net[_-]?{_N}")
_CODE_DAY = re.compile(rf"day_{_N}_next_month")
_CODE_MONTH_END = re.compile(r"month_end_(next_month|next_next_month)_end")
_CODE_CLOSE = re.compile(
    rf"close_(month_end|{_N})_(next_month|next_next_month|next_next_next_month)_(end|day_{_N})"
)
_JA_NET = re.compile(rf"(?:(?:請求日から|請求日より|請求後|納品日から|納品日より|納品後){_N}日後?|{_N}日後)")
_JA_CLOSING = re.compile(
    rf"(?:毎月)?(?:(?:{_N}日|月?末日?)(?:締め|締|〆))?(翌月|翌々月|翌々々月)(?:{_N}日|末日?)"
)
_SUFFIXES: Final = ("に支払い", "に支払", "支払い", "支払", "払い", "払")


def _normalized(text: str) -> str:
    """What the parser reads: NFKC (full-width digits and letters → ASCII), no spaces, lower case, 翌翌 → 翌々,
    and without a trailing 払い / 支払い (「に」 before them), then まで, then 以内."""
    key = "".join(unicodedata.normalize("NFKC", text).split()).lower()
    key = key.replace("翌翌翌", "翌々々").replace("翌翌", "翌々")
    for suffixes in (_SUFFIXES, ("まで",), ("以内",)):
        for suffix in suffixes:
            if key.endswith(suffix) and len(key) > len(suffix):
                key = key[: -len(suffix)]
                break
    return key


def parse_terms(text: str) -> PaymentTerms:
    """Read payment terms: a code (``net_30``, ``close_20_next_month_day_10``, ...) or their Japanese written form
    (``20日締め翌月10日払い``, ``翌月末``, ``請求日から30日``, ...). ``TermsError`` (a ``ValueError``) says what is
    wrong and names the accepted forms in English and Japanese."""
    key = _normalized(text)
    if match := _CODE_NET.fullmatch(key) or _JA_NET.fullmatch(key):
        days = next(int(g) for g in match.groups() if g is not None)
        if days > MAX_NET_DAYS:
            raise TermsError(
                text, f"{days} days is more than {MAX_NET_DAYS}", f"{days}日は{MAX_NET_DAYS}日を超えています"
            )
        return PaymentTerms.net(days)
    if match := _CODE_MONTH_END.fullmatch(key):
        return PaymentTerms.closing(months=1 if match.group(1) == "next_month" else 2)
    if match := _CODE_DAY.fullmatch(key):
        return _closing(text, None, 1, match.group(1))
    if match := _CODE_CLOSE.fullmatch(key):
        months = 1 + list(_MONTHS_CODE.values()).index(match.group(3))
        return _closing(text, match.group(2), months, match.group(5))
    if match := _JA_CLOSING.fullmatch(key):
        months = 1 + list(_MONTHS_JA.values()).index(match.group(2))
        return _closing(text, match.group(1), months, match.group(3))
    raise TermsError(text, "not a known form", "この形式は使えません")


def _closing(text: str, close: str | None, months: int, pay: str | None) -> PaymentTerms:
    """Closing terms from the matched digits (``None``: month end), each day checked with its own message."""
    close_day = MONTH_END if close is None else int(close)
    pay_day = MONTH_END if pay is None else int(pay)
    if close is not None and not 1 <= close_day <= MAX_CLOSE_DAY:
        raise TermsError(
            text,
            f"closing day {close_day} is not 1-{MAX_CLOSE_DAY} (use month end / month_end for the last day)",
            f"締め日{close_day}日は使えません（1〜{MAX_CLOSE_DAY}日、月末締めは「月末締め」）",
        )
    if not 1 <= pay_day <= MONTH_END:
        raise TermsError(
            text,
            f"pay day {pay_day} is not 1-31 (or month end)",
            f"支払日{pay_day}日は使えません（1〜31日、または末）",
        )
    return PaymentTerms.closing(close_day, months, pay_day)
