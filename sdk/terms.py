"""Payment terms → due date, on Asia/Tokyo calendar dates.

Terms are written as short codes a back-office operator can type into the company property
``freee_payment_terms`` or the settings:

===============================  =========================  ==========================================
code                             Japanese                   due date for billing date 2026-11-20
===============================  =========================  ==========================================
``month_end_next_month_end``     月末締め翌月末払い         2026-12-31
``month_end_next_next_month_end`` 月末締め翌々月末払い      2027-01-31
``net_30``                       請求日から30日後           2026-12-20
``day_10_next_month``            翌月10日払い               2026-12-10 (a day past month end → month end)
===============================  =========================  ==========================================

The due date is never before the billing date.
"""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo

TOKYO = ZoneInfo("Asia/Tokyo")
MAX_NET_DAYS = 366


class IssueDateSource(StrEnum):
    """Where an invoice's billing date (請求日) comes from: the deal's close date, or the day it is created."""

    CLOSE_DATE = "close_date"
    TODAY = "today"


class TermsKind(StrEnum):
    """The shapes of payment terms (月末締め翌月末払い, 翌々月末, N days after billing, day N of next month)."""

    MONTH_END_NEXT_MONTH_END = "month_end_next_month_end"
    MONTH_END_NEXT_NEXT_MONTH_END = "month_end_next_next_month_end"
    NET = "net"
    DAY_NEXT_MONTH = "day_next_month"


@dataclass(frozen=True, slots=True)
class PaymentTerms:
    kind: TermsKind
    days: int = 0  # for NET: days after billing; for DAY_NEXT_MONTH: day of the month

    @property
    def code(self) -> str:
        if self.kind is TermsKind.NET:
            return f"net_{self.days}"
        if self.kind is TermsKind.DAY_NEXT_MONTH:
            return f"day_{self.days}_next_month"
        return self.kind.value

    @property
    def label_ja(self) -> str:
        if self.kind is TermsKind.MONTH_END_NEXT_MONTH_END:
            return "月末締め翌月末払い"
        if self.kind is TermsKind.MONTH_END_NEXT_NEXT_MONTH_END:
            return "月末締め翌々月末払い"
        if self.kind is TermsKind.NET:
            return f"請求日から{self.days}日後"
        return f"翌月{self.days}日払い"

    def due_date(self, billing: date) -> date:
        """The due date (期日) for an invoice billed on ``billing``."""
        if self.kind is TermsKind.MONTH_END_NEXT_MONTH_END:
            return _month_end(_add_months(billing, 1))
        if self.kind is TermsKind.MONTH_END_NEXT_NEXT_MONTH_END:
            return _month_end(_add_months(billing, 2))
        if self.kind is TermsKind.NET:
            return billing + timedelta(days=self.days)
        first_next = _add_months(billing, 1)
        last_day = calendar.monthrange(first_next.year, first_next.month)[1]
        return first_next.replace(day=min(self.days, last_day))


_NET = re.compile(r"net_(\d{1,4})")
_DAY = re.compile(r"day_(\d{1,2})_next_month")
_JA_ALIASES = {
    "月末締め翌月末払い": TermsKind.MONTH_END_NEXT_MONTH_END,
    "月末締め翌々月末払い": TermsKind.MONTH_END_NEXT_NEXT_MONTH_END,
}


def parse_terms(text: str) -> PaymentTerms:
    """Parse a terms code (or its Japanese name); ``ValueError`` names the accepted forms."""
    key = text.strip().lower()
    if key in _JA_ALIASES:
        return PaymentTerms(_JA_ALIASES[key])
    for kind in (TermsKind.MONTH_END_NEXT_MONTH_END, TermsKind.MONTH_END_NEXT_NEXT_MONTH_END):
        if key == kind.value:
            return PaymentTerms(kind)
    if match := _NET.fullmatch(key):
        days = int(match.group(1))
        if days <= MAX_NET_DAYS:
            return PaymentTerms(TermsKind.NET, days)
    if match := _DAY.fullmatch(key):
        day = int(match.group(1))
        if 1 <= day <= 31:
            return PaymentTerms(TermsKind.DAY_NEXT_MONTH, day)
    raise ValueError(
        f"unknown payment terms {text!r}; use month_end_next_month_end, month_end_next_next_month_end, "
        f"net_N (0-{MAX_NET_DAYS}) or day_D_next_month (1-31)"
    )


def _add_months(day: date, months: int) -> date:
    """The first day of the month ``months`` after ``day``'s month."""
    index = day.year * 12 + (day.month - 1) + months
    return date(index // 12, index % 12 + 1, 1)


def _month_end(first: date) -> date:
    return first.replace(day=calendar.monthrange(first.year, first.month)[1])


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
