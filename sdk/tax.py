"""Consumption tax for one invoice, by the qualified-invoice rule (適格請求書): one rounding per rate.

Lines are never taxed one by one. Their amounts are summed per rate, and the tax of each rate is computed and
rounded once on that sum. With tax-exclusive entry (``out``, 外税) line amounts are net; with tax-inclusive entry
(``in``, 内税) they are gross and the tax is the part of the gross that belongs to the rate, so
``net + tax == gross`` holds exactly for every rate.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum

from sdk.money import Rounding, round_yen


class TaxEntryMethod(StrEnum):
    """Whether line amounts include tax. Same values as freee's ``tax_entry_method``."""

    INCLUSIVE = "in"
    EXCLUSIVE = "out"


class TaxRate(StrEnum):
    """The rates a line can carry; values are what reps type in the line item property ``freee_tax_rate``."""

    STANDARD_10 = "10"
    REDUCED_8 = "8_reduced"
    ZERO = "0"
    EXEMPT = "exempt"

    @property
    def percent(self) -> int:
        return {"10": 10, "8_reduced": 8, "0": 0, "exempt": 0}[self.value]

    @property
    def freee_tax_rate(self) -> int:
        """freee's line ``tax_rate`` (0, 8 or 10); exempt lines are sent as 0."""
        return self.percent

    @property
    def freee_reduced(self) -> bool:
        """freee's line ``reduced_tax_rate``."""
        return self is TaxRate.REDUCED_8

    @property
    def label_ja(self) -> str:
        return {"10": "10%", "8_reduced": "8%（軽減税率）", "0": "0%", "exempt": "非課税"}[self.value]

    @property
    def label_en(self) -> str:
        return {"10": "10%", "8_reduced": "8% (reduced)", "0": "0%", "exempt": "exempt"}[self.value]

    @classmethod
    def parse(cls, text: str) -> TaxRate:
        """Read what a rep typed: ``10``, ``10%``, ``8_reduced``, ``8%軽減``, ``0``, ``exempt``, ``非課税``.

        A bare ``8`` is refused on purpose: the standard 8 % rate ended in 2019, and guessing "reduced" for a
        rep who meant something else would put the wrong tax on an invoice.
        """
        key = text.strip().lower().replace(" ", "").replace("％", "%").replace("（", "(").replace("）", ")")
        aliases = {
            "10": cls.STANDARD_10,
            "10%": cls.STANDARD_10,
            "8_reduced": cls.REDUCED_8,
            "8reduced": cls.REDUCED_8,
            "8%reduced": cls.REDUCED_8,
            "8%(reduced)": cls.REDUCED_8,
            "8%軽減": cls.REDUCED_8,
            "軽減8%": cls.REDUCED_8,
            "8%(軽減税率)": cls.REDUCED_8,
            "8%(軽減)": cls.REDUCED_8,
            "0": cls.ZERO,
            "0%": cls.ZERO,
            "exempt": cls.EXEMPT,
            "非課税": cls.EXEMPT,
        }
        try:
            return aliases[key]
        except KeyError:
            raise ValueError(f"unknown tax rate: {text!r}") from None


# Display and calculation order on invoices: 10 %, 8 % reduced, 0 %, exempt.
RATE_ORDER: tuple[TaxRate, ...] = (TaxRate.STANDARD_10, TaxRate.REDUCED_8, TaxRate.ZERO, TaxRate.EXEMPT)


@dataclass(frozen=True, slots=True)
class RateTotal:
    """Totals of one rate on one invoice: ``net + tax == gross``."""

    rate: TaxRate
    net: int
    tax: int
    gross: int


@dataclass(frozen=True, slots=True)
class TaxSummary:
    """Per-rate totals (only rates present on the invoice, in ``RATE_ORDER``) and the invoice totals."""

    rates: tuple[RateTotal, ...]
    entry_method: TaxEntryMethod
    rounding: Rounding

    @property
    def net(self) -> int:
        return sum(r.net for r in self.rates)

    @property
    def tax(self) -> int:
        return sum(r.tax for r in self.rates)

    @property
    def gross(self) -> int:
        return sum(r.gross for r in self.rates)

    def for_rate(self, rate: TaxRate) -> RateTotal | None:
        return next((r for r in self.rates if r.rate is rate), None)


def tax_for_rate(amount: int, rate: TaxRate, entry: TaxEntryMethod, rounding: Rounding) -> RateTotal:
    """Tax on the sum of one rate's line amounts, rounded once."""
    percent = Decimal(rate.percent)
    if entry is TaxEntryMethod.EXCLUSIVE:
        tax = round_yen(Decimal(amount) * percent / Decimal(100), rounding)
        return RateTotal(rate=rate, net=amount, tax=tax, gross=amount + tax)
    tax = round_yen(Decimal(amount) * percent / (Decimal(100) + percent), rounding)
    return RateTotal(rate=rate, net=amount - tax, tax=tax, gross=amount)


def summarize(
    line_amounts: Iterable[tuple[TaxRate, int]], entry: TaxEntryMethod, rounding: Rounding
) -> TaxSummary:
    """Group line amounts (whole yen, already settled per line) by rate and tax each group once."""
    sums: dict[TaxRate, int] = {}
    for rate, amount in line_amounts:
        sums[rate] = sums.get(rate, 0) + amount
    totals = tuple(tax_for_rate(sums[rate], rate, entry, rounding) for rate in RATE_ORDER if rate in sums)
    return TaxSummary(rates=totals, entry_method=entry, rounding=rounding)
