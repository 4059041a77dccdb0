"""What one ledger row, and the one freee invoice it stands for, bills: a :class:`Unit`.

* a deal billed once: key ``"456"`` (the deal id, as every ledger row was keyed before schedules), marker
  ``[hubspot-freee portal=1 deal=456]``;
* period 3 of deal 456's schedule: key ``"456:3"``, marker ``[hubspot-freee portal=1 deal=456 period=3]``;
* company 789's consolidated invoice for the closing window ending 2027-01-31: key ``"c789:2027-01-31"``, marker
  ``[hubspot-freee portal=1 company=789 window=2027-01-31]``.

The key is the ledger's (the ``deal_id`` column of the store: portal + deal + period, or portal + company +
window, DESIGN §3), so every guarantee of the ledger (claim, intent, marker, record) holds per unit. HubSpot ids
are digits only, so the three shapes never collide. Periods are numbered from 1 and a number never changes
meaning: a schedule changed after its start changes only periods not yet invoiced.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

from sdk.errors import HubSpotFreeeError

MARKER_PREFIX = "hubspot-freee"
_KEY = re.compile(r"(?:(\d+)(?::(\d+))?|c(\d+):(\d{4}-\d{2}-\d{2}))")
_MARKER = re.compile(
    rf"\[{MARKER_PREFIX} portal=(\d+) (?:deal=(\d+)(?: period=(\d+))?|company=(\d+) window=(\d{{4}}-\d{{2}}-\d{{2}}))\]"
)


class UnitKeyError(HubSpotFreeeError, ValueError):
    """A text that is not a billing unit's key."""


@dataclass(frozen=True, slots=True, order=True)
class Unit:
    """One invoice's worth of billing: a deal (``period`` None), one period of a deal's schedule, or a company's
    consolidated invoice for one closing window (``company_id`` and ``window``, no deal)."""

    deal_id: str | None = None
    period: int | None = None
    company_id: str | None = None
    window: date | None = None

    def __post_init__(self) -> None:
        whole = self.deal_id is not None and self.company_id is None and self.window is None
        company = self.deal_id is None and self.period is None
        if not (whole or (company and self.company_id is not None and self.window is not None)):
            raise ValueError(f"a unit is a deal (and period), or a company and window: {self!r}")
        if self.period is not None and self.period < 1:
            raise ValueError("periods are numbered from 1")

    @classmethod
    def deal(cls, deal_id: str) -> Unit:
        return cls(deal_id=deal_id)

    @classmethod
    def of_period(cls, deal_id: str, period: int) -> Unit:
        return cls(deal_id=deal_id, period=period)

    @classmethod
    def consolidated(cls, company_id: str, window: date) -> Unit:
        return cls(company_id=company_id, window=window)

    @property
    def is_consolidated(self) -> bool:
        return self.company_id is not None

    @property
    def key(self) -> str:
        """The ledger key: ``456``, ``456:3`` or ``c789:2027-01-31``."""
        if self.company_id is not None and self.window is not None:
            return f"c{self.company_id}:{self.window.isoformat()}"
        return self.deal_id if self.period is None else f"{self.deal_id}:{self.period}"  # type: ignore[return-value]

    @classmethod
    def from_key(cls, key: str) -> Unit:
        match = _KEY.fullmatch(key)
        if match is None:
            raise UnitKeyError(f"{key!r} is not a billing unit (456, 456:3 or c789:2027-01-31)")
        deal, period, company, window = match.groups()
        if company is not None:
            try:
                return cls.consolidated(company, date.fromisoformat(window))
            except ValueError:
                raise UnitKeyError(f"{key!r}: {window} is not a date") from None
        if period is not None and int(period) < 1:
            raise UnitKeyError(f"{key!r}: periods are numbered from 1")
        return cls(deal_id=deal, period=int(period) if period is not None else None)

    def marker(self, portal_id: int) -> str:
        """What the unit's freee invoice carries in its internal memo (社内メモ), matched by :func:`parse_marker`."""
        if self.company_id is not None and self.window is not None:
            return f"[{MARKER_PREFIX} portal={portal_id} company={self.company_id} window={self.window.isoformat()}]"
        period = f" period={self.period}" if self.period is not None else ""
        return f"[{MARKER_PREFIX} portal={portal_id} deal={self.deal_id}{period}]"

    def __str__(self) -> str:
        return self.key


def parse_marker(memo: str | None) -> tuple[int, str] | None:
    """``(portal_id, unit key)`` from an invoice memo (``(1, "456")``, ``(1, "456:3")``,
    ``(1, "c789:2027-01-31")``), or ``None`` when the memo carries no marker."""
    match = _MARKER.search(memo or "")
    if match is None:
        return None
    portal, deal, period, company, window = match.groups()
    if deal is not None:
        return int(portal), deal if period is None else f"{deal}:{int(period)}"
    return int(portal), f"c{company}:{window}"
